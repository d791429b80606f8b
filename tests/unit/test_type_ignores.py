"""Every `# type: ignore` mypy is told of carries its error code and, on the same line, its
reason (docs/extending.md, "Type checking"): mypy itself refuses one without a code
(`ignore-without-code`) and one that silences nothing (`warn_unused_ignores`); this checks the
reason. Scanned: the Python files git tracks, as mypy checks them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The comment as written after code, two spaces before its `#` (as ruff formats it). The
#: pattern is put together so that this line holds no such comment itself.
IGNORE = re.compile(r"  # type: " + r"ignore(?P<codes>\[[a-z0-9, -]+\])?(?P<rest>.*)$")
#: The reason: another comment after the ignore, with a word in it.
REASON = re.compile(r"^  # \w")


def unexplained(text: str) -> list[int]:
    """The numbers of the lines whose ignore lacks a code or a reason."""
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        found = IGNORE.search(line)
        if found and not (found["codes"] and REASON.match(found["rest"])):
            lines.append(number)
    return lines


def test_every_ignore_says_which_error_and_why() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "*.py", "*.pyi"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    found = []
    for name in filter(None, tracked.split("\0")):
        path = ROOT / name
        if path.is_file():
            found += [f"{name}:{n}" for n in unexplained(path.read_text(encoding="utf-8"))]
    assert not found, found


def test_the_check_tells_an_explained_ignore_from_a_bare_one() -> None:
    tag = "type: " + "ignore"  # split, so that this file holds no ignore of its own
    planted = "\n".join(
        [
            f"x = f(y)  # {tag}[arg-type]  # a bad value on purpose",
            f"x = f(y)  # {tag}[arg-type]",
            f"x = f(y)  # {tag}",
            f"x = f(y)  # {tag}[arg-type]  #",
            "x = f(y)  # an ordinary comment",
        ]
    )

    assert unexplained(planted) == [2, 3, 4]
