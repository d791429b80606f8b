"""E-books (`.epub`, EPUB 2 and 3): a zip of XHTML chapters, each read by the HTML loader
(services/knowledge/loaders/html.py), in the reading order of the book's spine.

- Sections: each chapter's, in spine order, headed by the book's title: `(book, <the
  chapter's heading path>)`, so a chapter's `<h1>` is the second level and a citation names
  the chapter. A chapter without text (a cover image) adds nothing; the navigation document
  (`properties="nav"`) and the NCX table of contents are not chapters.
- Title: the package's `dc:title`, else the file name made readable. `updated_at`:
  `dcterms:modified`, else `dc:date`; `dc:creator` (authors) and `dc:language` go to metadata.
- Budgets and bad input: the zip budgets of `.zip` (ARCHIVE_MAX_MEMBERS,
  ARCHIVE_MAX_UNPACKED_MB, ARCHIVE_MAX_RATIO; services/knowledge/loaders/archive.py), a
  member name leading out of the book refused (422); `META-INF/container.xml` and the
  package document are read only when they declare no DTD (422 otherwise: entity
  expansion is the classic XML bomb); a chapter the container or encryption data marks as
  encrypted (DRM) is 422 asking for a copy without it; a book without a package document
  or chapters is 422.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from datetime import date
from xml.etree import ElementTree

from services.budgets import BUDGET, InputBudget
from services.knowledge.loaders.archive import archive_members, open_archive, read_member
from services.knowledge.loaders.common import extension, humanise_stem, parse_date
from services.knowledge.loaders.html import HtmlLoader
from services.knowledge.loaders.members import Tally
from use_cases.knowledge.domain import ParsedDocument, ParsedSection
from use_cases.shared.errors import InvalidDocument, UnsupportedDocument

EPUB_EXTENSIONS = (".epub",)
_KIND = "EPUB e-book"
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_CHAPTER_TYPES = frozenset(("application/xhtml+xml", "text/html"))


class EpubLoader:
    """Loads `.epub` books (the module docstring has the rules)."""

    extensions = EPUB_EXTENSIONS
    media_type = "application/epub+zip"

    def __init__(self, budget: InputBudget = BUDGET) -> None:
        self._budget = budget

    def supports(self, name: str) -> bool:
        return extension(name) in EPUB_EXTENSIONS

    def check(self, name: str, data: bytes) -> None:
        with open_archive(name, data, _KIND) as archive:
            archive_members(name, archive, self._budget)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        tally = Tally(self._budget)
        with open_archive(name, data, _KIND) as archive:
            infos = {info.filename: info for info in archive_members(name, archive, self._budget)}

            def member(path: str) -> bytes:
                info = infos.get(path)
                if info is None:
                    raise InvalidDocument(f"{name} is not a readable {_KIND}: {path} is missing.")
                try:
                    content = read_member(name, archive, info, self._budget)
                except InvalidDocument as exc:
                    raise InvalidDocument(f"{name}: its member {exc}") from None
                tally.member(name)
                tally.bytes(name, len(content))
                return content

            container = _xml(name, "META-INF/container.xml", member("META-INF/container.xml"))
            rootfile = container.find(f".//{_CONTAINER}rootfile")
            package_path = rootfile.get("full-path", "") if rootfile is not None else ""
            package = _xml(name, package_path, member(package_path))
            chapters = _spine(package, posixpath.dirname(package_path))
            _refuse_encrypted(name, archive, infos, chapters, self._budget)
            title, updated, metadata = _metadata(package, name)
            sections: list[ParsedSection] = []
            html = HtmlLoader()
            for path in chapters:
                if path not in infos:
                    continue
                try:
                    chapter = html.load(path, member(path))
                except (InvalidDocument, UnsupportedDocument):
                    continue  # a cover image, an empty page
                for section in chapter.sections:
                    heading = section.heading_path
                    path_in_book = heading if heading[:1] == (title,) else (title, *heading)
                    sections.append(ParsedSection(path_in_book, section.text))
        if not any(section.text.strip() for section in sections):
            raise InvalidDocument(f"{name} has no chapter with text.")
        metadata["chapters"] = str(len(chapters))
        return ParsedDocument(
            title=title,
            sections=tuple(sections),
            updated_at=updated,
            dates={"modified": updated} if updated else {},
            media_type=self.media_type,
            metadata=metadata,
        )


def _xml(name: str, part: str, data: bytes) -> ElementTree.Element:
    if _DTD.search(data):
        raise InvalidDocument(f"{name}: its part {part} declares a DTD: refused.")
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise InvalidDocument(f"{name}: its part {part} is not well-formed XML ({exc}).") from None


def _spine(package: ElementTree.Element, base: str) -> list[str]:
    """The chapters' paths in the archive, in reading order (module docstring)."""
    manifest = {
        item.get("id", ""): item
        for item in package.iter(f"{_OPF}item")
        if item.get("media-type") in _CHAPTER_TYPES
        and "nav" not in (item.get("properties") or "").split()
    }
    paths = []
    for ref in package.iter(f"{_OPF}itemref"):
        item = manifest.get(ref.get("idref", ""))
        href = (item.get("href") or "").split("#")[0] if item is not None else ""
        if href:
            paths.append(posixpath.normpath(posixpath.join(base, href)))
    return paths


def _refuse_encrypted(
    name: str,
    archive: zipfile.ZipFile,
    infos: dict[str, zipfile.ZipInfo],
    chapters: list[str],
    budget: InputBudget,
) -> None:
    """A book whose chapters are encrypted (DRM) is refused; obfuscated fonts are not."""
    info = infos.get("META-INF/encryption.xml")
    if info is None:
        return
    data = read_member(name, archive, info, budget)
    if any(path.encode() in data for path in chapters):
        raise InvalidDocument(
            f"{name} is DRM-protected (its chapters are encrypted): export a copy without "
            "protection and upload it again."
        )


def _metadata(package: ElementTree.Element, name: str) -> tuple[str, date | None, dict[str, str]]:
    found = package.find(f"{_OPF}metadata")

    def texts(tag: str) -> list[str]:
        if found is None:
            return []
        return [text for node in found.iter(tag) if (text := " ".join((node.text or "").split()))]

    modified = next(
        (
            " ".join((node.text or "").split())
            for node in (found.iter(f"{_OPF}meta") if found is not None else ())
            if node.get("property") == "dcterms:modified"
        ),
        "",
    )
    title = next(iter(texts(f"{_DC}title")), "") or humanise_stem(name)
    updated = parse_date(modified) or next(
        (value for text in texts(f"{_DC}date") if (value := parse_date(text))), None
    )
    metadata = {
        key: ", ".join(values)
        for key, values in (("author", texts(f"{_DC}creator")), ("lang", texts(f"{_DC}language")))
        if values
    }
    return title, updated, metadata
