"""Timing and memory helpers shared by the benchmarks (no solver imports, so that a
process that must not load OR-Tools, such as the linopy peer, can use them too)."""

from __future__ import annotations

import hashlib
import os
import platform
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class Peak:
    """Memory over a block, in MiB: `start` RSS, `peak` RSS, and `mib` = peak - start.

    RSS growth undercounts memory that reuses pages freed earlier in the process; the
    absolute `peak` does not.
    """

    start: float = 0.0
    peak: float = 0.0
    mib: float = 0.0
    method: str = ""


@contextmanager
def traced_peak() -> Iterator[Peak]:
    """Peak of Python-level allocations (numpy and pandas buffers included) over the block,
    in MiB (`mib`); deterministic, but blind to C/C++ libraries' own allocations."""
    peak = Peak(method="tracemalloc")
    tracemalloc.start()
    try:
        yield peak
    finally:
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak.mib = peak.peak = top / 2**20


def _status_kib(key: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _can_reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        _status_kib("VmHWM")
    except OSError:
        return False
    return True


@contextmanager
def peak_rss() -> Iterator[Peak]:
    """Measure the block's peak RSS growth (C++ solver and protobuf memory included).

    On Linux the kernel's high-water mark is reset first (/proc/self/clear_refs, value 5)
    and read after: exact. Elsewhere a thread samples psutil's RSS every 2 ms.
    """
    peak = Peak()
    if _can_reset_peak():
        start = _status_kib("VmRSS")
        yield peak
        top = _status_kib("VmHWM")
        peak.start, peak.peak, peak.method = start / 1024.0, top / 1024.0, "VmHWM"
        peak.mib = peak.peak - peak.start
        return
    proc = psutil.Process()
    start = proc.memory_info().rss
    top = [start]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            top[0] = max(top[0], proc.memory_info().rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()
        top[0] = max(top[0], proc.memory_info().rss)
        peak.start, peak.peak, peak.method = start / 2**20, top[0] / 2**20, "psutil sampling"
        peak.mib = peak.peak - peak.start


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """(fastest wall seconds over `repeat` calls, the last call's result)."""
    best, result = float("inf"), None
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def index_digest(index: Any) -> str:
    """A short digest of a ModelIndex's tables, to show two processes built the same sets."""
    digest = hashlib.sha256()
    for name in ("sr", "sw", "wp", "swp", "y"):
        table = getattr(index, name)
        digest.update(name.encode())
        digest.update(pd.util.hash_pandas_object(table, index=True).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    freq = psutil.cpu_freq()
    return {
        "cpu": _cpu_name(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_mhz": round(freq.max or freq.current) if freq else None,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }
