"""The presentation layer calls use cases only: the container it gets holds settings and use
cases, and no route or command reaches an adapter (a store, the SQL runner, the embedder...)."""

from __future__ import annotations

import ast
import dataclasses
import typing

from backend.bootstrap import Adapters, Container
from backend.config import PROJECT_ROOT, Settings
from services.observability import Observability

PRESENTATION = [PROJECT_ROOT / "backend" / "api", PROJECT_ROOT / "backend" / "cli"]
ADAPTER_NAMES = frozenset(f.name for f in dataclasses.fields(Adapters)) | {"adapters"}
#: (file, expression) that read an attribute named like an adapter and are allowed to.
KNOWN = {
    ("backend/api/llm_schemas.py", "info.models"),  # a provider's model names, not an adapter
    # Evaluation: a case's questions, a run's and a request's model names, compared models.
    ("backend/api/eval_schemas.py", "case.history"),
    ("backend/api/eval_schemas.py", "record.models"),
    ("backend/api/eval_schemas.py", "self.models"),
    ("backend/cli/eval_run_commands.py", "comparison.models"),
    ("backend/api/playground_schemas.py", "self.models"),  # the request's model names
    ("backend/api/library_schemas.py", "self.models"),  # a version run's model names
    # Cleaning benchmarks: a request's and a run's model and table names.
    ("backend/api/cleaning_schemas.py", "self.models"),
    ("backend/api/cleaning_schemas.py", "self.tables"),
    ("backend/api/cleaning_schemas.py", "run.models"),
}


def _adapter_reads(source: str, name: str) -> list[tuple[str, int, str]]:
    """(file, line, expression) of every `<anything>.<adapter name>` in the source: whatever
    the container is called (`container`, `built`, `request.app.state.container`)."""
    return [
        (name, node.lineno, ast.unparse(node))
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and node.attr in ADAPTER_NAMES
    ]


def test_no_route_or_command_reads_an_adapter_from_the_container() -> None:
    files = sorted(p for root in PRESENTATION for p in root.rglob("*.py"))
    assert len(files) > 10  # the walk really found the presentation layer

    reads = [
        read
        for path in files
        for read in _adapter_reads(
            path.read_text(encoding="utf-8"), path.relative_to(PROJECT_ROOT).as_posix()
        )
    ]

    assert [r for r in reads if (r[0], r[2]) not in KNOWN] == []


def test_the_check_sees_adapter_reads_however_the_container_is_named() -> None:
    source = (
        "def f(container, built, request):\n"
        "    container.sql.run('SELECT 1')\n"
        "    built.retriever.warm_up()\n"
        "    request.app.state.container.adapters.store.stats()\n"
        "    return container.run_sql.run('SELECT 1')\n"
    )

    assert sorted(_adapter_reads(source, "probe.py")) == [
        ("probe.py", 2, "container.sql"),
        ("probe.py", 3, "built.retriever"),
        ("probe.py", 4, "request.app.state.container.adapters"),
        ("probe.py", 4, "request.app.state.container.adapters.store"),
    ]


def test_the_container_exposes_settings_and_use_cases_only() -> None:
    hints = typing.get_type_hints(Container)
    public = {f.name: hints[f.name] for f in dataclasses.fields(Container) if f.name != "_closed"}

    others = {
        name: kind
        for name, kind in public.items()
        if kind not in (Settings, Adapters, Observability) and not _use_cases_only(kind)
    }

    assert others == {}
    assert [name for name, kind in public.items() if kind is Adapters] == ["adapters"]
    # What the HTTP edge reports to operators (/metrics, request spans): read, never called.
    assert [name for name, kind in public.items() if kind is Observability] == ["observability"]


def _use_cases_only(kind: type) -> bool:
    """A use case, or a feature's bundle of them (a dataclass of the composition, in
    `backend/features/`, whose fields are all use cases)."""
    if kind.__module__.startswith("use_cases."):
        return True
    if not dataclasses.is_dataclass(kind) or not kind.__module__.startswith("backend.features."):
        return False
    hints = typing.get_type_hints(kind)
    fields = [f.name for f in dataclasses.fields(kind)]
    return bool(fields) and all(hints[name].__module__.startswith("use_cases.") for name in fields)
