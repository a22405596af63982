"""The allocator policy of the benchmark runner: freed memory kept for the next run (glibc)."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest
import torch

from howfast.bench import benchmark
from howfast.bench.allocator import apply
from howfast.cli.app import main
from howfast.errors import UsageError

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt and mallinfo2 are glibc's")

# Counts glibc's mmapped blocks (mallinfo2().hblks) while a 64 MiB tensor is alive, first with
# malloc as the process starts, then after retain_freed_memory(): the same allocation is mapped
# fresh (a new mmapped block, to be page-faulted in) before, and served from the heap after.
PROBE = textwrap.dedent("""
    import ctypes, torch
    from howfast.bench.allocator import retain_freed_memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                     "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2

    def mapped_while_alive():
        before = libc.mallinfo2().hblks
        t = torch.empty(16 << 20)  # 64 MiB of float32
        during = libc.mallinfo2().hblks
        del t
        return during - before

    first = mapped_while_alive()
    text = retain_freed_memory()
    print(first, mapped_while_alive(), mapped_while_alive(), text)
""")


@glibc_only
def test_retain_serves_large_blocks_from_the_heap() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    first, after, again, *text = done.stdout.split()
    assert (int(first), int(after), int(again)) == (1, 0, 0)
    assert " ".join(text).startswith("retain (glibc: freed blocks up to 1024 MiB reused")


@glibc_only
def test_environment_records_the_policy() -> None:
    result = benchmark(torch.nn.ReLU(), torch.ones(4), runs=2, warmup=0)
    assert result.environment.allocator.startswith("retain (glibc")
    assert result.to_dict()["environment"]["allocator"] == result.environment.allocator


def test_system_after_retain_says_retain_is_still_in_effect() -> None:
    retained = apply("retain")
    assert apply("system") == retained  # the setting is process-wide and not undone


def test_unknown_policy_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown allocator policy 'jemalloc'; use one of: retain, system"):
        benchmark(torch.nn.ReLU(), torch.ones(4), runs=1, allocator="jemalloc")


def test_cli_rejects_an_unknown_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "resnet18", "--allocator", "jemalloc"]) == 2
    assert "Invalid value for '--allocator'" in capsys.readouterr().err
