"""howfast: how fast is my model, and why?

``analyze(model, inputs)`` counts parameters, MACs, FLOPs and memory traffic per layer and returns
a ``Report``; ``load(path)`` reads a saved JSON report (or comparison) back; the ``howfast`` command line does the same for zoo models and factories.

The names below are imported on first use (PEP 562): ``import howfast`` — and the command line,
which installs its Ctrl-C handler before anything heavy — does not import PyTorch by itself.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from howfast.version import __version__

if TYPE_CHECKING:
    from howfast import errors, zoo
    from howfast.api import analyze
    from howfast.bench import benchmark
    from howfast.compare import Comparison, compare
    from howfast.conventions import Conventions
    from howfast.errors import HowfastError
    from howfast.hardware.roofline import roofline
    from howfast.report.load import read_saved as load
    from howfast.report.report import Report
    from howfast.training import analyze_training
    from howfast.transforms.fold import fold_batchnorm

# public name -> (module, attribute in it; None: the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "errors": ("howfast.errors", None),
    "zoo": ("howfast.zoo", None),
    "analyze": ("howfast.api", "analyze"),
    "analyze_training": ("howfast.training", "analyze_training"),
    "benchmark": ("howfast.bench", "benchmark"),
    "Comparison": ("howfast.compare", "Comparison"),
    "compare": ("howfast.compare", "compare"),
    "Conventions": ("howfast.conventions", "Conventions"),
    "HowfastError": ("howfast.errors", "HowfastError"),
    "roofline": ("howfast.hardware.roofline", "roofline"),
    "load": ("howfast.report.load", "read_saved"),
    "Report": ("howfast.report.report", "Report"),
    "fold_batchnorm": ("howfast.transforms.fold", "fold_batchnorm"),
}

__all__ = ["Comparison", "Conventions", "HowfastError", "Report", "__version__", "analyze", "analyze_training", "benchmark", "compare", "errors", "fold_batchnorm", "load", "roofline", "zoo"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'howfast' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """``howfast.compare`` is the function ``compare`` although a submodule has that name: importing
    ``howfast.compare`` (the module) binds it on the package, and here that binding keeps the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "compare" and isinstance(value, types.ModuleType) and hasattr(value, "compare"):
            value = value.compare
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
