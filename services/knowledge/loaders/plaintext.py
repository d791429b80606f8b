"""Plain-text loader: one section per file; the chunker takes care of size."""

from __future__ import annotations

from services.knowledge.loaders.common import (
    decode_text,
    ensure_not_empty,
    ensure_text,
    ensure_textual,
    extension,
    humanise_stem,
    tidy_text,
)
from use_cases.domain import ParsedDocument, ParsedSection

TEXT_EXTENSIONS = (".txt",)

MAX_TITLE_CHARS = 80


def title_from_first_line(text: str) -> str | None:
    """The first non-empty line if it looks like a title: short and not a sentence or list."""
    for line in text.split("\n"):
        candidate = " ".join(line.split())
        if not candidate:
            continue
        if len(candidate) <= MAX_TITLE_CHARS and not candidate.endswith((".", ",", ";")):
            return candidate.strip("#=*- ").strip() or None
        return None
    return None


class PlainTextLoader:
    """Loads `.txt` files as a single section with the path `(title,)`.

    The title is the first non-empty line when it is short (<= 80 characters) and does not
    end like a sentence, else the file name made readable. The text is kept whole (the first
    line included); undecodable bytes fall back from UTF-8 to cp1252/latin-1.
    """

    media_type = "text/plain"

    def supports(self, name: str) -> bool:
        return extension(name) in TEXT_EXTENSIONS

    def check(self, name: str, data: bytes) -> None:
        ensure_not_empty(name, data)
        ensure_textual(name, data)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        self.check(name, data)
        text = tidy_text(decode_text(data))
        ensure_text(name, text)
        title = title_from_first_line(text) or humanise_stem(name)
        return ParsedDocument(
            title=title,
            sections=(ParsedSection(heading_path=(title,), text=text),),
            media_type=self.media_type,
        )
