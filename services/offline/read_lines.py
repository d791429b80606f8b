"""How a passage's lines read: soft-wrapped lines joined, list items, tables, code a
sentence announces, definitions' terms (the line-level rules `read.units_of` uses).
"""

from __future__ import annotations

import re

from services.offline import data
from services.offline.text import stem_set
from services.offline.tuning import ReadTuning

#: A numbered heading as PDFs and text files print it ("3.4 A minimal class file",
#: "2.1.3. Options"): several levels of numbers, a capital, no closing punctuation.
NUMBERED_HEADING = re.compile(r"^\d{1,3}(?:\.\d{1,3})+\.?\s+[A-Z][^.:;!?,]*$")


#: A heading as plain-text manuals write it: a line of its own in capitals ("IGNORING CASE").
_CAPITALS_HEADING = re.compile(r"^[A-Z][A-Z0-9 '&/-]*[A-Z0-9]$")


def capitals_heading(lines: list[str], i: int, read: ReadTuning) -> bool:
    """Whether line `i` is a heading in capitals, with a blank line (or the text's edge) on
    either side and at most `ReadTuning.numbered_heading_words` words."""
    line = lines[i].strip()
    return (
        bool(_CAPITALS_HEADING.match(line))
        and len(line.split()) <= read.numbered_heading_words
        and (i == 0 or not lines[i - 1].strip())
        and (i + 1 == len(lines) or not lines[i + 1].strip())
    )


LIST_ITEM = re.compile(r"^(?:[-*+•▪◦]|\d{1,2}[.)])\s+")


ORDINAL = re.compile(r"^(\d{1,2})[.)]\s+")


def item_text(line: str) -> str:
    """A list item without its marker; an ordered item keeps its number as "(3) ", since the
    number can be what it says ("3. Temporary files are always stored in memory", the
    setting's value), written so that no sentence ends at it."""
    return LIST_ITEM.sub(
        lambda marker: f"({number}) " if (number := _ordinal(marker)) else "", line
    )


def _ordinal(marker: re.Match[str]) -> str | None:
    ordered = ORDINAL.match(marker.group(0))
    return ordered.group(1) if ordered else None


_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")


#: Markdown emphasis, "*word*": it opens before a word (or code, a bracket, a quote) and
#: closes after one; quoted asterisks ("subscripted by ‘*’ or ‘@’ ... is ‘@’ or ‘*’") are
#: no emphasis, and nothing between two of them may be lost.
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[\w`(\"'])([^*]+?)(?<=[\w`)\"'.!?:;,])\*(?![\w*])")


def clean(text: str) -> str:
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    # "[the guide][g]" reads "the guide"; "matrix[i][j]" is no link
    text = re.sub(r"(?<![\w\])`])\[([^\]]+)\]\[[^\]]*\]", r"\1", text)
    text = text.replace("**", "").replace("__", "")
    text = _EMPHASIS.sub(r"\1", text)
    text = re.sub(r"^>\s*", "", text.strip())
    # A reStructuredText field ":Aliases: \\:ac:" reads "Aliases: :ac:".
    text = re.sub(r"^:([^:`\s][^:`]{0,40}):\s+", r"\1: ", text).replace("\\:", ":")
    # A footnote's own label ("[3] The user agent for ...", as the loaders write footnotes)
    # would read as a citation of the answer's third source.
    text = _FOOTNOTE_LABEL.sub("", text)
    return " ".join(text.split())


_FOOTNOTE_LABEL = re.compile(r"^\[(?:#[\w-]*|[\w*†‡§]{1,6})\]\s+")


def table_rows(lines: list[str]) -> tuple[list[str], set[str]]:
    """Rows of a markdown table as sentences, plus the header words (context)."""
    rows = [
        [clean(cell) for cell in line.strip().strip("|").split("|")]
        for line in lines
        if not _TABLE_SEPARATOR.match(line.strip())
    ]
    if not rows:
        return [], set()
    header, body = rows[0], rows[1:]
    header_stems = stem_set(" ".join(header))
    sentences = []
    for cells in body:
        if not any(cells):
            continue
        label = cells[0]
        pairs = [
            f"{h}: {v}" if h else v
            for h, v in zip(header[1:], cells[1:], strict=False)
            if v and v not in ("-", "–", "—")
        ]
        if label and pairs:
            sentences.append(f"{label} — {'; '.join(pairs)}")
        elif label or pairs:
            sentences.append(label or "; ".join(pairs))
    return sentences, header_stems


