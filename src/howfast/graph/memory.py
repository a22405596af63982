"""How much memory a device has free, so that an input or a model too large for it is refused
before it is allocated (not after the allocator, or the kernel, gives up).

* ``cpu``: ``MemAvailable`` in ``/proc/meminfo`` (what Linux can give without swapping; psutil is not
  a dependency); on a system without it nothing is refused;
* ``cuda``/``cuda:N``: the free memory ``torch.cuda.mem_get_info`` reports;
* ``meta`` (and any other device): nothing is allocated or known, so nothing is refused.

Whatever the device, PyTorch addresses at most ``2**63 - 1`` bytes of one tensor (sizes are int64):
``ADDRESSABLE_BYTES``, checked on meta too.
"""

from __future__ import annotations

import torch

from howfast import units

ADDRESSABLE_BYTES = (1 << 63) - 1
MEMINFO = "/proc/meminfo"


def available_bytes(device: str | torch.device) -> tuple[int, str] | None:
    """(bytes free on ``device``, where the figure comes from), or None when unknown or unlimited."""
    device = torch.device(device)
    if device.type == "cpu":
        return _mem_available()
    if device.type == "cuda":
        try:
            free, _ = torch.cuda.mem_get_info(device)
        except (RuntimeError, AssertionError):  # no CUDA here: the device check says so elsewhere
            return None
        return int(free), f"free on {device}"
    return None


def shortfall(nbytes: int, device: str | torch.device) -> str | None:
    """``"more than the 22.87 GiB available (MemAvailable)"`` when ``nbytes`` do not fit on ``device``, else None."""
    free = available_bytes(device)
    if free is None or nbytes <= free[0]:
        return None
    return f"more than the {units.nbytes(free[0])} available ({free[1]})"


def _mem_available() -> tuple[int, str] | None:
    try:
        with open(MEMINFO, encoding="ascii") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    value, unit = line.split()[1:3]
                    return int(value) * (1024 if unit.lower() == "kb" else 1), "MemAvailable"
    except (OSError, ValueError, IndexError):
        return None
    return None
