"""HTML loader: a page's main content split into sections by h1-h6, without the site's chrome.

Rules:
- Content: when the page has a main-content container (`<main>`, `[role=main]`, a single
  `<article>`, Sphinx's `div.body`) only its content is read, else the whole `<body>`.
- Chrome is always dropped: scripts, styles, hidden elements, `<nav>`, footers, the page's
  own `<header>` (one outside any article or section, without the page's `<h1>`), elements
  whose role is navigation, search, banner or contentinfo, search forms, permalink anchors
  (Sphinx's `¶`), Sphinx's related bar, sidebar, footer and "Show Source" links, DocBook's
  navheader, navfooter and chapter table of contents, MkDocs' header, sidebars and footer,
  AsciiDoc's footer (`#footer`), and a block before the first heading that only repeats the
  page title (a title banner).
- Link lists are navigation, not content: a list (or a block of blocks) of at least three
  items that are nothing but links is dropped when (nearly) every link points into the page
  (a table of contents) or, made of short links to other pages, when it comes before the
  page's first heading (a site menu). The wrapper it sits in goes with it as long as the
  wrapper holds no heading and only a label's worth of other text (a tagline, "Contents").
- Definition lists: each `<dt>` is kept with its `<dd>` as one paragraph, "label —
  description" (the label is what questions name: "which option does X?"). A `<dt>` that
  is a question (ends with "?") instead becomes the heading of its own section, whose text
  is its answer. So does a paragraph that is nothing but bold text when it is a question or
  the target of an in-page link (a FAQ whose index links to its questions), and a
  `<summary>` that is a question. These implied headings sit one level below the current
  heading, as siblings (see `SectionBuilder.subheading`).
- Footnotes (docutils/Sphinx `aside.footnote`, `dl.footnote`, `table.footnote`, DocBook's
  `div.footnotes`, the `section.footnotes` / `div.footnote` Markdown renderers make) are
  taken out of the running text into one section named "Footnotes" below the page's
  outermost heading, each as "[label] text"; the reference markers in the running text
  are removed, so their numbers do not stick to the words around them.
- Title: the page's first `<h1>` (without its permalink anchor), unless it is numbered
  like a section ("1. Overview": the first section of a numbered page, not its title);
  else `<title>` without a site-name suffix ("Sorting HOW TO — Python 3.11.2
  documentation" -> "Sorting HOW TO"); else the file name made readable.
- Text is plain text: entities decoded once (by the parser), tables as `| a | b |` rows,
  list items as `- item` / `1. item` lines, `<pre>` blocks as fenced code, inline code as
  written. Meta tags give the category (`category`, `article:section`), the updated date
  (`updated`, `last-modified`, `article:modified_time`, ...), `supersedes` (the document
  this one replaces) and metadata (`author`, `description`, `keywords`, `lang`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
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
from use_cases.knowledge.domain import ParsedDocument
from use_cases.shared.errors import InvalidDocument

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
    "title",  # read for the title; outside <head> in a fragment, still not body text
    "svg",
    "canvas",
    "iframe",
    "object",
    "embed",
    "select",
    "button",
)
# Site chrome: landmark roles, and the classes common documentation generators give it
# (by tag name; "*" for any tag).
CHROME_ROLES = frozenset(("navigation", "search", "banner", "contentinfo"))
CHROME_CLASSES = {
    "a": frozenset(("headerlink",)),  # Sphinx / MkDocs permalink anchors
    "div": frozenset(
        (
            "related",  # Sphinx
            "sphinxsidebar",
            "footer",
            "navheader",  # DocBook
            "navfooter",
            "toc",
        )
    ),
    "ul": frozenset(("this-page-menu",)),  # Sphinx "Show Source"
    "*": frozenset(("md-header", "md-sidebar", "md-footer")),  # MkDocs (Material)
}
# ... and the ids they give it: AsciiDoc's and Asciidoctor's footer ("Last updated ...").
CHROME_IDS = frozenset(("footer",))
SPHINX_SOURCE_LINK = "_sources/"
SEARCH_INPUTS = ({"type": "search"}, {"name": "q"})
# Where footnotes live (by tag name, as for chrome), the elements of one footnote, and the
# markers pointing at them from the running text (classes, or the role ARIA gives them).
FOOTNOTE_CONTAINERS = {
    "aside": frozenset(("footnote-list", "footnote")),  # docutils >= 0.18
    "dl": frozenset(("footnote-list", "footnote")),  # docutils < 0.18
    "table": frozenset(("footnote",)),  # older docutils
    "div": frozenset(("footnotes", "footnote")),  # DocBook; Python-Markdown
    "section": frozenset(("footnotes",)),  # markdown-it, pandoc
}
FOOTNOTE_CONTAINER_ROLES = frozenset(("doc-endnotes",))
FOOTNOTE_ITEM_SELECTORS = "aside.footnote, div.footnote, [role=doc-footnote], [role=doc-endnote]"
REFERENCE_CLASSES = frozenset(("footnote-reference", "footnote-ref"))
REFERENCE_ROLE = "doc-noteref"
BACKREF_SELECTORS = "a.fn-backref, a.footnote-backref, a[role=doc-backlink], .backrefs"
FOOTNOTES_HEADING = "Footnotes"

HEADING_LEVELS = {f"h{level}": level for level in range(1, 7)}
HEADING_TAGS = tuple(HEADING_LEVELS)
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
# Elements whose boundaries separate words even when no whitespace is written between them.
WORD_BREAK_TAGS = BLOCK_TAGS | {"br", "li", "tr", "td", "th", "pre", "table"}
SECTIONING_TAGS = ("article", "section", "main", "aside")
LINK_BLOCK_TAGS = ("ul", "ol", "div", "p")
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

#: A link list needs this many link items to be taken for navigation.
MIN_LINK_ITEMS = 3
#: A link list is a table of contents when at least this share of its links point into the
#: page (an entry may hold a second link elsewhere: "2.9. Database used by <a>VACUUM</a>").
MIN_TOC_SHARE = 0.8
#: Menu links are short: at most this many words each.
MAX_MENU_LINK_WORDS = 3
#: A link list's wrapper goes with it while its other text is at most this many non-space
#: characters: a label ("Table of Contents") or a tagline, never a paragraph of content.
MAX_LABEL_CHARS = 80
#: A bold paragraph longer than this is emphasis, not a question.
MAX_QUESTION_CHARS = 300

_SPACES = re.compile(r"\s+")
_HEADING_DECORATION = "¶§🔗 \t"
_PERMALINK_TEXTS = frozenset(("", "¶", "§", "#", "🔗"))
_LINK_SEPARATORS = re.compile(r"[\s|·•»«/,>\-–—]+")
_SECTION_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?\s")
# Separators before a site name in <title>: "Page — Site", "Page | Site".
_TITLE_SUFFIX = re.compile(r"\s+(?:—|–|\||·|::)\s+(?!.*\s(?:—|–|\||·|::)\s).*$")
_FOOTNOTE_LABEL = re.compile(r"^[\w*†‡§]{1,6}$")
_PUNCTUATION_START = re.compile(r"^[.,;:!?)\]]")


@dataclass
class _Newlines:
    """A deferred block separator, emitted after an element's children."""

    count: int


