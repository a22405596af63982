"""Transforms of a model that howfast measures the effect of: batch-norm folding (``fold``)."""
