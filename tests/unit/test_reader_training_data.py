"""The reader's training recipe, the parts that need no torch: questions made from documents'
headings, and whole questions cut into batches (`training/`, docs/reader.md)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

from training import reader_data, train_reader

SECTIONS = [
    (("Guide",), "Guide", ["An opening sentence of the whole guide here."]),
    (
        ("Guide", "2.1. Installing the tool"),
        "Guide",
        [
            "Run the installer from the release page first.",
            "It asks for a folder.",
            "Pick any folder you can write to.",
            "Then restart the shell.",
            "A later remark about shells and paths here.",
        ],
    ),
    (("Guide", "Page 4"), "Guide", ["Text of a page that stands alone here."]),
    (("Guide", "Removing it"), "Guide", ["Delete the folder and the shell line again."]),
    (("Guide", "parse_args(argv)"), "Guide", ["Parses the arguments it is given here."]),
]


def test_a_heading_that_reads_as_words_asks_for_its_sections_first_sentence() -> None:
    rows = list(reader_data._heading_rows(SECTIONS, random.Random(1), "docs:guide"))
    asked = {row["question"] for row in rows if row["source"] == "docs:guide"}
    # The number goes; a page's own heading and a heading of code ask nothing.
    assert asked == {"Installing the tool", "Removing it"}
    install = next(r for r in rows if r["question"] == "Installing the tool")
    answers = [t for t, label in zip(install["texts"], install["labels"], strict=True) if label]
    assert answers == ["Guide: Run the installer from the release page first."]
    # A later sentence of the same section and sentences of other sections are negatives,
    # shown with their section's label but never with the heading asked about.
    assert sum(install["labels"]) == 1 and len(install["texts"]) >= 3
    assert not any("Installing" in t for t in install["texts"])


def test_one_heading_in_three_also_asks_where_the_answer_is_not() -> None:
    rows = list(reader_data._heading_rows(SECTIONS, random.Random(1), "docs:guide"))
    not_here = [r for r in rows if r["source"] == "docs:guide-not-here"]
    assert not_here and all(not any(r["labels"]) for r in not_here)
    assert all("Run the installer" not in t for r in not_here for t in r["texts"])


def test_dev_and_document_questions_are_counted_as_often_as_asked(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl.gz"
    rows = [
        {"question": "q1", "texts": ["a", "b"], "labels": [1, 0], "source": "squad"},
        {"question": "q2", "texts": ["c"], "labels": [0], "source": "dev:handbook"},
        {"question": "q3", "texts": ["d"], "labels": [1], "source": "docs:guide-not-here"},
    ]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    groups = train_reader.read_groups([path], dev_weight=3, doc_weight=2)
    assert [g[0] for g in groups] == ["q1", "q2", "q2", "q2", "q3", "q3"]


def test_batches_are_whole_questions_of_about_the_pairs_asked_for() -> None:
    sizes = [5, 3, 6, 2, 4, 7, 1]
    batches = list(train_reader.group_batches(sizes, 8, random.Random(0)))
    assert all(sum(sizes[i] for i in batch) >= 8 for batch in batches)
    seen = [i for batch in batches for i in batch]
    assert len(seen) == len(set(seen))  # no question twice; a short last batch is dropped
    assert batches == list(train_reader.group_batches(sizes, 8, random.Random(0)))  # seeded
    assert train_reader.held_back([("q", ["a"] * 3, [0] * 3)] * 4, 5) == 2