@dataclass
class _Inline:
    """Text the walker emits as it is (a definition label, a footnote label)."""

    text: str


@dataclass
class _Glue:
    """The next block starts on the same line: "label — description"."""


@dataclass
class _Subheading:
    text: str


@dataclass
class _CloseSubheadings:
    pass


@dataclass
class _Footnote:
    label: str | None
    body: Tag


class _Emitter:
    """Feeds inline text and block breaks to a SectionBuilder with HTML whitespace rules."""

    def __init__(self, builder: SectionBuilder) -> None:
        self.builder = builder
        self.trailing_newlines = 2  # at the start of a section: no break needed
        self.trailing_space = False
        self.glued = False  # block breaks are swallowed until the next text

    def inline(self, text: str) -> None:
        text = _SPACES.sub(" ", text)
        if self.trailing_newlines or self.trailing_space:
            text = text.lstrip(" ")
        if not text:
            return
        self.builder.text(text)
        self.trailing_newlines = 0
        self.trailing_space = text.endswith(" ")
        self.glued = False

    def newlines(self, count: int) -> None:
        """Make sure the output ends with at least `count` line breaks."""
        if self.glued:
            return
        if count > self.trailing_newlines:
            self.builder.text("\n" * (count - self.trailing_newlines))
            self.trailing_newlines = count
        self.trailing_space = False

    def unglue(self) -> None:
        """Code, tables and list items start on a line of their own, glued or not."""
        self.glued = False

    def block(self, text: str) -> None:
        self.unglue()
        self.newlines(2)
        self.builder.text(text)
        self.trailing_newlines = 0
        self.newlines(2)

    def heading(self, level: int, text: str) -> None:
        self.builder.heading(level, text)
        self._new_section()

    def subheading(self, text: str) -> None:
        self.builder.subheading(text)
        self._new_section()

    def close_subheadings(self) -> None:
        self.builder.close_subheadings()
        self._new_section()

    def appendix(self, text: str) -> None:
        self.builder.appendix(text)
        self._new_section()

    def _new_section(self) -> None:
        self.trailing_newlines = 2
        self.trailing_space = False
        self.glued = False


