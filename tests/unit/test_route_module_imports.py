"""A route module's private names stay its own: no module (production or test) imports a
`_private` name from `backend.api.routes.*`, or reaches one through the module object. What
several routes share lives outside the route modules (stream helpers in
`backend/api/streams.py`, shapes in the `*_schemas.py` modules)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("backend", "use_cases", "services", "tests", "bench")
ROUTES = "backend.api.routes"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_route_imports(source: str) -> list[str]:
    """Each `module.name` of a route module's private name that `source` imports or uses."""
    nodes = list(ast.walk(ast.parse(source)))  # walked once: the scan reads every module
    found: list[str] = []
    modules: dict[str, str] = {}  # local name -> route module, e.g. chat -> ...routes.chat
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if node.module == ROUTES:
                    modules[alias.asname or alias.name] = f"{ROUTES}.{alias.name}"
                elif node.module.startswith(ROUTES + ".") and _is_private(alias.name):
                    found.append(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(ROUTES + ".") and alias.asname:
                    modules[alias.asname] = alias.name
    for node in nodes:
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            target = node.value
            if isinstance(target, ast.Name) and target.id in modules:
                found.append(f"{modules[target.id]}.{node.attr}")
            elif ast.unparse(target).startswith(ROUTES + "."):
                found.append(f"{ast.unparse(target)}.{node.attr}")
    return found


def test_the_check_sees_each_way_of_reaching_a_private_name() -> None:
    source = (
        "from backend.api.routes.chat import _started, chat\n"
        "from backend.api.routes import web as w\n"
        "import backend.api.routes.oidc\n"
        "w._hidden()\n"
        "backend.api.routes.oidc._next\n"
        "from backend.api.streams import _line\n"  # not a route module: allowed
        "w.asset_version.__wrapped__\n"  # a dunder: allowed
    )
    assert sorted(private_route_imports(source)) == [
        "backend.api.routes.chat._started",
        "backend.api.routes.oidc._next",
        "backend.api.routes.web._hidden",
    ]


def test_no_module_imports_a_private_name_of_a_route_module() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for folder in SCANNED
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in private_route_imports(path.read_text(encoding="utf-8"))
    }
    assert not offenders, sorted(offenders)
