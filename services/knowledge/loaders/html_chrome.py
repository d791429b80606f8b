"""The bs4 path of the HTML loader (`html.py`): chrome and navigation dropped, the content
root found, the title banner and the generator's credit removed (the rules in `html.py`'s
docstring)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bs4 import BeautifulSoup, NavigableString, Tag

from services.knowledge.loaders.html_text import (
    _GENERATOR_CREDIT,
    _LINK_SEPARATORS,
    _PERMALINK_TEXTS,
    CHROME_CLASSES,
    CHROME_IDS,
    CHROME_ROLES,
    CREDIT_WITHIN,
    DROPPED_TAGS,
    HEADING_LEVELS,
    HEADING_TAGS,
    LINK_BLOCK_TAGS,
    MAX_BAR_LINKS,
    MAX_CREDIT_CHARS,
    MAX_CREDIT_WRAPPERS,
    MAX_LABEL_CHARS,
    MAX_MENU_LINK_WORDS,
    MAX_NAV_LABEL_CHARS,
    MAX_NAV_REL_LINKS,
    MIN_LINK_ITEMS,
    MIN_NAV_REL_LINKS,
    MIN_TOC_SHARE,
    NAV_REL_BLOCKS,
    NAV_RELS,
    SECTIONING_TAGS,
    SPHINX_SOURCE_LINK,
    _squashed,
)

if TYPE_CHECKING:
    # bs4's own name for what an attribute filter may be (a `dict` of it is invariant)
    from bs4._typing import _StrainableAttribute
from services.knowledge.loaders.html_soup import (
    _classes,
    _has_ancestor,
    _live,
    _named,
    _nearest,
    _removed,
)

SEARCH_INPUTS: tuple[dict[str, _StrainableAttribute], ...] = ({"type": "search"}, {"name": "q"})


# --- chrome and content -----------------------------------------------------------------


def _is_hidden(tag: Tag) -> bool:
    if not tag.attrs:  # most elements: no attribute to read
        return False
    return tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true"


def _is_permalink(tag: Tag) -> bool:
    href = tag.get("href")
    text = tag.get_text().strip()
    return isinstance(href, str) and href.startswith("#") and text in _PERMALINK_TEXTS


def _is_chrome(tag: Tag) -> bool:
    if not tag.attrs and tag.name not in ("form", "header"):
        return False  # a role, class, id or link: all attributes
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


def _drop_chrome(elements: list[Tag]) -> None:
    for tag in elements:
        if not _removed(tag) and (tag.name in DROPPED_TAGS or _is_hidden(tag) or _is_chrome(tag)):
            tag.decompose()
    # Only anchors inside headings and terms: "#" elsewhere may be a real, if odd, link text.
    for holder in _named(elements, (*HEADING_TAGS, "dt")):
        for link in holder.find_all("a"):
            if not _removed(link) and _is_permalink(link):
                link.decompose()
    _drop_rel_navigation(elements)


def _drop_rel_navigation(elements: list[Tag]) -> None:
    """Blocks of links that say they lead to the next, previous, parent or contents page
    (`rel="next"`, ...: makeinfo's "Next: …, Previous: …, Up: … [Contents][Index]" above
    every node) with no more than a label's worth of other text."""
    blocks: dict[int, Tag] = {}
    for link in _named(elements, "a"):
        if link.get("rel") is None:
            continue
        block = _nearest(link, NAV_REL_BLOCKS)
        if block is not None and _rels(link) & NAV_RELS:
            blocks.setdefault(id(block), block)
    for block in blocks.values():
        if not _removed(block) and _is_rel_bar(block):
            block.decompose()


def _is_rel_bar(block: Tag) -> bool:
    """Whether `block` holds `MIN_NAV_REL_LINKS` to `MAX_NAV_REL_LINKS` links, all with a
    navigation `rel`, and at most `MAX_NAV_LABEL_CHARS` of other text. One walk that stops
    as soon as the answer is no: a block nested thousands deep is not read to its end."""
    links = label = 0
    stack = list(reversed(block.contents))
    while stack:
        node = stack.pop()
        if isinstance(node, Tag):
            if node.name == "a" and node.get("href"):
                links += 1
                if links > MAX_NAV_REL_LINKS or not _rels(node) & NAV_RELS:
                    return False
            else:
                stack.extend(reversed(node.contents))
        elif type(node) is NavigableString:
            label += len(_squashed(node))
            if label > MAX_NAV_LABEL_CHARS:
                return False
    return links >= MIN_NAV_REL_LINKS


