"""What the HTML loader's two readings of a page share (`html.py` reads bs4's tree, every
page; `html_fast.py` libxml2's, the pages it is sure of): the names of the elements each
rule reads, the emitter that turns a page's inline text and block breaks into section text
with HTML's whitespace rules, the page record a reading returns, and small text helpers.
The rules themselves are written in `html.py`'s docstring."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.knowledge.loaders.common import SectionBuilder
from use_cases.knowledge.domain import ParsedSection

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
# ... and the ids they give it: AsciiDoc's and Asciidoctor's footer ("Last updated ..."),
# Doxygen's title area (the project's name), navigation tree, search box and footer path.
CHROME_IDS = frozenset(("footer", "titlearea", "side-nav", "msearchbox", "nav-path"))
# Link relations (HTML's `rel`) that only move around the document, the blocks that hold a
# bar of them, how many such links make a bar, and how much other text it may hold ("Next:",
# "Previous:", "Up:", brackets).
NAV_RELS = frozenset(("next", "prev", "previous", "up", "contents", "index", "start", "first"))
NAV_REL_BLOCKS = ("p", "div", "td", "li", "nav")
MIN_NAV_REL_LINKS = 2
MAX_NAV_REL_LINKS = 12
MAX_NAV_LABEL_CHARS = 40
# Doxygen sets a page's title in a `div.headertitle` inside a `div.header`, above the content,
# whose <h1>s are the page's sections.
DOXYGEN_HEADER = ("header", "headertitle")
SPHINX_SOURCE_LINK = "_sources/"
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
LINK_BLOCK_TAGS = ("ul", "ol", "div", "p", "table")
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
#: A bar of links shown twice (navigation wherever it stands) has at most this many links.
MAX_BAR_LINKS = 24
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
_LINK_SEPARATORS = re.compile(r"[\s|·•»«/,>\-–—\[\]]+")
#: A page's closing credit to the tool that made it ("This document was generated by ... using
#: texi2html 1.78a.", "Created using Sphinx 7.2", "Built with MkDocs").
_GENERATOR_CREDIT = re.compile(
    r"^(?:this (?:document|page|file|manual|site) was )?(?:generated|created|built|made|produced)"
    r"\b.{0,120}\b(?:by|using|with)\b",
    re.IGNORECASE,
)
#: ... is at most this long, and among the page's last few blocks (a version line may follow).
MAX_CREDIT_CHARS = 200
CREDIT_WITHIN = 3
#: The credit goes with the wrappers that hold nothing else, up to this many.
MAX_CREDIT_WRAPPERS = 8
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


#: Preformatted text this long or longer may be prose rather than code (`reads_as_prose`).
PROSE_MIN_LINES = 40

#: ... when at least this share of its lines are prose: six words or more, starting with a
#: word, three in four of them words (code's lines start with a keyword, a prompt or a
#: comment marker, and hold symbols).
PROSE_LINE_SHARE = 0.2

_PROSE_WORD = re.compile(r"[A-Za-z][a-z]*[.,;:!?)'\"]*")


def _prose_line(line: str) -> bool:
    tokens = line.split()
    return (
        len(tokens) >= 6
        and not line[:1].isspace()
        and _PROSE_WORD.fullmatch(tokens[0]) is not None
        and sum(1 for t in tokens if _PROSE_WORD.fullmatch(t)) >= 0.75 * len(tokens)
    )


def reads_as_prose(text: str) -> bool:
    """Whether preformatted `text` is a document's prose (a help page, a plain-text FAQ)
    rather than code: `PROSE_MIN_LINES` lines or more, `PROSE_LINE_SHARE` of them prose."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < PROSE_MIN_LINES:
        return False
    return sum(1 for line in lines if _prose_line(line)) >= PROSE_LINE_SHARE * len(lines)


class _Emitter:
    """Feeds inline text and block breaks to a SectionBuilder with HTML whitespace rules."""

    def __init__(self, builder: SectionBuilder) -> None:
        self.builder = builder
        self.trailing_newlines = 2  # at the start of a section: no break needed
        self.trailing_space = False
        self.glued = False  # block breaks are swallowed until the next text

    def inline(self, text: str) -> None:
        # (whitespace alone, between a page's elements, is one space: no regex needed)
        text = " " if text.isspace() else _SPACES.sub(" ", text)
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


@dataclass
class HtmlPage:
    """What a walk over a page's tree reads, before the document is made of it."""

    title: str
    sections: tuple[ParsedSection, ...]
    metas: dict[str, str]
    page_title: str  # the <title>'s, "" without one
    has_h1: bool
    lang: object  # the <html> element's `lang`, as the parser gives it


def _squashed(text: str) -> str:
    return "".join(text.split())


def _site_suffix_removed(title: str) -> str:
    return _TITLE_SUFFIX.sub("", title).strip() or title


def _page_title(h1_text: str, page_title: str) -> str:
    if h1_text and not (page_title and _SECTION_NUMBER.match(h1_text)):
        return h1_text
    return page_title or h1_text


def _integer(value: object) -> int | None:
    try:
        return int(value.strip()) if isinstance(value, str) else None
    except ValueError:
        return None


def _table_row(cells: list[str]) -> str | None:
    """A row's cells' texts as `| a | b |`, None when every cell is empty."""
    if not any(cells):
        return None
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
