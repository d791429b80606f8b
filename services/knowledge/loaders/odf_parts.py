"""OpenDocument text and presentations (`.odt`, `.odp`): their parts, styles, metadata and
the text of their paragraphs, read with the standard library's ElementTree once the package
has passed its checks.

Rules:
- The package is checked first (`package.check_parts`: 422 for a corrupt, truncated,
  password-protected or legacy file and for a part declaring a DTD; 413 past the
  unpacked-bytes and XML budgets), so the XML ElementTree reads has no DTD, hence no entity
  to expand, and is within the depth and element budgets. An encrypted OpenDocument file
  (its `META-INF/manifest.xml` names an encryption) is 422 asking for a copy without a
  password. A package without `content.xml` is 422.
- A paragraph style's role (the title, a heading of level N, code) is read from its own
  name or the first of its parent styles that has one: LibreOffice gives most paragraphs
  an automatic style ("P2") whose parent is the named one ("Heading_20_1"), and writes an
  imported HTML heading as such a paragraph rather than a `text:h`. Names are decoded
  (`_20_` is a space) before they are matched.
- A list level is numbered when its list style says `list-level-style-number` for that
  level; a list without a style of its own takes its enclosing list's.
- A paragraph's text: its text and spans, links, `text:s` (spaces), tabs and line breaks
  as spaces; comments (`office:annotation`), tracked deletions and bookmarks are no text.
  A footnote or endnote (`text:note`) is its citation in brackets ("[1]") where it stands,
  and its body is handed to the caller (`notes`), to follow the paragraphs that cite it.
- Metadata (`meta.xml`): `dc:title`, `dc:subject`, `dc:creator` (else
  `meta:initial-creator`), `meta:keyword`s, `dc:date` (modified) and `meta:creation-date`.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date
from xml.etree import ElementTree

from services.budgets import ARCHIVE_ERRORS, BUDGET, InputBudget
from services.knowledge.loaders.common import markdown_table, parse_date
from services.office.package import check_parts
from use_cases.shared.errors import InvalidDocument

NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
    "dc": "http://purl.org/dc/elements/1.1/",
    "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
    "manifest": "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0",
}


def q(qualified: str) -> str:
    """ "text:p" as ElementTree names it: "{urn:...:text:1.0}p"."""
    prefix, _, local = qualified.partition(":")
    return f"{{{NS[prefix]}}}{local}"


_HEADING = re.compile(r"^heading\s*([1-9]|10)?$", re.IGNORECASE)
_CODE = re.compile(r"code|preformatted|verbatim", re.IGNORECASE)
_ENCODED = re.compile(r"_([0-9a-fA-F]{2})_")
#: Elements whose text is never a paragraph's: comments, tracked changes, bookmarks.
_NO_TEXT = frozenset(
    q(tag)
    for tag in (
        "office:annotation",
        "office:annotation-end",
        "text:tracked-changes",
        "text:bookmark-ref",
        "text:note-citation",
        "text:note-body",
        "draw:frame",
    )
)


@dataclass(frozen=True)
class OdfMeta:
    """What `meta.xml` says of the document (the module docstring lists it)."""

    title: str = ""
    subject: str = ""
    author: str = ""
    keywords: str = ""
    modified: date | None = None
    created: date | None = None

    def metadata(self) -> dict[str, str]:
        return {
            key: value
            for key, value in (
                ("author", self.author),
                ("subject", self.subject),
                ("keywords", self.keywords),
            )
            if value
        }

    def dates(self) -> dict[str, date]:
        return {
            key: value
            for key, value in (("modified", self.modified), ("created", self.created))
            if value is not None
        }


@dataclass(frozen=True)
class OdfPackage:
    """The parsed parts of one OpenDocument file."""

    content: ElementTree.Element
    styles: Styles
    meta: OdfMeta


def read_package(name: str, data: bytes, kind: str, budget: InputBudget = BUDGET) -> OdfPackage:
    """The checked package's `content.xml`, its styles and metadata (module docstring)."""
    check_parts(name, data, kind, budget)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "META-INF/manifest.xml" in names and b"encryption-data" in archive.read(
                "META-INF/manifest.xml"
            ):
                raise InvalidDocument(
                    f"{name} is password-protected: remove the password (save a copy without "
                    "one) and upload it again."
                )
            if "content.xml" not in names:
                raise InvalidDocument(f"{name} is not a readable {kind} (it has no content.xml).")
            content = _parse(name, "content.xml", archive.read("content.xml"))
            styles = (
                _parse(name, "styles.xml", archive.read("styles.xml"))
                if "styles.xml" in names
                else None
            )
            meta = (
                _parse(name, "meta.xml", archive.read("meta.xml")) if "meta.xml" in names else None
            )
    except ARCHIVE_ERRORS:
        raise InvalidDocument(f"{name} is not a readable {kind}; it may be corrupt.") from None
    return OdfPackage(content, Styles(content, styles), _meta(meta))


def _parse(name: str, part: str, data: bytes) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise InvalidDocument(
            f"{name}: its part {part} is not well-formed XML ({exc}); the file may be corrupt."
        ) from None


