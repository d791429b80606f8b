"""Word documents (`.docx`), read with python-docx.

- Sections: "Title" and "Heading N" paragraphs are headings, in reading order, with the
  heading path of `SectionBuilder`. When the document has a "Title" paragraph it heads the
  "Heading 1"s (a Word title sits above them); without one, "Heading 1" is the top level,
  as `#` is in Markdown.
- Body: paragraphs in order; code (a "Source Code", "HTML Preformatted" or other code
  style) in a fenced block with its line breaks, unless its lines read as sentences
  (`_reads_as_prose`: prose a converter or a writer set in a code style); list items
  (numbered in Word's numbering or styled "List ...") as "- item" or "1. item", indented
  by their level; tables as Markdown tables inside the section they stand in, merged cells once.
- Left out: footnotes, endnotes, comments, headers and footers (parts of their own, never
  walked), and deleted tracked changes.
- Title: the core properties' title, else the "Title" paragraph, else the first
  "Heading 1", else the file name. `updated_at`: the core properties' modified date (else
  created); author, subject and keywords go to metadata.
- Errors and budgets: `check_package` and `check_parts` (services/office/package.py: 422
  for a corrupt, truncated, password-protected or legacy file; 413 past the unpacked-bytes
  and XML budgets), before python-docx opens it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.budgets import BUDGET, InputBudget
from services.knowledge.loaders.common import (
    SectionBuilder,
    ensure_text,
    extension,
    humanise_stem,
    markdown_table,
)
from services.office.package import check_package, check_parts, open_package
from use_cases.knowledge.domain import ParsedDocument

DOCX_EXTENSIONS = (".docx",)
_KIND = "Word document"
_HEADING = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
#: Paragraph styles of code: pandoc's "Source Code", Word's "HTML Preformatted", "Code".
_CODE_STYLE = re.compile(r"code|preformatted|verbatim|plain text", re.IGNORECASE)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@dataclass(frozen=True)
class _Block:
    """A paragraph or table in reading order: `heading` 0 for body text, else the level
    (the title -1, "Heading N" N), `text` what it reads."""

    heading: int
    text: str
    listed: bool = False
    code: bool = False


class DocxLoader:
    """Loads `.docx` files (the module docstring has the rules)."""

    extensions = DOCX_EXTENSIONS
    media_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

    def __init__(self, budget: InputBudget = BUDGET) -> None:
        self._budget = budget

    def supports(self, name: str) -> bool:
        return extension(name) in DOCX_EXTENSIONS

    def check(self, name: str, data: bytes) -> None:
        check_package(name, data, _KIND, self._budget)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        check_parts(name, data, _KIND, self._budget)
        document = _open(name, data)
        blocks = list(_blocks(document))
        has_title = any(block.heading == -1 for block in blocks)
        builder = SectionBuilder()
        first_heading: str | None = None
        in_list = False
        for block in _fenced(blocks):
            if block.heading == 0:
                # A list's items one a line; a blank line before and after the list.
                before = "\n" if in_list and not block.listed else ""
                builder.text(before + block.text + ("\n" if block.listed else "\n\n"))
                in_list = block.listed
                continue
            in_list = False
            level = 1 if block.heading == -1 else block.heading + (1 if has_title else 0)
            if block.heading == 1 and first_heading is None:
                first_heading = block.text
            builder.heading(level, block.text)
        properties = document.core_properties
        title = (
            " ".join((properties.title or "").split())
            or builder.first_h1
            or first_heading
            or humanise_stem(name)
        )
        sections = builder.sections(title)
        ensure_text(name, "".join(section.text for section in sections))
        dates = {
            label: value.date()
            for label, value in (("modified", properties.modified), ("created", properties.created))
            if isinstance(value, datetime)
        }
        metadata = {
            key: text
            for key, value in (
                ("author", properties.author),
                ("subject", properties.subject),
                ("keywords", properties.keywords),
            )
            if (text := " ".join((value or "").split()))
        }
        updated: date | None = dates.get("modified") or dates.get("created")
        return ParsedDocument(
            title=title,
            sections=sections,
            updated_at=updated,
            dates=dates,
            media_type=self.media_type,
            metadata=metadata,
        )


def _open(name: str, data: bytes) -> Any:
    import docx  # imported where it runs: the other formats' parses never load it

    return open_package(name, data, _KIND, docx.Document)


def _blocks(document: Any) -> Iterator[_Block]:
    numbering = _Numbering(document)
    for item in document.iter_inner_content():
        if hasattr(item, "rows"):  # a table
            rows = _table_rows(item)
            if rows:
                yield _Block(0, markdown_table(rows))
            continue
        style = _style_name(item)
        if _CODE_STYLE.search(style):
            code = item.text.rstrip()
            if code.strip():
                yield _Block(0, code, code=True)
            continue
        text = " ".join(_paragraph_text(item).split())
        if not text:
            continue
        if style.lower() == "title":
            yield _Block(-1, text)
        elif heading := _HEADING.match(style):  # a heading is plain text, as Markdown's
            yield _Block(int(heading.group(1)), " ".join(item.text.split()))
        else:
            marker = numbering.marker(item, style)
            yield _Block(0, marker + text, listed=bool(marker))


def _fenced(blocks: list[_Block]) -> Iterator[_Block]:
    """Runs of code paragraphs as one fenced block each (as Markdown keeps code); a code
    paragraph that reads as prose (`_reads_as_prose`) is a paragraph of prose."""
    run: list[str] = []
    for block in blocks:
        if block.code and not _reads_as_prose(block.text):
            run.append(block.text)
            continue
        if run:
            yield _Block(0, "```\n" + "\n".join(run) + "\n```")
            run = []
        yield _Block(0, " ".join(block.text.split())) if block.code else block
    if run:
        yield _Block(0, "```\n" + "\n".join(run) + "\n```")


#: Characters of code, shell and markup that prose does without (outside inline code).
_CODE_MARKS = re.compile(r"[{}\[\]=;<>$#|\\]|->|::|^\s|\n\s")
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
#: A prose block has at least this many words, nearly all (`PROSE_WORDS`) plain words.
PROSE_MIN_WORDS = 12
PROSE_WORDS = 0.85


def _reads_as_prose(code: str) -> bool:
    """Whether code-styled paragraphs are sentences: a converter (pandoc, given a Markdown
    admonition or an indented note it does not know) or a writer (Word's "Plain Text"
    style) sets prose in a code style, and a note such as "It is intended for local use
    only." is then fenced as code, which search and the answerer read as code. Sentences of
    plain words (inline code and emphasis allowed) ending in a full stop, with none of the
    marks of code, shell or markup, are prose."""
    text = code.strip()
    if not text.endswith((".", "!", "?", ".**", ".*", "._")):
        return False
    outside = _INLINE_CODE.sub("code", text)
    if _CODE_MARKS.search(outside):
        return False
    words = outside.split()
    plain = sum(1 for word in words if _WORD.fullmatch(word.strip(".,:;!?()\"'*_")))
    return len(words) >= PROSE_MIN_WORDS and plain >= PROSE_WORDS * len(words)


def _paragraph_text(paragraph: Any) -> str:
    """The paragraph's text, its inline code (a run in a code character style, pandoc's
    "Verbatim Char") in backticks, as Markdown writes it."""
    parts = []
    for item in paragraph.iter_inner_content():
        runs = getattr(item, "runs", None)
        for run in runs if runs is not None else (item,):
            text = run.text
            if text.strip() and _CODE_STYLE.search(_style_name(run)):
                text = f"`{text}`"
            parts.append(text)
    return "".join(parts)


def _style_name(paragraph: Any) -> str:
    try:
        return str(paragraph.style.name or "") if paragraph.style is not None else ""
    except (KeyError, AttributeError, ValueError):  # a style the styles part lacks
        return ""


def _table_rows(table: Any) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is returned once per grid column
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        rows.append(cells)
    return rows


class _Numbering:
    """List markers: "- " for bullets, "N. " for numbered items (counted per list and
    level, as Word numbers them), indented two spaces a level."""

    def __init__(self, document: Any) -> None:
        self._formats: dict[tuple[str, str], str] = {}
        self._counts: dict[tuple[str, str], int] = {}
        self._by_style = 0
        try:
            root = document.part.numbering_part.element
        except (KeyError, AttributeError, NotImplementedError):
            return
        abstract = {
            node.get(f"{_W}abstractNumId"): {
                level.get(f"{_W}ilvl"): (fmt.get(f"{_W}val") if fmt is not None else "bullet")
                for level in node.iter(f"{_W}lvl")
                for fmt in [level.find(f"{_W}numFmt")]
            }
            for node in root.iter(f"{_W}abstractNum")
        }
        for num in root.iter(f"{_W}num"):
            ref = num.find(f"{_W}abstractNumId")
            levels = abstract.get(ref.get(f"{_W}val") if ref is not None else None, {})
            for level, fmt in levels.items():
                self._formats[(num.get(f"{_W}numId") or "", level or "0")] = fmt or "bullet"

    def marker(self, paragraph: Any, style: str) -> str:
        num_pr = paragraph._p.find(f"{_W}pPr/{_W}numPr")
        if num_pr is None:  # numbered by its style ("List Number", "List Bullet 2")
            lowered = style.lower()
            if not lowered.startswith("list number"):
                self._by_style = 0
                return "- " if lowered.startswith("list") else ""
            self._by_style += 1
            return f"{self._by_style}. "
        self._by_style = 0
        num_id = _val(num_pr.find(f"{_W}numId")) or ""
        level = _val(num_pr.find(f"{_W}ilvl")) or "0"
        if num_id == "0":  # numbering switched off for this paragraph
            return ""
        indent = "  " * min(int(level) if level.isdigit() else 0, 8)
        fmt = self._formats.get((num_id, level), "bullet")
        if fmt in ("bullet", "none"):
            return f"{indent}- "
        key = (num_id, level)
        self._counts[key] = self._counts.get(key, 0) + 1
        for deeper in [k for k in self._counts if k[0] == num_id and k[1] > level]:
            del self._counts[deeper]  # a sub-list starts again under its next parent item
        return f"{indent}{self._counts[key]}. "


def _val(node: Any) -> str | None:
    return None if node is None else node.get(f"{_W}val")
