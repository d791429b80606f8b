"""The HTML loader's fast path: the same reading as `html.HtmlLoader`'s bs4 walk, from the tree
libxml2 (lxml) builds, for the pages where both are sure to be the same.

Why: bs4 building its tree with `html.parser` costs about 1.4 CPU-s per MB on a page of many
short elements (a long list, a long table), more than a loader may spend, and no pass of the
loader's own can win that back; libxml2 builds the tree in C. But libxml2 repairs markup as
a browser would (an unclosed `<p>` ends at the next block, a `<li>` at the next item) where
`html.parser` nests what is left open, so the two trees differ on sloppy pages, and the
loader's rules were written and tuned against bs4's. Hence the fast path is taken only when:

- the page's tags are well nested as written (every element closed, in order) and libxml2's
  tree is exactly that nesting (its start and end events are the tags as written);
- its text reads the same to both parsers: UTF-8 (or ASCII) as bs4 would decode it, only
  HTML 4's named entities and valid character references, written with their `;`, no
  carriage returns or control characters, no CDATA sections or processing instructions;
- its content uses only the rules ported here: headings, paragraphs and blocks, lists
  (numbered as `html.py` numbers them), definition lists, tables, preformatted text, the
  elements dropped as chrome (`DROPPED_TAGS`, hidden ones, landmark roles, the generators'
  classes and ids, search forms, the page's own `<header>`, permalinks, "Show Source"), the
  content root (`<main>`, `role=main`, Sphinx's `div.body`, a single `<article>`), link
  lists (tables of contents, menus, bars) and the title banner;
- the rules not ported would change nothing, as far as a cheap look can tell: no run of
  links one per line, no generator's credit, no navigation `rel`, no all-bold short
  paragraph that asks or is linked to (questions) or opens a list item (item titles). A
  page with a `<summary>`, footnotes or their references, or Doxygen's title is read by bs4.

Any doubt returns None and the caller reads the page with bs4: the output is byte-identical
either way (`bench.check_loader_output` and `tests/unit/test_html_fast.py` check it).
"""

from __future__ import annotations

import re
from html.entities import name2codepoint

from bs4.builder import HTMLTreeBuilder
from bs4.dammit import EncodingDetector
from lxml import etree

from services.knowledge.loaders.common import SectionBuilder, humanise_stem
from services.knowledge.loaders.html_fast_walk import (
    _children,
    _contents,
    _get_text,
    _heading_text,
    _inline_text,
    _Walker,
)
from services.knowledge.loaders.html_text import (
    _GENERATOR_CREDIT,
    _LINK_SEPARATORS,
    _PERMALINK_TEXTS,
    CHROME_CLASSES,
    CHROME_IDS,
    CHROME_ROLES,
    CREDIT_WITHIN,
    DOXYGEN_HEADER,
    DROPPED_TAGS,
    FOOTNOTE_CONTAINERS,
    HEADING_LEVELS,
    HEADING_TAGS,
    LINK_BLOCK_TAGS,
    MAX_BAR_LINKS,
    MAX_CREDIT_CHARS,
    MAX_CREDIT_WRAPPERS,
    MAX_LABEL_CHARS,
    MAX_MENU_LINK_WORDS,
    MAX_QUESTION_CHARS,
    MIN_LINK_ITEMS,
    MIN_TOC_SHARE,
    NAV_RELS,
    REFERENCE_CLASSES,
    SECTIONING_TAGS,
    SPHINX_SOURCE_LINK,
    HtmlPage,
    _Emitter,
    _page_title,
    _site_suffix_removed,
    _squashed,
)

