"""The peak memory of a process tree while a block runs, for the tests where memory is the
point (an input must not be able to exhaust the server).

`tree_peak(pid)` samples the resident memory of `pid` and of every process below it (the
parse children, the fork server, a server's workers) every 20 ms in a thread, and reports the
highest sum seen above the sum when the block opened. A test compares that growth with a bound
far from both sides (a refused input costs tens of MB; the inputs these tests use cost GBs
without their bound), so the figure says what the input cost, never how fast the machine is.

    with tree_peak(os.getpid()) as peak:
        client.post(...)
    assert peak.growth < 300 * MiB, peak
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

MiB = 1024 * 1024
#: Seconds between two samples of the tree.
INTERVAL_S = 0.02


@dataclass
class TreePeak:
    """Resident bytes of the tree when the block opened (`baseline`) and at most (`peak`)."""

    baseline: int = 0
    peak: int = 0

    @property
    def growth(self) -> int:
        """Bytes the tree grew by at most while the block ran."""
        return max(0, self.peak - self.baseline)

    def __str__(self) -> str:
        return f"tree grew by {self.growth / MiB:.0f} MiB (from {self.baseline / MiB:.0f} MiB)"


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and its descendants now (a process gone meanwhile counts 0)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


@contextmanager
def tree_peak(pid: int) -> Iterator[TreePeak]:
    """Samples `pid`'s tree while the block runs (module docstring)."""
    result = TreePeak(baseline=tree_rss(pid))
    result.peak = result.baseline
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            result.peak = max(result.peak, tree_rss(pid))
            done.wait(INTERVAL_S)

    sampler = threading.Thread(target=sample, name="tree-peak", daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        result.peak = max(result.peak, tree_rss(pid))
