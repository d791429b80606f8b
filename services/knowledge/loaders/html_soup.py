"""The bs4 path of the HTML loader (`html.py`): the text and tag helpers its passes share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from bs4 import NavigableString, Tag
from bs4.element import PreformattedString

from services.knowledge.loaders.html_text import (
    _HEADING_DECORATION,
    _PUNCTUATION_START,
    DOXYGEN_HEADER,
    WORD_BREAK_TAGS,
    _integer,
)

if TYPE_CHECKING:
    # bs4's own name for what an attribute filter may be (a `dict` of it is invariant)
    pass


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


def _header_title(elements: list[Tag]) -> str:
    """A Doxygen page's title, taken out of the page (its <h1>s are the page's sections)."""
    header_class, title_class = DOXYGEN_HEADER
    title = next((tag for tag in _named(elements, "div") if title_class in _classes(tag)), None)
    header = title.find_parent("div", class_=header_class) if isinstance(title, Tag) else None
    if header is None or not isinstance(title, Tag):  # a header is found from a Tag only
        return ""
    text = " ".join(title.get_text().split())
    header.decompose()
    return text


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
    """Whether the tag was decomposed: bs4's `decompose` names every element it wipes "",
    a name no parsed element has. (bs4's `decomposed` property looks its flag up with
    `getattr`, which on a live tag falls through to `tag.find("_decomposed")`: a search of
    the whole subtree, quadratic over a page; and `vars(tag)` builds each tag a dictionary
    of its attributes the first time it is asked, a quarter of the loader's own passes on a
    page of many short elements.)"""
    return tag.name == ""


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


def _named(elements: Iterable[Tag], names: str | Iterable[str]) -> list[Tag]:
    """The elements of these names still in the page (`node.find_all(names)` over
    `node.find_all(True)`). bs4's generic matcher, which `find_all` runs with a name, costs
    more than the page's parse on a page of many short elements; `find_all(True)` takes a
    fast path, and a set lookup per element is cheap. A decomposed element's name is ""."""
    wanted = frozenset((names,) if isinstance(names, str) else names)
    return [tag for tag in elements if tag.name in wanted]


def _live(elements: Iterable[Tag]) -> list[Tag]:
    """The elements not decomposed since the list was made."""
    return [tag for tag in elements if not _removed(tag)]


def _first(node: Tag, names: str | Iterable[str]) -> Tag | None:
    """`node.find(names)`, without bs4's generic matcher (see `_named`)."""
    wanted = frozenset((names,) if isinstance(names, str) else names)
    return next(
        (tag for tag in node.descendants if isinstance(tag, Tag) and tag.name in wanted), None
    )


def _outermost(tags: Iterable[Tag]) -> list[Tag]:
    """The tags not inside another one of them, in document order."""
    chosen = list(tags)
    ids = {id(tag) for tag in chosen}
    return [tag for tag in chosen if not any(id(parent) in ids for parent in tag.parents)]


def _list_start(ordered: Tag) -> int:
    """The first item's number: the list's `start`, else 1, or the count of its items when it
    counts down (`reversed`)."""
    start = _integer(ordered.get("start"))
    if start is not None:
        return start
    if ordered.has_attr("reversed"):
        return sum(1 for item in ordered.find_all("li") if _nearest(item, ("ol", "ul")) is ordered)
    return 1
