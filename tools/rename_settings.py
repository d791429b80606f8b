"""Rename reads of settings to the fields' short names: `settings.evaluation.eval_concurrency`
becomes `settings.evaluation.concurrency`, `jobs.job_concurrency` (where `jobs` is known to be
a `JobSettings`) becomes `jobs.concurrency`.

    .venv/bin/python -m tools.rename_settings              # backend services use_cases tests
                                                          # bench training tools docs README.md
    .venv/bin/python -m tools.rename_settings --dry-run    # say what would change, change nothing
    .venv/bin/python -m tools.rename_settings PATH...      # only these files or folders

The renames are not listed here: they are read from the models (`backend.config`), where a
field that leaves out its group's prefix declares its environment name as its
`validation_alias` (`concurrency = Field(..., validation_alias="eval_concurrency")`): old
name = environment name, new name = field name. Only `DERIVED` (properties computed from a
renamed field) is listed by hand. No new name is an old one, so the script can be run again
on code merged later (already-renamed code is left alone): it is meant to be.

What it renames, in Python (read with `ast`, so strings and comments are left alone):
- `X.GROUP.OLD`, where GROUP is a group's attribute on `Settings` (`settings.jobs`,
  `container.settings.jobs`);
- `NAME.OLD` and `self.NAME.OLD`, where NAME is known in the same file to hold a group: a
  parameter or variable annotated with the group's class (`jobs: JobSettings`,
  `settings: JobSettings | None`), a variable assigned from `X.GROUP` or `GroupClass(...)`,
  or an attribute `self.NAME` assigned from one of those or annotated with the class.
In Markdown it renames `.GROUP.OLD` only. Keywords (`Settings(eval_concurrency=2)`,
`settings.updated(...)`, `EvaluationSettings(eval_concurrency=2)`) and the environment's
names keep the environment name, so they are never touched.

It then lists each `.OLD` it left because it could not tell the receiver is a settings group
(an untyped fixture, `getattr(x, "eval_concurrency")`): look at those by hand; mypy
(`make lint`) finds the ones in checked code as "has no attribute".
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from backend.config import PROJECT_ROOT, setting_groups

DEFAULT_PATHS = (
    "backend",
    "services",
    "use_cases",
    "tests",
    "bench",
    "training",
    "tools",
    "docs",
    "README.md",
)
#: Left alone: the models themselves (whose fields already carry the new names), and the logs
#: of what was (docs/notes/), which keep the names of their day.
SKIPPED = ("backend/config/", "docs/notes/")
#: Properties of a group renamed with the fields they are computed from: group class -> old ->
#: new. (Field renames are read from the models, not listed here.)
DERIVED: dict[str, dict[str, str]] = {
    "EmbeddingSettings": {"effective_embedding_model": "effective_model"},
    "ConversationImportSettings": {"import_allowed_host_list": "allowed_host_list"},
    "WebsiteSourceSettings": {"source_allowed_host_list": "allowed_host_list"},
}


@dataclass(frozen=True)
class Renames:
    """Old -> new attribute names, by group attribute and by group class."""

    by_group: dict[str, dict[str, str]]
    by_class: dict[str, dict[str, str]]

    @property
    def old_names(self) -> set[str]:
        return {old for table in self.by_class.values() for old in table}


def renames() -> Renames:
    """Every rename, read from the models (plus `DERIVED`)."""
    by_group: dict[str, dict[str, str]] = {}
    by_class: dict[str, dict[str, str]] = {}
    for group, model in setting_groups():
        table = {env: name for name, env in model.environment_names().items() if env != name}
        table.update(DERIVED.get(model.__name__, {}))
        if table:
            by_group[group] = by_class[model.__name__] = table
    olds = {old for table in by_class.values() for old in table}
    news = {new for table in by_class.values() for new in table.values()}
    assert not olds & news, (
        f"a new name is an old one, so a second run would rename it: {olds & news}"
    )
    return Renames(by_group, by_class)


@dataclass
class _Bindings:
    """Which names (`jobs`, `self._jobs`) hold which groups (class names), in one file."""

    groups_of: dict[str, set[str]] = field(default_factory=dict)

    def bind(self, name: str, group_class: str) -> None:
        self.groups_of.setdefault(name, set()).add(group_class)


def _classes_named(annotation: ast.expr | None, classes: Iterable[str]) -> set[str]:
    """The group classes an annotation mentions (`JobSettings | None`, `"JobSettings"`)."""
    if annotation is None:
        return set()
    wanted = set(classes)
    found = set()
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name) and node.id in wanted:
            found.add(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in wanted:
            found.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found |= {c for c in wanted if re.search(rf"\b{c}\b", node.value)}
    return found


def _receiver(node: ast.expr) -> str | None:
    """`jobs` or `self._jobs` for a receiver of those shapes, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"self.{node.attr}" if node.value.id == "self" else None
    return None


