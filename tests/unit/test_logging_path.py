"""One logging library: production code logs with loguru; the standard library's
`logging` appears only where another library's records are routed into loguru or filtered."""

from __future__ import annotations

import ast

from tests.unit.test_code_size import project_modules

#: Modules that may import the standard `logging`, each for a record another library writes.
STDLIB_BRIDGES = {
    # Routes every stdlib record (uvicorn, httpx, openai, ...) into loguru.
    "backend/logging.py",
    # Drops one message onnxruntime's quantizer logs through the root logger.
    "services/knowledge/embedders/minilm_build.py",
}


def stdlib_logging_imports(modules: list[tuple[str, str]]) -> list[str]:
    """`path:line` of each `import logging` / `from logging import ...` in `modules`."""
    found = []
    for relative, text in modules:
        for node in ast.walk(ast.parse(text, filename=relative)):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if isinstance(node, ast.Import | ast.ImportFrom) and any(
                name == "logging" or name.startswith("logging.") for name in names
            ):
                found.append(f"{relative}:{node.lineno}")
    return found


def test_production_code_logs_with_loguru_only() -> None:
    modules = [(path, text) for path, text in project_modules() if path not in STDLIB_BRIDGES]
    assert stdlib_logging_imports(modules) == []


def test_the_bridges_still_need_the_standard_library() -> None:
    bridges = [(path, text) for path, text in project_modules() if path in STDLIB_BRIDGES]
    assert len(bridges) == len(STDLIB_BRIDGES)
    assert all(stdlib_logging_imports([bridge]) for bridge in bridges)


def test_the_check_finds_every_form_of_the_import() -> None:
    planted = [
        ("a.py", "import logging\n"),
        ("b.py", "from logging import getLogger\n"),
        ("c.py", "def f():\n    import logging.handlers\n"),
        ("d.py", "from loguru import logger\n"),
    ]
    assert stdlib_logging_imports(planted) == ["a.py:1", "b.py:1", "c.py:2"]