class HtmlLoader:
    """Loads `.html` / `.htm` files with BeautifulSoup's `html.parser` (see the module rules)."""

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
        page_title = _site_suffix_removed(_inline_text(title_tag)) if title_tag else ""
        # In-page link targets, read before tables of contents (which link to them) go.
        linked = _in_page_targets(soup)

        _drop_chrome(soup)
        root = _content_root(soup)
        footnotes = _take_footnotes(root)
        _drop_link_lists(root)
        h1 = soup.find("h1")
        h1_text = _heading_text(h1) if isinstance(h1, Tag) else ""
        title = _page_title(h1_text, page_title) or humanise_stem(name)
        _drop_title_banner(root, title)

        builder = SectionBuilder()
        walker = _Walker(_Emitter(builder), _question_paragraphs(root, linked))
        walker.walk(root.contents)
        walker.footnotes(footnotes)
        sections = builder.sections(title)
        if not sections:
            if not page_title and h1 is None:
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


# --- text helpers ---------------------------------------------------------------------------


def _inline_text(node: Tag) -> str:
    """The text of an element on one line: words split only where the markup splits them
    (`get_text(" ")` would write "( WAL )" for "(<acronym>WAL</acronym>)")."""
    parts: list[str] = []
    for piece in node.descendants:
        if isinstance(piece, NavigableString):
            if not isinstance(piece, PreformattedString):  # comments, doctypes, CDATA
                parts.append(str(piece))
        elif isinstance(piece, Tag) and piece.name in WORD_BREAK_TAGS:
            parts.append(" ")
    return " ".join("".join(parts).split())


def _heading_text(node: Tag) -> str:
    return _inline_text(node).strip(_HEADING_DECORATION)


def _squashed(text: str) -> str:
    return "".join(text.split())


def _site_suffix_removed(title: str) -> str:
    return _TITLE_SUFFIX.sub("", title).strip() or title


def _page_title(h1_text: str, page_title: str) -> str:
    if h1_text and not (page_title and _SECTION_NUMBER.match(h1_text)):
        return h1_text
    return page_title or h1_text


def _remove(tag: Tag) -> None:
    """Remove an inline marker without leaving a space before the punctuation after it."""
    before, after = tag.previous_sibling, tag.next_sibling
    tag.decompose()
    if (
        type(before) is NavigableString
        and before[-1:].isspace()
        and type(after) is NavigableString
        and _PUNCTUATION_START.match(after)
    ):
        before.replace_with(before.rstrip())