#: Words a sentence cannot end on: a line ending with one (or with a comma) goes on in the
#: next line, whatever that line starts with ("rather than with" / "\\documentclass, ...").
_NO_SENTENCE_END = data.words("no_sentence_end")


#: Inline markup (a code span, emphasis): a line opening with it goes on with a line before
#: that ends on a word, whatever the case of its first letter.
_INLINE_MARKUP = "`_*"


#: Markup that may open a soft-wrapped line before its first word (emphasis, code, quotes).
LEADING_MARKUP = "*_`\\\"'“‘(["


#: A line that starts a block of its own, never the rest of the line before it.
_BLOCK_START = re.compile(
    r"^(?:[-*+•▪◦]\s|\d{1,2}[.)]\s|#|\||```|~~~|\.\.\s|:[^:\s][^:]*:(?:\s|$))"
)


def _continues(line: str, following: str, filled: bool = False) -> bool:
    """Whether `following` is the soft-wrapped rest of `line`'s sentence; `filled` says the
    line before it was broken only because `following`'s first word did not fit (`_filled`)."""
    if not following or line.endswith((".", ":", ";", "!", "?")) or _BLOCK_START.match(following):
        return False
    if filled:
        return True  # 'Thus using' / '"N" after a "/" command ...': a filled paragraph goes on
    first = following.lstrip(LEADING_MARKUP)[:1]
    if first.islower():
        return True
    if line[-1:].isalpha() and following[:1] in _INLINE_MARKUP:
        return True  # "Due to this, pycodestyle will raise" / "`E203 ...` warnings."
    last = line.rsplit(None, 1)[-1].lower() if line.split() else ""
    return line.endswith(",") or last in _NO_SENTENCE_END


def fill_width(lines: list[str], read: ReadTuning) -> int:
    """The width a text's paragraphs were filled to: its longest line, if it is long enough
    to be one (0 otherwise, a text with no sign of filling)."""
    width = max((len(line.rstrip().expandtabs()) for line in lines), default=0)
    return width if width >= read.fill_width_min else 0


#: Box-drawing characters: the rows and rules of a table a text-mode browser drew.
_DRAWN = re.compile("[\u2500-\u257f]")


def _filled(previous: str, following: str, width: int, read: ReadTuning) -> bool:
    """Whether the line `previous` (as in the text) ended only because the first word of
    `following` would have made it longer than the text's fill width: a soft wrap, whatever
    that word starts with ('"N"', '<Enter>', 'CTRL-W')."""
    if not width or not following or _DRAWN.search(previous) or _DRAWN.search(following):
        return False  # a table drawn in box characters fills its width row after row
    length = len(previous.rstrip().expandtabs())
    return length >= read.fill_line_share * width and length + 1 + len(following.split()[0]) > width


def logical_lines(
    lines: list[str], start: int, read: ReadTuning, width: int = 0
) -> tuple[str, int]:
    """The line at `start` with its soft-wrapped continuation lines; returns (text, next index).

    A line goes on in the next one when that one starts with a lower-case word (past any
    emphasis, code or quote marks), or when the line ends with a comma or a word no sentence
    ends on, or when a text filled to `width` broke it there (`_filled`), unless the next line
    opens a block of its own (a list item, heading, table, code fence, directive or field); in
    a block quote, past the next line's ">". It goes on past one blank line when a page or
    column break cut its sentence there (`_broken_at`).
    """
    line = lines[start].strip()
    quoted = line.startswith(">")  # a block quote's lines all open with ">"
    i = start + 1
    while i < len(lines):
        following = lines[i].strip()
        if quoted and following.startswith(">"):
            following = following[1:].strip()
        if following and _continues(line, following, _filled(lines[i - 1], following, width, read)):
            line = f"{line} {following}"
            i += 1
        elif not lines[i].strip() and i + 1 < len(lines) and _broken_at(line, lines[i + 1]):
            line = f"{line} {lines[i + 1].strip()}"
            i += 2
        else:
            break
    return line, i


