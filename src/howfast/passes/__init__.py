"""Passes over the costed graph: module tree aggregation, liveness, fusion, roofline."""
