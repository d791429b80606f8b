"""Markdown for the model and for people: query results as tables, and document text with
its HTML made inert (a knowledge base is data: `<script>` or `<img onerror>` in a document
must reach an answer as text, never as markup a chat frontend would run)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from use_cases.tables.domain import QueryResult

_BACKSLASH_BEFORE_PIPE = re.compile(r"\\(?=\|)")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")


def escape_html(text: str) -> str:
    """`text` with every HTML tag, comment or declaration opener escaped (`<b>` -> `&lt;b>`);
    a lone `<` ("a < b"), `&` and everything else are left as they are."""
    return _HTML_START.sub("&lt;", text)


def _markdown_cell(value: Any) -> str:
    if value is None:
        return "NULL"
    text = _BACKSLASH_BEFORE_PIPE.sub(
        r"\\\\", escape_html(str(value))
    )  # so `\|` cannot unescape the pipe
    return _LINE_BREAK.sub("<br>", text.replace("|", "\\|"))


def _markdown_row(cells: Iterable[Any]) -> str:
    return "| " + " | ".join(_markdown_cell(c) for c in cells) + " |"


def render_markdown(result: QueryResult) -> str:
    """A GitHub-flavoured markdown table of `result`, for the model and for people.

    `|` is escaped and newlines become `<br>` so a cell can never break the table; NULL is
    spelled out so it is not mistaken for an empty string.
    """
    if not result.columns:
        return "(no columns)"
    lines = [_markdown_row(result.columns), "| " + " | ".join("---" for _ in result.columns) + " |"]
    lines.extend(_markdown_row(row) for row in result.rows)
    if not result.rows:
        lines.append("(no rows)")
    elif result.truncated:
        lines.append(f"(showing first {len(result.rows)} rows; more rows matched)")
    return "\n".join(lines)
