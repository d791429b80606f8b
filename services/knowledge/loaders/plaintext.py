"""Plain-text loader (`.txt`, `.text`, `.rst`): underlined headings (reStructuredText /
setext) give sections.

Rules:
- A heading is an unindented line right after a blank line (or at the start), underlined by
  a line of one repeated character out of `= - ~ ^ " ' * + # \\`` at least as long as it,
  optionally also overlined by the same line (then the title may be inset). Heading levels
  follow the order in which the adornment styles first appear (an overlined style differs
  from the underline-only one), as in reStructuredText; the sections nest like Markdown's.
- Literal blocks (the indented lines after a paragraph ending in "::") are kept as they are
  and never read as headings or markup; the "::" reads as ":" (or goes, after a space or
  on its own), as reStructuredText renders it.
- reST explicit markup that is not text is dropped: comments, directives that only steer
  the rendering (`.. include::`, `.. contents::`, `.. class::`, `.. raw::`, ...), internal
  link targets (`.. _name:`), indirect ones (`.. _this: that_`) and substitution
  definitions. Other directives keep their content without the directive line and its
  options; an admonition keeps its label ("Note: ..."). Footnotes and citations are kept
  as text without their label, external link targets as "name: address" when the address
  leads out of the documentation ("https://...", "mailto:..."); a target that is a relative
  address ("../doctree.html#auto", another page of the same documentation) goes, as
  rendering hides it.
- reST inline markup in sectioned files reads as reST renders it (`_inline_rendered`):
  `references <uri>`_, word_ references, :roles:`text` and `interpreted text` keep their
  text; footnote references ("[#]_") go; ``inline literals``, *emphasis*, **strong** and
  |substitutions| stay as written. Literal blocks are never touched.
- Title: the text before the first heading gives it like a file without headings does; when
  there is none, the first heading is the title.
- A file without such headings but with three numbered ones at least (a manual's text dump:
  "Chapter 2. Getting Started", "1. Core Concepts", "2.1. Index", each a line of its own
  between blank lines) is sectioned by those, a chapter above its numbered parts, and its
  text is kept as it is.
- A file without any of these headings loads as before: one section with the path
  `(title,)`, the text whole (markup included), titled by its first line when that is short
  (<= 80 characters) and does not end like a sentence, else by the file name made readable.
- Undecodable bytes fall back from UTF-8 to cp1252/latin-1; the chunker takes care of size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.knowledge.loaders.common import (
    SectionBuilder,
    decode_text,
    ensure_not_empty,
    ensure_text,
    ensure_textual,
    extension,
    humanise_stem,
    leads_out,
    tidy_text,
)
from services.knowledge.loaders.directives import (
    LITERAL_DIRECTIVES,
    RENDERING_DIRECTIVES,
    directive_label,
)
from use_cases.knowledge.domain import ParsedDocument, ParsedSection

TEXT_EXTENSIONS = (".txt", ".text", ".rst")

MAX_TITLE_CHARS = 80
#: Directives inside directives are read this deep; deeper content is kept as it is.
MAX_DIRECTIVE_DEPTH = 8


_ADORNMENT = re.compile(r"^([=\-~^\"'*+#`])\1+[ \t]*$")
_EXPLICIT = re.compile(r"^(\s*)\.\.(?:\s+(.*))?$")
_DIRECTIVE = re.compile(r"^([A-Za-z0-9][\w:+.-]*?)::(?:\s+(.*))?$")
_FOOTNOTE_OR_CITATION = re.compile(r"^\[[^\]]+\](?:\s|$)")
_EXTERNAL_TARGET = re.compile(r"^(?:_(?:`[^`]+`|[^:`]+)|__):\s*\S")
_OPTION = re.compile(r"^\s+:[^:\s][^:]*:")
# Inline markup a heading is better read without: `references <uri>`_, word_ references and
# ``literals``.
_PHRASE_REFERENCE = re.compile(r"`([^`]+?)(?:\s*<[^<>`]*>)?`__?")
_WORD_REFERENCE = re.compile(r"(?<![\w`])([A-Za-z0-9](?:[\w.-]*[A-Za-z0-9])?)__?(?![\w`])")


@dataclass(frozen=True)
class _Line:
    text: str
    markup: bool = True  # False: literal or directive content, never a heading
    literal: bool = False  # code: kept exactly as written, inline markup included


@dataclass(frozen=True)
class _Heading:
    title: str
    style: tuple[str, bool]  # (adornment character, overlined)
    span: int  # lines it takes up


def title_from_first_line(text: str) -> str | None:
    """The first non-empty line if it looks like a title: short and not a sentence or list."""
    for line in text.split("\n"):
        candidate = " ".join(line.split())
        if not candidate:
            continue
        if len(candidate) <= MAX_TITLE_CHARS and not candidate.endswith((".", ",", ";")):
            return candidate.strip("#=*- ").strip() or None
        return None
    return None


class PlainTextLoader:
    """Loads `.txt`, `.text` and `.rst` files (see the module rules)."""

    extensions = TEXT_EXTENSIONS
    media_type = "text/plain"

    def supports(self, name: str) -> bool:
        return extension(name) in TEXT_EXTENSIONS

    def check(self, name: str, data: bytes) -> None:
        ensure_not_empty(name, data)
        ensure_textual(name, data)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        self.check(name, data)
        text = tidy_text(decode_text(data))
        ensure_text(name, text)
        lines = _without_markup(text.split("\n"))
        headings = _headings(lines)
        rest = bool(headings)
        if not headings:
            headings = _numbered_headings(lines)
        title, sections = _sectioned(name, lines, headings, rest) if headings else (None, ())
        if title is None or not sections:  # no headings (or nothing under them): as it is
            title = title_from_first_line(text) or humanise_stem(name)
            sections = (ParsedSection(heading_path=(title,), text=text),)
        return ParsedDocument(title=title, sections=sections, media_type=self.media_type)


def rest_as_markdown(lines: list[str]) -> list[str]:
    """reStructuredText lines (MyST's ```` ```{eval-rst} ```` block) as Markdown: explicit
    markup dropped or kept as in a `.rst` file, inline markup read as rendered, and each
    literal block fenced as code."""
    out: list[str] = []
    code: list[str] = []

    def fence() -> None:
        while code and not code[-1].strip():
            code.pop()
        if code:
            margin = min(_indent(line) for line in code if line.strip())
            out.extend(["```", *(line[margin:] for line in code), "```"])
        code.clear()

    for line in _inline_rendered(_without_markup(lines)):
        if line.literal:
            if code or line.text.strip():
                code.append(line.text)
            continue
        fence()
        out.append(line.text)
    fence()
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


# --- markup -----------------------------------------------------------------------------------


def _without_markup(lines: list[str], depth: int = 0) -> list[_Line]:
    """The lines with reST explicit markup dropped and literal blocks marked as such
    (`depth`: how many directives deep these lines are)."""
    kept: list[_Line] = []
    literal_indent: int | None = None  # indentation of the paragraph that opened a literal
    index = 0
    while index < len(lines):
        line = lines[index]
        if literal_indent is not None:
            if not line.strip() or _indent(line) > literal_indent:
                kept.append(_Line(line, markup=False, literal=True))
                index += 1
                continue
            literal_indent = None
        if _EXPLICIT.match(line):
            end = _block_end(lines, index)
            kept.extend(_explicit_block(lines[index:end], depth))
            index = end
            continue
        if line.rstrip().endswith("::") and _opens_literal(lines, index):
            literal_indent = _indent(line)
            line = _literal_marker_read(line)
            if not line.strip():
                index += 1
                continue
        kept.append(_Line(line))
        index += 1
    return kept


def _opens_literal(lines: list[str], index: int) -> bool:
    """A line ending in "::" opens a literal block only when one follows ("std::" in prose
    at the end of a line does not)."""
    for following in range(index + 1, len(lines)):
        if lines[following].strip():
            return _indent(lines[following]) > _indent(lines[index])
    return False


def _literal_marker_read(line: str) -> str:
    """The line as reST renders a literal marker: "Text::" reads "Text:", "Text ::" reads
    "Text" and a lone "::" goes."""
    body = line.rstrip()[:-2]
    if not body.strip() or body[-1].isspace():
        return body.rstrip()
    return body + ":"


def _block_end(lines: list[str], start: int) -> int:
    """The line after an explicit markup block: it runs on while lines are blank or more
    indented than its first; trailing blank lines are left to the text."""
    indent = _indent(lines[start])
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return end


def _explicit_block(block: list[str], depth: int) -> list[_Line]:
    match = _EXPLICIT.match(block[0])
    indent, head = (match.group(1), (match.group(2) or "").strip()) if match else ("", "")
    if _EXTERNAL_TARGET.match(head) and head.endswith("_"):
        return []  # an indirect target ("_this: `that`_"): a link to a link, no text
    if _EXTERNAL_TARGET.match(head) and not leads_out(head.partition(":")[2]):
        return []  # a link to another page of the same documentation: no text of its own
    if _FOOTNOTE_OR_CITATION.match(head) or _EXTERNAL_TARGET.match(head):
        # text: a footnote or citation without its label, a link's name and address
        return [_Line(indent + _explicit_text(head)), *(_Line(line) for line in block[1:])]
    directive = _DIRECTIVE.match(head)
    if directive is None:
        return []  # a comment, an internal target or a substitution definition
    name, argument = directive.group(1).lower(), (directive.group(2) or "").strip()
    if name in RENDERING_DIRECTIVES:
        return []
    body = block[1:]
    while body and _OPTION.match(body[0]):
        body = body[1:]
    label = directive_label(name, argument)
    kept = [_Line(indent + label, markup=False)] if label else []
    literal = name in LITERAL_DIRECTIVES
    if literal:
        return kept + [_Line(line, markup=False, literal=True) for line in body]
    # The content is ordinary text, dedented to the directive's own indentation, but never
    # a section: reST has no sections inside directives.
    margin = min((_indent(line) for line in body if line.strip()), default=0)
    dedented = [line[margin:] if line.strip() else "" for line in body]
    if depth >= MAX_DIRECTIVE_DEPTH:  # no deeper: a crafted file cannot exhaust the stack
        return kept + [
            _Line(indent + line if line else "", markup=False, literal=True) for line in dedented
        ]
    content = _without_markup(dedented, depth + 1)
    return kept + [
        _Line(indent + line.text if line.text else "", markup=False, literal=line.literal)
        for line in content
    ]


def _explicit_text(head: str) -> str:
    """A footnote's or citation's text without its label ("[#note] Text" reads "Text"); an
    external link target as its name and address ("_Docutils: https://..." reads
    "Docutils: https://...")."""
    label = _FOOTNOTE_OR_CITATION.match(head)
    if label is not None:
        return head[label.end() :].lstrip()
    name, _, address = head.partition(":")
    return f"{name.lstrip('_').strip('`')}: {address.strip()}" if name != "__" else address.strip()


# --- inline markup -----------------------------------------------------------------------------

#: Text inside one paragraph: any run that does not cross a blank line or a backquote.
_SPAN = r"(?:[^`\n]|\n(?![ \t]*\n))+?"
_INLINE_LITERAL = re.compile(r"``" + _SPAN + r"``")
_FOOTNOTE_REFERENCE = re.compile(r"[ \t]?\[(?:#[\w.-]*|\*|\d+)\]_(?![\w`])")
_CITATION_REFERENCE = re.compile(r"\[([A-Za-z][\w.-]*)\]_(?![\w`])")
_NUMBERED_ROLE = re.compile(r":(pep|rfc)(?:-reference)?:`(\d+)`", re.IGNORECASE)
_ROLE = re.compile(r":[\w.+-]+:`(" + _SPAN + r")`|`(" + _SPAN + r")`:[\w.+-]+:")
_REFERENCE = re.compile(r"(?<!_)`(" + _SPAN + r")`__?(?![\w`])")
#: A reference's embedded URI ("`text <uri>`_"), read off the reference's text afterwards: in
#: the pattern above it would be tried at every character of the text, on every line.
_EMBEDDED_URI = re.compile(r"\s+<[^<>]*>\Z")
#: A word reference ("configparser_"): a run of word characters, dots and hyphens, from a
#: word's start, ending in one or two underscores; what it names starts and ends with a
#: letter or digit. The pattern finds runs from their start only, so a long run costs one
#: pass (`_WORD_REFERENCE` backtracks from every inner start: fine for a title only).
_WORD_RUN = re.compile(r"(?<![\w`.-])[\w.-]+(?![\w`])")
_REFERENCE_NAME = re.compile(r"[A-Za-z0-9](?:[\w.-]*[A-Za-z0-9])?")
_ESCAPED = re.compile(r"\\(.)")
_INLINE_TARGET = re.compile(r"_`(" + _SPAN + r")`")
_INTERPRETED = re.compile(r"(?<![\w`])`(" + _SPAN + r")`(?![\w`])")


def _inline_rendered(lines: list[_Line]) -> list[_Line]:
    """The lines with reST inline markup read as reST renders it, outside literal blocks and
    ``inline literals`` (kept as written: Markdown reads them as code too).

    References and interpreted text keep their text (`links <https://...>`_ reads "links",
    `word_` reads "word", :pep:`8` reads "PEP 8", :sub:`2` reads "2"); footnote references
    ("[#]_", "[1]_") go, as their marks would read as an answer's citations; citation
    references keep their label ("[CIT2002]"). *Emphasis*, **strong** and |substitutions|
    stay: Markdown reads the first two alike, and a substitution's text is defined elsewhere.
    Line breaks are kept, so a heading's lines stay where they were.
    """
    rendered: list[_Line] = []
    run: list[_Line] = []

    def flush() -> None:
        if not run:
            return
        texts = _render_inline("\n".join(line.text for line in run)).split("\n")
        if len(texts) != len(run):  # never expected: keep the text as it was
            texts = [line.text for line in run]
        rendered.extend(
            _Line(text, markup=line.markup) for line, text in zip(run, texts, strict=True)
        )
        run.clear()

    for line in lines:
        if line.literal:
            flush()
            rendered.append(line)
        else:
            run.append(line)
    flush()
    return rendered


def _render_inline(text: str) -> str:
    parts: list[str] = []
    cursor = 0
    for literal in _INLINE_LITERAL.finditer(text):
        parts.append(_render_markup(text[cursor : literal.start()]))
        parts.append(literal.group(0))
        cursor = literal.end()
    parts.append(_render_markup(text[cursor:]))
    return "".join(parts)


def _render_markup(text: str) -> str:
    text = _FOOTNOTE_REFERENCE.sub("", text)
    text = _CITATION_REFERENCE.sub(r"[\1]", text)
    text = _rendered(_REFERENCE, text, 1, uri=True)  # before roles: `:raw:`_ names one
    text = _rendered(_INLINE_TARGET, text, 1)
    text = _NUMBERED_ROLE.sub(lambda found: f"{found.group(1).upper()} {found.group(2)}", text)
    text = _rendered(_ROLE, text, 1, 2)
    text = _rendered(_INTERPRETED, text, 1)
    return _WORD_RUN.sub(_word_reference_read, text)


def _word_reference_read(found: re.Match[str]) -> str:
    run = found.group(0)
    word = run.rstrip(".-")  # "See also report_level_." ends a sentence
    name = word.rstrip("_")
    if word.endswith("_") and len(word) - len(name) <= 2 and _REFERENCE_NAME.fullmatch(name):
        return name + run[len(word) :]
    return run


def _rendered(pattern: re.Pattern[str], text: str, *groups: int, uri: bool = False) -> str:
    """`text` with each match of `pattern` replaced by the first of `groups` it has (`uri`:
    without an embedded URI), and as many line breaks as the match had (an embedded URI may
    start on a line of its own)."""

    def render(found: re.Match[str]) -> str:
        kept = next((found.group(group) for group in groups if found.group(group)), "")
        if uri:
            kept = _EMBEDDED_URI.sub("", kept) or kept
        kept = _ESCAPED.sub(r"\1", kept)  # "`\<literal>`_" reads "<literal>"
        return kept + "\n" * (found.group(0).count("\n") - kept.count("\n"))

    return pattern.sub(render, text)


# --- headings ---------------------------------------------------------------------------------


def _headings(lines: list[_Line]) -> dict[int, _Heading]:
    """Headings by the index of their first line."""
    ends: set[int] = set()  # the lines right after a heading
    found: dict[int, _Heading] = {}
    index = 0
    while index < len(lines):
        # A heading starts a block: after a blank line, the start or another heading.
        starts_block = index == 0 or not lines[index - 1].text.strip() or index in ends
        heading = _heading_at(lines, index) if starts_block else None
        if heading is None:
            index += 1
            continue
        found[index] = heading
        index += heading.span
        ends.add(index)
    return found


def _heading_at(lines: list[_Line], index: int) -> _Heading | None:
    window = lines[index : index + 3]
    if not window or not all(line.markup for line in window):
        return None
    texts = [line.text for line in window]
    over = _ADORNMENT.match(texts[0])
    if over is not None and len(texts) == 3:
        under = _ADORNMENT.match(texts[2])
        title = texts[1].strip()
        if (
            under is not None
            and under.group(1) == over.group(1)
            and title
            and not _ADORNMENT.match(texts[1])
            and len(texts[1].rstrip()) <= len(texts[0].rstrip())
        ):
            return _Heading(_plain_title(title), (over.group(1), True), 3)
        return None
    if len(texts) < 2 or over is not None or not texts[0].strip() or texts[0][0].isspace():
        return None
    under = _ADORNMENT.match(texts[1])
    if under is None or len(texts[1].rstrip()) < len(texts[0].rstrip()):
        return None
    return _Heading(_plain_title(texts[0]), (under.group(1), False), 2)


def _plain_title(text: str) -> str:
    text = _PHRASE_REFERENCE.sub(r"\1", text.replace("``", ""))
    return " ".join(_WORD_REFERENCE.sub(r"\1", text).split())


#: A numbered heading as a text dump of a manual prints it ("Chapter 2. Getting Started",
#: "1. Core Concepts", "2.1. Index"): a line of its own with blank lines around it, the
#: number, then a title opening with a capital and ending like no sentence.
_NUMBERED = re.compile(
    r"^(?:(Chapter|Appendix|Part)\s+)?([0-9]{1,3}|[A-Z]|[IVX]{1,5})((?:\.[0-9]{1,3})*)\.?"
    r"\s+([A-Z](?:[^.!?]|\.(?=\S))*[^\s.:;,!?])$"
)
NUMBERED_HEADING_WORDS = 10
#: Fewer numbered lines than this are a list's items, not a document's headings.
MIN_NUMBERED_HEADINGS = 3
MAX_NUMBER_SKIPPED = 2


def _numbered_headings(lines: list[_Line]) -> dict[int, _Heading]:
    """Numbered headings (`_NUMBERED`) by line index, in a file without underlined ones: a
    chapter's style comes first, then one per depth of numbering ("1." then "2.1.").

    A heading's number comes after the one before it ("2." then "2.1." then "3."), at most
    `MAX_NUMBER_SKIPPED` numbers on (a heading this does not read may lie between), counting
    again after each chapter. A numbered line right after another at the same depth is a
    list's item ("1. Open a terminal" / "2. Run it").
    """
    candidates: list[tuple[int, str, tuple[int, ...] | None]] = []  # (index, title, numbers)
    for index, line in enumerate(lines):
        text = line.text
        numbered = _NUMBERED.match(text) if line.markup and text[:1].strip() else None
        if (
            numbered is None
            or (numbered.group(1) is None and not numbered.group(2).isdigit())
            or len(text.split()) > NUMBERED_HEADING_WORDS
            or (index > 0 and lines[index - 1].text.strip())
            or (index + 1 < len(lines) and lines[index + 1].text.strip())
        ):
            continue
        numbers = None
        if numbered.group(1) is None:
            numbers = (int(numbered.group(2)), *map(int, numbered.group(3).split(".")[1:]))
        candidates.append((index, " ".join(text.split()), numbers))
    found: dict[int, _Heading] = {}
    current: tuple[int, ...] = ()
    previous: tuple[int, tuple[int, ...] | None] | None = None  # the last candidate's end
    for index, title, numbers in candidates:
        right_after = previous is not None and not any(
            line.text.strip() for line in lines[previous[0] + 1 : index]
        )
        after = previous[1] if previous is not None else None
        previous = (index, numbers)
        if numbers is None:
            found[index] = _Heading(title, ("chapter", False), 1)
            current = ()
            continue
        if (
            numbers <= current  # numbering never goes back
            or numbers[0] > (current[0] if current else 0) + MAX_NUMBER_SKIPPED + 1
            or (right_after and after is not None and len(after) == len(numbers))
        ):
            continue
        found[index] = _Heading(title, (str(len(numbers)), False), 1)
        current = numbers
    return found if len(found) >= MIN_NUMBERED_HEADINGS else {}


def _sectioned(
    name: str, lines: list[_Line], headings: dict[int, _Heading], rest: bool = True
) -> tuple[str, tuple[ParsedSection, ...]]:
    if rest:  # reST inline markup; a text with numbered headings is read as it is
        lines = _inline_rendered(lines)
    builder = SectionBuilder()
    styles: list[tuple[str, bool]] = []
    preamble: list[str] = []
    index = 0
    while index < len(lines):
        heading = headings.get(index)
        if heading is None:
            builder.text(lines[index].text + "\n")
            if len(styles) == 0:
                preamble.append(lines[index].text)
            index += 1
            continue
        if heading.style not in styles:
            styles.append(heading.style)
        builder.heading(styles.index(heading.style) + 1, heading.title)
        index += heading.span
    before = tidy_text("\n".join(preamble))
    first = " ".join(headings[min(headings)].title.split())
    title = (title_from_first_line(before) or humanise_stem(name)) if before else first
    return title, builder.sections(title)
