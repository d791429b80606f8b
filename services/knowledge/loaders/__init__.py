"""Document loaders: file bytes to `ParsedDocument`, chosen by file extension.

`FileLoader` is the `DocumentLoader` the application wires; the per-format loaders are
exported for direct use and tests. The category is not derived here (callers pass it).
"""

from __future__ import annotations

from services.budgets import InputBudget
from services.knowledge.loaders.common import extension
from services.knowledge.loaders.docx import DocxLoader
from services.knowledge.loaders.html import HtmlLoader
from services.knowledge.loaders.image import ImageLoader
from services.knowledge.loaders.markdown import MarkdownLoader
from services.knowledge.loaders.ocr import OcrOptions
from services.knowledge.loaders.odp import OdpLoader
from services.knowledge.loaders.odt import OdtLoader
from services.knowledge.loaders.pdf import PdfLoader
from services.knowledge.loaders.plaintext import PlainTextLoader
from services.knowledge.loaders.pptx import PptxLoader
from services.knowledge.loaders.registry import (
    ENTRY_POINT_GROUP,
    LEGACY_FORMATS,
    RegisteredLoader,
    builtin_extensions,
    registered_loaders,
)
from services.knowledge.loaders.workbook import WorkbookLoader
from use_cases.knowledge.domain import ParsedDocument
from use_cases.knowledge.ports import DocumentLoader
from use_cases.shared.errors import UnsupportedDocument

#: Changes whenever a loader makes different text of the same bytes: it is part of the
#: ingestion pipeline's signature, so re-running `almanac ingest` on unchanged files re-indexes
#: them and leaves no stale chunks behind. What each version changed: docs/notes/history.md.
#: `tests/unit/test_loaders_version.py` fails when the loaders' text of its reference
#: documents changes and this number does not.
LOADERS_VERSION = 18

#: The extensions of the built-in loaders, from the registry (`BUILTIN_LOADERS`; the
#: file-types table of docs/guide.md lists them); a `FileLoader` reads these and those of
#: the installed plugins (`FileLoader.extensions`).
SUPPORTED_EXTENSIONS: tuple[str, ...] = builtin_extensions()

__all__ = [
    "ENTRY_POINT_GROUP",
    "LOADERS_VERSION",
    "SUPPORTED_EXTENSIONS",
    "DocxLoader",
    "FileLoader",
    "HtmlLoader",
    "ImageLoader",
    "MarkdownLoader",
    "OcrOptions",
    "OdpLoader",
    "OdtLoader",
    "PdfLoader",
    "PlainTextLoader",
    "PptxLoader",
    "WorkbookLoader",
]


class FileLoader:
    """Dispatches on the (case-insensitive) extension of `name` to the loader the registry
    (services/knowledge/loaders/registry.py: the built-ins, then the `almanac.loaders`
    plugins) has for it.

    Raises `UnsupportedDocument` (listing the supported types) for any other extension, for
    a legacy Office file (naming the format to save it in) and for binary content under a
    text extension (the bytes decide, not the name), and `InvalidDocument` for empty,
    whitespace-only, corrupt or text-less files. `ocr` and `budget` are the settings' OCR
    options and input budget (services/budgets.py), handed to the built-ins that take them.
    """

    def __init__(self, ocr: OcrOptions | None = None, budget: InputBudget | None = None) -> None:
        self.registered: tuple[RegisteredLoader, ...] = tuple(registered_loaders(ocr, budget))
        self._by_extension: dict[str, DocumentLoader] = {
            ext: entry.loader for entry in self.registered for ext in entry.extensions
        }

    @property
    def extensions(self) -> tuple[str, ...]:
        return tuple(self._by_extension)

    def supports(self, name: str) -> bool:
        return extension(name) in self._by_extension

    def check(self, name: str, data: bytes) -> None:
        self._loader_for(name).check(name, data)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        return self._loader_for(name).load(name, data)

    def _loader_for(self, name: str) -> DocumentLoader:
        ext = extension(name)
        loader = self._by_extension.get(ext)
        if loader is None and ext in LEGACY_FORMATS:
            raise UnsupportedDocument(
                f"{name}: '{ext}' is the legacy binary Office format, which is not read; open "
                f"it and save it as {LEGACY_FORMATS[ext]} (the current format), then upload that."
            )
        if loader is None:
            kind = f"'{ext}' files are" if ext else "files without an extension are"
            raise UnsupportedDocument(
                f"{name}: {kind} not supported; supported types: " + ", ".join(self.extensions)
            )
        return loader
