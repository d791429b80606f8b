"""Production code stays in rooms a newcomer can read: no function or method over
80 lines, no module over 800 lines (80 since the offline answerer was held to it too).

Production is `backend/`, `use_cases/` and `services/` (not `bench/`, `training/` or the
tests). A module may be longer only when its docstring says why, on a line that starts with
`LONG_MODULE_MARKER` followed by the reason (one format's loader whose rules are one walk over
one parsed file, say). `EXCLUDED` folders are left out of both checks (none now: the offline
answerer, once left out, became a pipeline of modules within the limits).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("backend", "use_cases", "services")
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 800
LONG_MODULE_MARKER = "Why this module is over 800 lines:"
#: A reason shorter than this is not a reason ("Why this module is over 800 lines: legacy").
MIN_REASON_CHARS = 40
#: Folders (relative to the project root) held to neither limit.
EXCLUDED: tuple[str, ...] = ()
#: Modules over 800 lines for now without a reason in their docstring, each with the change
#: that removes it from this list.
TEMPORARY_LONG_MODULES: frozenset[str] = frozenset()


def production_modules(
    root: Path, excluded: tuple[str, ...] = EXCLUDED
) -> Iterator[tuple[str, str]]:
    """(path relative to `root`, source text) of every production module outside `excluded`,
    in path order."""
    for package in PRODUCTION:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if not relative.startswith(excluded):
                yield relative, path.read_text(encoding="utf-8")


@cache
def project_modules() -> tuple[tuple[str, str], ...]:
    return tuple(production_modules(ROOT))


def long_functions(modules: Iterable[tuple[str, str]]) -> list[str]:
    """`path:line name (N lines)` of each function or method longer than the limit; a
    nested function counts on its own and inside the one that holds it."""
    found: list[str] = []
    for relative, text in modules:
        for node in ast.walk(ast.parse(text, filename=relative)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{relative}:{node.lineno} {node.name} ({length} lines)")
    return found


def says_why_it_is_long(text: str) -> bool:
    """Whether the module docstring has a line `LONG_MODULE_MARKER reason` with a reason."""
    docstring = ast.get_docstring(ast.parse(text)) or ""
    prose = " ".join(docstring.split())  # the reason may wrap over several lines
    start = prose.find(LONG_MODULE_MARKER)
    if start < 0:
        return False
    reason = prose[start + len(LONG_MODULE_MARKER) :].strip()
    return len(reason) >= MIN_REASON_CHARS


def long_modules(modules: Iterable[tuple[str, str]]) -> list[str]:
    """`path (N lines)` of each module over the limit whose docstring does not say why."""
    found: list[str] = []
    for relative, text in modules:
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES and not says_why_it_is_long(text):
            found.append(f"{relative} ({lines} lines)")
    return found


def test_no_production_function_is_over_80_lines() -> None:
    found = long_functions(project_modules())
    assert not found, (
        f"Functions over {MAX_FUNCTION_LINES} lines (split them into named steps):\n"
        + "\n".join(found)
    )


def test_no_production_module_is_over_800_lines_unless_its_docstring_says_why() -> None:
    found = [
        entry
        for entry in long_modules(project_modules())
        if entry.split(" ", 1)[0] not in TEMPORARY_LONG_MODULES
    ]
    assert not found, (
        f"Modules over {MAX_MODULE_LINES} lines: split them by concern, or say why in the "
        f"docstring, on a line starting {LONG_MODULE_MARKER!r}:\n" + "\n".join(found)
    )


def test_each_temporary_exception_is_still_a_long_module() -> None:
    """An entry of TEMPORARY_LONG_MODULES whose module got short (or went) must go."""
    long_now = {entry.split(" ", 1)[0] for entry in long_modules(project_modules())}
    stale = sorted(TEMPORARY_LONG_MODULES - long_now)
    assert not stale, f"No longer over {MAX_MODULE_LINES} lines: remove {stale} from the list."


def test_the_checks_find_a_long_function_a_long_module_and_a_reason(tmp_path: Path) -> None:
    """The walk itself: what the checks above would report in a project of three modules."""
    body = "\n".join(f"        x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    long_function = f"def short():\n    return 1\n\n\nclass A:\n    def long(self):\n{body}\n"
    filler = "\n" * MAX_MODULE_LINES
    reason = "it is one format's loader, and its rules are one walk over one parsed page."
    files = {
        "services/a.py": long_function,
        "services/offline/b.py": long_function,  # excluded below
        "backend/c.py": f'"""Long, and silent about it."""\n{filler}',
        "use_cases/d.py": f'"""Long.\n\n{LONG_MODULE_MARKER} {reason}\n"""\n{filler}',
        "use_cases/e.py": f'"""Long.\n\n{LONG_MODULE_MARKER} legacy\n"""\n{filler}',
    }
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")
    modules = list(production_modules(tmp_path, excluded=("services/offline/",)))
    assert [path for path, _ in modules] == [
        "backend/c.py",
        "use_cases/d.py",
        "use_cases/e.py",
        "services/a.py",
    ]
    assert long_functions(modules) == [f"services/a.py:6 long ({MAX_FUNCTION_LINES + 1} lines)"]
    assert [entry.split(" ", 1)[0] for entry in long_modules(modules)] == [
        "backend/c.py",
        "use_cases/e.py",
    ]
