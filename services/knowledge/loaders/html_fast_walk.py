"""The HTML loader's fast path, its walk: `html._Walker`'s reading of a page's content, over
the tree libxml2 builds (see `html_fast` for which pages take it), and the text helpers of
that tree that mirror bs4's (`contents`, `get_text`, `html._inline_text`).

libxml2's tree keeps a string as an element's `text` (before its first child) or a child's
`tail` (after it) where bs4 has a string node; `_children` lists them in bs4's order.
Comments are elements of their own in libxml2's tree, strings in bs4's (`Comment`), which the
walk and the text helpers leave out and a few rules read as strings (see `_definitions`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lxml import etree

from services.knowledge.loaders.html_text import (
    _HEADING_DECORATION,
    BLOCK_TAGS,
    HEADING_LEVELS,
    WORD_BREAK_TAGS,
    _CloseSubheadings,
    _Emitter,
    _Glue,
    _Inline,
    _integer,
    _Newlines,
    _Subheading,
    _table_row,
    reads_as_prose,
)


def _children(element: etree._Element) -> list[etree._Element | str]:
    """An element's children as bs4 lists them: elements, comments and strings."""
    nodes: list[etree._Element | str] = [element.text] if element.text else []
    for child in element:
        nodes.append(child)
        if child.tail:
            nodes.append(child.tail)
    return nodes


def _contents(element: etree._Element) -> list[object]:
    """An element's children and strings, as bs4's `contents` (comments left out)."""
    nodes: list[object] = [element.text] if element.text else []
    for child in element:
        if isinstance(child.tag, str):
            nodes.append(child)
        if child.tail:
            nodes.append(child.tail)
    return nodes


def _strings(node: etree._Element, breaks: bool) -> list[str]:
    """The strings in an element, in document order (comments left out), and a space for
    every word-breaking element in it when `breaks`."""
    if not len(node):
        return [node.text] if node.text else []
    parts: list[str] = []
    for event, element in etree.iterwalk(node, events=("start", "end", "comment")):
        if event == "start":
            if breaks and element is not node and element.tag in WORD_BREAK_TAGS:
                parts.append(" ")
            if element.text:
                parts.append(element.text)
        elif element is not node and element.tail:
            parts.append(element.tail)
    return parts


def _inline_text(node: etree._Element) -> str:
    """As `html._inline_text`."""
    return " ".join("".join(_strings(node, True)).split())


def _heading_text(node: etree._Element) -> str:
    return _inline_text(node).strip(_HEADING_DECORATION)


def _get_text(node: etree._Element) -> str:
    return "".join(_strings(node, False))


class _Walker:
    """`html._Walker` over libxml2's tree, for the elements the fast path takes."""

    def __init__(self, out: _Emitter) -> None:
        self.out = out
        self.stack: list[object] = []
        self.numbers: dict[etree._Element, int] = {}  # next item number of each <ol>

    def walk(self, nodes: Iterable[object]) -> None:
        self.stack.extend(reversed(list(nodes)))
        while self.stack:
            node = self.stack.pop()
            if isinstance(node, str):
                self.out.inline(node)
            elif isinstance(node, etree._Element):
                if isinstance(node.tag, str):  # (not a comment)
                    self._element(node)
            elif isinstance(node, _Newlines):
                self.out.newlines(node.count)
            elif isinstance(node, _Inline):
                self.out.inline(node.text)
            elif isinstance(node, _Glue):
                self.out.glued = True
            elif isinstance(node, _Subheading):
                self.out.subheading(node.text)
            elif isinstance(node, _CloseSubheadings):
                self.out.close_subheadings()

    def _push(self, *nodes: object) -> None:
        self.stack.extend(reversed(nodes))

    def _element(self, node: etree._Element) -> None:
        out = self.out
        name = node.tag
        if name in HEADING_LEVELS:
            out.heading(HEADING_LEVELS[name], _heading_text(node))
        elif name == "br":
            out.newlines(1)
        elif name == "pre":
            code = _get_text(node).strip("\n")
            if code.strip():
                out.block(code if reads_as_prose(code) else f"```\n{code}\n```")
        elif name == "table":
            rows = [row for tr in node.iter("tr") if (row := _row(tr))]
            if rows:
                out.block("\n".join(rows))
        elif name == "dl":
            self._push(*_definitions(node))
        elif name == "li":
            out.unglue()
            out.newlines(1)
            out.inline(self._marker(node))
            self._push(_Glue(), *_contents(node), _Newlines(1))
        elif name in BLOCK_TAGS:
            out.newlines(2)
            self._push(*_contents(node), _Newlines(2))
        else:
            self._push(*_contents(node))

    def _marker(self, item: etree._Element) -> str:
        """ "- " or the item's number, as `html._Walker` numbers it."""
        parent = next(item.iterancestors("ol", "ul"), None)
        if parent is None or parent.tag != "ol":
            return "- "
        number = _integer(item.get("value"))
        if number is None:
            number = self.numbers.get(parent)
            if number is None:
                number = _list_start(parent)
        self.numbers[parent] = number + (-1 if "reversed" in parent.attrib else 1)
        return f"{number}. "


