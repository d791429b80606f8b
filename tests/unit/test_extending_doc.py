"""docs/extending.md stays true: its Python blocks run as written (in order, in one
namespace), and every file it names exists, but those it tells a newcomer to create."""

from __future__ import annotations

import re
import textwrap
from typing import Any

from backend.config import PROJECT_ROOT
from use_cases.shared.errors import UnsupportedDocument

DOC = (PROJECT_ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", flags=re.M | re.S)
PATH = re.compile(r"`((?:backend|use_cases|services|tests|docs|sample_data)/[\w./-]+)`")
#: The files the walk-throughs have a newcomer write (a loader plugin lives in its own
#: package, outside this repository).
TO_CREATE: set[str] = set()


def test_the_python_blocks_run_as_written() -> None:
    blocks = [textwrap.dedent(code) for _, code in BLOCK.findall(DOC)]
    assert len(blocks) >= 2
    namespace: dict[str, Any] = {"__name__": "extending_doc"}
    for number, code in enumerate(blocks, start=1):
        exec(compile(code, f"docs/extending.md, Python block {number}", "exec"), namespace)
    assert namespace["document"].title == "Parking"


def test_the_loader_example_refuses_what_is_no_notes_file() -> None:
    namespace: dict[str, Any] = {"__name__": "extending_doc"}
    exec(textwrap.dedent(BLOCK.findall(DOC)[0][1]), namespace)
    loader = namespace["NotesLoader"]()
    refused = (namespace["InvalidDocument"], UnsupportedDocument)
    for data in (b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"no title line\n"):
        try:
            loader.load("parking.notes", data)
        except refused as error:
            assert "parking.notes" in str(error)
        else:
            raise AssertionError(f"accepted {data[:20]!r}")


def test_every_file_the_page_names_exists() -> None:
    named = {path.rstrip(".") for path in PATH.findall(DOC)}
    missing = sorted(p for p in named - TO_CREATE if not (PROJECT_ROOT / p).exists())
    assert not missing, missing
    assert named >= TO_CREATE
