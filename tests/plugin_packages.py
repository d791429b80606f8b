"""A plugin package written straight into a folder on `sys.path`, as pip would leave it: its
module and a `.dist-info` whose `entry_points.txt` names what it adds to one registry's group.
The registries' tests (loaders, sources, model providers, index backends) see it through
`importlib.metadata.entry_points`, as they would a separately installed package.
`write_package` writes one as the source of its own package instead, and `venv_with` installs
such a package into a new virtual environment with Almanac (`uv pip install --offline`), where
`almanac` and `python` run it as a user's installation would; `plugins_venv` is the one
such environment a run shares, holding every plugin the tests install (building one is most
of those tests' time)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from services.knowledge.index_backends import ENTRY_POINT_GROUP

ROOT = Path(__file__).resolve().parents[1]
#: The model provider package of tests/integration/test_provider_plugin.py.
ECHO_PROVIDER = ROOT / "tests" / "fixtures" / "almanac_echo_provider"
#: The index backend plugin of docs/extending.md (tests/integration/test_index_backend_plugin.py).
EXTENDING_DOC = ROOT / "docs" / "extending.md"


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


def doc_index_plugin() -> str:
    """The docs' index backend plugin module: the Python block of docs/extending.md that
    starts with its docstring."""
    text = EXTENDING_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)
    found = [block for block in blocks if block.startswith('"""almanac_exact_index:')]
    assert len(found) == 1, "docs/extending.md shows the exact index plugin once"
    return str(found[0])


def plugins_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's one virtual environment holding Almanac and every plugin package the tests
    install as a user would (the echo model provider and the docs' `exact` index backend),
    built by the first worker to ask (the others wait for it). The plugins add to different
    entry point groups, so neither changes what the other's tests see."""
    from tests.conftest import run_lock

    with run_lock(tmp_path_factory, "plugins-venv") as root:
        work, ready = root / "plugins-venv", root / "plugins-venv.ready"
        if not ready.exists():
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir()
            echo = shutil.copytree(ECHO_PROVIDER, work / "echo")  # its build leaves files
            exact = write_package(
                work / "exact",
                "almanac-exact-index",
                "almanac_exact_index",
                doc_index_plugin(),
                ENTRY_POINT_GROUP,
                "exact = almanac_exact_index:ExactIndex",
            )
            venv_with(work / "venv", echo, exact)
            ready.touch()
    return work / "venv"


def venv_with(target: Path, *plugins: Path) -> Path:
    """A new virtual environment at `target` holding Almanac (editable, from this checkout)
    and the packages at `plugins`, all installed offline from the local paths and uv's cache
    (`make install` puts uv in `.venv`; CI's does too)."""
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        pytest.fail(f"uv is missing from {uv.parent}: run `make install`, which installs it.")
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, target], check=True)
    interpreter = target / "bin" / "python"
    install: list[str | Path] = [uv, "pip", "install", "-q", "--offline", "--python", interpreter]
    done = subprocess.run(
        [*install, "-e", ROOT, *plugins], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return target


def almanac(
    venv: Path, home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`almanac ARGS` of `venv`, in `home` with its data in `home/data`, no sample loaded,
    and `env` added: nothing of this process's environment but `PATH` reaches it."""
    base = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "DATA_DIR": str(home / "data"),
        "LOAD_SAMPLE_DATA": "false",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [venv / "bin" / "almanac", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=home,
        timeout=300,
    )


def python(venv: Path, code: str) -> subprocess.CompletedProcess[str]:
    """`code` run by `venv`'s Python (outside this checkout, so it imports what is installed)."""
    return subprocess.run(
        [venv / "bin" / "python", "-c", code], capture_output=True, text=True, cwd=venv
    )
