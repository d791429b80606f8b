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

#: Changes whenever a loader makes different text of the same bytes (2: HTML main content
#: without site chrome, definition lists, footnotes, FAQ questions as headings; reST-style
#: headings in text files). It is part of the ingestion pipeline's signature, so re-running
#: `almanac ingest` on unchanged files re-indexes them and leaves no stale chunks behind.
#: 3: a PDF's column of marginal notes is left out of its text. 4: a PDF's words hyphenated
#: at a line's end are whole; reST inline markup in text files reads as rendered; an
#: AsciiDoc page's footer, texinfo's navigation bars (makeinfo's `rel` links too) and
#: generator credit, groff's list of a man page's sections and Doxygen's title area and
#: navigation are chrome. 5: a PDF page's printed number goes, and a sentence a page break
#: cut in two is whole on the page it starts on. 6: a PDF page splits at its bookmarks'
#: titles; reST link targets and Markdown link definitions to pages of the same
#: documentation go; an HTML list item titled by a bold paragraph is a section; ordered
#: lists keep their numbers; MyST Markdown reads as rendered (admonitions as text, tables of
#: contents, targets and HTML comments gone); a Markdown line's closing backslash is a line
#: break. 7: an HTML definition's description runs its paragraphs on in one, so each of
#: its sentences stays with its term; a term over a description that opens with code, a
#: table or a list ends with ":". 8: a long `<pre>` that mostly reads as prose (a help
#: page or FAQ written as preformatted text) is text, not a code block. 9: a text file
#: without underlined headings is sectioned by its numbered ones ("2.1. Index"). 11: Markdown
#: headings are those of its CommonMark block structure (markdown-it-py): a `#` line in a raw
#: HTML block, in code a fence closed too deep left open, a quote or a list is no heading.
#: `tests/unit/test_loaders_version.py` fails when the loaders' text of its reference
#: documents changes and this number does not.
LOADERS_VERSION = 11

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
