"""OpenDocument text (`.odt`, LibreOffice Writer's format), read as Word files are
(services/knowledge/loaders/docx.py), from its XML (services/knowledge/loaders/odf_parts.py).

- Sections: headings (`text:h`, and paragraphs in a "Heading N" style, as LibreOffice
  writes an imported HTML heading) and the "Title" paragraph, in reading order, with the
  heading path of `SectionBuilder`; with a "Title" paragraph it heads the level-1 headings
  (as in a Word file), else level 1 is the top.
- Body: paragraphs in order; runs of code paragraphs ("Preformatted Text", "Source Code")
  as one fenced block; list items as "- item" or "1. item" (numbered as their list style
  says), indented two spaces a level; tables as Markdown tables; the text of sections
  (`text:section`) in place. Tables of contents and indexes are left out (they repeat the
  headings).
- Notes: a footnote or endnote is "[1]" where it is cited, and its text ("[1] ...") follows
  the body of the section that cites it, so it is found with what it annotates. Comments
  and tracked deletions are no text.
- Title: the metadata's title, else the "Title" paragraph, else the first level-1 heading,
  else the file name. `updated_at`: the metadata's modified date (else created); author,
  subject and keywords go to metadata.
- Errors and budgets: as for every Office file (services/office/package.py, through
  `odf_parts.read_package`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree import ElementTree

from services.budgets import BUDGET, InputBudget
from services.knowledge.loaders.common import (
    SectionBuilder,
    ensure_text,
    extension,
    humanise_stem,
)
from services.knowledge.loaders.odf_parts import Styles, inline_text, q, read_package, table_text
from services.office.package import check_package
from use_cases.knowledge.domain import ParsedDocument

ODT_EXTENSIONS = (".odt",)
_KIND = "OpenDocument text"
#: Elements whose paragraphs repeat others' (tables of contents, indexes) or hold none.
_SKIPPED = frozenset(
    q(tag)
    for tag in (
        "text:table-of-content",
        "text:illustration-index",
        "text:table-index",
        "text:object-index",
        "text:user-index",
        "text:alphabetical-index",
        "text:bibliography",
        "text:sequence-decls",
        "text:variable-decls",
        "text:user-field-decls",
        "office:forms",
        "text:tracked-changes",
    )
)


@dataclass(frozen=True)
class _Block:
    """A paragraph, list item or table: `heading` 0 for body text, -1 the title, else N."""

    heading: int
    text: str
    listed: bool = False
    code: bool = False
    notes: tuple[str, ...] = ()


class OdtLoader:
    """Loads `.odt` files (the module docstring has the rules)."""

    extensions = ODT_EXTENSIONS
    media_type = "application/vnd.oasis.opendocument.text"

    def __init__(self, budget: InputBudget = BUDGET) -> None:
        self._budget = budget

    def supports(self, name: str) -> bool:
        return extension(name) in ODT_EXTENSIONS

    def check(self, name: str, data: bytes) -> None:
        check_package(name, data, _KIND, self._budget)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        package = read_package(name, data, _KIND, self._budget)
        body = package.content.find(f"{q('office:body')}/{q('office:text')}")
        blocks = list(_blocks(body, package.styles)) if body is not None else []
        has_title = any(block.heading == -1 for block in blocks)
        builder = SectionBuilder()
        first_heading: str | None = None
        notes: list[str] = []
        in_list = False
        for block in _fenced(blocks):
            if block.heading == 0:
                before = "\n" if in_list and not block.listed else ""
                builder.text(before + block.text + ("\n" if block.listed else "\n\n"))
                in_list = block.listed
                notes += block.notes
                continue
            if notes:  # a section's notes follow its body
                builder.text("\n" + "\n".join(notes) + "\n\n")
                notes = []
            in_list = False
            level = 1 if block.heading == -1 else block.heading + (1 if has_title else 0)
            if block.heading == 1 and first_heading is None:
                first_heading = block.text
            builder.heading(level, block.text)
        if notes:
            builder.text("\n" + "\n".join(notes) + "\n\n")
        meta = package.meta
        title = meta.title or builder.first_h1 or first_heading or humanise_stem(name)
        sections = builder.sections(title)
        ensure_text(name, "".join(section.text for section in sections))
        dates = meta.dates()
        return ParsedDocument(
            title=title,
            sections=sections,
            updated_at=dates.get("modified") or dates.get("created"),
            dates=dates,
            media_type=self.media_type,
            metadata=meta.metadata(),
        )


def _blocks(parent: ElementTree.Element, styles: Styles) -> Iterator[_Block]:
    for element in parent:
        tag = element.tag
        if tag in _SKIPPED:
            continue
        if tag == q("text:h"):
            level = element.get(q("text:outline-level")) or "1"
            text = " ".join(inline_text(element).split())
            if text:
                yield _Block(min(int(level), 9) if level.isdigit() else 1, text)
        elif tag == q("text:p"):
            yield from _paragraph(element, styles)
        elif tag == q("text:list"):
            yield from _list(element, styles, element.get(q("text:style-name")), 1)
        elif tag == q("table:table"):
            notes: list[str] = []
            if text := table_text(element, notes):
                yield _Block(0, text, notes=tuple(notes))
        else:  # sections, change regions and other containers: their content in place
            yield from _blocks(element, styles)


def _paragraph(element: ElementTree.Element, styles: Styles) -> Iterator[_Block]:
    role, level = styles.role(element.get(q("text:style-name")))
    if role == "code":
        code = inline_text(element).rstrip()
        if code.strip():
            yield _Block(0, code, code=True)
        return
    notes: list[str] = []
    text = " ".join(inline_text(element, notes).split())
    if not text:
        return
    if role == "title":
        yield _Block(-1, text)
    elif role == "heading":
        yield _Block(min(level, 9), " ".join(inline_text(element).split()))
    else:
        yield _Block(0, text, notes=tuple(notes))


def _list(
    element: ElementTree.Element, styles: Styles, style: str | None, level: int
) -> Iterator[_Block]:
    """A list's items, numbered or bulleted as `style` says for `level`."""
    style = element.get(q("text:style-name")) or style
    number = 0
    indent = "  " * (min(level, 9) - 1)
    for item in element:
        if item.tag not in (q("text:list-item"), q("text:list-header")):
            continue
        first = True
        for child in item:
            if child.tag == q("text:list"):
                yield from _list(child, styles, style, level + 1)
                continue
            if child.tag not in (q("text:p"), q("text:h")):
                continue
            notes: list[str] = []
            text = " ".join(inline_text(child, notes).split())
            if not text:
                continue
            if first:
                number += 1
                marker = f"{number}. " if styles.numbered(style, level) else "- "
                text = indent + marker + text
                first = False
            else:  # a further paragraph of the item, under it
                text = indent + "  " + text
            yield _Block(0, text, listed=True, notes=tuple(notes))


def _fenced(blocks: list[_Block]) -> Iterator[_Block]:
    """Runs of code paragraphs as one fenced block each (as Markdown keeps code)."""
    run: list[str] = []
    for block in blocks:
        if block.code:
            run.append(block.text)
            continue
        if run:
            yield _Block(0, "```\n" + "\n".join(run) + "\n```")
            run = []
        yield block
    if run:
        yield _Block(0, "```\n" + "\n".join(run) + "\n```")