def _meta(root: ElementTree.Element | None) -> OdfMeta:
    if root is None:
        return OdfMeta()
    found = root.find(q("office:meta"))
    if found is None:
        return OdfMeta()

    def text(tag: str) -> str:
        node = found.find(q(tag))
        return " ".join((node.text or "").split()) if node is not None else ""

    keywords = [
        word
        for node in found.iter(q("meta:keyword"))
        if (word := " ".join((node.text or "").split()))
    ]
    return OdfMeta(
        title=text("dc:title"),
        subject=text("dc:subject"),
        author=text("dc:creator") or text("meta:initial-creator"),
        keywords=", ".join(keywords),
        modified=parse_date(text("dc:date")),
        created=parse_date(text("meta:creation-date")),
    )


def decode_name(name: str) -> str:
    """A style name as shown: "Heading_20_1" -> "Heading 1"."""
    return _ENCODED.sub(lambda match: chr(int(match.group(1), 16)), name)


class Styles:
    """Paragraph styles' roles and list styles' numbering (module docstring)."""

    def __init__(self, content: ElementTree.Element, styles: ElementTree.Element | None) -> None:
        self._parents: dict[str, str] = {}
        self._shown: dict[str, str] = {}
        self._numbered: dict[str, dict[int, bool]] = {}
        for root in (styles, content):
            if root is None:
                continue
            for style in root.iter(q("style:style")):
                own = style.get(q("style:name")) or ""
                self._parents[own] = style.get(q("style:parent-style-name")) or ""
                self._shown[own] = style.get(q("style:display-name")) or decode_name(own)
            for list_style in root.iter(q("text:list-style")):
                levels = {}
                for level in list_style:
                    number = level.get(q("text:level")) or "1"
                    if number.isdigit():
                        levels[int(number)] = level.tag == q("text:list-level-style-number")
                self._numbered[list_style.get(q("style:name")) or ""] = levels

    def role(self, style: str | None) -> tuple[str, int]:
        """("title", 0), ("heading", N), ("code", 0) or ("", 0) for a paragraph style."""
        seen: set[str] = set()
        while style and style not in seen:
            seen.add(style)
            shown = self._shown.get(style, decode_name(style))
            if shown.casefold() == "title":
                return ("title", 0)
            if heading := _HEADING.match(shown):
                return ("heading", int(heading.group(1) or 1))
            if _CODE.search(shown):
                return ("code", 0)
            style = self._parents.get(style)
        return ("", 0)

    def numbered(self, list_style: str | None, level: int) -> bool:
        return bool(self._numbered.get(list_style or "", {}).get(level, False))


def inline_text(element: ElementTree.Element, notes: list[str] | None = None) -> str:
    """The paragraph's text (module docstring); its notes' bodies appended to `notes`."""
    parts: list[str] = []

    def walk(node: ElementTree.Element) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            tag = child.tag
            if tag == q("text:s"):
                count = child.get(q("text:c")) or "1"
                parts.append(" " * min(int(count) if count.isdigit() else 1, 8))
            elif tag in (q("text:tab"), q("text:line-break")):
                parts.append(" ")
            elif tag == q("text:note"):
                citation = child.find(q("text:note-citation"))
                mark = " ".join((citation.text or "").split()) if citation is not None else ""
                body = child.find(q("text:note-body"))
                if notes is not None and body is not None:
                    mark = mark or str(len(notes) + 1)
                    text = " ".join(
                        " ".join(inline_text(p).split()) for p in body.iter() if _is_paragraph(p)
                    ).strip()
                    if text:
                        notes.append(f"[{mark}] {text}")
                parts.append(f"[{mark}]" if mark else "")
            elif tag not in _NO_TEXT and tag != q("text:deletion"):
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    return "".join(parts)


def _is_paragraph(node: ElementTree.Element) -> bool:
    return node.tag in (q("text:p"), q("text:h"))


def table_text(table: ElementTree.Element, notes: list[str] | None = None) -> str:
    """A `table:table` as a Markdown table (its first row the header), merged cells once."""
    rows: list[list[str]] = []
    for row in _rows(table):
        cells = []
        for cell in row:
            if cell.tag != q("table:table-cell"):
                continue  # a covered cell is part of the merged one before it
            text = " ".join(
                " ".join(inline_text(p, notes).split()) for p in cell.iter() if _is_paragraph(p)
            ).strip()
            repeat = cell.get(q("table:number-columns-repeated")) or "1"
            cells += [text] * (min(int(repeat), 64) if repeat.isdigit() and text else 1)
        rows.append(cells)
    return markdown_table(rows)


_ROW_GROUPS = frozenset(
    q(tag) for tag in ("table:table-header-rows", "table:table-rows", "table:table-row-group")
)


def _rows(table: ElementTree.Element) -> list[ElementTree.Element]:
    """The table's own rows, in their groups (a nested table's rows are its cell's text)."""
    rows = []
    for child in table:
        if child.tag == q("table:table-row"):
            rows.append(child)
        elif child.tag in _ROW_GROUPS:
            rows += _rows(child)
    return rows