def _bindings(tree: ast.AST, renames: Renames) -> _Bindings:
    classes = tuple(renames.by_class)
    class_of_group = {
        group: next(cls for cls, t in renames.by_class.items() if t is table)
        for group, table in renames.by_group.items()
    }
    found = _Bindings()

    def value_groups(value: ast.expr) -> set[str]:
        if isinstance(value, ast.Attribute) and value.attr in class_of_group:
            return {class_of_group[value.attr]}
        if isinstance(value, ast.Call):
            return _classes_named(value.func, classes)
        name = _receiver(value)
        return set(found.groups_of.get(name, ())) if name else set()

    # Two passes: `self._jobs = jobs` needs `jobs: JobSettings` (a parameter) known first.
    for _ in range(2):
        for node in ast.walk(tree):
            targets: list[ast.expr] = []
            groups: set[str] = set()
            if isinstance(node, ast.arg):
                for cls in _classes_named(node.annotation, classes):
                    found.bind(node.arg, cls)
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
                groups = _classes_named(node.annotation, classes)
                groups |= value_groups(node.value) if node.value is not None else set()
                if isinstance(node.target, ast.Name):  # a dataclass's field, read as self.NAME
                    targets.append(ast.Attribute(ast.Name("self"), node.target.id))
            elif isinstance(node, ast.Assign):
                targets, groups = node.targets, value_groups(node.value)
            for target in targets:
                name = _receiver(target)
                if name is not None:
                    for cls in groups:
                        found.bind(name, cls)
    return found


@dataclass(frozen=True)
class Edit:
    start: int  # offset of the old name in the text
    old: str
    new: str


def python_edits(text: str, renames: Renames) -> tuple[list[Edit], list[tuple[int, str]]]:
    """The renames to make in one Python file, and (line, old name) of each `.OLD` left
    because its receiver is not known to be a group."""
    olds = renames.old_names
    if not any(old in text for old in olds):  # most files: nothing to parse for
        return [], []
    tree = ast.parse(text)
    bound = _bindings(tree, renames)
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    edits: list[Edit] = []
    left: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or node.attr not in olds:
            continue
        tables: list[dict[str, str]] = []
        value = node.value
        if isinstance(value, ast.Attribute) and value.attr in renames.by_group:
            tables.append(renames.by_group[value.attr])
        name = _receiver(value)
        tables += [renames.by_class[cls] for cls in bound.groups_of.get(name or "", ())]
        new = next((t[node.attr] for t in tables if node.attr in t), None)
        if new is None:
            left.append((node.lineno, node.attr))
            continue
        # the attribute's name ends the node (`x.old`; `x .old` and `x.\nold` alike)
        assert node.end_lineno is not None and node.end_col_offset is not None
        end = starts[node.end_lineno - 1] + len(
            text.splitlines(keepends=True)[node.end_lineno - 1]
            .encode()[: node.end_col_offset]
            .decode()
        )
        edits.append(Edit(end - len(node.attr), node.attr, new))
    for node in ast.walk(tree):  # getattr(x, "old"): never renamed, always listed
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in olds
        ):
            left.append((node.lineno, str(node.args[1].value)))
    return edits, left


def markdown_edits(text: str, renames: Renames) -> list[Edit]:
    """`.GROUP.OLD` in prose and examples (nothing else: a bare name may be anything)."""
    edits = []
    for group, table in renames.by_group.items():
        for old, new in table.items():
            for match in re.finditer(rf"\.{group}\.({old})\b", text):
                edits.append(Edit(match.start(1), old, new))
    return edits


def apply(text: str, edits: list[Edit]) -> str:
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        assert text[edit.start : edit.start + len(edit.old)] == edit.old, edit
        text = text[: edit.start] + edit.new + text[edit.start + len(edit.old) :]
    return text


def files(paths: Iterable[str]) -> Iterator[Path]:
    for given in paths:
        path = Path(given)
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        for candidate in candidates:
            resolved = candidate.resolve()
            inside = resolved.is_relative_to(PROJECT_ROOT)
            relative = resolved.relative_to(PROJECT_ROOT).as_posix() if inside else ""
            if candidate.suffix in (".py", ".md") and not relative.startswith(SKIPPED):
                yield candidate


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", default=DEFAULT_PATHS)
    parser.add_argument("--dry-run", action="store_true", help="change nothing")
    args = parser.parse_args(argv)
    table = renames()
    changed = 0
    for path in files(args.paths):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".py":
            edits, left = python_edits(text, table)
        else:
            edits, left = markdown_edits(text, table), []
        for line, old in left:
            print(f"{path}:{line}: .{old} left: its receiver is not known to be a group")
        if edits:
            changed += 1
            print(f"{path}: {len(edits)} renamed")
            if not args.dry_run:
                path.write_text(apply(text, edits), encoding="utf-8")
    print(f"{changed} files {'to change' if args.dry_run else 'changed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
