"""HTML loader: visible text split into sections by h1-h6, with a few meta tags."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

from services.knowledge.loaders.common import (
    SectionBuilder,
    ensure_not_empty,
    ensure_textual,
    extension,
    humanise_stem,
    parse_date,
)
from use_cases.domain import ParsedDocument
from use_cases.errors import InvalidDocument

HTML_EXTENSIONS = (".html", ".htm")

# Elements whose content is never part of the readable text.
DROPPED_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "footer",
    "head",
    "svg",
    "canvas",
    "iframe",
    "object",
    "embed",
    "select",
    "button",
)
HEADING_LEVELS = {f"h{level}": level for level in range(1, 7)}
BLOCK_TAGS = frozenset(
    (
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "aside",
        "blockquote",
        "figure",
        "figcaption",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "address",
        "details",
        "summary",
        "form",
        "fieldset",
        "hr",
        "caption",
    )
)
CATEGORY_META = ("category", "article:section")
UPDATED_META = (
    "updated",
    "last-modified",
    "last_modified",
    "article:modified_time",
    "og:updated_time",
    "dcterms.modified",
)
METADATA_META = ("author", "description", "keywords")
DATE_META = (*UPDATED_META, "date", "effective", "article:published_time", "dcterms.created")
SUPERSEDES_META = "supersedes"

_SPACES = re.compile(r"\s+")
_HEADING_DECORATION = "¶§#🔗 \t"


@dataclass
class _Newlines:
    """A deferred block separator, emitted after an element's children."""

    count: int


class _Emitter:
    """Feeds inline text and block breaks to a SectionBuilder with HTML whitespace rules."""

    def __init__(self, builder: SectionBuilder) -> None:
        self.builder = builder
        self.trailing_newlines = 2  # at the start of a section: no break needed
        self.trailing_space = False

    def inline(self, text: str) -> None:
        text = _SPACES.sub(" ", text)
        if self.trailing_newlines or self.trailing_space:
            text = text.lstrip(" ")
        if not text:
            return
        self.builder.text(text)
        self.trailing_newlines = 0
        self.trailing_space = text.endswith(" ")

    def newlines(self, count: int) -> None:
        """Make sure the output ends with at least `count` line breaks."""
        if count > self.trailing_newlines:
            self.builder.text("\n" * (count - self.trailing_newlines))
            self.trailing_newlines = count
        self.trailing_space = False

    def block(self, text: str) -> None:
        self.newlines(2)
        self.builder.text(text)
        self.trailing_newlines = 0
        self.newlines(2)

    def heading(self, level: int, text: str) -> None:
        self.builder.heading(level, text)
        self.trailing_newlines = 2
        self.trailing_space = False