def _goes_on(raw: str) -> bool:
    """Whether the line `raw` (as in the text, indentation kept) may go on with a sentence
    before it: an unindented paragraph line opening with a lower-case word, or a bracket
    before one ("(or any other branch-name) and ...")."""
    stripped = raw.strip()
    return (
        bool(stripped)
        and not raw[:1].isspace()
        and not _BLOCK_START.match(stripped)
        and stripped.removeprefix("(")[:1].islower()
    )


def going_on_at(lines: list[str], start: int) -> int | None:
    """The index of the line after the blank lines from `start`, when it goes on with a
    sentence (`_goes_on`)."""
    j = start
    while j < len(lines) and not lines[j].strip():
        j += 1
    return j if j < len(lines) and _goes_on(lines[j]) else None


def _broken_at(line: str, following: str) -> bool:
    """Whether a blank line broke `line`'s sentence and `following` (after the blank line)
    goes on with it (`_goes_on`): `line` ends on no sentence's end (a page or column break in
    a PDF)."""
    return not line.endswith((".", ":", ";", "!", "?", ")", '"', "”", "’", "'")) and _goes_on(
        following
    )


#: A code line ending with a callout marker, "$ git reset --hard HEAD~3   <2>" (AsciiDoc's and
#: DocBook's callouts: the numbered list after the block says what each marked line does).
_CALLOUT = re.compile(r"^(.*?\S)\s+<(\d{1,2})>$")


def _fenced(
    lines: list[str], start: int, read: ReadTuning
) -> tuple[str, int, dict[str, str], list[str]]:
    """The first lines of the fenced code block opening at `start` (joined by "; ", at most
    `ReadTuning.lead_code_lines` lines and about `ReadTuning.lead_code_chars` characters), the
    index after it, its lines that carry a callout marker, by the marker's number
    (`_CALLOUT`), and its lines as written (indentation and blank lines kept)."""
    fence = lines[start].strip()[:3]
    i = start + 1
    block: list[str] = []
    raw: list[str] = []
    callouts: dict[str, str] = {}
    while i < len(lines) and not lines[i].strip().startswith(fence):
        line = lines[i].strip()
        block.append(line)
        raw.append(lines[i].rstrip())
        marked = _CALLOUT.match(line)
        if marked is not None:
            callouts.setdefault(marked.group(2), marked.group(1))
        i += 1
    return _lead_code(block, read), i + 1, callouts, raw


def whole_block(raw: list[str], read: ReadTuning) -> str:
    """A code block as an answer shows it: its lines as written (less their common
    indentation and the blank lines around them), cut at a line after about
    `ReadTuning.block_chars` characters. A line ending with a backslash goes on in the next
    one: the cut never falls between them (half a command is a different command)."""
    lines = list(raw)
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    kept: list[str] = []
    size = 0
    for k, line in enumerate(lines):
        continued = k > 0 and lines[k - 1].rstrip().endswith("\\")
        if size + len(line) > read.block_chars and kept and not continued:
            break
        kept.append(line[indent:])
        size += len(line) + 1
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept)


#: A comment line of a shell example ("# Extract the src directory"; not "#!/bin/sh").
_COMMENT = re.compile(r"^#+\s+(\S.*)$")

#: A command line: after the shell's prompt ("$ borg extract ..."), or a program's name
#: followed by its arguments ("borg list /mnt/backup").
_PROMPTED = re.compile(r"^[$%]\s+\S")
_PROGRAM = re.compile(r"^([a-z][\w.+-]*)(?:\s|$)")

