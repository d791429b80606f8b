"""HTML from documents and tables reaches answers as inert text."""

from __future__ import annotations

from use_cases.tables.domain import QueryResult
from use_cases.tables.markdown import escape_html, render_markdown


def test_tags_comments_and_declarations_are_escaped() -> None:
    text = 'Hi <script>alert(1)</script> <img src=x onerror="x()"> <!-- c --> <!DOCTYPE html>'
    escaped = escape_html(text)
    assert "<script" not in escaped and "<img" not in escaped and "<!" not in escaped
    assert "&lt;script>alert(1)&lt;/script>" in escaped


def test_comparisons_and_ampersands_are_left_alone() -> None:
    assert escape_html("p95 < 5 s & uptime >= 99.9%; R&D") == "p95 < 5 s & uptime >= 99.9%; R&D"


def test_table_cells_escape_html_but_keep_their_line_breaks() -> None:
    result = QueryResult(columns=("note",), rows=(("<b>x</b>\nnext",),), truncated=False)
    table = render_markdown(result)
    assert "&lt;b>x&lt;/b><br>next" in table
