"""What a process builds once and shares between the apps and containers made in it: the API's
route table and its OpenAPI description (backend/api/app.py), the offline reader
(backend/components.py) and the agents (backend/agents.py). Shared, they must still keep each
app's and container's own state apart: its container, its settings, its copy of the schema."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from backend.api.app import PROTECTED_ROUTERS, PUBLIC_ROUTERS, create_app, route_table
from backend.api.compat import COMPAT_ROUTERS
from backend.bootstrap import Container, bootstrap
from backend.components import build_reader
from tests.conftest import FixedClock, make_settings


def test_two_apps_share_their_routes_and_each_answers_from_its_own_container(
    data_dir: Path, tmp_path: Path
) -> None:
    other_dir = tmp_path / "empty"
    first = bootstrap(make_settings(data_dir), clock=FixedClock())
    second = bootstrap(make_settings(other_dir, load_sample_data=False), clock=FixedClock())
    try:
        one, two = create_app(container=first), create_app(container=second)
        table = route_table(compat=True)
        assert len(table) == len(PUBLIC_ROUTERS) + len(PROTECTED_ROUTERS) + len(COMPAT_ROUTERS)
        for app in (one, two):
            assert [r for r in app.routes if any(r is t for t in table)] == list(table)
        sample = TestClient(one).get("/api/documents").json()  # no lifespan: the given container
        empty = TestClient(two).get("/api/documents").json()
    finally:
        first.close()
        second.close()
    assert sample["total"] > 0
    assert empty["total"] == 0


def test_the_route_table_follows_compat_routes(tmp_path: Path) -> None:
    on = create_app(make_settings(tmp_path / "a")).openapi()
    off = create_app(make_settings(tmp_path / "b", compat_routes=False)).openapi()
    assert set(off["paths"]) < set(on["paths"])


def test_each_app_serves_its_own_copy_of_the_shared_schema(tmp_path: Path) -> None:
    first = create_app(make_settings(tmp_path / "a")).openapi()
    second_app = create_app(make_settings(tmp_path / "b"))
    first["paths"].clear()
    first["info"]["title"] = "changed"
    second = second_app.openapi()
    assert second["paths"] and second["info"]["title"] == "Almanac"
    assert second_app.openapi() is second  # an app keeps the copy it made


def test_containers_share_the_reader_and_the_agents(data_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(data_dir)
    read_one, read_two = build_reader(settings), build_reader(make_settings(tmp_path / "x"))
    assert read_one is not None and read_two is not None
    assert read_one.__self__ is read_two.__self__  # type: ignore[attr-defined]  # a bound method
    built: list[Container] = [bootstrap(settings, clock=FixedClock()) for _ in range(2)]
    try:
        first, second = built
        assert first.chat.agent is second.chat.agent
    finally:
        for container in built:
            container.close()
