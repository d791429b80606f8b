"""Giving memory the process has freed back to the system.

glibc's allocator keeps the pages of freed memory in its heaps for the next allocation, so a
server's resident size stays at the high-water mark of its largest piece of work: embedding
one workbook of 3,000 rows raised the process by ~125 MB, and it stayed there after every
vector was freed (a probe's server grew from 398 to 900 MB this way and never came down).
`malloc_trim(0)` returns those pages (measured: back to within 7 MB, in 1-2 ms), so the
server calls it every `TRIM_EVERY_S` seconds (`trim_periodically`, from the app's lifespan).

Rules:
- Only on glibc (Linux): elsewhere `release_free_memory` does nothing (other allocators
  return memory their own way) and says so by returning False.
- It runs on a worker thread: the call holds the allocator's lock for its few milliseconds,
  never the event loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache

__all__ = ["TRIM_EVERY_S", "release_free_memory", "trim_periodically"]

#: Seconds between two trims of the serving process's heap.
TRIM_EVERY_S = 10.0


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): no malloc_trim
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Return the heap's free pages to the system; False where the allocator has no such
    call."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


async def trim_periodically(every_s: float = TRIM_EVERY_S) -> None:
    """Trim the heap every `every_s` seconds until cancelled (nothing to do off glibc)."""
    if _malloc_trim() is None:
        return
    while True:
        await asyncio.sleep(every_s)
        await asyncio.to_thread(release_free_memory)