def _removed(tag: Tag) -> bool:
    """Whether the tag was decomposed. (bs4's `decomposed` property looks the flag up with
    `getattr`, which on a live tag falls through to `tag.find("_decomposed")`: a search of
    the whole subtree, quadratic over a page.)"""
    return bool(vars(tag).get("_decomposed", False))


def _classes(tag: Tag) -> frozenset[str]:
    value = tag.get("class")
    return frozenset(value.split() if isinstance(value, str) else value or ())


def _has_ancestor(tag: Tag, names: Iterable[str]) -> bool:
    """(`find_parent` with several names runs bs4's generic matcher on every ancestor: slow
    on deep pages.)"""
    wanted = frozenset(names)
    return any(parent.name in wanted for parent in tag.parents)


def _nearest(tag: Tag, names: Iterable[str]) -> Tag | None:
    wanted = frozenset(names)
    return next((parent for parent in tag.parents if parent.name in wanted), None)


def _outermost(tags: Iterable[Tag]) -> list[Tag]:
    """The tags not inside another one of them, in document order."""
    chosen = list(tags)
    ids = {id(tag) for tag in chosen}
    return [tag for tag in chosen if not any(id(parent) in ids for parent in tag.parents)]


# --- chrome and content -----------------------------------------------------------------


def _is_hidden(tag: Tag) -> bool:
    return tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true"


def _is_permalink(tag: Tag) -> bool:
    href = tag.get("href")
    text = tag.get_text().strip()
    return isinstance(href, str) and href.startswith("#") and text in _PERMALINK_TEXTS


def _is_chrome(tag: Tag) -> bool:
    role = tag.get("role")
    if isinstance(role, str) and role.strip().lower() in CHROME_ROLES:
        return True
    classes = _classes(tag)
    if classes & (CHROME_CLASSES.get(tag.name, frozenset()) | CHROME_CLASSES["*"]):
        return True
    if str(tag.get("id", "")).strip().lower() in CHROME_IDS:
        return True
    if tag.name == "a":
        return SPHINX_SOURCE_LINK in str(tag.get("href", ""))  # Sphinx "Show Source"
    if tag.name == "form":
        return any(tag.find("input", attrs=attrs) is not None for attrs in SEARCH_INPUTS)
    # A <header> inside an article or section belongs to it; the page's own is its banner,
    # unless the page's title heading lives there.
    return tag.name == "header" and not _has_ancestor(tag, SECTIONING_TAGS) and not tag.find("h1")


def _drop_chrome(soup: BeautifulSoup) -> None:
    for tag in soup.find_all(True):
        if not _removed(tag) and (tag.name in DROPPED_TAGS or _is_hidden(tag) or _is_chrome(tag)):
            tag.decompose()
    # Only anchors inside headings and terms: "#" elsewhere may be a real, if odd, link text.
    for holder in soup.find_all((*HEADING_TAGS, "dt")):
        for link in holder.find_all("a"):
            if not _removed(link) and _is_permalink(link):
                link.decompose()


def _content_root(soup: BeautifulSoup) -> Tag | BeautifulSoup:
    for candidate in (
        soup.find("main"),
        soup.find(attrs={"role": "main"}),
        soup.find("div", class_="body"),  # Sphinx themes without the role
    ):
        if isinstance(candidate, Tag) and candidate.get_text(strip=True):
            return candidate
    articles = soup.find_all("article")
    if len(articles) == 1 and articles[0].get_text(strip=True):
        return articles[0]
    body = soup.find("body")
    return body if isinstance(body, Tag) else soup


def _in_page_targets(soup: BeautifulSoup) -> frozenset[str]:
    return frozenset(
        href[1:]
        for tag in soup.find_all("a", href=True)
        if isinstance(href := tag["href"], str) and href.startswith("#") and len(href) > 1
    )


