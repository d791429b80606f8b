"""PowerPoint decks (`.pptx`), read with python-pptx.

- Sections: one per slide with text, in slide order, its heading path `(deck title,
  "Slide N: <its title>")` ("Slide N" for a slide without a title), so a citation says
  which slide.
- Body: the text frames in reading order (top to bottom, then left to right; groups read as
  their shapes), a paragraph a line, indented by its outline level and marked "- " below
  the first; tables as Markdown tables. The title placeholder is the heading, not repeated.
- Speaker notes are kept, after the slide's text, in a paragraph marked "Speaker notes:".
- Title: the core properties' title, else the first slide's title, else the file name.
  `updated_at`: the core properties' modified date (else created); the slide count and the
  author, subject and keywords go to metadata.
- Errors and budgets: as for Word (`services/office/package.py`: `check_package`, `check_parts`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from services.budgets import BUDGET, InputBudget
from services.knowledge.loaders.common import (
    ensure_text,
    extension,
    humanise_stem,
    markdown_table,
    tidy_text,
)
from services.office.package import check_package, check_parts, open_package
from use_cases.knowledge.domain import ParsedDocument, ParsedSection

PPTX_EXTENSIONS = (".pptx",)
_KIND = "PowerPoint deck"
NOTES_MARK = "Speaker notes:"


class PptxLoader:
    """Loads `.pptx` files (the module docstring has the rules)."""

    extensions = PPTX_EXTENSIONS
    media_type = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

    def __init__(self, budget: InputBudget = BUDGET) -> None:
        self._budget = budget

    def supports(self, name: str) -> bool:
        return extension(name) in PPTX_EXTENSIONS

    def check(self, name: str, data: bytes) -> None:
        check_package(name, data, _KIND, self._budget)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        check_parts(name, data, _KIND, self._budget)
        deck = _open(name, data)
        slides: list[tuple[str, str]] = []  # (heading, text)
        first_title: str | None = None
        count = 0
        for number, slide in enumerate(deck.slides, start=1):
            count = number
            title_shape = slide.shapes.title
            title = " ".join(title_shape.text_frame.text.split()) if title_shape else ""
            first_title = first_title or title or None
            parts = [
                text
                for shape in _reading_order(slide.shapes)
                if title_shape is None or shape.shape_id != title_shape.shape_id
                if (text := _shape_text(shape))
            ]
            notes = _notes(slide)
            if notes:
                parts.append(f"{NOTES_MARK} {notes}")
            text = tidy_text("\n\n".join(parts)) or title
            if text:
                slides.append((f"Slide {number}: {title}" if title else f"Slide {number}", text))
        properties = deck.core_properties
        deck_title = (
            " ".join((properties.title or "").split()) or first_title or humanise_stem(name)
        )
        sections = tuple(ParsedSection((deck_title, heading), text) for heading, text in slides)
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
        metadata["slides"] = str(count)
        return ParsedDocument(
            title=deck_title,
            sections=sections,
            updated_at=dates.get("modified") or dates.get("created"),
            dates=dates,
            media_type=self.media_type,
            metadata=metadata,
        )


def _open(name: str, data: bytes) -> Any:
    import pptx  # imported where it runs: the other formats' parses never load it

    return open_package(name, data, _KIND, pptx.Presentation)


def _reading_order(shapes: Any) -> Iterator[Any]:
    """Shapes top to bottom, then left to right; a group's shapes in their own order."""

    def position(shape: Any) -> tuple[int, int]:
        return (shape.top or 0, shape.left or 0)

    for shape in sorted(shapes, key=position):
        if getattr(shape, "shape_type", None) == 6:  # MSO_SHAPE_TYPE.GROUP
            yield from _reading_order(shape.shapes)
        else:
            yield shape


def _shape_text(shape: Any) -> str:
    if getattr(shape, "has_table", False):
        return markdown_table([[cell.text for cell in row.cells] for row in shape.table.rows])
    if not getattr(shape, "has_text_frame", False):
        return ""
    lines = []
    for paragraph in shape.text_frame.paragraphs:
        text = " ".join("".join(run.text for run in paragraph.runs).split())
        if text:
            level = paragraph.level or 0
            lines.append(f"{'  ' * (level - 1)}- {text}" if level else text)
    return "\n".join(lines)


def _notes(slide: Any) -> str:
    if not slide.has_notes_slide:
        return ""
    frame = slide.notes_slide.notes_text_frame
    return " ".join(frame.text.split()) if frame is not None else ""