def _definitions(definitions: etree._Element) -> list[object]:
    """As `html._Walker._definitions`: each term with its description, "label — description";
    a question term as the heading of its answer."""
    nodes: list[object] = []
    asked = False
    for terms, descriptions in _definition_groups(definitions):
        label = ", ".join(text for term in terms if (text := _inline_text(term)))
        label = label.rstrip(":").strip()
        if label.endswith("?"):
            asked = True
            nodes.append(_Subheading(label))
            for description in descriptions:
                nodes.extend((_Newlines(2), *_children(description), _Newlines(2)))
            continue
        nodes.append(_Newlines(2))
        if label:
            nodes.append(_Inline(label))
        for index, description in enumerate(descriptions):
            if index == 0 and label and _opens_with_block(description):
                nodes.append(_Inline(":"))
            elif index == 0 and label and _inline_text(description):
                nodes.extend((_Inline(" — "), _Glue()))
            else:
                nodes.append(_Newlines(2))
            contents = _children(description)
            nodes.extend(_run_on(contents) if label else contents)
        nodes.append(_Newlines(2))
    if asked:
        nodes.append(_CloseSubheadings())
    return nodes


def _definition_groups(
    definitions: etree._Element,
) -> list[tuple[list[etree._Element], list[etree._Element]]]:
    """As `html._definition_groups`: (terms, descriptions) of a <dl>, through <div>s."""
    groups: list[tuple[list[etree._Element], list[etree._Element]]] = []
    children = list(definitions.iterchildren(etree.Element))
    while children:
        child = children.pop(0)
        if child.tag == "div":
            children[:0] = list(child.iterchildren(etree.Element))
        elif child.tag == "dt":
            if not groups or groups[-1][1]:
                groups.append(([], []))
            groups[-1][0].append(child)
        elif child.tag == "dd":
            if not groups:
                groups.append(([], []))
            groups[-1][1].append(child)
    return groups


def _string(node: object) -> str | None:
    """The string a node is to bs4 (a comment's text too: bs4's `Comment` is a string), None
    for an element."""
    if isinstance(node, str):
        return node
    if isinstance(node, etree._Element) and not isinstance(node.tag, str):
        return node.text or ""
    return None


def _opens_with_block(description: etree._Element) -> bool:
    """As `html._opens_with_block`."""
    for child in _children(description):
        string = _string(child)
        if string is not None:
            if string.strip():
                return False
            continue
        if _paragraph_text(child) is not None:
            return False
        return (
            isinstance(child, etree._Element)
            and child.tag in WORD_BREAK_TAGS
            and bool(_get_text(child).strip())
        )
    return False


def _paragraph_text(node: object) -> list[object] | None:
    """As `html._paragraph_text`."""
    if not isinstance(node, etree._Element) or not isinstance(node.tag, str):
        return None
    if node.tag == "p":
        return _children(node)
    if node.tag != "div":
        return None
    blocks = [c for c in _children(node) if not ((s := _string(c)) is not None and not s.strip())]
    inner = [_paragraph_text(c) for c in blocks]
    if not blocks or any(part is None for part in inner):
        return None
    return [piece for part in inner for piece in (*(part or ()), _Inline(" "))]


def _run_on(contents: Sequence[object]) -> list[object]:
    """As `html._run_on`."""
    nodes: list[object] = []
    running = False
    for child in contents:
        string = _string(child)
        if string is not None and not string.strip():
            nodes.append(child)
            continue
        inline = _paragraph_text(child)
        if inline is None:
            nodes.append(child)
            running = not (
                isinstance(child, etree._Element)
                and isinstance(child.tag, str)
                and child.tag in WORD_BREAK_TAGS
            )
            continue
        nodes.append(_Inline(" ") if running else _Newlines(2))
        nodes.extend(inline)
        running = True
    return nodes


def _list_start(ordered: etree._Element) -> int:
    start = _integer(ordered.get("start"))
    if start is not None:
        return start
    if "reversed" in ordered.attrib:
        return sum(
            1 for item in ordered.iter("li") if next(item.iterancestors("ol", "ul")) is ordered
        )
    return 1


def _row(row: etree._Element) -> str | None:
    return _table_row(
        [
            _inline_text(cell)
            for cell in row
            if isinstance(cell.tag, str) and cell.tag in ("td", "th")
        ]
    )
