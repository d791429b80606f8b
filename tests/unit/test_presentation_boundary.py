"""The presentation layer calls use cases only: the container it gets holds settings and use
cases, and no route or command reaches an adapter (a store, the SQL runner, the embedder...)."""

from __future__ import annotations

import ast
import dataclasses
import typing

from backend.bootstrap import Adapters, Container
from backend.config import PROJECT_ROOT, Settings

PRESENTATION = [PROJECT_ROOT / "backend" / "api", PROJECT_ROOT / "backend" / "cli"]
ADAPTER_NAMES = frozenset(f.name for f in dataclasses.fields(Adapters)) | {"adapters"}
# Transitional, and the only one: routes/chat.py (being rewritten on another branch) still
# reads the model resolver; it should read `container.model_defaults` instead.
KNOWN = {("backend/api/routes/chat.py", "models")}


def _adapter_reads(source: str, name: str) -> list[tuple[str, int, str]]:
    """(file, line, attribute) of every `<...container>.<adapter>` in the source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute) or node.attr not in ADAPTER_NAMES:
            continue
        owner = ast.unparse(node.value)
        if owner.split(".")[-1].endswith("container"):
            found.append((name, node.lineno, node.attr))
    return found


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
        "def f(container, request):\n"
        "    container.sql.run('SELECT 1')\n"
        "    request.app.state.container.adapters.store.stats()\n"
        "    return container.run_sql.run('SELECT 1')\n"
    )

    assert _adapter_reads(source, "probe.py") == [
        ("probe.py", 2, "sql"),
        ("probe.py", 3, "adapters"),
    ]


def test_the_container_exposes_settings_and_use_cases_only() -> None:
    hints = typing.get_type_hints(Container)
    public = {f.name: hints[f.name] for f in dataclasses.fields(Container) if f.name != "_closed"}

    others = {
        name: kind
        for name, kind in public.items()
        if kind not in (Settings, Adapters) and not kind.__module__.startswith("use_cases.")
    }

    assert others == {}
    assert [name for name, kind in public.items() if kind is Adapters] == ["adapters"]
