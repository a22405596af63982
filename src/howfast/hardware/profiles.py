"""Hardware profiles: peak FLOP/s per dtype, memory bandwidth, caches, overheads and energy costs.

A profile is a TOML file. Every figure is a small table with its value and where it comes from::

    name = "t4"
    title = "NVIDIA T4"
    kind = "gpu"

    [peak_flops]                      # FLOP/s, dense (no structured sparsity)
    fp32 = { value = 8.1e12, source = "NVIDIA T4 datasheet (2019): 8.1 TFLOPS FP32" }

    [memory]
    bandwidth = { value = 320e9, source = "NVIDIA T4 datasheet (2019): 320 GB/s GDDR6" }

``peak_flops.fp32`` and ``memory.bandwidth`` are required; everything else is optional. A figure
that is missing, not a number, zero or negative (where it must be positive), or has no
``source`` is rejected with a ``DeviceError`` naming the field. Built-in profiles ship in this
package (``howfast/hardware/*.toml``); users add their own with ``--hardware FILE.toml`` or by
saving them (``howfast calibrate --save NAME``) into ``$HOWFAST_DEVICES_DIR`` or
``~/.config/howfast/devices/``. See ``docs/hardware-profiles.md``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from howfast.errors import DeviceError
from howfast.hardware.classes import CLASS_FALLBACK, CLASS_FIGURE_KEYS, CLASS_ZERO_KEYS, OP_CLASSES, ClassFigures, Figure

try:  # Python 3.11+
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    try:
        import tomli as _toml
    except ModuleNotFoundError:
        _toml = None

DTYPES = ("fp32", "tf32", "fp16", "bf16", "fp8", "int8")
KINDS = ("gpu", "cpu", "soc", "npu", "accelerator")
CACHE_LEVELS = ("l1", "l2", "l3", "slc", "shared")
# Energy per operation / access in picojoules (``howfast.hardware.energy``).
ENERGY_KEYS = ("fp32_mult_pj", "fp32_add_pj", "sram_read_32b_pj", "dram_32b_pj")

ENV_DIR = "HOWFAST_DEVICES_DIR"


@dataclass(frozen=True)
class HardwareProfile:
    """A device: peak FLOP/s per dtype, memory bandwidth, and what else is known, every figure sourced."""

    name: str
    title: str
    kind: str
    peak_flops: dict[str, Figure]
    bandwidth: Figure
    description: str = ""
    memory_capacity: Figure | None = None
    cache_bandwidth: Figure | None = None
    cache_capacity: Figure | None = None  # bytes of working set the cache serves (measured; else the largest [cache])
    interconnect_bandwidth: Figure | None = None  # per direction, per device (NVLink, PCIe): tensor parallelism
    caches: dict[str, Figure] = field(default_factory=dict)
    per_op_overhead: Figure | None = None
    tdp_w: Figure | None = None
    energy: dict[str, Figure] = field(default_factory=dict)
    classes: dict[str, ClassFigures] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    origin: str = "file"  # builtin, user or file

    # ------------------------------------------------------------------ derived figures
    def peak(self, dtype: str = "fp32") -> float:
        """Peak FLOP/s for ``dtype`` (fp32 when the profile has no figure for it)."""
        figure = self.peak_flops.get(dtype) or self.peak_flops["fp32"]
        return figure.value

    def has_dtype(self, dtype: str) -> bool:
        return dtype in self.peak_flops

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return self.bandwidth.value

    def ridge_point(self, dtype: str = "fp32") -> float:
        """FLOP per byte where the roof turns: peak / bandwidth."""
        return self.peak(dtype) / self.bandwidth.value

    @property
    def last_level_cache_bytes(self) -> float | None:
        """The largest cache in ``[cache]`` (the working set at ``memory.cache_bandwidth`` when the
        profile has no ``memory.cache_capacity``: ``cache_bytes``)."""
        return max((f.value for f in self.caches.values()), default=None)

    @property
    def cache_bytes(self) -> float | None:
        """The working set served at ``memory.cache_bandwidth``: ``memory.cache_capacity`` when the profile
        has it (measured by ``howfast calibrate``: on a machine whose last-level cache is shared with
        other cores or tenants it is smaller than the cache's size), else the largest cache in ``[cache]``."""
        if self.cache_capacity is not None:
            return self.cache_capacity.value
        return self.last_level_cache_bytes

    def bandwidth_for(self, nbytes: float) -> tuple[float, str]:
        """(bytes/s, level) for an op moving ``nbytes``: the cache bandwidth when the profile has one and
        the bytes fit in the cache (``cache_bytes``), else the memory bandwidth."""
        llc = self.cache_bytes
        if self.cache_bandwidth is not None and llc is not None and nbytes <= llc:
            return self.cache_bandwidth.value, "cache"
        return self.bandwidth.value, "dram"

    @property
    def overhead_s(self) -> float:
        return self.per_op_overhead.value if self.per_op_overhead is not None else 0.0

    def class_figures(self, op_class: str) -> ClassFigures | None:
        """The figures the profile has for ``op_class``, or for the class it falls back to (``CLASS_FALLBACK``)."""
        figures = self.classes.get(op_class)
        if figures is None and op_class in CLASS_FALLBACK:
            figures = self.classes.get(CLASS_FALLBACK[op_class])
        return figures

    def class_efficiency(self, op_class: str) -> float:
        figures = self.class_figures(op_class)
        return figures.efficiency.value if figures is not None and figures.efficiency is not None else 1.0

    def class_weight_s_per_byte(self, op_class: str) -> float:
        figures = self.class_figures(op_class)
        return figures.weight_s_per_byte.value if figures is not None and figures.weight_s_per_byte is not None else 0.0

    def class_window_s_per_read(self, op_class: str) -> float:
        figures = self.class_figures(op_class)
        return figures.window_s_per_read.value if figures is not None and figures.window_s_per_read is not None else 0.0

    def weights_cached(self, working_set_bytes: float) -> bool:
        """Whether weights stay in the cache from one use to the next: the bytes touched in between
        (at most a model's weights and what a run writes, ``working_set_bytes``) fit in ``cache_bytes``."""
        llc = self.cache_bytes
        return self.cache_bandwidth is not None and llc is not None and working_set_bytes <= llc

    def memory_seconds(self, activation_bytes: float, weight_bytes: float, weights_cached: bool) -> tuple[float, str, str]:
        """Seconds to move an op's bytes, and the level (cache/dram) of its activations and of its weights.

        Activations come from the cache when they fit in it (the producer just wrote them); weights
        when the whole model's weights fit (``weights_cached``); else from memory.
        """
        act_bw, act_level = self.bandwidth_for(activation_bytes)
        if weights_cached and self.cache_bandwidth is not None:
            w_bw, w_level = self.cache_bandwidth.value, "cache"
        else:
            w_bw, w_level = self.bandwidth.value, "dram"
        return activation_bytes / act_bw + weight_bytes / w_bw, act_level, w_level

    def class_overhead_s(self, op_class: str) -> float:
        figures = self.class_figures(op_class)
        if figures is not None and figures.overhead_s is not None:
            return figures.overhead_s.value
        return self.overhead_s

    @property
    def calibrated(self) -> bool:
        return any(f.efficiency is not None for f in self.classes.values())

    def sources(self) -> dict[str, str]:
        """Every figure's dotted key and its source."""
        out: dict[str, str] = {}
        for key, fig in self.figures().items():
            out[key] = fig.source
        return out

    def figures(self) -> dict[str, Figure]:
        """Every figure by its dotted key, as in the TOML file."""
        out: dict[str, Figure] = {f"peak_flops.{k}": v for k, v in self.peak_flops.items()}
        out.update({f"memory.{k}": v for k, v in self._memory_figures().items()})
        out.update({f"cache.{k}": v for k, v in self.caches.items()})
        if self.per_op_overhead is not None:
            out["overhead.per_op_s"] = self.per_op_overhead
        if self.tdp_w is not None:
            out["power.tdp_w"] = self.tdp_w
        out.update({f"energy.{k}": v for k, v in self.energy.items()})
        for cls, figs in self.classes.items():
            out.update({f"classes.{cls}.{k}": v for k, v in figs.items().items()})
        return out

    @property
    def conv_native_max(self) -> int | None:
        """The most input elements of a batch-1 convolution run on PyTorch's native CPU path
        (``classes.conv_im2col.max_input_elements``, a calibrated CPU profile's), else None."""
        figs = self.classes.get("conv_im2col")
        return int(figs.max_input_elements.value) if figs is not None and figs.max_input_elements is not None else None

    @property
    def gemv_max_rows(self) -> int | None:
        """The most rows a matrix product runs with as weight streaming (``classes.gemv.max_rows``, measured
        by calibrate), or None: then a product below the ridge point is a ``gemv``."""
        figs = self.classes.get("gemv")
        return int(figs.max_rows.value) if figs is not None and figs.max_rows is not None else None

    def summary(self) -> dict[str, Any]:
        """The figures ``howfast devices`` lists."""
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "peak_fp32_flops": self.peak("fp32"),
            "bandwidth_bytes_per_s": self.bandwidth.value,
            "ridge_point": self.ridge_point("fp32"),
            "dtypes": [d for d in DTYPES if d in self.peak_flops],
            "calibrated": self.calibrated,
            "origin": self.origin,
            "path": self.path,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "description": self.description,
                "figures": {k: {"value": v.value, "source": v.source} for k, v in self.figures().items()},
                "calibration": dict(self.calibration)}

    def _memory_figures(self) -> dict[str, Figure]:
        figures = {"bandwidth": self.bandwidth, "capacity": self.memory_capacity, "cache_bandwidth": self.cache_bandwidth,
                   "cache_capacity": self.cache_capacity, "interconnect_bandwidth": self.interconnect_bandwidth}
        return {k: v for k, v in figures.items() if v is not None}

    # ------------------------------------------------------------------ writing
    def to_toml(self) -> str:
        """The profile as TOML text that ``load_profile`` reads back."""
        lines = [f"# howfast hardware profile: {self.title}", f"name = {_q(self.name)}", f"title = {_q(self.title)}",
                 f"kind = {_q(self.kind)}"]
        if self.description:
            lines.append(f"description = {_q(self.description)}")

        def table(header: str, items: dict[str, Figure]) -> None:
            if not items:
                return
            lines.extend(["", f"[{header}]"])
            for key, fig in items.items():
                lines.append(f"{key} = {{ value = {_num(fig.value)}, source = {_q(fig.source)} }}")

        table("peak_flops", self.peak_flops)
        table("memory", self._memory_figures())
        table("cache", self.caches)
        if self.per_op_overhead is not None:
            table("overhead", {"per_op_s": self.per_op_overhead})
        if self.tdp_w is not None:
            table("power", {"tdp_w": self.tdp_w})
        table("energy", self.energy)
        for cls, figs in self.classes.items():
            table(f"classes.{cls}", figs.items())
        if self.calibration:
            lines.extend(["", "[calibration]"])
            for key, value in self.calibration.items():
                lines.append(f"{key} = {_q(str(value)) if not isinstance(value, (int, float)) or isinstance(value, bool) else _num(value)}")
        return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _num(value: float) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