def _link_items(block: Tag) -> list[Tag] | None:
    """The links of a block made of nothing but link items (>= MIN_LINK_ITEMS links), else
    None. An item is a child element whose text is all link text (separators aside)."""
    for child in block.children:
        if type(child) is NavigableString and _LINK_SEPARATORS.sub("", child):
            return None  # loose text: a sentence with links, not a list of them
    links: list[Tag] = []
    for child in block.children:
        if not isinstance(child, Tag):
            continue
        text = _LINK_SEPARATORS.sub("", child.get_text())
        if not text:
            continue
        item_links = [child] if child.name == "a" else _top_links(child)
        linked = "".join(_LINK_SEPARATORS.sub("", link.get_text()) for link in item_links)
        if not item_links or linked != text:
            return None
        links.extend(item_links)
    # Links, not items, are counted: unclosed <li> tags nest a whole menu in its first item.
    return links if len(links) >= MIN_LINK_ITEMS else None


def _top_links(item: Tag) -> list[Tag]:
    """The links in an item that are not inside another link (html.parser nests an unclosed
    or nested <a> in the one before it)."""
    links = []
    for link in item.find_all("a"):
        parent = link.parent
        while parent is not None and parent is not item and parent.name != "a":
            parent = parent.parent
        if (parent is None or parent is item) and link.get("href"):
            links.append(link)
    return links


def _is_navigation(links: Sequence[Tag], before_content: bool) -> bool:
    in_page = sum(str(link.get("href")).startswith("#") for link in links)
    if in_page >= MIN_TOC_SHARE * len(links):
        return True  # a table of contents: everything it names is on the page anyway
    short = all(len(link.get_text().split()) <= MAX_MENU_LINK_WORDS for link in links)
    return before_content and short


def _non_link_chars(tag: Tag) -> int:
    links = sum(len(_squashed(link.get_text())) for link in tag.find_all("a", href=True))
    return len(_squashed(tag.get_text())) - links


def _navigation_extent(block: Tag, root: Tag | BeautifulSoup, holds_heading: set[int]) -> Tag:
    """The block, or the outermost wrapper that is the block plus a label's worth of text."""
    extent = block
    while (
        isinstance(parent := extent.parent, Tag)
        and parent is not root
        and id(parent) not in holds_heading
        and _non_link_chars(parent) <= MAX_LABEL_CHARS
    ):
        extent = parent
    return extent


def _drop_link_lists(root: Tag | BeautifulSoup) -> None:
    elements = root.find_all(True)
    order = {id(tag): index for index, tag in enumerate(elements)}
    first_heading = root.find(HEADING_TAGS)
    content_starts = order[id(first_heading)] if first_heading is not None else len(elements)
    # Per element: links and headings inside it, counted bottom-up in one pass (walking up
    # from every link would be quadratic on the deep trees unclosed tags make).
    link_counts: dict[int, int] = {}
    holds_heading: set[int] = set()
    for tag in reversed(elements):
        count = int(tag.name == "a" and bool(tag.get("href")))
        for child in tag.children:
            if isinstance(child, Tag):
                count += link_counts[id(child)]
                if child.name in HEADING_LEVELS or id(child) in holds_heading:
                    holds_heading.add(id(tag))
        link_counts[id(tag)] = count
    for block in elements:
        if (
            block.name not in LINK_BLOCK_TAGS
            or link_counts[id(block)] < MIN_LINK_ITEMS
            or id(block) in holds_heading
            or _removed(block)
        ):
            continue
        links = _link_items(block)
        if links and _is_navigation(links, order[id(block)] < content_starts):
            _navigation_extent(block, root, holds_heading).decompose()


def _drop_title_banner(root: Tag | BeautifulSoup, title: str) -> None:
    """A block before the first heading that only repeats the page title is a banner."""
    first_heading = root.find(HEADING_TAGS)
    wanted = _squashed(title).casefold()
    if first_heading is None or not wanted:
        return
    repeats = [
        piece
        for piece in first_heading.previous_elements
        if type(piece) is NavigableString and _squashed(piece).casefold() == wanted
    ]
    for piece in repeats:
        banner = piece.parent
        if not isinstance(banner, Tag) or banner is root or _removed(banner):
            continue
        if not any(parent is root for parent in banner.parents):
            continue
        while (
            isinstance(wrapper := banner.parent, Tag)
            and wrapper is not root
            and _squashed(wrapper.get_text()).casefold() == wanted
        ):
            banner = wrapper
        banner.decompose()


