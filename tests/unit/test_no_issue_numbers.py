"""Code, tests and benchmarks say why, not which ticket: no issue number in them (the reason
stays, the number goes; the history is in CHANGELOG.md and docs/notes/). Scanned: the files
git tracks under `backend/`, `use_cases/`, `services/`, `tests/` and `bench/`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("backend", "use_cases", "services", "tests", "bench")
#: "issue" or "issues", any case, a space, an optional "#", then the number.
ISSUE_NUMBER = re.compile(r"\bissues?\s+#?\d+", re.IGNORECASE)


def numbered(text: str) -> list[str]:
    return [match.group(0) for match in ISSUE_NUMBER.finditer(text)]


def test_no_tracked_file_names_an_issue_number() -> None:
    tracked = (
        subprocess.run(
            ["git", "ls-files", "-z", *FOLDERS], cwd=ROOT, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    found = []
    for name in filter(None, tracked):
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a binary fixture
        found += [f"{name}: {hit}" for hit in numbered(text)]
    assert not found, found


def test_the_check_finds_a_number_written_any_way() -> None:
    lines = ["# Keep it (" + "issue " + "12).", "Issue " + "7: slow", "issues " + "3 and 4"]
    planted = "\n".join(lines)

    assert numbered(planted) == ["issue " + "12", "Issue " + "7", "issues " + "3"]
    assert numbered("the issue is 12 lines long; issues remain") == []
