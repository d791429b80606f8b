"""The offline answerer's knobs live in one object (`services.offline.tuning.Tuning`): each is
listed in docs/tuning.md with its note, each is read by the pipeline, and the word lists it
reads ship as data files with a header saying where they come from.

docs/tuning.md is written from tuning.py: `python -m tests.unit.test_tuning` rewrites it.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import sys
from dataclasses import replace
from pathlib import Path

from services.offline import data
from services.offline.tuning import DEFAULT_TUNING, Tuning

ROOT = Path(__file__).resolve().parents[2]
TUNING_SOURCE = ROOT / "services" / "offline" / "tuning.py"
DOCS = ROOT / "docs" / "tuning.md"
OFFLINE = ROOT / "services" / "offline"
#: Modules defining groups that tuning.py holds (their notes are read like tuning.py's).
GROUP_SOURCES = (OFFLINE / "tuning_question.py",)

HEADER = """# The offline answerer's knobs

Every number the offline answerer (`services/offline/`) is tuned by is a field of
`services.offline.tuning.Tuning`, one group per stage; the pipeline reads them from its
answer context (`services/offline/context.py`). A bench fits one by answering with a changed
copy (`dataclasses.replace`; see `bench/check_ablation.py`). This page is written from
tuning.py (`python -m tests.unit.test_tuning`; tests/unit/test_tuning.py checks it).
"""


def notes(source: str) -> dict[tuple[str, str], str]:
    """{(class, field): the `#:` comment lines above the field, joined} for tuning.py's
    dataclasses; a field sharing the comment of the one above it gets "(as above)"."""
    lines = source.splitlines()
    found: dict[tuple[str, str], str] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                comment: list[str] = []
                i = item.lineno - 2
                while i >= 0 and lines[i].strip().startswith("#:"):
                    comment.insert(0, lines[i].strip()[2:].strip())
                    i -= 1
                found[(node.name, item.target.id)] = " ".join(comment) or "(as above)"
    return found


def sources() -> str:
    """tuning.py and the modules its groups come from (the question and table-lookup groups
    are defined next to their stages)."""
    paths = {TUNING_SOURCE} | {
        Path(inspect.getfile(type(getattr(DEFAULT_TUNING, group.name))))
        for group in dataclasses.fields(DEFAULT_TUNING)
    }
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(paths))


def render(source: str, tuning: Tuning = DEFAULT_TUNING) -> str:
    """docs/tuning.md: each group's fields with their default values and notes."""
    described = notes(source)
    for path in GROUP_SOURCES:
        described |= notes(path.read_text(encoding="utf-8"))
    parts = [HEADER]
    for group in dataclasses.fields(tuning):
        knobs = getattr(tuning, group.name)
        kind = type(knobs).__name__
        doc = " ".join((type(knobs).__doc__ or "").split())
        parts.append(
            f"\n## `{group.name}` ({kind})\n\n{doc}\n\n| Knob | Default | Note |\n|---|---|---|"
        )
        for knob in dataclasses.fields(knobs):
            value = getattr(knobs, knob.name)
            shown = dict(value) if isinstance(value, dict) or hasattr(value, "items") else value
            note = described.get((kind, knob.name), "").replace("|", "\\|")
            parts.append(f"| `{knob.name}` | `{shown!r}` | {note} |")
    return "\n".join(parts) + "\n"


def test_the_docs_list_every_knob_with_its_default_and_note() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(sources()), (
        "docs/tuning.md is out of date: run `python -m tests.unit.test_tuning`"
    )


def test_every_knob_is_read_by_the_answerer() -> None:
    """A knob nothing reads is dead tuning: each field is read as `.field` in a module of
    services/offline/ other than tuning.py."""
    code = "\n".join(
        p.read_text(encoding="utf-8")
        for p in OFFLINE.glob("*.py")
        if not p.name.startswith("tuning")
    )
    unread = [  # every group's knobs, the question's and the table lookup's included
        f"{group.name}.{knob.name}"
        for group in dataclasses.fields(DEFAULT_TUNING)
        for knob in dataclasses.fields(getattr(DEFAULT_TUNING, group.name))
        if not re.search(rf"\.{knob.name}\b", code)
    ]
    assert not unread, f"Knobs nothing reads: {unread}"


def test_the_docs_check_fails_on_a_changed_default_or_a_new_note() -> None:
    """The docs check can fail: a changed default shows in the render, and a knob added to
    tuning.py is read with its note."""
    changed = replace(DEFAULT_TUNING, read=replace(DEFAULT_TUNING.read, max_merged_words=61))
    rendered = render(sources(), changed)
    assert "| `max_merged_words` | `61` |" in rendered
    assert rendered != DOCS.read_text(encoding="utf-8")
    planted = TUNING_SOURCE.read_text(encoding="utf-8").replace(
        "    max_merged_words: int = 60\n",
        "    max_merged_words: int = 60\n    #: A planted knob.\n    planted: int = 7\n",
    )
    assert notes(planted)[("ReadTuning", "planted")] == "A planted knob."


def test_each_word_list_says_what_it_is_for_and_where_it_came_from() -> None:
    lists = sorted((OFFLINE / "data").glob("*.txt"))
    assert lists
    for path in lists:
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# "), f"{path.name}: no header"
        entries = data.entries(path.stem)
        assert entries and not any(e.startswith("#") for e in entries), path.name
    assert "weekend" not in data.words("synonyms")  # the knowledge base's words are not here
    assert {"keep", "retention"} <= data.words("synonyms")


if __name__ == "__main__":
    DOCS.write_text(render(sources()), encoding="utf-8")
    sys.exit(0)