# --- questions ------------------------------------------------------------------------------


def _question_paragraphs(root: Tag | BeautifulSoup, linked: frozenset[str]) -> frozenset[int]:
    """ids of the paragraphs / summaries that are FAQ questions (see the module rules)."""
    candidates = {
        id(bold.parent): bold.parent
        for bold in root.find_all(("b", "strong"))
        if isinstance(bold.parent, Tag) and bold.parent.name == "p"
    }
    candidates.update((id(summary), summary) for summary in root.find_all("summary"))
    questions = set()
    for key, tag in candidates.items():
        text = _short_text(tag, MAX_QUESTION_CHARS)
        if not text:
            continue
        if tag.name == "p" and not _all_bold(tag, text):
            continue
        if text.endswith("?") or _is_link_target(tag, linked):
            questions.add(key)
    return frozenset(questions)


def _short_text(tag: Tag, limit: int) -> str | None:
    """`_inline_text` of a tag that holds at most `limit` characters, else None (without
    reading all of a long one: an unclosed <p> can hold the rest of the page)."""
    size = 0
    for piece in tag.strings:
        size += len(piece.strip())
        if size > limit:
            return None
    text = _inline_text(tag)
    return text if len(text) <= limit else None


def _all_bold(paragraph: Tag, text: str) -> bool:
    bold = _outermost(paragraph.find_all(("b", "strong")))
    return _squashed("".join(_inline_text(tag) for tag in bold)) == _squashed(text)


def _is_link_target(tag: Tag, linked: frozenset[str]) -> bool:
    """The tag, something in it, or an empty anchor right before it is an in-page target."""
    for candidate in (tag, *tag.find_all(True)):
        if candidate.get("id") in linked or candidate.get("name") in linked:
            return True
    previous = tag.find_previous_sibling()
    return (
        isinstance(previous, Tag)
        and previous.name == "a"
        and not previous.get_text(strip=True)
        and (previous.get("name") in linked or previous.get("id") in linked)
    )


# --- footnotes ------------------------------------------------------------------------------


def _take_footnotes(root: Tag | BeautifulSoup) -> list[_Footnote]:
    """Detach the footnotes from the running text (removing the markers that point at them)."""
    containers = _outermost(tag for tag in root.find_all(True) if _is_footnotes(tag))
    note_ids = {
        str(tag["id"]) for container in containers for tag in container.find_all(id=True)
    } | {str(container["id"]) for container in containers if container.get("id")}
    reference_ids = _remove_references(root, note_ids, containers)
    footnotes: list[_Footnote] = []
    for container in containers:
        footnotes.extend(_footnotes_in(container, reference_ids))
        container.extract()
    return footnotes


def _in_page_target(link: Tag) -> str | None:
    href = link.get("href")
    return href[1:] if isinstance(href, str) and href.startswith("#") else None


def _points_at_note(link: Tag, note_ids: set[str]) -> bool:
    """A link to a footnote that reads like its marker ("1", "[2]", "*"): a sentence that
    links to a footnote ("see note 1") stays."""
    label = _bare_label(_inline_text(link))
    return _in_page_target(link) in note_ids and bool(label and _FOOTNOTE_LABEL.match(label))


def _is_footnotes(tag: Tag) -> bool:
    role = tag.get("role")
    if isinstance(role, str) and role.strip() in FOOTNOTE_CONTAINER_ROLES:
        return True
    return bool(_classes(tag) & FOOTNOTE_CONTAINERS.get(tag.name, frozenset()))


def _is_reference(tag: Tag) -> bool:
    return bool(_classes(tag) & REFERENCE_CLASSES) or tag.get("role") == REFERENCE_ROLE


