"""howfast: how fast is my model, and why?

``analyze(model, inputs)`` counts parameters, MACs, FLOPs and memory traffic per layer and returns
a ``Report``; ``load(path)`` reads a saved JSON report (or comparison) back; the ``howfast`` command line does the same for zoo models and factories.
"""

from howfast import errors, zoo
from howfast.api import analyze
from howfast.bench import benchmark
from howfast.compare import Comparison, compare
from howfast.conventions import Conventions
from howfast.errors import HowfastError
from howfast.hardware.roofline import roofline
from howfast.report.load import read_saved as load
from howfast.report.report import Report
from howfast.transforms.fold import fold_batchnorm
from howfast.version import __version__

__all__ = ["Comparison", "Conventions", "HowfastError", "Report", "__version__", "analyze", "benchmark", "compare", "errors", "fold_batchnorm", "load", "roofline", "zoo"]