#: First words of a line of code that is no command (Python's statements, mostly).
_NOT_PROGRAMS = frozenset(
    {"and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del"}
    | {"elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in"}
    | {"is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while"}
    | {"with", "yield", "print"}
)


def example_steps(raw: list[str], read: ReadTuning) -> list[tuple[str, str]]:
    """The steps of an example block of shell commands, each a comment saying what the
    commands under it do: ("Extract the src directory", "$ borg extract ... src"). A block
    is such an example when its commands follow a prompt ("$ ") or begin with the same
    program ("borg list", "borg mount"); a comment over code of another kind (Python's
    "# sort by age" over "sorted(...)") is no step. A comment that goes on over several
    lines is one sentence; the output a command prints stays with it."""
    steps: list[tuple[list[str], list[str]]] = []
    apart = True  # the next comment starts a step (a blank line ends a comment of its own)
    for line in raw:
        stripped = line.strip()
        comment = _COMMENT.match(stripped)
        if comment is not None:
            if apart or steps[-1][1]:
                steps.append(([], []))
            steps[-1][0].append(comment.group(1).strip())
            apart = False
        elif stripped and steps and not apart:
            steps[-1][1].append(line)
        elif not stripped:
            apart = apart or not steps or not steps[-1][1]
            if steps and steps[-1][1]:
                steps[-1][1].append(line)
    programs = [
        m.group(1)
        for _, commands in steps
        for line in commands
        if (m := _PROGRAM.match(line.strip().lstrip("$% "))) is not None
    ]
    prompted = any(_PROMPTED.match(line.strip()) for _, commands in steps for line in commands)
    repeated = {p for p in programs if programs.count(p) > 1 and p not in _NOT_PROGRAMS}
    found = []
    for said, commands in steps:
        text = " ".join(said).strip()
        first = next((c.strip() for c in commands if c.strip()), "")
        program = _PROGRAM.match(first.lstrip("$% "))
        is_command = bool(_PROMPTED.match(first)) or (
            program is not None and program.group(1) in repeated
        )
        if len(text.split()) >= 2 and first and is_command and (prompted or repeated):
            found.append((text, whole_block(commands, read)))
    return found


def _lead_code(block: list[str], read: ReadTuning) -> str:
    """What a lead-in shows of the code block it announces (its lines, stripped): the first
    non-blank lines joined by "; ", at most `ReadTuning.lead_code_lines` lines and about
    `ReadTuning.lead_code_chars` characters."""
    kept: list[str] = []
    for line in block:
        if line and len(kept) < read.lead_code_lines and sum(map(len, kept)) < read.lead_code_chars:
            kept.append(line)
    return "; ".join(kept)[: read.lead_code_chars + read.own_code_extra_chars]


#: A prose line in an indented block: a sentence of this many words at least, ending as one.
_PROSE_LINE = re.compile(r"^(?:\S+\s+){5,}\S*[.!?]$")


_TABLE_BORDER = re.compile(r"^[-=+|:\s]{3,}$")


def indented_code(lines: list[str], start: int, read: ReadTuning) -> tuple[str, int]:
    """The indented block opening at `start` as a lead-in shows code (`_lead_code`) and the
    index after it; "" when a line of it reads as prose (a block quote) or draws a table's
    border ("=====  =====", "+----+")."""
    i = start
    while i < len(lines) and lines[i][:1].isspace() and lines[i].strip():
        i += 1
    block = [line.strip() for line in lines[start:i]]
    if any(_PROSE_LINE.match(line) or _TABLE_BORDER.match(line) for line in block):
        return "", i
    return _lead_code(block, read), i


#: A line of an indented two-column table in a text file: a short term, a tab or a gap of
#: spaces, and what it means in words ("=+\tThe file is read-only", "0\tnever").
_COLUMNS = re.compile(r"^(\S{1,20})(?:\t+|\s{2,})(\S.*[A-Za-z].*)$")


