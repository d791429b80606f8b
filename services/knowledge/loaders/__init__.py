"""Document loaders: file bytes to `ParsedDocument`, chosen by file extension.

`FileLoader` is the `DocumentLoader` the application wires; the per-format loaders are
exported for direct use and tests. The category is not derived here (callers pass it).
"""

from __future__ import annotations

from services.knowledge.loaders.common import extension
from services.knowledge.loaders.html import HTML_EXTENSIONS, HtmlLoader
from services.knowledge.loaders.markdown import MARKDOWN_EXTENSIONS, MarkdownLoader
from services.knowledge.loaders.pdf import PDF_EXTENSIONS, PdfLoader
from services.knowledge.loaders.plaintext import TEXT_EXTENSIONS, PlainTextLoader
from use_cases.knowledge.domain import ParsedDocument
from use_cases.knowledge.ports import DocumentLoader
from use_cases.shared.errors import UnsupportedDocument

#: Changes whenever a loader makes different text of the same bytes: it is part of the
#: ingestion pipeline's signature, so re-running `almanac ingest` on unchanged files re-indexes
#: them and leaves no stale chunks behind. What each version changed: docs/history.md.
#: `tests/unit/test_loaders_version.py` fails when the loaders' text of its reference
#: documents changes and this number does not.
LOADERS_VERSION = 12

SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    *MARKDOWN_EXTENSIONS,
    *TEXT_EXTENSIONS,
    *HTML_EXTENSIONS,
    *PDF_EXTENSIONS,
)

__all__ = [
    "LOADERS_VERSION",
    "SUPPORTED_EXTENSIONS",
    "FileLoader",
    "HtmlLoader",
    "MarkdownLoader",
    "PdfLoader",
    "PlainTextLoader",
]


class FileLoader:
    """Dispatches on the (case-insensitive) extension of `name` to the matching loader.

    Raises `UnsupportedDocument` (listing the supported types) for any other extension and
    for binary content under a text extension (the bytes decide, not the name), and
    `InvalidDocument` for empty, whitespace-only, corrupt or text-less files.
    """

    def __init__(self) -> None:
        loaders: tuple[tuple[tuple[str, ...], DocumentLoader], ...] = (
            (MARKDOWN_EXTENSIONS, MarkdownLoader()),
            (TEXT_EXTENSIONS, PlainTextLoader()),
            (HTML_EXTENSIONS, HtmlLoader()),
            (PDF_EXTENSIONS, PdfLoader()),
        )
        self._by_extension: dict[str, DocumentLoader] = {
            ext: loader for extensions, loader in loaders for ext in extensions
        }

    @property
    def extensions(self) -> tuple[str, ...]:
        return SUPPORTED_EXTENSIONS

    def supports(self, name: str) -> bool:
        return extension(name) in self._by_extension

    def check(self, name: str, data: bytes) -> None:
        self._loader_for(name).check(name, data)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        return self._loader_for(name).load(name, data)

    def _loader_for(self, name: str) -> DocumentLoader:
        ext = extension(name)
        loader = self._by_extension.get(ext)
        if loader is None:
            kind = f"'{ext}' files are" if ext else "files without an extension are"
            raise UnsupportedDocument(
                f"{name}: {kind} not supported; supported types: " + ", ".join(SUPPORTED_EXTENSIONS)
            )
        return loader
