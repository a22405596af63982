"""Resolve a model argument into an ``nn.Module``.

Accepted forms:
* a zoo name, with options: ``mobilenet_v2``, ``mobilenet_v2:width=1.4,keras_padding=true``;
* a Python file and a factory: ``path/to/file.py:make_model`` (options: ``...:make_model:depth=4``);
* a module and a factory: ``package.module:make_model``.

A factory is any callable returning an ``nn.Module``. Files of pickled weights (``.pt``, ``.pth``,
``.pkl``, ``.ckpt``, ``.bin``) are refused: unpickling runs arbitrary code, so howfast never does it
by default. Loading a ``.py`` file runs that file, as ``python file.py`` would.

Nothing too large is built: a zoo model is first built on meta (no memory) and refused when its
weights would not fit in the memory the device has free (``graph.memory``). A factory that cannot
be built on meta (it reads a tensor's values while building, as torchvision's RegNet does with
``.tolist()``) is built on the cpu, its allocations watched against the free memory
(``capture.budget``), and moved to meta. A factory or a file that raises anything but
``KeyboardInterrupt`` — ``SystemExit`` included — is a ``ModelLoadError``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from howfast import units
from howfast.capture.budget import AllocationBudget, OverBudget
from howfast.capture.tree import set_training, unique_tensors
from howfast.errors import BadFileError, ModelLoadError, describe
from howfast.graph.memory import available_bytes, shortfall
from howfast.graph.request import LoadedModel
from howfast.zoo import registry

PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".tar")


def split_until(spec: str) -> tuple[str, str | None]:
    """``"mobilenet_v1@features.conv_pw_11"`` -> (``"mobilenet_v1"``, ``"features.conv_pw_11"``)."""
    model, at, layer = spec.rpartition("@") if "@" in spec else (spec, "", "")
    return (model, layer or None) if at else (spec, None)


def load_model(spec: str, device: str = "cpu") -> LoadedModel:
    """Build the model ``spec`` names on ``device`` (``meta`` allocates no weights)."""
    spec = spec.strip()
    if not spec:
        raise ModelLoadError("empty model argument: give a zoo name (see `howfast zoo`), file.py:factory or package.module:factory")
    head, _, rest = spec.partition(":")
    if head.lower().endswith(PICKLE_SUFFIXES):
        raise ModelLoadError(
            f"{head!r} looks like a pickled file; howfast never unpickles files by default. "
            "Write a factory that builds the model (e.g. model.py:make_model) and pass that instead"
        )
    if head.lower().endswith(".onnx") or spec.lower().endswith(".onnx"):
        # Not an nn.Module: commands that take ONNX files (`howfast analyze`, howfast.analyze()) route
        # .onnx paths to the ONNX front end (howfast.onnx) before they get here.
        path = spec if spec.lower().endswith(".onnx") else head
        if not Path(path).is_file():
            raise BadFileError(f"no such file: {path}")
        raise ModelLoadError(f"{path!r} is an ONNX model; this command needs a PyTorch model (`howfast analyze` takes .onnx files)")
    if spec.lower().endswith(".json"):
        raise ModelLoadError(f"{spec!r} is a JSON file, not a model: a saved report is rendered again with `howfast show {spec}`")
    entry = registry.get(head)
    if entry is not None:
        options = registry.parse_options(entry, rest)
        _check_zoo_model_fits(spec, head, options, device)
        model = registry.build(head, options, device=device)
        return LoadedModel(model, spec, entry.default_input)
    if head.endswith(".py") or "/" in head or "\\" in head:
        factory_name, options = _factory_and_options(spec, rest)
        return _build(_load_file_factory(head, factory_name), spec, options, device)
    if rest:
        factory_name, options = _factory_and_options(spec, rest)
        return _build(_load_module_factory(head, factory_name), spec, options, device)
    raise ModelLoadError(
        f"unknown model {spec!r}{registry.did_you_mean(head, registry.names())}: not a zoo name (the zoo has: {', '.join(registry.names())}), "
        "nor file.py:factory, nor package.module:factory"
    )


def _factory_and_options(spec: str, rest: str) -> tuple[str, dict[str, Any]]:
    if not rest:
        raise ModelLoadError(f"{spec!r} names no factory: use {spec}:FACTORY, a callable that returns an nn.Module")
    factory, _, option_text = rest.partition(":")
    return factory.strip(), _parse_literals(option_text)


def _parse_literals(text: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise ModelLoadError(f"factory option {part!r} is not of the form key=value")
        try:
            options[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            options[key.strip()] = value.strip()
    return options


def _load_file_factory(path_text: str, factory: str) -> Any:
    path = Path(path_text)
    if not path.is_file():
        raise ModelLoadError(f"no such file: {path_text}")
    name = f"howfast_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"cannot import {path_text} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the user's file failed to import (or exited: SystemExit)
        raise ModelLoadError(f"importing {path_text} failed: {describe(exc)}") from exc
    finally:
        sys.path.pop(0)
    return _attribute(module, factory, path_text)


def _load_module_factory(module_name: str, factory: str) -> Any:
    try:
        module = importlib.import_module(module_name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise ModelLoadError(f"cannot import module {module_name!r}: {describe(exc)}") from exc
    return _attribute(module, factory, module_name)


def _attribute(module: Any, factory: str, where: str) -> Any:
    if not hasattr(module, factory):
        callables = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_") and getattr(v, "__module__", None) == module.__name__)
        listed = ", ".join(callables) or "none"
        raise ModelLoadError(f"{where} has no factory {factory!r}; callables defined there: {listed}")
    value = getattr(module, factory)
    if not callable(value):
        raise ModelLoadError(f"{where}:{factory} is not callable")
    return value


def _check_zoo_model_fits(spec: str, name: str, options: dict[str, Any], device: str) -> None:
    """Refuse a zoo model whose weights would not fit on ``device``, sized by building it on meta first."""
    if available_bytes(device) is None:
        return  # meta, or a device whose free memory is unknown
    sized = registry.build(name, options, device="meta")
    tensors = [t for _, t in unique_tensors(sized, "parameters") + unique_tensors(sized, "buffers")]
    total = sum(t.numel() * t.element_size() for t in tensors)
    short = shortfall(total, device)
    if short is not None:
        params = sum(t.numel() for _, t in unique_tensors(sized, "parameters"))
        raise ModelLoadError(f"{spec} has {units.params(params)} parameters: building it on {device} would allocate "
                             f"{units.nbytes(total)} of weights, {short}: use --device meta to analyse it without allocating")


def _build(factory: Any, name: str, options: dict[str, Any], device: str) -> LoadedModel:
    try:
        model = _call(factory, options, device)
    except Exception as exc:
        if torch.device(device).type != "meta":
            raise ModelLoadError(f"the factory {name!r} raised {describe(exc)}") from exc
        model = _build_for_meta(factory, name, options, exc)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit, or the factory's own BaseException
        raise ModelLoadError(f"the factory {name!r} raised {describe(exc)}") from exc
    if not isinstance(model, nn.Module):
        raise ModelLoadError(f"the factory {name!r} returned {type(model).__name__}, not a torch.nn.Module")
    if model.training:
        set_training(model, False)
    return LoadedModel(model, name, None)


def _call(factory: Any, options: dict[str, Any], device: str) -> Any:
    with torch.device(device):
        return factory(**options) if not isinstance(factory, nn.Module) else factory


def _build_for_meta(factory: Any, name: str, options: dict[str, Any], meta_error: Exception) -> Any:
    """A factory that failed on meta, built on the cpu within the free memory and moved to meta."""
    free = available_bytes("cpu")
    limit = free[0] if free is not None else 1 << 62
    try:
        with AllocationBudget(limit):
            model = _call(factory, options, "cpu")
    except OverBudget as exc:
        raise ModelLoadError(
            f"the factory {name!r} cannot be built on meta ({describe(meta_error, 120)}), and building it on cpu to move "
            f"it there would allocate more than the {units.nbytes(limit)} available ({free[1] if free else 'memory'})"
        ) from exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # it fails on the cpu too: a plain factory error
        raise ModelLoadError(f"the factory {name!r} raised {describe(exc)}") from exc
    return model.to("meta") if isinstance(model, nn.Module) else model
