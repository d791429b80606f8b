"""A plugin package written straight into a folder on `sys.path`, as pip would leave it: its
module and a `.dist-info` whose `entry_points.txt` names what it adds to one registry's group.
The registries' tests (loaders, sources, model providers, index backends) see it through
`importlib.metadata.entry_points`, as they would a separately installed package.
`write_package` writes one as the source of its own package instead, for a test that installs
it into a virtual environment with Almanac (`uv pip install --offline`)."""

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


def write_package(
    folder: Path, distribution: str, module: str, code: str, group: str, entry_points: str
) -> Path:
    """A plugin as the source of its own package (`pyproject.toml` and its module, built
    with setuptools), for `pip install` or `uv pip install` into a virtual environment:
    `distribution` names it, `module` holds `code`, and `entry_points` (written as for
    `install`, `name = module:attribute` a line) go in `group`."""
    folder.mkdir(parents=True)
    (folder / f"{module}.py").write_text(textwrap.dedent(code))
    pairs = (line.partition("=") for line in entry_points.strip().splitlines())
    points = "\n".join(f'{name.strip()} = "{target.strip()}"' for name, _, target in pairs)
    (folder / "pyproject.toml").write_text(
        "[project]\n"
        f'name = "{distribution}"\nversion = "1.0"\nrequires-python = ">=3.11"\n'
        "dependencies = []\n\n"
        f'[project.entry-points."{group}"]\n{points}\n\n'
        '[build-system]\nrequires = ["setuptools>=61"]\n'
        'build-backend = "setuptools.build_meta"\n'
    )
    return folder
