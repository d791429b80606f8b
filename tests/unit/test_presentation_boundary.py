"""The presentation layer calls use cases only: the container it gets holds settings and one
bundle of use cases per feature, no route or command reaches an adapter (a store, the SQL
runner, the embedder...), and none reads a bundle's INTERNAL field (one kept for other
features)."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import typing

from backend.bootstrap import Adapters, Container
from backend.config import PROJECT_ROOT, Settings
from services.observability import Observability

PRESENTATION = [PROJECT_ROOT / "backend" / name for name in ("api", "cli", "web")]
CONTAINER_HINTS = typing.get_type_hints(Container)
#: The features' bundles in the container, by name (`container.knowledge`, `container.chat`...).
GROUPS = {
    f.name: CONTAINER_HINTS[f.name]
    for f in dataclasses.fields(Container)
    if f.name not in ("settings", "observability", "adapters", "_closed")
}
#: An adapter named like a feature (`tables`) is still out of reach: only `.adapters` holds it.
ADAPTER_NAMES = (frozenset(f.name for f in dataclasses.fields(Adapters)) - GROUPS.keys()) | {
    "adapters"
}
#: group -> the fields of its bundle that are for other features only.
INTERNAL_FIELDS = {
    group: frozenset(f.name for f in dataclasses.fields(kind) if f.metadata.get("internal"))
    for group, kind in GROUPS.items()
}
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
    # `almanac formats`: a registered loader entry's plugin class, for its docstring
    ("backend/cli/formats_commands.py", "entry.loader"),
}


def _adapter_reads(source: str, name: str) -> list[tuple[str, int, str]]:
    """(file, line, expression) of every `<anything>.<adapter name>` in the source: whatever
    the container is called (`container`, `built`, `request.app.state.container`)."""
    return [
        (name, node.lineno, ast.unparse(node))
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and node.attr in ADAPTER_NAMES
        and not _reads_settings(node)
    ]


def _reads_settings(node: ast.Attribute) -> bool:
    """`container.settings.models`, `settings.chat_files`: a settings group named like an
    adapter, not the adapter."""
    inner = node.value
    return (isinstance(inner, ast.Attribute) and inner.attr == "settings") or (
        isinstance(inner, ast.Name) and inner.id == "settings"
    )


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
        "    return container.tables.run_sql.run('SELECT 1')\n"
    )

    assert sorted(_adapter_reads(source, "probe.py")) == [
        ("probe.py", 2, "container.sql"),
        ("probe.py", 3, "built.retriever"),
        ("probe.py", 4, "request.app.state.container.adapters"),
        ("probe.py", 4, "request.app.state.container.adapters.store"),
    ]


def _internal_reads(source: str, name: str) -> list[tuple[str, int, str]]:
    """(file, line, expression) of every `<anything>.<group>.<internal field>`: a route or
    command reading, through the container, a use case a bundle keeps for other features."""
    return [
        (name, node.lineno, ast.unparse(node))
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.attr in INTERNAL_FIELDS.get(node.value.attr, ())
    ]


def test_no_route_or_command_reads_an_internal_use_case() -> None:
    files = sorted(p for root in PRESENTATION for p in root.rglob("*.py"))

    reads = [
        read
        for path in files
        for read in _internal_reads(
            path.read_text(encoding="utf-8"), path.relative_to(PROJECT_ROOT).as_posix()
        )
    ]

    assert reads == []


def test_the_check_sees_internal_reads_however_the_container_is_named() -> None:
    assert INTERNAL_FIELDS["chat"] >= {"agent", "record_response"}  # what the probe reads
    source = (
        "def f(container, request):\n"
        "    container.chat.agent.run('hi')\n"
        "    request.app.state.container.chat.record_response.execute()\n"
        "    return container.chat.chats.list()\n"
    )

    assert sorted(_internal_reads(source, "probe.py")) == [
        ("probe.py", 2, "container.chat.agent"),
        ("probe.py", 3, "request.app.state.container.chat.record_response"),
    ]


def test_the_container_holds_each_features_bundle_once() -> None:
    built = {
        module.removeprefix("backend.features."): inspect.signature(
            importlib.import_module(module).build, eval_str=True
        ).return_annotation
        for module in _feature_modules()
    }

    assert {name: GROUPS.get(name) for name in built} == built
    assert set(GROUPS) == set(built)


def _feature_modules() -> list[str]:
    folder = PROJECT_ROOT / "backend" / "features"
    return sorted(
        f"backend.features.{p.stem}"
        for p in folder.glob("*.py")
        if p.stem not in ("__init__", "adapters")
    )


def test_the_container_exposes_settings_and_use_cases_only() -> None:
    public = {
        f.name: CONTAINER_HINTS[f.name]
        for f in dataclasses.fields(Container)
        if f.name != "_closed"
    }

    others = {
        name: kind
        for name, kind in public.items()
        if kind not in (Settings, Adapters, Observability) and not _use_cases_only(kind)
    }

    assert others == {}
    assert [name for name, kind in public.items() if kind is Settings] == ["settings"]
    assert [name for name, kind in public.items() if kind is Adapters] == ["adapters"]
    # What the HTTP edge reports to operators (/metrics, request spans): read, never called.
    assert [name for name, kind in public.items() if kind is Observability] == ["observability"]


def _use_cases_only(kind: type) -> bool:
    """A feature's bundle of use cases: a dataclass of the composition, in `backend/features/`,
    whose fields the presentation may read (all but the INTERNAL ones) are all use cases."""
    if not dataclasses.is_dataclass(kind) or not kind.__module__.startswith("backend.features."):
        return False
    hints = typing.get_type_hints(kind)
    fields = [f.name for f in dataclasses.fields(kind) if not f.metadata.get("internal")]
    return bool(fields) and all(hints[name].__module__.startswith("use_cases.") for name in fields)
