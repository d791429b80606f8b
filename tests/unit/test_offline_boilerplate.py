"""What of a passage is boilerplate (services/offline/boilerplate.py) and how lines are
compared across documents (services/knowledge/repeated_lines.py)."""

from __future__ import annotations

from services.knowledge.repeated_lines import document_lines, line_key
from services.offline.boilerplate import content_units, is_name_list
from services.offline.read import units_of

PASSAGE = """Create a repository with borg init before the first backup.

Part of the Northwind tools suite.
"""


def test_a_line_is_compared_without_its_marks_case_or_spacing() -> None:
    assert (
        line_key("**Part of the  Northwind tools suite.**") == "part of the northwind tools suite."
    )
    assert (
        line_key("| Part of the Northwind tools suite. |") == "part of the northwind tools suite."
    )
    assert line_key("- Part of the Northwind tools suite.") == "part of the northwind tools suite."


def test_fences_single_words_and_paragraphs_are_never_counted() -> None:
    assert line_key("```") is None
    assert line_key("Note") is None
    assert line_key("word " * 60) is None
    assert document_lines(["```\nNote\nSee the guide for more.\nSee the guide for more."]) == {
        "see the guide for more."
    }


def test_a_bare_list_of_names_is_no_content_but_a_list_a_sentence_introduces_is() -> None:
    assert is_name_list("borg-init(1), borg-create(1), borg-prune(1)")
    assert is_name_list("borg-common, borg-compression, borg-patterns.")
    assert not is_name_list("Formats: json, yaml, toml")
    assert not is_name_list("borg-init(1), borg-create(1)")  # two names: too few to tell
    assert not is_name_list("Backups are fast, small, and safe to keep.")


def test_a_sentence_of_a_boilerplate_line_is_dropped_and_the_rest_kept() -> None:
    units = units_of(PASSAGE, set(), 0, 0)
    boilerplate = frozenset({"part of the northwind tools suite."})

    kept = [u.text for u in content_units(units, PASSAGE, boilerplate)]
    everything = [u.text for u in content_units(units, PASSAGE, frozenset())]

    assert any("Northwind" in text for text in everything)
    assert kept == [t for t in everything if "Northwind" not in t] and kept