class HtmlLoader:
    """Loads `.html` / `.htm` files with BeautifulSoup's `html.parser`.

    Scripts, styles, navigation, footers, hidden elements and similar chrome are dropped;
    when the page has a `<main>` element only its content is read. Headings h1-h6 split the
    text into sections exactly like Markdown headings (see `MarkdownLoader`); tables become
    `| a | b |` rows, list items `- item` lines and `<pre>` blocks fenced code. The title is
    `<title>`, else the first `<h1>`, else the file name made readable. Meta tags give the
    category (`category`, `article:section`), the updated date (`updated`, `last-modified`,
    `article:modified_time`, ...), `supersedes` (the document this one replaces) and metadata
    (`author`, `description`, `keywords`, `lang`).
    """

    media_type = "text/html"

    def supports(self, name: str) -> bool:
        return extension(name) in HTML_EXTENSIONS

    def check(self, name: str, data: bytes) -> None:
        ensure_not_empty(name, data)
        ensure_textual(name, data)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        self.check(name, data)
        soup = BeautifulSoup(data, "html.parser")
        metas = _meta_tags(soup)
        title_tag = soup.find("title")
        page_title = " ".join(title_tag.get_text(" ").split()) if title_tag else ""

        for tag in soup.find_all(DROPPED_TAGS):
            tag.decompose()
        for tag in soup.find_all(_is_hidden):
            tag.decompose()

        builder = SectionBuilder()
        root = soup.find("main") or soup.find("body") or soup
        _walk(root, _Emitter(builder))

        title = page_title or builder.first_h1 or humanise_stem(name)
        sections = builder.sections(title)
        if not sections:
            if not page_title and builder.first_h1 is None:
                raise InvalidDocument(f"{name} is empty")
            raise InvalidDocument(f"{name} has no text content")

        updated_at: date | None = None
        for key in UPDATED_META:
            if key in metas and (updated_at := parse_date(metas[key])) is not None:
                break
        dates = {key: value for key in DATE_META if (value := parse_date(metas.get(key)))}
        category = next((metas[key] for key in CATEGORY_META if metas.get(key)), None)
        metadata = {key: metas[key] for key in METADATA_META if metas.get(key)}
        html_tag = soup.find("html")
        lang = html_tag.get("lang") if isinstance(html_tag, Tag) else None
        if isinstance(lang, str) and lang.strip():
            metadata["lang"] = lang.strip()
        return ParsedDocument(
            title=title,
            sections=sections,
            category=category,
            updated_at=updated_at,
            media_type=self.media_type,
            metadata=metadata,
            supersedes=metas.get(SUPERSEDES_META),
            dates=dates,
        )


def _meta_tags(soup: BeautifulSoup) -> dict[str, str]:
    """`<meta name|property|http-equiv=... content=...>` as a lower-cased-key mapping."""
    metas: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        key = tag.get("name") or tag.get("property") or tag.get("http-equiv")
        content = tag.get("content")
        if isinstance(key, str) and isinstance(content, str) and content.strip():
            metas.setdefault(key.strip().lower(), " ".join(content.split()))
    return metas


def _is_hidden(tag: Tag) -> bool:
    return tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true"


def _walk(root: Tag | BeautifulSoup, out: _Emitter) -> None:
    """Depth-first, in document order, without recursion (deeply nested pages are fine)."""
    stack: list[object] = list(reversed(root.contents))
    numbers: dict[int, int] = {}  # next item number of each <ol>
    while stack:
        node = stack.pop()
        if isinstance(node, _Newlines):
            out.newlines(node.count)
        elif isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):  # comments, doctypes, CDATA
                out.inline(str(node))
        elif isinstance(node, Tag):
            name = node.name
            if name in HEADING_LEVELS:
                text = " ".join(node.get_text(" ").split()).strip(_HEADING_DECORATION)
                out.heading(HEADING_LEVELS[name], text)
            elif name == "br":
                out.newlines(1)
            elif name == "pre":
                code = node.get_text().strip("\n")
                if code.strip():
                    out.block(f"```\n{code}\n```")
            elif name == "table":
                rows = _table_rows(node)
                if rows:
                    out.block("\n".join(rows))
            elif name == "li":
                out.newlines(1)
                parent = node.parent
                if isinstance(parent, Tag) and parent.name == "ol":
                    number = numbers.get(id(parent), _list_start(parent))
                    numbers[id(parent)] = number + 1
                    out.inline(f"{number}. ")
                else:
                    out.inline("- ")
                stack.append(_Newlines(1))
                stack.extend(reversed(node.contents))
            elif name in BLOCK_TAGS:
                out.newlines(2)
                stack.append(_Newlines(2))
                stack.extend(reversed(node.contents))
            else:
                stack.extend(reversed(node.contents))


def _list_start(ordered: Tag) -> int:
    start = ordered.get("start")
    try:
        return int(start) if isinstance(start, str) else 1
    except ValueError:
        return 1


def _table_rows(table: Tag) -> list[str]:
    rows = []
    for row in table.find_all("tr"):
        cells = [
            " ".join(cell.get_text(" ").split()).replace("|", "\\|")
            for cell in row.find_all(("td", "th"), recursive=False)
        ]
        if any(cells):
            rows.append("| " + " | ".join(cells) + " |")
    return rows