def _rels(link: Tag) -> frozenset[str]:
    rel = link.get("rel")
    values = rel if isinstance(rel, list) else str(rel or "").split()
    return frozenset(str(value).lower() for value in values)


def _content_root(soup: BeautifulSoup, elements: list[Tag]) -> Tag | BeautifulSoup:
    for candidate in (
        next(iter(_named(elements, "main")), None),
        next((tag for tag in elements if tag.get("role") == "main"), None),
        next((tag for tag in elements if tag.name == "div" and "body" in _classes(tag)), None),
    ):
        if isinstance(candidate, Tag) and candidate.get_text(strip=True):
            return candidate
    articles = [tag for tag in elements if tag.name == "article"]
    if len(articles) == 1 and articles[0].get_text(strip=True):
        return articles[0]
    body = next(iter(_named(elements, "body")), None)
    return body if isinstance(body, Tag) else soup


def _in_page_targets(elements: list[Tag]) -> frozenset[str]:
    return frozenset(
        href[1:]
        for tag in _named(elements, "a")
        if isinstance(href := tag.get("href"), str) and href.startswith("#") and len(href) > 1
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


def _drop_link_lists(root: Tag | BeautifulSoup, in_root: list[Tag]) -> None:
    elements = _live(in_root)
    order = {id(tag): index for index, tag in enumerate(elements)}
    first_heading = next((tag for tag in elements if tag.name in HEADING_LEVELS), None)
    content_starts = order[id(first_heading)] if first_heading is not None else len(elements)
    # Per element: links and headings inside it, counted bottom-up in one pass (walking up
    # from every link would be quadratic on the deep trees unclosed tags make).
    link_counts: dict[int, int] = {}
    holds_heading: set[int] = set()
    holds_table: set[int] = set()
    for tag in reversed(elements):
        count = int(tag.name == "a" and bool(tag.get("href")))
        for child in tag.children:
            if isinstance(child, Tag):
                count += link_counts[id(child)]
                if child.name in HEADING_LEVELS or id(child) in holds_heading:
                    holds_heading.add(id(tag))
                if child.name == "table" or id(child) in holds_table:
                    holds_table.add(id(tag))
        link_counts[id(tag)] = count
    # A table is a bar of links only when it holds no other table (a layout table does).
    blocks = [
        block
        for block in elements
        if block.name in LINK_BLOCK_TAGS
        and link_counts[id(block)] >= MIN_LINK_ITEMS
        and id(block) not in holds_heading
        and not (block.name == "table" and id(block) in holds_table)
    ]
    # A bar of short links the page shows twice or more (above and below the content, as
    # texi2html and many site templates do) is navigation wherever it stands, and so is a bar
    # made of links of such bars (texi2html's last bar leaves out "Up", "<" and ">"). Bars
    # are short, so only blocks of at most `MAX_BAR_LINKS` links are read for them: reading
    # every nested block's links would be quadratic on the deep trees unclosed tags make.
    items: dict[int, list[Tag] | None] = {}
    shown: dict[tuple[str, ...], set[frozenset[int]]] = {}
    for block in blocks:
        if link_counts[id(block)] <= MAX_BAR_LINKS:
            links = items[id(block)] = _link_items(block)
            if links and all(len(link.get_text().split()) <= MAX_MENU_LINK_WORDS for link in links):
                shown.setdefault(_link_texts(links), set()).add(frozenset(map(id, links)))
    bar_links = {text for texts, copies in shown.items() if len(copies) > 1 for text in texts}
    for block in blocks:
        if _removed(block):
            continue
        links = items[id(block)] if id(block) in items else _link_items(block)
        if not links:
            continue
        texts = _link_texts(links) if id(block) in items else ()
        repeated = texts in shown and bar_links.issuperset(texts)
        if repeated or _is_navigation(links, order[id(block)] < content_starts):
            _navigation_extent(block, root, holds_heading).decompose()
    _drop_link_runs(root, elements, order, content_starts)


def _link_texts(links: Sequence[Tag]) -> tuple[str, ...]:
    return tuple(_squashed(link.get_text()) for link in links)


def _drop_link_runs(
    root: Tag | BeautifulSoup, in_root: list[Tag], order: dict[int, int], content_starts: int
) -> None:
    """Links one per line (`<a>`s separated by `<br>`, as groff's HTML lists a man page's
    sections) that are navigation by the link lists' rule. Links in a line of text ("base:
    Car, Truck, Vehicle") are not such a run. Only the elements with a link among their
    children are read (a list of 100,000 items holds no run)."""
    elements = _live(in_root)
    holders = {id(link.parent) for link in elements if link.name == "a" and link.get("href")}
    for parent in [root, *elements]:
        if id(parent) not in holders or _removed(parent):
            continue
        run: list[Tag] = []
        runs: list[list[Tag]] = []
        broken = True  # a line break since the run's last link
        for child in parent.children:
            if isinstance(child, Tag) and child.name == "a" and child.get("href"):
                if not broken:
                    runs.append(run)
                    run = []
                run.append(child)
                broken = False
            elif isinstance(child, Tag) and child.name == "br":
                broken = True
            elif not _between_links(child):
                runs.append(run)
                run = []
                broken = True
        runs.append(run)
        for links in runs:
            if len(links) >= MIN_LINK_ITEMS and _is_navigation(
                links, order.get(id(links[0]), content_starts) < content_starts
            ):
                for link in links:
                    following = link.next_sibling
                    link.decompose()
                    if isinstance(following, Tag) and following.name == "br":
                        following.decompose()


def _between_links(node: object) -> bool:
    """A line break, or text that only separates links ("|", "·", spaces)."""
    if isinstance(node, Tag):
        return node.name == "br"
    return type(node) is NavigableString and not _LINK_SEPARATORS.sub("", node)


def _drop_generator_credit(root: Tag | BeautifulSoup, in_root: list[Tag]) -> None:
    """A block among the page's last (`CREDIT_WITHIN`) that only credits the tool that
    generated the page, with a link to it (a closing line of content, "Produced by HR with
    Legal.", links nowhere)."""
    blocks: list[Tag] = []
    for tag in reversed(_named(in_root, ("p", "div", "address", "small", "font"))):
        if len(blocks) == CREDIT_WITHIN:
            break
        if tag.get_text(strip=True):
            blocks.append(tag)
    for block in reversed(blocks):
        if _removed(block):
            continue
        for _ in range(MAX_CREDIT_WRAPPERS):  # bounded: unclosed tags nest thousands deep
            parent = block.parent
            if not isinstance(parent, Tag) or parent is root:
                break
            if _squashed(parent.get_text()) != _squashed(block.get_text()):
                break
            block = parent
        text = " ".join(block.get_text().split())
        linked = block.find("a", href=True) is not None  # to the tool's site
        if linked and len(text) <= MAX_CREDIT_CHARS and _GENERATOR_CREDIT.match(text):
            block.decompose()


def _drop_title_banner(root: Tag | BeautifulSoup, title: str, in_root: list[Tag]) -> None:
    """A block before the first heading that only repeats the page title is a banner."""
    first_heading = next(iter(_named(in_root, HEADING_TAGS)), None)
    wanted = _squashed(title).casefold()
    if first_heading is None or not wanted:
        return
    repeats = [
        piece
        for piece in first_heading.previous_elements
        if type(piece) is NavigableString and _squashed(piece).casefold() == wanted
    ]
    for piece in repeats:
        # A string inside a banner dropped before is wiped (bs4's `decompose` empties it, its
        # `parent` included): html.parser's tree of misnested tags can link a string before
        # the heading that a banner found from a later string holds.
        if getattr(piece, "_decomposed", False):
            continue
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