#: Elements whose rules are not ported: any of them sends the page to bs4.
UNPORTED_TAGS = frozenset(
    (
        "summary",  # a question
        # what libxml2 reads as raw text, html.parser as markup
        *("xmp", "plaintext", "noembed", "noframes", "textarea"),
    )
)
#: Classes the unported rules read: footnotes, their references, Doxygen's title.
UNPORTED_CLASSES = frozenset(
    (
        *(name for names in FOOTNOTE_CONTAINERS.values() for name in names),
        *REFERENCE_CLASSES,
        DOXYGEN_HEADER[1],
    )
)
#: Encodings that read ASCII bytes as ASCII (a page of ASCII declaring one reads the same).
ASCII_COMPATIBLE = frozenset(
    ("utf-8", "utf8", "ascii", "us-ascii", "iso-8859-1", "latin-1", "windows-1252", "cp1252")
)
VOID_TAGS = frozenset(HTMLTreeBuilder.DEFAULT_EMPTY_ELEMENT_TAGS or ())

# (No "<" in an attribute's name or bare value: a try at a tag then ends at the next "<",
# and the page is read in linear time however it is written.)
_ATTRIBUTES = r"""(?:\s+[^\s"'<>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*"""
#: The markup html.parser reads: a comment's or the doctype's start, a start or end tag.
_MARKUP = re.compile(
    rf"<(?:(!--)|(!doctype[^<>]*>)|([a-z][a-z0-9]*)({_ATTRIBUTES})\s*(/?)>|/([a-z][a-z0-9]*)\s*>)",
    re.IGNORECASE,
)
#: Markup between what `_MARKUP` reads: anything the two parsers might read differently (an
#: odd tag, a stray `<!`, a processing instruction).
_LEFT_MARKUP = re.compile(r"<[a-zA-Z/!?]")
#: Elements whose content html.parser reads as raw text, up to their end tag.
RAW_TEXT_TAGS = ("script", "style")
_RAW_END = re.compile(r"</(script|style)\s*>", re.IGNORECASE)
_ATTRIBUTE_NAME = re.compile(r"""\s+([^\s"'>/=]+)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_REFERENCE = re.compile(r"&(?:(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);|(?=[\s<&]|$))")
_AMPERSAND = re.compile(r"&")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_XML_PROLOG = re.compile(r"\s*<\?xml\s[^<>]*\?>")
_AFTER_BODY = re.compile(r"</body\s*>\s*(?:</html\s*>)?\s*\Z", re.IGNORECASE)
#: A cheap first look for what `_read` would refuse anyway (links above all: most pages).
_UNPORTED_MARKUP = re.compile(
    rb"<(?:%s)[\s>/]" % "|".join(sorted(UNPORTED_TAGS)).encode(), re.IGNORECASE
)


def read_fast(name: str, data: bytes) -> HtmlPage | None:
    """The page read from libxml2's tree, or None when only bs4's reading is sure."""
    if b"\r" in data or _UNPORTED_MARKUP.search(data):
        return None  # said before any parse
    text = _decoded(data)
    if text is None or _CONTROL.search(text) or not _references_agree(text):
        return None
    expected = _events(text)
    if expected is None:
        return None
    try:
        # (bytes: libxml2 turns down a string that declares its encoding, as XHTML's prolog
        # does; the bytes are ASCII or UTF-8, `_decoded` made sure)
        tree = etree.fromstring(data, etree.HTMLParser(encoding="utf-8", no_network=True))
    except (etree.ParserError, ValueError):
        return None
    if tree is None or not _same_events(tree, expected):
        return None
    return _read(name, tree)


def _decoded(data: bytes) -> str | None:
    """The page's text as bs4 decodes it, when that is sure: ASCII, or UTF-8 declared."""
    if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return None
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    if data.isascii():
        return data.decode("ascii") if declared in (None, *ASCII_COMPATIBLE) else None
    if declared not in ("utf-8", "utf8"):
        return None  # undeclared: bs4 asks charset_normalizer, whose guess is its own
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _references_agree(text: str) -> bool:
    """Every `&` is a character reference both parsers decode alike, or a bare ampersand."""
    found = 0
    for match in _REFERENCE.finditer(text):
        found += 1
        reference = match.group(1)
        if reference is None:
            continue
        if reference[0] != "#":
            if reference not in name2codepoint:
                return False
            continue
        number = int(reference[2:], 16) if reference[1] in "xX" else int(reference[1:])
        if not (number in (9, 10) or 32 <= number < 127 or 160 <= number < 0xD800) and not (
            0xE000 <= number < 0xFFFE or 0x10000 <= number <= 0x10FFFF
        ):
            return False
    return found == len(_AMPERSAND.findall(text))


def _events(text: str) -> list[str] | None:
    """The start ("div") and end ("/div") events of the page's tags as written, when they
    are well nested and end the page; else None. One scan: every end (of a comment, of a
    script) is looked for once, from where it starts. A page may leave its <body> and <html>
    open (both parsers end them with the page), or close them with nothing after."""
    if _BODY_END.search(text) is not None and _AFTER_BODY.search(text) is None:
        return None
    events: list[str] = []
    stack: list[str] = []
    prolog = _XML_PROLOG.match(text)  # XHTML's "<?xml ...?>": outside the page for both
    at = prolog.end() if prolog is not None else 0
    while (match := _MARKUP.search(text, at)) is not None:
        if _LEFT_MARKUP.search(text, at, match.start()):
            return None
        comment, doctype, name, attributes, closed, end_name = match.groups()
        at = match.end()
        if comment is not None:
            at = _comment_end(text, at)
            if at < 0:
                return None
        elif doctype is not None:
            continue
        elif end_name is not None:
            if not stack or stack[-1] != end_name.lower():
                return None
            events.append("/" + stack.pop())
        else:
            name = name.lower()
            if (attributes and not _distinct(attributes)) or (closed and name not in VOID_TAGS):
                return None
            if name in VOID_TAGS:
                events += (name, "/" + name)
            elif name in RAW_TEXT_TAGS:
                # Raw text up to the first "</" both parsers end it at; no "</" inside (older
                # libxml2 ended a script at any), no comment (HTML's script escapes).
                end = text.find("</", at)
                if end < 0 or text.find("<!--", at, end) >= 0:
                    return None
                ending = _RAW_END.match(text, end)
                if ending is None or ending.group(1).lower() != name:
                    return None
                events += (name, "/" + name)
                at = ending.end()
            elif name in ("html", "body") and name in stack:
                return None
            else:
                events.append(name)
                stack.append(name)
    if _LEFT_MARKUP.search(text, at) or stack not in ([], ["html"], ["html", "body"]):
        return None
    events += ["/" + name for name in reversed(stack)]
    return events if events[:1] == ["html"] else None


def _comment_end(text: str, at: int) -> int:
    """Where the comment opened before `at` ends, -1 when the parsers could disagree:
    html.parser ends a comment at "--" and ">" with spaces between, libxml2 does not, and
    "<!-->" is a whole comment to one of them only."""
    end = text.find("-->", at)
    if end < 0:
        return -1
    body = text[at:end]
    if "--" in body or body.startswith((">", "->")) or body.endswith("-"):
        return -1
    return end + 3


def _distinct(attributes: str) -> bool:
    names = [name.lower() for name in _ATTRIBUTE_NAME.findall(attributes)]
    return len(names) == len(set(names))


def _same_events(tree: etree._Element, expected: list[str]) -> bool:
    found: list[str] = []
    for event, element in etree.iterwalk(tree, events=("start", "end")):
        found.append(element.tag if event == "start" else "/" + element.tag)
    return found == expected


# --- the reading ------------------------------------------------------------------------------


def _read(name: str, tree: etree._Element) -> HtmlPage | None:
    metas: dict[str, str] = {}
    chrome: list[etree._Element] = []
    for element in tree.iter():
        tag = element.tag
        if not isinstance(tag, str):
            continue  # a comment
        if tag in UNPORTED_TAGS or not _ported(element):
            return None
        if tag == "meta":
            _meta(element, metas)
        elif tag == "title" and len(element):
            return None  # html.parser reads a title's markup as text
        if tag in DROPPED_TAGS or _hidden(element) or _is_chrome(element):
            chrome.append(element)
    if _maybe_questions(tree):
        return None
    title_tag = next(tree.iter("title"), None)
    page_title = _site_suffix_removed(_inline_text(title_tag)) if title_tag is not None else ""
    if not _drop_outermost(chrome) or not _drop_outermost(_permalinks(tree)):
        return None
    root = _content_root(tree)
    if root is None or not _links_change_nothing(root):
        return None
    h1 = next(tree.iter("h1"), None)
    h1_text = _heading_text(h1) if h1 is not None else ""
    title = _page_title(h1_text, page_title) or humanise_stem(name)
    if not _drop_title_banner(tree, root, title):
        return None
    builder = SectionBuilder()
    _Walker(_Emitter(builder)).walk(_contents(root))
    html_tag = next(tree.iter("html"), None)
    return HtmlPage(
        title=title,
        sections=builder.sections(title),
        metas=metas,
        page_title=page_title,
        has_h1=h1 is not None,
        lang=html_tag.get("lang") if html_tag is not None else None,
    )


def _ported(element: etree._Element) -> bool:
    """Whether no unported rule reads this element's attributes: footnotes and their
    references, Doxygen's title, navigation links by `rel`."""
    attributes = element.attrib
    if not attributes:
        return True
    role = attributes.get("role")
    if role is not None and role.strip().startswith("doc-"):
        return False
    classes = attributes.get("class")
    if classes and not UNPORTED_CLASSES.isdisjoint(classes.split()):
        return False
    rel = attributes.get("rel")
    return rel is None or element.tag != "a" or NAV_RELS.isdisjoint(rel.lower().split())


def _is_chrome(element: etree._Element) -> bool:
    """As `html._is_chrome`."""
    tag = element.tag
    attributes = element.attrib
    if not attributes and tag not in ("form", "header"):
        return False
    role = attributes.get("role")
    if role is not None and role.strip().lower() in CHROME_ROLES:
        return True
    classes = attributes.get("class", "").split()
    if not (CHROME_CLASSES.get(tag, frozenset()) | CHROME_CLASSES["*"]).isdisjoint(classes):
        return True
    if str(attributes.get("id", "")).strip().lower() in CHROME_IDS:
        return True
    if tag == "a":
        return SPHINX_SOURCE_LINK in attributes.get("href", "")
    if tag == "form":
        return any(
            field.get("type") == "search" or field.get("name") == "q"
            for field in element.iter("input")
        )
    return (
        tag == "header"
        and next(element.iterancestors(*SECTIONING_TAGS), None) is None
        and next(element.iter("h1"), None) is None
    )


def _permalinks(tree: etree._Element) -> list[etree._Element]:
    """Anchors in headings that only mark a link to the heading ("¶", "#")."""
    return [
        link
        for heading in tree.iter(*HEADING_TAGS, "dt")
        for link in heading.iter("a")
        if link.get("href", "").startswith("#") and _get_text(link).strip() in _PERMALINK_TEXTS
    ]


def _drop_outermost(elements: list[etree._Element]) -> bool:
    """Drop the elements, in document order, but those inside one dropped before."""
    gone: set[etree._Element] = set()
    for element in elements:
        if element in gone or any(parent in gone for parent in element.iterancestors()):
            continue
        if not _drop(element):
            return False
        gone.add(element)
    return True


def _content_root(tree: etree._Element) -> etree._Element | None:
    """As `html._content_root`; None where bs4 would read the whole page (no <body>)."""
    for candidate in (
        next(tree.iter("main"), None),
        next((e for e in tree.iter(etree.Element) if e.get("role") == "main"), None),
        next((e for e in tree.iter("div") if "body" in e.get("class", "").split()), None),
    ):
        if candidate is not None and _get_text(candidate).strip():
            return candidate
    articles = list(tree.iter("article"))
    if len(articles) == 1 and _get_text(articles[0]).strip():
        return articles[0]
    return next(tree.iter("body"), None)


def _maybe_questions(tree: etree._Element) -> bool:
    """Whether a paragraph might be a question `html._question_paragraphs` makes a heading
    of (all bold, short, asking or linked to), or a list item's title (`html._item_title`:
    an item's all-bold paragraph). Erring on yes: such a page goes to bs4."""
    linked = {
        href[1:]
        for link in tree.iter("a")
        if (href := link.get("href", "")).startswith("#") and len(href) > 1
    }
    paragraphs = {
        parent
        for bold in tree.iter("b", "strong")
        if (parent := bold.getparent()) is not None and parent.tag == "p"
    }
    paragraphs.update(
        paragraph
        for bold in tree.iter("b", "strong")
        if (paragraph := next(bold.iterancestors("p"), None)) is not None
        and paragraph.getparent() is not None
        and paragraph.getparent().tag == "li"
    )
    for paragraph in paragraphs:
        text = _inline_text(paragraph)
        if not text or len(text) > MAX_QUESTION_CHARS or not _all_bold(paragraph, text):
            continue
        in_item = paragraph.getparent() is not None and paragraph.getparent().tag == "li"
        if in_item or text.endswith("?") or _is_link_target(paragraph, linked):
            return True
    return False


def _all_bold(paragraph: etree._Element, text: str) -> bool:
    """As `html._all_bold`."""
    bold = [
        element
        for element in paragraph.iter("b", "strong")
        if element is not paragraph
        and not any(parent.tag in ("b", "strong") for parent in _between(element, paragraph))
    ]
    return _squashed("".join(_inline_text(tag) for tag in bold)) == _squashed(text)


def _between(element: etree._Element, top: etree._Element) -> list[etree._Element]:
    """The ancestors of `element` below `top`."""
    parents = []
    for parent in element.iterancestors():
        if parent is top:
            break
        parents.append(parent)
    return parents


def _is_link_target(tag: etree._Element, linked: set[str]) -> bool:
    """As `html._is_link_target`."""
    for candidate in tag.iter(etree.Element):
        if candidate.get("id") in linked or candidate.get("name") in linked:
            return True
    previous = next(tag.itersiblings(etree.Element, preceding=True), None)
    return (
        previous is not None
        and previous.tag == "a"
        and not _get_text(previous).strip()
        and (previous.get("name") in linked or previous.get("id") in linked)
    )


# --- links: the fast path reads a page whose link rules would take nothing out -----------------


def _links_change_nothing(root: etree._Element) -> bool:
    """Drop the link lists as `html._drop_link_lists` does; then whether the other rules for
    links (links one per line, the generator's credit) would leave the content as it is.
    False, where one might not or a drop cannot be made alike: the page goes to bs4."""
    elements = list(root.iter(etree.Element))[1:]  # (not the root: `find_all`'s list)
    if not any(e.tag == "a" and e.get("href") for e in elements):
        return True
    if not _drop_link_lists(root, elements):
        return False
    elements = list(root.iter(etree.Element))[1:]
    return _no_link_run(root, elements) and _no_credit(root, elements)


def _drop_link_lists(root: etree._Element, elements: list[etree._Element]) -> bool:
    """As `html._drop_link_lists` (see there); False when a drop cannot be made alike."""
    order = {element: index for index, element in enumerate(elements)}
    first_heading = next((e for e in elements if e.tag in HEADING_LEVELS), None)
    content_starts = order[first_heading] if first_heading is not None else len(elements)
    link_counts: dict[etree._Element, int] = {}
    holds_heading: set[etree._Element] = set()
    holds_table: set[etree._Element] = set()
    for element in reversed(elements):
        count = int(element.tag == "a" and bool(element.get("href")))
        for child in element.iterchildren(etree.Element):
            count += link_counts[child]
            if child.tag in HEADING_LEVELS or child in holds_heading:
                holds_heading.add(element)
            if child.tag == "table" or child in holds_table:
                holds_table.add(element)
        link_counts[element] = count
    blocks = [
        block
        for block in elements
        if block.tag in LINK_BLOCK_TAGS
        and link_counts[block] >= MIN_LINK_ITEMS
        and block not in holds_heading
        and not (block.tag == "table" and block in holds_table)
    ]
    items: dict[etree._Element, list[etree._Element] | None] = {}
    shown: dict[tuple[str, ...], set[frozenset[etree._Element]]] = {}
    for block in blocks:
        if link_counts[block] <= MAX_BAR_LINKS:
            links = items[block] = _link_items(block)
            if links and all(len(_get_text(link).split()) <= MAX_MENU_LINK_WORDS for link in links):
                shown.setdefault(_link_texts(links), set()).add(frozenset(links))
    bar_links = {text for texts, copies in shown.items() if len(copies) > 1 for text in texts}
    gone: set[etree._Element] = set()
    for block in blocks:
        if block in gone or any(parent in gone for parent in block.iterancestors()):
            continue
        links = items[block] if block in items else _link_items(block)
        if not links:
            continue
        texts = _link_texts(links) if block in items else ()
        repeated = texts in shown and bar_links.issuperset(texts)
        if repeated or _is_navigation(links, order[block] < content_starts):
            extent = _navigation_extent(block, root, holds_heading)
            if not _drop(extent):
                return False
            gone.add(extent)
    return True


def _link_texts(links: list[etree._Element]) -> tuple[str, ...]:
    return tuple(_squashed(_get_text(link)) for link in links)


def _is_navigation(links: list[etree._Element], before_content: bool) -> bool:
    """As `html._is_navigation`."""
    in_page = sum(str(link.get("href")).startswith("#") for link in links)
    if in_page >= MIN_TOC_SHARE * len(links):
        return True
    short = all(len(_get_text(link).split()) <= MAX_MENU_LINK_WORDS for link in links)
    return before_content and short


def _navigation_extent(
    block: etree._Element, root: etree._Element, holds_heading: set[etree._Element]
) -> etree._Element:
    """As `html._navigation_extent`: the block, or its outermost wrapper of a label's text."""
    extent = block
    while (
        (parent := extent.getparent()) is not None
        and parent is not root
        and parent not in holds_heading
        and _non_link_chars(parent) <= MAX_LABEL_CHARS
    ):
        extent = parent
    return extent


def _non_link_chars(tag: etree._Element) -> int:
    links = sum(
        len(_squashed(_get_text(link)))
        for link in tag.iter("a")
        if link is not tag and link.get("href") is not None
    )
    return len(_squashed(_get_text(tag))) - links


def _link_items(block: etree._Element) -> list[etree._Element] | None:
    """As `html._link_items`."""
    strings = [node for node in _children(block) if isinstance(node, str)]
    if any(_LINK_SEPARATORS.sub("", string) for string in strings):
        return None
    links: list[etree._Element] = []
    for child in block.iterchildren(etree.Element):
        text = _LINK_SEPARATORS.sub("", _get_text(child))
        if not text:
            continue
        item_links = [child] if child.tag == "a" else _top_links(child)
        linked = "".join(_LINK_SEPARATORS.sub("", _get_text(link)) for link in item_links)
        if not item_links or linked != text:
            return None
        links.extend(item_links)
    return links if len(links) >= MIN_LINK_ITEMS else None


def _top_links(item: etree._Element) -> list[etree._Element]:
    links = []
    for link in item.iter("a"):
        if link is item:
            continue
        parent = link.getparent()
        while parent is not None and parent is not item and parent.tag != "a":
            parent = parent.getparent()
        if (parent is None or parent is item) and link.get("href"):
            links.append(link)
    return links


def _no_link_run(root: etree._Element, elements: list[etree._Element]) -> bool:
    """No run of `MIN_LINK_ITEMS` links one per line (`html._drop_link_runs` reads those)."""
    holders = {link.getparent() for link in elements if link.tag == "a" and link.get("href")}
    for parent in (root, *elements):
        if parent not in holders:
            continue
        run = 0
        broken = True  # a line break since the run's last link
        for child in _children(parent):
            if isinstance(child, str):
                if _LINK_SEPARATORS.sub("", child):
                    run, broken = 0, True
            elif child.tag == "a" and child.get("href"):
                run = 1 if not broken else run + 1
                broken = False
                if run >= MIN_LINK_ITEMS:
                    return False
            elif child.tag == "br":
                broken = True
            else:
                run, broken = 0, True
    return True


def _no_credit(root: etree._Element, elements: list[etree._Element]) -> bool:
    """None of the page's last blocks is the credit `html._drop_generator_credit` drops."""
    blocks: list[etree._Element] = []
    for element in reversed(elements):
        if len(blocks) == CREDIT_WITHIN:
            break
        if element.tag in ("p", "div", "address", "small", "font") and _get_text(element).strip():
            blocks.append(element)
    for block in reversed(blocks):
        for _ in range(MAX_CREDIT_WRAPPERS):
            parent = block.getparent()
            if parent is None or parent is root:
                break
            if _squashed(_get_text(parent)) != _squashed(_get_text(block)):
                break
            block = parent
        text = " ".join(_get_text(block).split())
        linked = any(link.get("href") is not None for link in block.iter("a") if link is not block)
        if linked and len(text) <= MAX_CREDIT_CHARS and _GENERATOR_CREDIT.match(text):
            return False
    return True


def _hidden(element: etree._Element) -> bool:
    attributes = element.attrib
    return bool(attributes) and (
        "hidden" in attributes or str(attributes.get("aria-hidden", "")).lower() == "true"
    )


def _meta(element: etree._Element, metas: dict[str, str]) -> None:
    """As `html._meta_tags` reads one."""
    key = element.get("name") or element.get("property") or element.get("http-equiv")
    content = element.get("content")
    if isinstance(key, str) and isinstance(content, str) and content.strip():
        metas.setdefault(key.strip().lower(), " ".join(content.split()))


def _drop(element: etree._Element) -> bool:
    """Take an element out of the tree, its tail staying. bs4 keeps the text before and after
    a decomposed element as two strings where libxml2's tree joins them: the same for every
    rule but the title banner's (which compares strings one by one), so a page where both
    hold words is left to bs4 (False)."""
    parent = element.getparent()
    if parent is None:
        return False
    previous = element.getprevious()
    before = parent.text if previous is None else previous.tail
    tail = element.tail
    if tail and tail.strip() and before and before.strip():
        return False
    if tail:
        if previous is None:
            parent.text = (parent.text or "") + tail
        else:
            previous.tail = (previous.tail or "") + tail
    parent.remove(element)
    return True


def _drop_title_banner(tree: etree._Element, root: etree._Element, title: str) -> bool:
    """As `html._drop_title_banner`: a block before the first heading that only repeats the
    page title goes. (False: a string shared with a dropped element's neighbour; see `_drop`.)"""
    first_heading = next(root.iter(*HEADING_TAGS), None)
    wanted = _squashed(title).casefold()
    if first_heading is None or not wanted:
        return True
    pieces: list[tuple[str, etree._Element]] = []  # each string and its parent
    for event, element in etree.iterwalk(tree, events=("start", "end", "comment")):
        if event == "start":
            if element is first_heading:
                break
            if element.text:
                pieces.append((element.text, element))
        elif element.tail and (parent := element.getparent()) is not None:
            pieces.append((element.tail, parent))
    for piece, banner in reversed(pieces):
        if _squashed(piece).casefold() != wanted or banner is root:
            continue
        if not any(parent is root for parent in banner.iterancestors()):
            continue  # outside the content, or in a banner already dropped
        while (
            (wrapper := banner.getparent()) is not None
            and wrapper is not root
            and _squashed(_get_text(wrapper)).casefold() == wanted
        ):
            banner = wrapper
        if not _drop(banner):
            return False
    return True