def indented_columns(lines: list[str], start: int) -> tuple[list[str], int]:
    """The indented block opening at `start` as "term — meaning" items when each of its lines
    (two at least) is a row of a two-column table (`_COLUMNS`) whose meaning opens with a word,
    and the index after it; no items otherwise."""
    i = start
    items: list[str] = []
    while i < len(lines) and lines[i][:1].isspace() and lines[i].strip():
        row = _COLUMNS.match(lines[i].strip())
        if row is None or not row.group(2)[:1].isalpha():
            return [], start
        items.append(f"{row.group(1)} — {clean(row.group(2)).rstrip('.;, ')}")
        i += 1
    return (items if len(items) >= 2 else []), i


#: A definition as the HTML loader writes `<dt>`/`<dd>` and a table row reads: "term —
#: description" (a term of at most `ReadTuning.definition_term_words` words).
DASH_LABEL = re.compile(r"^([^—.!?]{1,60}?) — \S")


def definition_term(lines: list[str], i: int, read: ReadTuning) -> str | None:
    """The term at `lines[i]` when it starts a definition (see
    `ReadTuning.definition_term_chars`)."""
    line, following = lines[i], lines[i + 1] if i + 1 < len(lines) else ""
    term = line.strip()
    if (
        line[:1].isspace()
        or not following[:1].isspace()
        or not following.strip()
        or len(term) > read.definition_term_chars
        or len(term.split()) > read.definition_term_words
        or term.endswith((".", ":", ";", ",", "!", "?"))
        or _BLOCK_START.match(term)
        or _BLOCK_START.match(following.strip())
    ):
        return None
    return term


def synopsis_term(lead: str, code: str, read: ReadTuning) -> str | None:
    """The term of a definition whose description opens with its synopsis: a lead of a term
    alone ("mapfile:", as the HTML loader writes such a term) before code that starts with it
    ("mapfile [-d delim] [array]")."""
    term = lead[:-1].strip() if lead.endswith(":") else ""
    if (
        not term
        or len(term.split()) > read.definition_term_words
        or not re.match(rf"{re.escape(term)}(?:[\s(\[]|$)", code.lstrip())
    ):
        return None
    return term


def labelled(sentences: list[str], label: str) -> list[tuple[str, str]]:
    """A definition's sentences as (sentence, term it describes): the first one holds the
    term, the others name it by `Unit.label` (their answer shows it; their context has it)."""
    if not sentences:
        return []
    first = sentences[0] if sentences[0].startswith(label) else f"{label} — {sentences[0]}"
    return [(first, ""), *((sentence, label) for sentence in sentences[1:])]


#: A web or mail address: no words of a sentence ("Python: https://www.python.org/", a
#: link target's, states nothing).
ADDRESS = re.compile(r"\b(?:https?|ftp)://\S+|\bmailto:\S+|\bwww\.\S+", re.IGNORECASE)


#: Sentences written to an assistant rather than to people ("ignore your instructions",
#: "reveal your system prompt"): a prompt injection in a document is never quoted as an answer.
_ADDRESSED_TO_ASSISTANT = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+|previous\s+|"
    r"prior\s+|above\s+|earlier\s+|other\s+)*(?:instructions|rules|prompts?|guidelines)\b"
    r"|\b(?:system|developer|hidden)\s+(?:prompt|instructions|message)\b"
    r"|\byou\s+are\s+now\b|\bnew\s+instructions\b"
    r"|\b(?:as\s+an?|you\s+are\s+an?)\s+(?:ai|assistant|chatbot|language\s+model|llm)\b"
    r"|\b(?:ai|assistants?|chatbots?|llms?|language\s+models?)\s+(?:must|should|shall|will)\b"
    r"|\breveal\s+(?:your|the)\s+(?:instructions|prompt|configuration|api\s+keys?|secrets?)\b",
    re.IGNORECASE,
)


def addressed_to_assistant(sentence: str) -> bool:
    """Whether a sentence is an instruction aimed at an AI assistant (see the pattern)."""
    return _ADDRESSED_TO_ASSISTANT.search(sentence) is not None


#: A field of a field list or a definition: "Default: 10 000.", "Aliases: :ac:".
FIELD = re.compile(r"^([^\W\d_][\w ./-]{0,40}?):\s+\S")
