"""Markdown loader: YAML front matter plus heading-aware sections."""

from __future__ import annotations

import html
import re
from datetime import date
from typing import Any

import yaml
from markdown_it import MarkdownIt

from services.budgets import BUDGET, InputBudget
from services.knowledge.loaders.common import (
    SectionBuilder,
    decode_text,
    ensure_not_empty,
    ensure_text,
    ensure_textual,
    extension,
    humanise_stem,
    leads_out,
    metadata_value,
    parse_date,
)
from services.knowledge.loaders.directives import (
    LITERAL_DIRECTIVES,
    RENDERING_DIRECTIVES,
    directive_label,
)
from services.knowledge.loaders.plaintext import rest_as_markdown
from use_cases.knowledge.domain import ParsedDocument
from use_cases.shared.errors import InputTooCostly, InvalidDocument

MARKDOWN_EXTENSIONS = (".md", ".markdown")

# Front-matter keys read as the "last updated" date, in order of preference.
DATE_KEYS = (
    "updated",
    "last_updated",
    "last-updated",
    "updated_at",
    "last_modified",
    "last-modified",
    "modified",
    "lastmod",
    "date",
)
# Every front-matter date that says when a document was written or took effect: none of them
# may lie in the future (ingestion checks `ParsedDocument.dates`). Review and expiry dates
# (`next_review`, `expires`) are future by nature and are not among them.
DOCUMENT_DATE_KEYS = (
    *DATE_KEYS,
    "effective",
    "effective_date",
    "effective-date",
    "effective_from",
    "published",
    "created",
    "issued",
    "approved",
)

