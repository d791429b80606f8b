"""Every package sits inside an import-linter contract (pyproject.toml, `[tool.importlinter]`).

A package is inside a contract when the contract names it, or names the package it belongs to
below the top level (`services.knowledge` covers `services.knowledge.loaders`): as a layer of
a container, or in a contract's module lists. The top-level folders themselves cover nothing,
so a new `services/foo/` (or `services/foo.py`) fails here until a contract says where it
sits; `training/` and `bench/` must each be named as a whole. The map in
docs/architecture.md names each of them too.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYERED_ROOTS = ("backend", "use_cases", "services")
WHOLE_ROOTS = ("training", "bench")
MODULE_LISTS = ("modules", "source_modules", "forbidden_modules", "ancestors")


def contracts(pyproject: Path = REPO / "pyproject.toml") -> list[dict]:
    with pyproject.open("rb") as file:
        return tomllib.load(file)["tool"]["importlinter"]["contracts"]


def layer_names(layer: str) -> list[str]:
    """`"knowledge | tables : chat"` -> the three names (`|` independent, `:` not)."""
    return [name.strip() for name in re.split(r"[|:]", layer) if name.strip()]


def named_modules(contract: dict) -> set[str]:
    """The modules a contract names, containers resolved (`services` + `knowledge`)."""
    named: set[str] = set()
    for key in MODULE_LISTS:
        named.update(contract.get(key, []))
    containers = contract.get("containers", [])
    for layer in contract.get("layers", []):
        for name in layer_names(layer):
            named.update(f"{container}.{name}" for container in containers)
            if not containers:
                named.add(name)
    return named


def top_level_children(root: Path) -> Iterator[str]:
    """The dotted names of a top-level package's child packages and modules."""
    for child in sorted(root.iterdir()):
        if child.is_dir() and (child / "__init__.py").exists():
            yield f"{root.name}.{child.name}"
        elif child.suffix == ".py" and child.name != "__init__.py":
            yield f"{root.name}.{child.stem}"


def packages(repo: Path = REPO) -> Iterator[str]:
    for root in LAYERED_ROOTS:
        yield from top_level_children(repo / root)
    yield from WHOLE_ROOTS


def outside_every_contract(names: Iterable[str], declared: list[dict]) -> list[str]:
    named = set().union(*(named_modules(contract) for contract in declared))
    return [name for name in names if name not in named]


def test_every_package_is_inside_an_import_contract() -> None:
    assert outside_every_contract(packages(), contracts()) == []


def test_every_named_module_exists() -> None:
    """A contract naming a package that was moved or renamed checks nothing."""
    existing = {"backend", "use_cases", "services", *packages()}
    first_party = tuple(f"{root}." for root in (*LAYERED_ROOTS, *WHOLE_ROOTS))
    named = set().union(*(named_modules(contract) for contract in contracts()))
    stale = {name for name in named if name.startswith(first_party) and name not in existing}
    assert sorted(stale) == []


def test_the_root_packages_are_the_ones_walked() -> None:
    with (REPO / "pyproject.toml").open("rb") as file:
        config = tomllib.load(file)["tool"]["importlinter"]
    assert sorted(config["root_packages"]) == sorted((*LAYERED_ROOTS, *WHOLE_ROOTS))


@pytest.mark.parametrize("child", ["features_new/__init__.py", "new_adapter.py"])
def test_a_new_package_outside_every_contract_is_found(tmp_path: Path, child: str) -> None:
    for root in (*LAYERED_ROOTS, *WHOLE_ROOTS):
        (tmp_path / root).mkdir()
        (tmp_path / root / "__init__.py").touch()
    (tmp_path / "services" / "knowledge").mkdir()
    (tmp_path / "services" / "knowledge" / "__init__.py").touch()
    new = tmp_path / "services" / child
    new.parent.mkdir(exist_ok=True)
    new.touch()
    declared = [
        {"containers": ["services"], "layers": ["knowledge | tables"]},
        {"source_modules": ["training"], "forbidden_modules": ["bench"]},
    ]
    new_name = "services." + child.removesuffix("/__init__.py").removesuffix(".py")
    assert outside_every_contract(packages(tmp_path), declared) == [new_name]


def mentioned_in_the_map(name: str, page: str) -> bool:
    """`services.knowledge` as `knowledge/`, `services.budgets` as `budgets.py`."""
    short = name.split(".", 1)[-1]
    return bool(re.search(rf"(?<![\w/.]){re.escape(short)}(/|\.py)", page))


def test_the_architecture_doc_names_every_package() -> None:
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert [name for name in packages() if not mentioned_in_the_map(name, page)] == []


def test_a_package_the_architecture_doc_does_not_name_is_found() -> None:
    page = "services/\n  knowledge/   loaders\n  clock.py, sql/\ntraining/ bench/"
    names = ["services.knowledge", "services.clock", "services.sql", "services.sqlite"]
    assert [name for name in names if not mentioned_in_the_map(name, page)] == ["services.sqlite"]
