"""The five source documents' routes (backend/api/compat/, docs/seeds.md) and COMPAT_ROUTES:
no route is registered twice; turning the setting off removes exactly the documents' routes
and leaves Almanac's own API, the web app and the docs answering."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette import routing

from backend.api.app import create_app
from backend.api.compat import COMPAT_ROUTERS
from backend.api.routes.web import WEB_DIR
from backend.config import Settings
from tests.conftest import make_settings

Route = tuple[str, str]


def registered(app: FastAPI) -> list[Route]:
    """(method, path) of every route as registered, one entry per registration (HEAD, which
    rides along with GET, left out; a mount is `MOUNT`)."""
    found: list[Route] = []
    for route in iter_route_contexts(app.routes):
        methods = route.methods or {"MOUNT"}
        found.extend((method, str(route.path)) for method in methods if method != "HEAD")
    return found


def documents_routes() -> set[Route]:
    return {
        (method, route.path)
        for router in COMPAT_ROUTERS
        for route in router.routes
        if isinstance(route, routing.Route)
        for method in getattr(route, "methods", ())
        if method != "HEAD"
    }


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    """The `container` and `client` of this module run with the documents' routes off."""
    return make_settings(data_dir, compat_routes=False)


@pytest.mark.parametrize("compat", [True, False], ids=["compat on", "compat off"])
def test_no_route_is_registered_twice(tmp_path: Path, compat: bool) -> None:
    app = create_app(make_settings(tmp_path, compat_routes=compat))

    twice = [route for route, count in Counter(registered(app)).items() if count > 1]

    assert twice == []


def test_the_setting_is_on_by_default_and_off_removes_exactly_the_documents_routes(
    tmp_path: Path,
) -> None:
    default = set(registered(create_app(make_settings(tmp_path))))
    off = set(registered(create_app(make_settings(tmp_path, compat_routes=False))))
    documents = documents_routes()

    assert documents and documents <= default  # on by default
    assert default - off == documents
    assert off == default - documents


#: A path of this API the web app's JavaScript names: a string literal starting with one of
#: these (template parts `${...}` stand for one path segment; a query is cut off).
_API = r"/(?:api|chats?|advice|model|feedback|confidence|search-discipline|health)\b"
_JS_PATH = re.compile(r"""["'`]((?:\$\{\w+\})?""" + r"(?:" + _API + r""")?[^"'`?\s]*)""")
#: `const base = `/api/...`;`: a path a script adds to (`${base}/project-draft`).
_JS_BASE = re.compile(r"""const (\w+) = [`"'](""" + _API + r"""[^`"'?\s]*)[`"']""")


def web_app_paths() -> set[str]:
    paths: set[str] = set()
    for script in WEB_DIR.rglob("*.js"):
        if "vendor" in script.parts:
            continue
        text = script.read_text(encoding="utf-8")
        bases: dict[str, set[str]] = {}
        for name, value in _JS_BASE.findall(text):
            bases.setdefault(name, set()).add(value)
        for match in _JS_PATH.finditer(text):
            literal = match.group(1)
            head = re.match(r"\$\{(\w+)\}", literal)
            if head:  # a known base, else not a path
                starts = bases.get(head.group(1), set())
                found = {start + literal[head.end() :] for start in starts}
            else:
                found = {literal} if re.match(_API, literal) else set()
            paths.update(re.sub(r"\$\{[^}]*\}", "x", path) for path in found)
    return paths


def serves(routes: set[Route], path: str) -> bool:
    """Whether `path`, or a path it begins (a base the script adds to), is a route's path."""
    asked = path.rstrip("/").split("/")
    for _, pattern in routes:
        known = pattern.rstrip("/").split("/")
        if len(asked) <= len(known) and all(
            a == k or (k.startswith("{") and a) for a, k in zip(asked, known, strict=False)
        ):
            return True
    return False


def test_every_path_the_web_app_calls_is_almanacs_own(tmp_path: Path) -> None:
    off = set(registered(create_app(make_settings(tmp_path, compat_routes=False))))
    paths = web_app_paths()

    scanned = {
        "/api/cleaning/tasks",
        "/model",
        "/api/auth/status",
        "/api/conversations/x/project-draft/chat/stream",
    }
    assert scanned <= paths  # the scan reads what the scripts call
    assert sorted(p for p in paths if not serves(off, p)) == []


async def test_with_compat_off_the_documents_paths_are_gone_and_almanacs_answer(
    client: httpx.AsyncClient,
) -> None:
    http = client
    for path in ("/api/tasks", "/api/metrics/overview", "/api/v1/settings/default-model"):
        assert (await http.get(path)).status_code == 404, path
    assert (await http.post("/api/v1/playground/run", json={})).status_code == 404
    assert (await http.get("/api/conversations/")).status_code == 404

    assert (await http.get("/model")).json()["model"]
    assert len((await http.get("/api/cleaning/tasks")).json()["tasks"]) > 0
    assert (await http.get("/api/cleaning/metrics/overview")).status_code == 404  # no run yet
    assert (await http.get("/api/auth/status")).json()["authenticated"] is True
    chat = await http.post("/chat", json={"message": "How often must passwords change?"})
    assert chat.status_code == 200 and chat.json()["answer"]

    page = await http.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert (await http.get("/docs")).status_code == 200
    spec = (await http.get("/openapi.json")).json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert documented.isdisjoint(documents_routes())
    assert ("POST", "/chat") in documented and ("GET", "/api/cleaning/runs") in documented