# ---------------------------------------------------------------------------------- parsing


def parse_profile(data: dict[str, Any], where: str = "profile", path: str | None = None, origin: str = "file") -> HardwareProfile:
    """Validate TOML data into a ``HardwareProfile``; ``DeviceError`` names the first bad field."""

    def fail(message: str) -> DeviceError:
        return DeviceError(f"hardware profile {where}: {message}")

    def text(key: str, required: bool = True, default: str = "") -> str:
        value = data.get(key)
        if value is None:
            if required:
                raise fail(f"missing field {key!r} (a string)")
            return default
        if not isinstance(value, str) or not value.strip():
            raise fail(f"field {key!r} must be a non-empty string, got {value!r}")
        return value.strip()

    def section(key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise fail(f"{key!r} must be a table ([{key}]), got {type(value).__name__}")
        return value

    def figure(table: dict[str, Any], dotted: str, key: str, *, required: bool = False, allow_zero: bool = False) -> Figure | None:
        if key not in table:
            if required:
                raise fail(f"missing figure {dotted!r}: write it as {dotted.split('.')[-1]} = {{ value = ..., source = \"...\" }} "
                           f"under [{dotted.rsplit('.', 1)[0]}]")
            return None
        raw = table[key]
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            raise fail(f"figure {dotted!r} has no source: write it as {{ value = {raw!r}, source = \"where this number comes from\" }}")
        if not isinstance(raw, dict):
            raise fail(f"figure {dotted!r} must be {{ value = ..., source = \"...\" }}, got {raw!r}")
        unknown = set(raw) - {"value", "source", "note"}
        if unknown:
            raise fail(f"figure {dotted!r} has unknown keys {sorted(unknown)} (allowed: value, source, note)")
        if "value" not in raw:
            raise fail(f"missing figure {dotted!r}: its table has no 'value'")
        value = raw["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise fail(f"figure {dotted!r} must be a number, got {value!r}")
        if value < 0 or (value == 0 and not allow_zero):
            raise fail(f"figure {dotted!r} must be {'zero or ' if allow_zero else ''}positive, got {value!r}")
        source = raw.get("source")
        if not isinstance(source, str) or not source.strip():
            raise fail(f"figure {dotted!r} has no source: add source = \"vendor spec sheet, paper or measurement\"")
        return Figure(float(value), source.strip())

    def figures(key: str, allowed: tuple[str, ...] | None, **kw: Any) -> dict[str, Figure]:
        table = section(key)
        out: dict[str, Figure] = {}
        for name in table:
            if allowed is not None and name not in allowed:
                raise fail(f"unknown figure {key}.{name!s} (known: {', '.join(allowed)})")
            fig = figure(table, f"{key}.{name}", name, **kw)
            assert fig is not None
            out[name] = fig
        return out

    name = text("name")
    title = text("title", required=False, default=name)
    kind = text("kind", required=False, default="accelerator")
    if kind not in KINDS:
        raise fail(f"field 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    known_top = {"name", "title", "kind", "description", "peak_flops", "memory", "cache", "overhead", "power", "energy",
                 "classes", "calibration"}
    unknown = sorted(set(data) - known_top)
    if unknown:
        raise fail(f"unknown field(s) {', '.join(map(repr, unknown))} (known: {', '.join(sorted(known_top))})")
    peak_table = section("peak_flops")
    figure(peak_table, "peak_flops.fp32", "fp32", required=True)
    peaks = figures("peak_flops", DTYPES)
    memory = section("memory")
    unknown = sorted(set(memory) - {"bandwidth", "capacity", "cache_bandwidth", "cache_capacity", "interconnect_bandwidth"})
    if unknown:
        raise fail(f"unknown figure memory.{unknown[0]} (known: bandwidth, capacity, cache_bandwidth, cache_capacity, "
                   "interconnect_bandwidth)")
    bandwidth = figure(memory, "memory.bandwidth", "bandwidth", required=True)
    capacity = figure(memory, "memory.capacity", "capacity")
    cache_bw = figure(memory, "memory.cache_bandwidth", "cache_bandwidth")
    cache_capacity = figure(memory, "memory.cache_capacity", "cache_capacity")
    link = figure(memory, "memory.interconnect_bandwidth", "interconnect_bandwidth")
    caches = figures("cache", CACHE_LEVELS)
    overhead_table = section("overhead")
    unknown = sorted(set(overhead_table) - {"per_op_s"})
    if unknown:
        raise fail(f"unknown figure overhead.{unknown[0]} (known: per_op_s)")
    overhead = figure(overhead_table, "overhead.per_op_s", "per_op_s", allow_zero=True)
    power = section("power")
    unknown = sorted(set(power) - {"tdp_w"})
    if unknown:
        raise fail(f"unknown figure power.{unknown[0]} (known: tdp_w)")
    tdp = figure(power, "power.tdp_w", "tdp_w")
    energy = figures("energy", ENERGY_KEYS)
    classes: dict[str, ClassFigures] = {}
    for cls, table in section("classes").items():
        if cls not in OP_CLASSES:
            raise fail(f"unknown op class classes.{cls} (known: {', '.join(OP_CLASSES)})")
        if not isinstance(table, dict):
            raise fail(f"classes.{cls} must be a table with efficiency and/or overhead_s")
        unknown = sorted(set(table) - set(CLASS_FIGURE_KEYS))
        if unknown:
            raise fail(f"unknown figure classes.{cls}.{unknown[0]} (known: {', '.join(CLASS_FIGURE_KEYS)})")
        classes[cls] = ClassFigures(**{key: figure(table, f"classes.{cls}.{key}", key, allow_zero=key in CLASS_ZERO_KEYS)
                                       for key in CLASS_FIGURE_KEYS})
    calibration = section("calibration")
    assert bandwidth is not None
    return HardwareProfile(
        name=name, title=title, kind=kind, description=text("description", required=False), peak_flops=peaks,
        bandwidth=bandwidth, memory_capacity=capacity, cache_bandwidth=cache_bw, cache_capacity=cache_capacity,
        interconnect_bandwidth=link, caches=caches, per_op_overhead=overhead, tdp_w=tdp, energy=energy,
        classes=classes, calibration=dict(calibration), path=path, origin=origin,
    )


def loads_profile(text: str, where: str = "profile", path: str | None = None, origin: str = "file") -> HardwareProfile:
    """Parse TOML text into a profile."""
    if _toml is None:  # pragma: no cover - Python 3.10 without tomli
        raise DeviceError("reading hardware profiles needs Python 3.11+ or the 'tomli' package (pip install tomli)")
    try:
        data = _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        raise DeviceError(f"hardware profile {where}: not valid TOML: {exc}") from None
    return parse_profile(data, where=where, path=path, origin=origin)


def load_profile(path: str | os.PathLike[str], origin: str = "file") -> HardwareProfile:
    """Read and validate one profile file."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DeviceError(f"hardware profile file {str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise DeviceError(f"hardware profile {str(p)!r} is a directory, not a .toml file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DeviceError(f"cannot read hardware profile {str(p)!r}: {exc}") from None
    return loads_profile(text, where=p.name, path=str(p), origin=origin)


# ---------------------------------------------------------------------------------- finding


def user_dirs() -> list[Path]:
    """Folders searched for saved profiles: ``$HOWFAST_DEVICES_DIR``, then ``~/.config/howfast/devices``."""
    dirs: list[Path] = []
    env = os.environ.get(ENV_DIR)
    if env:
        dirs.extend(Path(p).expanduser() for p in env.split(os.pathsep) if p)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    dirs.append(Path(config).expanduser() / "howfast" / "devices")
    return dirs


def save_dir() -> Path:
    """Where ``howfast calibrate --save NAME`` writes: the first of ``user_dirs()``."""
    return user_dirs()[0]


def _builtin_files() -> list[tuple[str, Any]]:
    root = resources.files("howfast.hardware")
    return sorted(((entry.name[:-5], entry) for entry in root.iterdir() if entry.name.endswith(".toml")), key=lambda t: t[0])


def _norm(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def builtin_names() -> list[str]:
    return [name for name, _ in _builtin_files()]


def list_profiles() -> list[HardwareProfile]:
    """Built-in and saved profiles (a saved profile shadows a built-in of the same name)."""
    found: dict[str, HardwareProfile] = {}
    for name, entry in _builtin_files():
        found[name] = loads_profile(entry.read_text(encoding="utf-8"), where=entry.name, path=f"howfast/hardware/{entry.name}",
                                    origin="builtin")
    for folder in reversed(user_dirs()):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            found[_norm(path.stem)] = load_profile(path, origin="user")
    return list(found.values())


def get_profile(spec: str | os.PathLike[str] | HardwareProfile) -> HardwareProfile:
    """A profile by built-in or saved name (``t4``, ``my_laptop``) or by file path (``./dev.toml``)."""
    if isinstance(spec, HardwareProfile):
        return spec
    text = str(spec).strip()
    if not text:
        raise DeviceError("empty hardware profile name; see `howfast devices` for the names")
    if text.endswith(".toml") or os.sep in text or "/" in text or Path(text).expanduser().is_file():
        return load_profile(text)
    key = _norm(text)
    for folder in user_dirs():
        candidate = folder / f"{key}.toml"
        if candidate.is_file():
            return load_profile(candidate, origin="user")
        if folder.is_dir():
            for path in folder.glob("*.toml"):
                if _norm(path.stem) == key:
                    return load_profile(path, origin="user")
    for name, entry in _builtin_files():
        if name == key:
            return loads_profile(entry.read_text(encoding="utf-8"), where=entry.name, path=f"howfast/hardware/{entry.name}",
                                 origin="builtin")
    known = sorted({*builtin_names(), *(_norm(p.stem) for d in user_dirs() if d.is_dir() for p in d.glob("*.toml"))})
    raise DeviceError(f"unknown hardware profile {text!r}; known: {', '.join(known)} (or give a .toml file; see `howfast devices`)")


def is_torch_device(text: str) -> bool:
    """``cpu``, ``cuda``, ``cuda:N``, ``meta`` (and ``mps``) are torch devices; anything else names a profile."""
    t = text.strip().lower()
    return t in ("cpu", "cuda", "meta", "mps") or (t.startswith("cuda:") and t[5:].isdigit())
