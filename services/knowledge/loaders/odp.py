"""OpenDocument presentations (`.odp`, LibreOffice Impress's format), read as PowerPoint decks
are (services/knowledge/loaders/pptx.py), from their XML (services/knowledge/loaders/
odf_parts.py), so a deck saved in either format reads the same.

- Sections: one per slide (`draw:page`) with text, in slide order, its heading path `(deck
  title, "Slide N: <its title>")` ("Slide N" for a slide without a title).
- Body: the frames and shapes in reading order (top to bottom, then left to right, by their
  `svg:y` and `svg:x`; groups read as their shapes), a paragraph a line; an outline's list
  items at their depth as PowerPoint's levels (the first plain, deeper ones marked "- " and
  indented); tables as Markdown tables. The title frame is the heading, not repeated;
  page numbers, dates, headers and footers are left out.
- Speaker notes (`presentation:notes`) follow the slide's text after "Speaker notes:".
- Title: the metadata's title, else the first slide's title, else the file name.
  `updated_at`: the metadata's modified date (else created); the slide count and the
  author, subject and keywords go to metadata.
- Errors and budgets: as for every Office file (services/office/package.py, through
  `odf_parts.read_package`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.etree import ElementTree

from services.budgets import BUDGET, InputBudget
from services.knowledge.loaders.common import ensure_text, extension, humanise_stem, tidy_text
from services.knowledge.loaders.odf_parts import inline_text, q, read_package, table_text
from services.knowledge.loaders.pptx import NOTES_MARK
from services.office.package import check_package
from use_cases.knowledge.domain import ParsedDocument, ParsedSection

ODP_EXTENSIONS = (".odp",)
_KIND = "OpenDocument presentation"
#: Frames a slide's layout fills in for every slide: no text of its own.
_FURNITURE = frozenset(("page-number", "date-time", "header", "footer", "page", "handout"))
_LENGTH = re.compile(r"^\s*(-?[\d.]+)\s*(cm|mm|in|pt|pc|px)?\s*$")
_TO_CM = {"cm": 1.0, "mm": 0.1, "in": 2.54, "pt": 2.54 / 72, "pc": 2.54 / 6, "px": 2.54 / 96}
_SHAPES = frozenset(
    q(tag)
    for tag in (
        "draw:frame",
        "draw:custom-shape",
        "draw:rect",
        "draw:ellipse",
        "draw:polygon",
        "draw:text-box",
    )
)


class OdpLoader:
    """Loads `.odp` files (the module docstring has the rules)."""

    extensions = ODP_EXTENSIONS
    media_type = "application/vnd.oasis.opendocument.presentation"

    def __init__(self, budget: InputBudget = BUDGET) -> None:
        self._budget = budget

    def supports(self, name: str) -> bool:
        return extension(name) in ODP_EXTENSIONS

    def check(self, name: str, data: bytes) -> None:
        check_package(name, data, _KIND, self._budget)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        package = read_package(name, data, _KIND, self._budget)
        body = package.content.find(f"{q('office:body')}/{q('office:presentation')}")
        pages = body.findall(q("draw:page")) if body is not None else []
        slides: list[tuple[str, str]] = []
        first_title: str | None = None
        for number, page in enumerate(pages, start=1):
            title = ""
            parts = []
            for shape in _reading_order(page):
                kind = shape.get(q("presentation:class")) or ""
                if kind == "title" and not title:
                    title = " ".join(inline_text(shape).split())
                elif kind not in _FURNITURE and (text := _shape_text(shape)):
                    parts.append(text)
            first_title = first_title or title or None
            notes = _notes(page)
            if notes:
                parts.append(f"{NOTES_MARK} {notes}")
            text = tidy_text("\n\n".join(parts)) or title
            if text:
                slides.append((f"Slide {number}: {title}" if title else f"Slide {number}", text))
        meta = package.meta
        deck_title = meta.title or first_title or humanise_stem(name)
        sections = tuple(ParsedSection((deck_title, heading), text) for heading, text in slides)
        ensure_text(name, "".join(section.text for section in sections))
        dates = meta.dates()
        metadata = meta.metadata()
        metadata["slides"] = str(len(pages))
        return ParsedDocument(
            title=deck_title,
            sections=sections,
            updated_at=dates.get("modified") or dates.get("created"),
            dates=dates,
            media_type=self.media_type,
            metadata=metadata,
        )


def _length(value: str | None) -> float:
    match = _LENGTH.match(value or "")
    if match is None:
        return 0.0
    try:
        return float(match.group(1)) * _TO_CM[match.group(2) or "cm"]
    except ValueError:
        return 0.0


def _reading_order(parent: ElementTree.Element) -> Iterator[ElementTree.Element]:
    """Shapes top to bottom, then left to right; a group's shapes in their own order."""
    shapes = [child for child in parent if child.tag in _SHAPES or child.tag == q("draw:g")]
    shapes.sort(key=lambda shape: (_length(shape.get(q("svg:y"))), _length(shape.get(q("svg:x")))))
    for shape in shapes:
        if shape.tag == q("draw:g"):
            yield from _reading_order(shape)
        else:
            yield shape


def _shape_text(shape: ElementTree.Element) -> str:
    """A frame's or shape's text: its paragraphs and lists, or its table."""
    lines: list[str] = []
    for container in (shape, *shape.findall(q("draw:text-box"))):
        for child in container:
            if child.tag == q("table:table"):
                lines.append(table_text(child))
            elif child.tag in (q("text:p"), q("text:h")):
                if text := " ".join(inline_text(child).split()):
                    lines.append(text)
            elif child.tag == q("text:list"):
                lines += _list_lines(child, 0)
    return "\n".join(line for line in lines if line)


def _list_lines(element: ElementTree.Element, level: int) -> list[str]:
    """An outline's items, level 0 plain and deeper ones "- " indented (as PowerPoint's)."""
    lines = []
    for item in element:
        for child in item:
            if child.tag == q("text:list"):
                lines += _list_lines(child, level + 1)
            elif child.tag in (q("text:p"), q("text:h")) and (
                text := " ".join(inline_text(child).split())
            ):
                lines.append(f"{'  ' * (level - 1)}- {text}" if level else text)
    return lines


def _notes(page: ElementTree.Element) -> str:
    notes = page.find(q("presentation:notes"))
    if notes is None:
        return ""
    texts = [
        text
        for frame in notes.iter(q("draw:frame"))
        if frame.get(q("presentation:class")) == "notes"
        if (text := " ".join(_shape_text(frame).split()))
    ]
    return " ".join(texts)