def _remove_references(
    root: Tag | BeautifulSoup, note_ids: set[str], containers: list[Tag]
) -> set[str]:
    """Remove footnote reference markers; returns their ids (what back-links point at)."""
    markers = [
        tag
        for tag in root.find_all(("a", "sup"))
        if _is_reference(tag) or (tag.name == "a" and _points_at_note(tag, note_ids))
    ]
    inside = {id(tag) for container in containers for tag in container.find_all(True)}
    reference_ids: set[str] = set()
    for marker in markers:
        if _removed(marker) or id(marker) in inside:
            continue
        parent = marker.parent
        if (
            isinstance(parent, Tag)
            and parent.name == "sup"
            and _squashed(parent.get_text()) == _squashed(marker.get_text())
        ):
            marker = parent  # <sup><a href="#fn1">1</a></sup>: the whole superscript goes
        for tag in (marker, *marker.find_all(True)):
            if tag.get("id"):
                reference_ids.add(str(tag["id"]))
        _remove(marker)
    return reference_ids


def _footnotes_in(container: Tag, reference_ids: set[str]) -> list[_Footnote]:
    if container.name == "dl":
        # The label is the term's first text: "1" of "1 (back-links: 1, 2)".
        return [
            _Footnote(_bare_label(next(term.stripped_strings, "")), definition)
            for term in container.find_all("dt")
            if isinstance(definition := term.find_next_sibling("dd"), Tag)
        ]
    if container.name == "table":
        notes = []
        for row in container.find_all("tr"):
            cells = row.find_all(("td", "th"), recursive=False)
            if cells:
                label = cells[0] if len(cells) > 1 else None
                text = _bare_label(_inline_text(label)) if label is not None else None
                notes.append(_Footnote(text, cells[-1]))
        return notes
    listed = container.find(("ol", "ul"))
    if isinstance(listed, Tag) and container.select_one(FOOTNOTE_ITEM_SELECTORS) is None:
        items = listed.find_all("li", recursive=False)
        return [
            _labelled(item, reference_ids, str(number) if listed.name == "ol" else None)
            for number, item in enumerate(items, start=_list_start(listed))
        ]
    items = container.select(FOOTNOTE_ITEM_SELECTORS) or [container]
    return [_labelled(item, reference_ids, None) for item in items]


def _labelled(item: Tag, reference_ids: set[str], fallback: str | None) -> _Footnote:
    """The footnote with its label taken out of its text: a docutils `.label`, else the
    back-link to its reference (DocBook's "[1]"); arrows ("↩") back to the text just go."""
    label: str | None = None
    marked = item.select_one(".label")
    if marked is not None:
        label = _bare_label(_inline_text(marked))
        marked.decompose()
    backlinks = list(item.select(BACKREF_SELECTORS))
    for link in item.find_all("a", href=True):
        href = link["href"]
        if isinstance(href, str) and href.startswith("#") and href[1:] in reference_ids:
            backlinks.append(link)
    for link in backlinks:
        if _removed(link):
            continue
        text = _bare_label(_inline_text(link))
        if label is None and text and _FOOTNOTE_LABEL.match(text):
            label = text
        link.decompose()
    return _Footnote(label or fallback, item)


def _bare_label(text: str) -> str | None:
    return text.strip("[]() \u00a0").rstrip(".") or None


# --- the walk ---------------------------------------------------------------------------------