_FRONT_MATTER_OPEN = re.compile(r"^---[ \t]*\n")
_FRONT_MATTER_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}(?!.*`)|~{3,})")
_NOT_PARAGRAPH = re.compile(r"^(?: {4}|\t| {0,3}(?:(?:[-*+>]|\d{1,9}[.)])(?:\s|$)|[<|]))")

_IMAGE_OR_LINK = re.compile(r"!?\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])?")
_HTML_TAG = re.compile(r"<[^>\n]+>")
_ATTRIBUTES = re.compile(r"\s*\{#[^}]*\}\s*$")
_EMPHASIS = re.compile(r"(?<![\w*])(\*{1,3}|_{1,3})(?=\S)(.+?)(?<=\S)\1(?![\w*])")


#: CommonMark's block rules with GFM tables, inline markup left unparsed: only the blocks
#: (their kinds and source lines) and a heading's own source are read.
_MARKDOWN = MarkdownIt("commonmark").enable("table").disable("inline")

#: A link reference definition ("[guide]: ../guide.md \"Guide\""), which a renderer hides.
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?(?:\s+.*)?$")


def inline_text(markdown: str) -> str:
    """Heading/title markdown to plain text: links, images, emphasis, code and tags unwrapped."""
    text = _ATTRIBUTES.sub("", markdown)
    text = _IMAGE_OR_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = _EMPHASIS.sub(r"\2", text).replace("`", "")
    return " ".join(text.split())


class MarkdownLoader:
    """Loads `.md` / `.markdown` files.

    * Front matter: a leading `---` ... `---` (or `...`) YAML block, read with PyYAML's
      safe loader, its aliases bounded: what it expands to once they are resolved (an alias
      counted as the bytes it repeats, each time it is used) may be at most
      `max_yaml_expanded` bytes, measured on the node graph before any Python object is
      built; past it, `InputTooCostly` (413). `title` and `category` are taken as such;
      the first of `updated`, `last_updated`, ..., `date` (see `DATE_KEYS`) that reads as a
      date becomes `updated_at`; `supersedes` (the source or id of the document this one
      replaces) is read as such; every date in `DOCUMENT_DATE_KEYS` goes to `dates` (for the
      future-date check); every other scalar (or list of scalars, joined with ", ") goes to
      `metadata` as a string. Invalid YAML is an `InvalidDocument`.
    * Sections: split on the top-level ATX headings (`#` .. `######`) and setext headings
      (`===` / `---` underlines) of the document's CommonMark block structure, read with
      markdown-it-py: a `#` line inside fenced or indented code, a raw HTML block, a quote
      or a list item is no heading. `heading_path` is the stack of open headings, e.g.
      `("Password Policy", "Rotation", "Service accounts")`.
    * Title and H1: the title is the front-matter `title`, else the first H1, else the file
      name made readable. Heading paths mirror the document's own headings and are never
      prefixed with the title, so a document whose H1 is its title has paths rooted at that
      H1 (`("Password Policy", "Rotation")`), not `("Password Policy", "Password Policy",
      ...)`. Text before the first heading gets the path `(title,)`.
    * A heading directly followed by a sub-heading yields no (empty) section. Section text is
      the raw Markdown body under the heading, without the heading line itself, and without
      the link reference definitions that point to a relative address ("[guide]:
      ../guide.md", another page of the same documents), which a renderer hides; those
      leading out ("https://...") stay.
    """

    extensions = MARKDOWN_EXTENSIONS
    media_type = "text/markdown"

    def __init__(self, budget: InputBudget = BUDGET) -> None:
        self._budget = budget

    def supports(self, name: str) -> bool:
        return extension(name) in MARKDOWN_EXTENSIONS

    def check(self, name: str, data: bytes) -> None:
        ensure_not_empty(name, data)
        ensure_textual(name, data)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        self.check(name, data)
        text = decode_text(data)
        ensure_text(name, text)
        front, body = split_front_matter(name, text, self._budget)

        builder = SectionBuilder()
        _parse_body(rendered_markup(body), builder)

        title_value = metadata_value(front.get("title"))
        title = inline_text(title_value) if title_value else None
        title = title or builder.first_h1 or humanise_stem(name)
        sections = builder.sections(title)
        if not sections:
            raise InvalidDocument(f"{name} has no text content")

        category = metadata_value(front.get("category"))
        updated_at: date | None = None
        used = {"title", "category", "supersedes"}
        for key in DATE_KEYS:
            if key in front and updated_at is None:
                updated_at = parse_date(front[key])
                if updated_at is not None:
                    used.add(key)
        dates = {
            key: value
            for key in DOCUMENT_DATE_KEYS
            if key in front and (value := parse_date(front[key])) is not None
        }
        metadata = {
            key: shown
            for key, raw in front.items()
            if key not in used and (shown := metadata_value(raw)) is not None
        }
        return ParsedDocument(
            title=title,
            sections=sections,
            category=category,
            updated_at=updated_at,
            media_type=self.media_type,
            metadata=metadata,
            supersedes=_supersedes(name, front.get("supersedes")),
            dates=dates,
        )


def _supersedes(name: str, value: object) -> str | None:
    if isinstance(value, list | tuple | dict):
        raise InvalidDocument(
            f"{name}: supersedes: names one document (its source or id), not a list"
        )
    return metadata_value(value)


def split_front_matter(
    name: str, text: str, budget: InputBudget = BUDGET
) -> tuple[dict[str, Any], str]:
    """(front matter mapping with lower-cased keys, remaining body). A front matter that
    expands past `budget.max_yaml_expanded` bytes is `InputTooCostly` (`_load_yaml`)."""
    opening = _FRONT_MATTER_OPEN.match(text)
    if opening is None:
        return {}, text
    closing = _FRONT_MATTER_CLOSE.search(text, opening.end())
    if closing is None:
        return {}, text
    raw = text[opening.end() : closing.start()]
    try:
        loaded = _load_yaml(name, raw, budget.max_yaml_expanded)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "could not be parsed"
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise InvalidDocument(f"{name} has invalid YAML front matter: {problem}{where}") from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        return {}, text
    front = {str(key).strip().lower(): value for key, value in loaded.items()}
    return front, text[closing.end() :].lstrip("\n")


def _load_yaml(name: str, raw: str, limit: int) -> Any:
    """`yaml.safe_load(raw)`, refused (`InputTooCostly`) when its node graph expands to more
    than `limit` bytes: PyYAML builds one object for an anchor and shares it between its
    aliases, but what reads the front matter afterwards (a list joined into a metadata value,
    the document stored) copies it each time, so 500 aliases of a 1 MiB string in a 1 MB
    file once took 1.5 GB. The graph is measured before any Python object is built."""
    loader = yaml.SafeLoader(raw)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > limit:
            raise InputTooCostly(
                f"{name}'s YAML front matter expands to more than {limit:,} bytes once its "
                "aliases are resolved: refused (an alias counts as the bytes it repeats, "
                "each time it is used)."
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """The bytes `node` stands for with every alias resolved: a scalar's text (and one for
    its place), a collection's items and keys; each node is measured once (`sizes`, by id),
    so a graph of aliases of aliases costs its number of edges to measure, not its
    expansion. A node that holds itself (`&a [*a]`) counts once."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 1
    if isinstance(node, yaml.ScalarNode):
        size = len(node.value) + 1
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(item, sizes) for item in node.value)
    else:
        size = 1 + sum(
            _expanded_size(key, sizes) + _expanded_size(value, sizes) for key, value in node.value
        )
    sizes[id(node)] = size
    return size


#: A MyST directive ("```{note}", ":::{admonition} Title"): its indent, fence, name, argument.
_DIRECTIVE_OPEN = re.compile(r"^( {0,3})(`{3,}|:{3,})\{([A-Za-z0-9][\w:+.-]*)\}[ \t]*(.*?)\s*$")
#: A directive's options: a YAML block between "---" lines, or ":name: value" lines.
_DIRECTIVE_OPTION = re.compile(r"^\s*:[\w-]+:(?:\s|$)")
#: A MyST target ("(labels/line-length)="): an anchor for links, which a renderer hides.
_TARGET = re.compile(r"^ {0,3}\([^()\s]+\)=\s*$")
#: A MyST role ("{doc}`the_basics`", "{ref}`the flag <labels/exit-code>`").
_ROLE = re.compile(r"\{([A-Za-z][\w:+.-]*)\}`([^`\n]+)`")
#: Roles that link to a page or a section: rendered as the link's text, not as code.
_LINK_ROLES = frozenset(("doc", "ref", "numref", "term", "any", "download"))
_EMBEDDED_TARGET = re.compile(r"\s*<[^<>]*>$")
#: A hard line break written as a backslash ending a line of text (not of indented code):
#: rendered as a line break, never as "\".
_HARD_BREAK = re.compile(r"^(?! {4}|\t)(.*?[^\\])\\$")
#: Directives inside directives are read this deep; deeper content is kept as it is.
MAX_DIRECTIVE_DEPTH = 8


def rendered_markup(body: str) -> str:
    """`body` with the markup a renderer hides or turns into text written as that text:
    HTML comments and MyST targets go; MyST roles read as their text; a MyST directive
    either goes (a table of contents, an include, an image: `RENDERING_DIRECTIVES`), stays
    code (`LITERAL_DIRECTIVES`), or is its content as Markdown after the label a rendered
    page shows ("Note: ...", an admonition's title). Code blocks are left as they are."""
    return "\n".join(_rendered_lines(body.split("\n"), 0))


def _rendered_lines(lines: list[str], depth: int) -> list[str]:
    out: list[str] = []
    closing: list[int] | None = None  # see `_without_comment`, made when first needed
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = _DIRECTIVE_OPEN.match(line)
        if directive is not None:
            end = _closing(lines, i + 1, directive.group(2))
            out.extend(_directive(directive, lines[i + 1 : end], depth))
            i = end + 1
            continue
        fence = _FENCE_OPEN.match(line)
        if fence is not None:  # ordinary code: copied as it is, fence lines included
            end = _closing(lines, i + 1, fence.group(1))
            out.extend(lines[i : end + 1])
            i = end + 1
            continue
        if "<!--" in line:
            if closing is None:
                closing = _closing_comments(lines)
            line, i = _without_comment(lines, i, closing)
            out.append(line)
            continue
        if not _TARGET.match(line):
            out.append(_ROLE.sub(_role_text, _HARD_BREAK.sub(r"\1", line)))
        i += 1
    return out


#: A character reference as CommonMark reads one: named, decimal or hexadecimal, with its
#: semicolon ("&lt;", "&#8212;", "&#x27;"; "&para" alone is text).
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")

#: An inline code span, whose characters are literal (an entity in it is what it shows).
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")


def _decoded(line: str) -> str:
    """A line of prose with its character references decoded once ("HEAD~&lt;n&gt;" is
    "HEAD~<n>" on the rendered page, and an answer quotes the page's characters); code spans
    keep theirs (Markdown shows an entity there as written; code blocks are not given)."""
    if "&" not in line:
        return line
    out, last = [], 0
    for span in _CODE_SPAN.finditer(line):
        out.append(_ENTITY.sub(lambda m: html.unescape(m.group(0)), line[last : span.start()]))
        out.append(span.group(0))
        last = span.end()
    out.append(_ENTITY.sub(lambda m: html.unescape(m.group(0)), line[last:]))
    return "".join(out)


def _closing(lines: list[str], start: int, fence: str) -> int:
    """The index of the line closing `fence` (at least as long, nothing else), or the end."""
    for j in range(start, len(lines)):
        stripped = lines[j].strip()
        if len(stripped) >= len(fence) and stripped == fence[0] * len(stripped):
            return j
    return len(lines)


def _directive(opened: re.Match[str], body: list[str], depth: int) -> list[str]:
    name, argument = opened.group(3).lower(), opened.group(4)
    if body and body[0].strip() == "---":  # options as YAML
        end = next((j for j in range(1, len(body)) if body[j].strip() == "---"), len(body))
        body = body[end + 1 :]
    while body and _DIRECTIVE_OPTION.match(body[0]):
        body = body[1:]
    if name in RENDERING_DIRECTIVES:
        return []
    if name in LITERAL_DIRECTIVES:
        return ["```" + argument, *body, "```"]
    if name == "eval-rst":  # reStructuredText inside Markdown: read as a .rst file is
        return ["", *rest_as_markdown(body), ""]
    content = _rendered_lines(body, depth + 1) if depth < MAX_DIRECTIVE_DEPTH else body
    label = directive_label(name, argument)
    first = next((j for j, line in enumerate(content) if line.strip()), None)
    if label.endswith(":") and first is not None and not _NOT_PARAGRAPH.match(content[first]):
        # "Note: The text ...": the label opens the paragraph, as a rendered page reads
        content = [*content[:first], f"{label} {content[first].lstrip()}", *content[first + 1 :]]
    elif label:
        content = [label, "", *content]
    return ["", *content, ""]


def _role_text(role: re.Match[str]) -> str:
    name, text = role.group(1).lower(), role.group(2)
    if name.rpartition(":")[2] in _LINK_ROLES:
        return _EMBEDDED_TARGET.sub("", text) or text
    return f"`{text}`"


def _without_comment(lines: list[str], i: int, closing: list[int]) -> tuple[str, int]:
    """Line `i` without its HTML comments (one may run over the lines below); returns the
    text left and the index of the next line to read. An unclosed "<!--" is left as text.
    `closing[j]`: the first line from `j` on holding "-->" (`len(lines)` for none), so a
    file of unclosed comments is read once, not once per comment."""
    kept, line, j = "", lines[i], i
    while "<!--" in line:
        before, _, rest = line.partition("<!--")
        if "-->" not in rest:
            k = closing[j + 1]
            if k == len(lines):  # never closed: no comment ("<!--" quoted in a sentence)
                break
            rest, j = lines[k], k
        kept, line = kept + before, rest.partition("-->")[2]
    return kept + line, j + 1


def _closing_comments(lines: list[str]) -> list[int]:
    """For each line index (and one past the end), the first line from it holding "-->"."""
    closing = [len(lines)] * (len(lines) + 1)
    for j in range(len(lines) - 1, -1, -1):
        closing[j] = j if "-->" in lines[j] else closing[j + 1]
    return closing


def _parse_body(body: str, builder: SectionBuilder) -> None:
    """Sections of `body` from its CommonMark block structure (markdown-it-py): a heading is
    an ATX or setext heading at the top level (not one quoted or inside a list item, and
    never a `#` line inside fenced or indented code or a raw HTML block); every other source
    line is section text as written, but for the link reference definitions to a relative
    address, which a renderer hides."""
    lines = body.split("\n")
    headings, covered, code = _block_structure(body, len(lines))
    i = 0
    while i < len(lines):
        heading = headings.get(i)
        if heading is not None:
            level, text, end = heading
            builder.heading(level, inline_text(text))
            i = end
            continue
        line = lines[i] if i == len(lines) - 1 else lines[i] + "\n"
        reference = None if covered[i] else _REFERENCE_DEFINITION.match(lines[i])
        if reference is None or leads_out(reference.group(1)):
            # "[guide]: ../guide.md": a page of the same documents, unseen
            builder.text(line if code[i] else _decoded(line))
        i += 1


def _block_structure(
    body: str, count: int
) -> tuple[dict[int, tuple[int, str, int]], list[bool], list[bool]]:
    """({first line: (level, inline source, line after it)} of the top-level headings, for
    each of the `count` lines whether a block holds it (a line no block holds is blank or a
    link reference definition), and whether it is code: fenced or indented, at any depth).

    markdown-it reads a list item by running every block rule over its content, ~0.25 ms an
    item (a 100,000-item list took 3.5 CPU-s per MB where prose takes 0.37), and a table row
    into a token per cell (1.7 CPU-s per MB). Runs of items or rows that cannot change the
    structure are therefore parsed as their first and last line only
    (`_without_list_runs`), and the line numbers mapped back."""
    lines = body.split("\n")
    kept = _without_list_runs(lines)
    headings: dict[int, tuple[int, str, int]] = {}
    covered = [False] * count
    code = [False] * count
    tokens = _MARKDOWN.parse(body if len(kept) == len(lines) else _kept_text(lines, kept))
    for index, token in enumerate(tokens):
        if token.map is None or token.map[1] <= token.map[0]:
            continue
        start, end = kept[token.map[0]], kept[token.map[1] - 1] + 1
        if token.type in ("fence", "code_block"):
            code[start:end] = [True] * (end - start)
        if token.level != 0:
            continue
        covered[start:end] = [True] * (end - start)
        if token.type == "heading_open":
            text = tokens[index + 1].content
            if end - start != token.map[1] - token.map[0]:  # a setext heading over a run
                text = "\n".join(lines[start : end - 1]).strip()  # its lines, as markdown-it
            headings[start] = (int(token.tag[1]), text, end)
    return headings, covered, code


#: A one-line list item at the margin: its marker (a bullet, or a number and its delimiter),
#: then text after one to four spaces.
_ONE_LINE_ITEM = re.compile(r"^(?:([-*+])|(\d{1,9})([.)])) {1,4}(?=\S)")
#: A thematic break ("- - -", "***"), which is no list item.
_THEMATIC_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
#: Items a run must have before its middle is left out of the parse.
_MIN_RUN = 3


def _without_list_runs(lines: list[str]) -> list[int]:
    """The indexes of the lines the block parser is given: every line but the middle of each
    run of lines of one kind (`_line_kind`): one-line list items (at the margin, the same
    bullet, or numbers with the same delimiter, all numbered 1 or none), or table rows.
    Such lines are siblings of one list or rows of one table, or lines of one paragraph,
    code block or HTML block, whatever comes before the run: a line in the middle changes
    nothing for the lines after it that its neighbours do not, so the run's first and last
    lines, kept, give the structure, and the middle is held by whatever holds both (a run
    ends before a line that heads a table: the delimiter row after it decides its role).
    Likewise the middle of a run of items with sub-items of one shape (`_item_group`): the
    first and last items are kept whole.
    tests/unit/test_markdown_lists.py compares the two parses over random documents."""
    kept: list[int] = []
    i = 0
    while i < len(lines):
        group = _item_group(lines, i)
        if group is not None:
            shape, size = group
            j, count = i + size, 1
            while (following := _item_group(lines, j)) is not None and following[0] == shape:
                j, count = j + size, count + 1
            if count >= _MIN_RUN:
                kept += [*range(i, i + size), *range(j - size, j)]
                i = j
                continue
        kind = _line_kind(lines[i])
        j = i + 1
        if kind is not None:
            while j < len(lines) and _line_kind(lines[j]) == kind:
                j += 1
            if j - i > 1 and j < len(lines) and _DELIMITER_ROW.match(lines[j]):
                j -= 1  # its last line heads the table the next line delimits: kept apart
        if j - i >= _MIN_RUN:
            kept += (i, j - 1)
        else:
            kept += range(i, j)
        i = j
    return kept


#: A one-line list item at any indent: the indent, the marker (a bullet, or a number and its
#: delimiter), then text after one to four spaces.
_ANY_ITEM = re.compile(r"^( *)(?:([-*+])|(\d{1,9})([.)]))( {1,4})(?=\S)")
#: Item text that opens a block of its own rather than a paragraph (a heading, a fence, an
#: HTML block, a quote, a table's pipe, a nested marker, a rule or a setext underline).
_NOT_PLAIN = re.compile(r"[#`~<>|]|(?:[-*+]|\d{1,9}[.)])(?:\s|$)|[-=_*\s]+$")


def _item_group(
    lines: list[str], i: int
) -> tuple[tuple[tuple[int, str, bool, int], ...], int] | None:
    """(shape, number of lines) of the item at line `i` with its sub-items, or None: a
    one-line item at the margin that may interrupt a paragraph (`_item_kind`), then one or
    more one-line items indented at least as far as its text (inside it: the list that holds
    the first and the last item of a run holds every line between), each less than four
    columns past the text of the item it falls in (no indented code), each of
    plain text (a paragraph: `_NOT_PLAIN`; no ">", which could close an HTML block). Its
    shape: each line's indent, marker (bullet or delimiter, and the number's width), whether
    it is numbered 1, and the spaces after its marker. Such an item closes whatever the
    previous item of its shape left open, and its sub-items, each a paragraph's first line,
    can be no code: the items of a run of one shape leave the parser as each found it, so
    only the first and last are read (`_without_list_runs`)."""
    if i >= len(lines):
        return None
    kind = _item_kind(lines[i])
    if kind is None or not kind[1]:
        return None
    shape: list[tuple[int, str, bool, int]] = []
    texts: list[int] = []  # where the text of each item holding the next line starts
    j = i
    while j < len(lines):
        item = _ANY_ITEM.match(lines[j])
        if item is None or ">" in lines[j] or _NOT_PLAIN.match(lines[j], item.end()):
            break
        indent = len(item.group(1))
        if j > i:
            while len(texts) > 1 and texts[-1] > indent:
                texts.pop()
            if not 0 <= indent - texts[-1] < 4:  # outside the first item, or code in one
                break
        elif indent:
            break
        number = item.group(3)
        marker = item.group(2) or f"{len(number)}{item.group(4)}"
        shape.append((indent, marker, number is not None and int(number) == 1, len(item.group(5))))
        texts.append(item.end())
        j += 1
    if len(shape) < 2 or j == i + 1:
        return None
    return tuple(shape), j - i


def _line_kind(line: str) -> tuple[str, bool] | None:
    """The kind of a line a run may be made of (`_without_list_runs`): a one-line list item
    (`_item_kind`), or a table row (`_row_kind`)."""
    return _item_kind(line) or _row_kind(line)


#: A table's delimiter row ("|---|:---:|"), which makes the line above it a table's header.
_DELIMITER_ROW = re.compile(r"^ {0,3}\|?(?:\s*:?-+:?\s*\|)*\s*:?-+:?\s*\|?\s*$")


def _row_kind(line: str) -> tuple[str, bool] | None:
    """("|", True) for a line at the margin that starts with a pipe (a table's row, or a
    paragraph's line outside a table) and is no delimiter row, so no table can begin inside
    a run of them; without ">" it closes no HTML block (`_item_kind`)."""
    if line.startswith("|") and ">" not in line and not _DELIMITER_ROW.match(line):
        return "|", True
    return None


def _item_kind(line: str) -> tuple[str, bool] | None:
    """(marker, whether it may interrupt a paragraph) of a one-line list item at the margin
    that can end nothing open before it, or None. At the margin it is no item's continuation
    (an item's content is indented); without ">" it closes no HTML block a line can close
    (`-->`, `?>`, `]]>`, `</script>` ...; the others end at a blank line), nor a code fence
    (whose closing line is the fence alone). Of numbered items only those numbered 1 may
    interrupt a paragraph (CommonMark): a paragraph goes on over "2. ..." lines."""
    item = _ONE_LINE_ITEM.match(line)
    if item is None or ">" in line or _THEMATIC_BREAK.match(line):
        return None
    if line[item.end() :].startswith(("```", "~~~")):  # opens a code block inside the item:
        return None  # its code lines are marked (`_block_structure`), so it is parsed whole
    if item.group(1):
        return item.group(1), True
    return item.group(3), int(item.group(2)) == 1


def _kept_text(lines: list[str], kept: list[int]) -> str:
    return "\n".join(lines[i] for i in kept)
