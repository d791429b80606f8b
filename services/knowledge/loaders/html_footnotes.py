"""The bs4 path of the HTML loader (`html.py`): footnotes taken out of the running text and
their references removed, to be kept at the end of their section (the rules in `html.py`'s
docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bs4 import BeautifulSoup, Tag

from services.knowledge.loaders.html_text import (
    _FOOTNOTE_LABEL,
    BACKREF_SELECTORS,
    FOOTNOTE_CONTAINER_ROLES,
    FOOTNOTE_CONTAINERS,
    FOOTNOTE_ITEM_SELECTORS,
    REFERENCE_CLASSES,
    REFERENCE_ROLE,
    _squashed,
)

if TYPE_CHECKING:
    # bs4's own name for what an attribute filter may be (a `dict` of it is invariant)
    pass
from services.knowledge.loaders.html_soup import (
    _classes,
    _inline_text,
    _list_start,
    _named,
    _outermost,
    _remove,
    _removed,
)


@dataclass
class _Footnote:
    label: str | None
    body: Tag


def _take_footnotes(
    root: Tag | BeautifulSoup, in_root: list[Tag]
) -> tuple[list[_Footnote], set[int]]:
    """Detach the footnotes from the running text (removing the markers that point at them);
    returns them, and the ids of the elements taken out with them."""
    containers = _outermost(tag for tag in in_root if _is_footnotes(tag))
    detached = {
        id(tag) for container in containers for tag in (container, *container.find_all(True))
    }
    note_ids = {
        str(tag["id"]) for container in containers for tag in container.find_all(id=True)
    } | {str(container["id"]) for container in containers if container.get("id")}
    reference_ids = _remove_references(in_root, note_ids, containers)
    footnotes: list[_Footnote] = []
    for container in containers:
        footnotes.extend(_footnotes_in(container, reference_ids))
        container.extract()
    return footnotes, detached


def _in_page_target(link: Tag) -> str | None:
    href = link.get("href")
    return href[1:] if isinstance(href, str) and href.startswith("#") else None


def _points_at_note(link: Tag, note_ids: set[str]) -> bool:
    """A link to a footnote that reads like its marker ("1", "[2]", "*"): a sentence that
    links to a footnote ("see note 1") stays."""
    label = _bare_label(_inline_text(link))
    return _in_page_target(link) in note_ids and bool(label and _FOOTNOTE_LABEL.match(label))


def _is_footnotes(tag: Tag) -> bool:
    if not tag.attrs:  # a role or a class
        return False
    role = tag.get("role")
    if isinstance(role, str) and role.strip() in FOOTNOTE_CONTAINER_ROLES:
        return True
    return bool(_classes(tag) & FOOTNOTE_CONTAINERS.get(tag.name, frozenset()))


def _is_reference(tag: Tag) -> bool:
    return bool(_classes(tag) & REFERENCE_CLASSES) or tag.get("role") == REFERENCE_ROLE


def _remove_references(in_root: list[Tag], note_ids: set[str], containers: list[Tag]) -> set[str]:
    """Remove footnote reference markers; returns their ids (what back-links point at)."""
    markers = [
        tag
        for tag in _named(in_root, ("a", "sup"))
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
    found = container.select(FOOTNOTE_ITEM_SELECTORS) or [container]
    return [_labelled(item, reference_ids, None) for item in found]


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
