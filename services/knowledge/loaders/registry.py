"""The one registry of document loaders: which loader reads which file extension.

A loader is registered under the entry-point group `almanac.loaders` (`ENTRY_POINT_GROUP`):
the entry point names a zero-argument callable (a class) that returns a `DocumentLoader`
with an `extensions` attribute (lower-case, with their dot) and a `media_type`. The
built-ins are listed here (`BUILTIN_LOADERS`) in the same "module:attribute" form and
resolved by the same code, so a separately installed package adds a format exactly as the
built-ins do; docs/extending.md shows one.

Rules:
- Built-ins come first and keep their extensions: a plugin that claims an extension a
  built-in (or an earlier plugin, in entry-point order) reads is not used for it, and the
  refusal is logged; its other extensions are registered. So installing a package never
  changes how the formats Almanac ships with are read.
- A plugin that cannot be imported, or whose object is no loader, is logged and skipped:
  one broken package does not stop the server.
- The registry is read when a `FileLoader` is built (in each parse child too), from the
  `sys.path` of that process; the entry points are looked for once per path (`_FOUND`): a
  plugin installed while the server runs is used after a restart.
- The legacy binary Office formats (`.doc`, `.ppt`, `.xls`) are no loader's: they are
  refused with a 415 that names the current format to save them in (`LEGACY_FORMATS`).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from typing import Any, NamedTuple

from loguru import logger

from services.budgets import InputBudget
from services.knowledge.loaders.ocr import OcrOptions
from use_cases.knowledge.ports import DocumentLoader

ENTRY_POINT_GROUP = "almanac.loaders"


class Builtin(NamedTuple):
    """A loader Almanac ships with: its name, "module:attribute" (resolved as an entry point
    is) and what it reads, in the words of docs/guide.md's file-types table."""

    name: str
    target: str
    summary: str


#: The loaders Almanac ships with, in the order the docs and listings show them. The one
#: place a built-in format is added: `SUPPORTED_EXTENSIONS`, docs/guide.md's file-types
#: table (`formats_table`, checked by tests/unit/test_docs_formats.py), `almanac formats`
#: and the web app's upload dialog (GET /api/documents/types) all come from it.
BUILTIN_LOADERS: tuple[Builtin, ...] = (
    Builtin(
        "markdown",
        "services.knowledge.loaders.markdown:MarkdownLoader",
        "Markdown (CommonMark and MyST), with YAML front matter",
    ),
    Builtin(
        "text",
        "services.knowledge.loaders.plaintext:PlainTextLoader",
        "plain text and reStructuredText",
    ),
    Builtin(
        "html",
        "services.knowledge.loaders.html:HtmlLoader",
        "HTML, its main content without site chrome",
    ),
    Builtin(
        "pdf",
        "services.knowledge.loaders.pdf:PdfLoader",
        "PDF, page by page, split at its bookmarks; scanned pages by OCR",
    ),
    Builtin(
        "docx",
        "services.knowledge.loaders.docx:DocxLoader",
        "Word: headings as sections, lists, tables as Markdown tables; no footnotes or comments",
    ),
    Builtin(
        "pptx",
        "services.knowledge.loaders.pptx:PptxLoader",
        'PowerPoint: a section per slide ("Slide 3: Budget"), tables, speaker notes',
    ),
    Builtin(
        "odt",
        "services.knowledge.loaders.odt:OdtLoader",
        "OpenDocument text (LibreOffice Writer): headings as sections, lists, tables, "
        "footnotes after the section citing them",
    ),
    Builtin(
        "odp",
        "services.knowledge.loaders.odp:OdpLoader",
        "OpenDocument presentations (LibreOffice Impress): read as PowerPoint decks are",
    ),
    Builtin(
        "workbook",
        "services.knowledge.loaders.workbook:WorkbookLoader",
        "workbooks: each sheet a table for the SQL tool, and a searchable description of it",
    ),
    Builtin(
        "rtf",
        "services.knowledge.loaders.rtf:RtfLoader",
        "Rich Text Format: headings (outline levels) as sections, lists, tables; no footnotes",
    ),
    Builtin(
        "epub",
        "services.knowledge.loaders.epub:EpubLoader",
        "e-books (EPUB 2 and 3): chapters in reading order, each read as HTML is",
    ),
    Builtin(
        "eml",
        "services.knowledge.loaders.mail:EmlLoader",
        "e-mail messages: the subject as title, the date as `updated`, sender and recipients, "
        "the body, and each readable attachment as sections of its own",
    ),
    Builtin(
        "mbox",
        "services.knowledge.loaders.mail:MboxLoader",
        "mailboxes (Thunderbird, mutt, Google Takeout exports): each message read as an `.eml` is",
    ),
    Builtin(
        "zip",
        "services.knowledge.loaders.archive:ZipLoader",
        "zip archives: each member read as its own type, its sections headed "
        "`archive.zip/member/path`; archives nested one level",
    ),
    Builtin(
        "image",
        "services.knowledge.loaders.image:ImageLoader",
        "images of text, by OCR (Tesseract)",
    ),
)

