"""A plugin package written straight into a folder on `sys.path`, as pip would leave it: its
module and a `.dist-info` whose `entry_points.txt` names what it adds to one registry's group.
The registries' tests (loaders, sources, model providers) see it through
`importlib.metadata.entry_points`, as they would a separately installed package."""

from __future__ import annotations

import textwrap
from pathlib import Path


def install(site: Path, package: str, code: str, group: str, entry_points: str) -> None:
    """`package` (module source `code`) into `site`, adding `entry_points` to `group`."""
    (site / f"{package}.py").write_text(textwrap.dedent(code))
    info = site / f"{package}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry_points}\n")