class _Walker:
    """Depth-first, in document order, without recursion (deeply nested pages are fine)."""

    def __init__(self, out: _Emitter, questions: frozenset[int]) -> None:
        self.out = out
        self.questions = questions
        self.stack: list[object] = []
        self.numbers: dict[int, int] = {}  # next item number of each <ol>

    def walk(self, nodes: Iterable[object]) -> None:
        self._push(*nodes)
        while self.stack:
            self._step(self.stack.pop())

    def footnotes(self, footnotes: Sequence[_Footnote]) -> None:
        if not footnotes:
            return
        self.out.appendix(FOOTNOTES_HEADING)
        for note in footnotes:
            label = [_Inline(f"[{note.label}] "), _Glue()] if note.label else []
            self.walk([_Newlines(2), *label, *note.body.contents, _Newlines(2)])

    def _push(self, *nodes: object) -> None:
        self.stack.extend(reversed(nodes))

    def _step(self, node: object) -> None:
        out = self.out
        if isinstance(node, _Newlines):
            out.newlines(node.count)
        elif isinstance(node, _Inline):
            out.inline(node.text)
        elif isinstance(node, _Glue):
            out.glued = True
        elif isinstance(node, _Subheading):
            out.subheading(node.text)
        elif isinstance(node, _CloseSubheadings):
            out.close_subheadings()
        elif isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):  # comments, doctypes, CDATA
                out.inline(str(node))
        elif isinstance(node, Tag):
            self._element(node)

    def _element(self, node: Tag) -> None:
        out = self.out
        name = node.name
        if name in HEADING_LEVELS:
            out.heading(HEADING_LEVELS[name], _heading_text(node))
        elif id(node) in self.questions:
            if name == "summary":
                out.subheading(_inline_text(node))
            else:
                out.subheading(_heading_text(node))
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
        elif name == "dl":
            self._definitions(node)
        elif name == "li":
            out.unglue()
            out.newlines(1)
            # The nearest list, not the parent: unclosed <li> tags nest in the previous item.
            parent = _nearest(node, ("ol", "ul"))
            if isinstance(parent, Tag) and parent.name == "ol":
                number = self.numbers.get(id(parent), _list_start(parent))
                self.numbers[id(parent)] = number + 1
                out.inline(f"{number}. ")
            else:
                out.inline("- ")
            # "1. text", not "1." alone above the item's first paragraph.
            self._push(_Glue(), *node.contents, _Newlines(1))
        elif name in BLOCK_TAGS:
            out.newlines(2)
            self._push(*node.contents, _Newlines(2))
        else:
            self._push(*node.contents)

    def _definitions(self, definitions: Tag) -> None:
        """Each term with its description as "label — description"; a question term as the
        heading of its answer."""
        nodes: list[object] = []
        asked = False
        for terms, descriptions in _definition_groups(definitions):
            label = ", ".join(text for term in terms if (text := _inline_text(term)))
            label = label.rstrip(":").strip()
            if label.endswith("?"):
                asked = True
                nodes.append(_Subheading(label))
                for description in descriptions:
                    nodes.extend((_Newlines(2), *description.contents, _Newlines(2)))
                continue
            nodes.append(_Newlines(2))
            if label:
                nodes.append(_Inline(label))
            for index, description in enumerate(descriptions):
                if index == 0 and label and _inline_text(description):
                    nodes.extend((_Inline(" — "), _Glue()))
                else:
                    nodes.append(_Newlines(2))
                nodes.extend(description.contents)
            nodes.append(_Newlines(2))
        if asked:
            nodes.append(_CloseSubheadings())
        self._push(*nodes)


def _definition_groups(definitions: Tag) -> list[tuple[list[Tag], list[Tag]]]:
    """(terms, descriptions) pairs of a <dl>, looking through <div> wrappers."""
    groups: list[tuple[list[Tag], list[Tag]]] = []
    children = [child for child in definitions.children if isinstance(child, Tag)]
    while children:
        child = children.pop(0)
        if child.name == "div":
            children[:0] = [item for item in child.children if isinstance(item, Tag)]
        elif child.name == "dt":
            if not groups or groups[-1][1]:
                groups.append(([], []))
            groups[-1][0].append(child)
        elif child.name == "dd":
            if not groups:
                groups.append(([], []))
            groups[-1][1].append(child)
    return groups


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
            _inline_text(cell).replace("|", "\\|")
            for cell in row.find_all(("td", "th"), recursive=False)
        ]
        if any(cells):
            rows.append("| " + " | ".join(cells) + " |")
    return rows