#: A legacy binary Office extension -> the current format to save the file in.
LEGACY_FORMATS = {".doc": ".docx", ".ppt": ".pptx", ".xls": ".xlsx"}


@dataclass(frozen=True)
class RegisteredLoader:
    """One loader of the registry: its name, where it came from, what it reads."""

    name: str
    origin: str
    """"almanac" for a built-in, else the distribution that declared the entry point."""
    extensions: tuple[str, ...]
    loader: DocumentLoader


def builtin_loaders(
    ocr: OcrOptions | None = None, budget: InputBudget | None = None
) -> list[RegisteredLoader]:
    """The built-ins; those that read scans (`reads_scans`) with `ocr`'s options, those that
    take a budget with `budget` (the settings' limits; else `BUDGET`)."""
    found = []
    for name, target, _ in BUILTIN_LOADERS:
        factory = _resolve(target)
        options: dict[str, Any] = {}
        if ocr is not None and getattr(factory, "reads_scans", False):
            options["ocr"] = ocr
        if budget is not None and "budget" in inspect.signature(factory).parameters:
            options["budget"] = budget
        found.append(_registered(name, "almanac", partial(factory, **options)))
    return found


def builtin_extensions() -> tuple[str, ...]:
    """The extensions the built-ins read, in `BUILTIN_LOADERS`' order (read from their
    classes: nothing is built)."""
    return tuple(ext for _, target, _ in BUILTIN_LOADERS for ext in _declared(target))


def formats_table() -> str:
    """docs/guide.md's file-types table, made from `BUILTIN_LOADERS`: a row a built-in, its
    extensions, what it reads and its module."""
    rows = ["| extensions | read as | loader |", "|---|---|---|"]
    for _, target, summary in BUILTIN_LOADERS:
        extensions = ", ".join(f"`{ext}`" for ext in _declared(target))
        module = target.partition(":")[0].replace(".", "/") + ".py"
        rows.append(f"| {extensions} | {summary} | `{module}` |")
    return "\n".join(rows)


def registered_loaders(
    ocr: OcrOptions | None = None, budget: InputBudget | None = None
) -> list[RegisteredLoader]:
    """The built-ins, then every usable plugin of `ENTRY_POINT_GROUP`, each with the
    extensions it was given (the module docstring says which)."""
    found = builtin_loaders(ocr, budget)
    claimed = {ext for entry in found for ext in entry.extensions}
    for point in _entry_points():
        origin = point.dist.name if point.dist is not None else "unknown"
        try:
            entry = _registered(point.name, origin, point.load())
        except Exception as exc:  # a plugin's bug must not stop the server
            logger.warning(
                "Loader plugin {} ({}) is not used: {}: {}",
                point.name,
                origin,
                type(exc).__name__,
                exc,
            )
            continue
        taken = [ext for ext in entry.extensions if ext in claimed]
        if taken:
            logger.warning(
                "Loader plugin {} ({}) is not used for {}: another loader reads them",
                point.name,
                origin,
                ", ".join(taken),
            )
        free = tuple(ext for ext in entry.extensions if ext not in claimed)
        if free:
            claimed.update(free)
            found.append(RegisteredLoader(entry.name, origin, free, entry.loader))
    return found


#: The entry points found, by the `sys.path` they were looked for on: looking costs ~40 ms
#: (every installed distribution's metadata is read), and each parse child builds a
#: `FileLoader`; found once at import, in the fork server's preload, a child whose path is
#: the same finds them here.
_FOUND: dict[tuple[str, ...], tuple[metadata.EntryPoint, ...]] = {}


def _entry_points() -> tuple[metadata.EntryPoint, ...]:
    key = tuple(sys.path)
    if key not in _FOUND:
        _FOUND[key] = tuple(metadata.entry_points(group=ENTRY_POINT_GROUP))
    return _FOUND[key]


def _resolve(target: str) -> Callable[..., Any]:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _declared(target: str) -> tuple[str, ...]:
    """The extensions a built-in's class declares."""
    return tuple(getattr(_resolve(target), "extensions", ()))


def _registered(name: str, origin: str, factory: Callable[[], Any]) -> RegisteredLoader:
    loader = factory()
    extensions = tuple(str(ext).lower() for ext in getattr(loader, "extensions", ()))
    if not extensions or not all(ext.startswith(".") and len(ext) > 1 for ext in extensions):
        raise TypeError(f"{name} declares no extensions (an `extensions` tuple such as ('.x',))")
    for method in ("supports", "check", "load"):
        if not callable(getattr(loader, method, None)):
            raise TypeError(f"{name} has no {method}() method")
    return RegisteredLoader(name, origin, extensions, loader)


_entry_points()
