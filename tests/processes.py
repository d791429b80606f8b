"""Processes a test started, as Linux's /proc shows them."""

from __future__ import annotations

from pathlib import Path


def spawned_children(parent: int) -> list[int]:
    """The multiprocessing workers `parent` spawned (not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in command:
            found.append(int(entry.name))
    return sorted(found)
