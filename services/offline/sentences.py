"""Candidate answer sentences: splitting retrieved sections into units and scoring them.

Rules: paragraphs, list items and table rows become units (table rows as
"label — header: value; ..."), code is skipped; a unit's coverage is the IDF-weighted share of
the question's content stems it holds (heading/table-header words count half), plus small
bonuses for phrases kept together and for holding the kind of fact asked for. Thresholds are
calibrated on the bundled sample (see tests/integration).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.knowledge.fts_query import words
from services.knowledge.spelling import within_edits
from services.offline import lexicon
from services.offline.amounts import (
    Amount,
    amounts,
    days_of_year,
    holds_asked_amount,
    holds_asked_day,
)
from services.offline.question import (
    IDENTIFIER,
    INTENT_ADVICE,
    INTENT_FREQUENCY,
    INTENT_METHOD,
    INTENT_NUMBER,
    INTENT_PATH,
    INTENT_WHEN,
    INTENT_WHO,
    counted_things,
    states_count_of,
    without_enumeration,
    without_versions,
)
from services.offline.text import (
    STOP,
    bound_stems,
    has_digit,
    is_code,
    named_words,
    stem,
    stem_set,
    wordset,
)
from use_cases.shared.sentences import split_sentences

#: Score bonus for a sentence holding the kind of fact asked for.
INTENT_BONUS = 0.12

#: The same for a sentence that says what to do, asked how to do something: the sign is
#: looser (a manual's settings are described in the imperative, "Add syntax highlighting").
METHOD_BONUS = 0.06

#: Weight of a question term that no retrieved passage holds, as a share of the weight of a
#: term held by exactly none of the candidate sentences (the IDF ceiling).
ABSENT_TERM_WEIGHT = 0.75

#: Credit for a question term found only in a sentence's heading or table header.
CONTEXT_CREDIT = 0.5

#: Share of lexical coverage (vs meaning) in a sentence's evidence.
LEXICAL_WEIGHT = 0.3

#: Coverage added per question phrase (two adjacent content words) kept together; at most 2.
PHRASE_BONUS = 0.06

#: Ranking penalty for a sentence that holds none of the question's words itself (only its
#: heading does): it is about the topic, but rarely the statement asked for.
HEADING_ONLY_PENALTY = 0.05

#: Ranking bonus for a sentence naming the measure a "how long/big/old ... be?" question asks
#: for ("length"), which its words do not hold.
MEASURE_BONUS = 0.06

#: Ranking bonus for a sentence stating a count of what the question counts: "There must be
#: at least two columns" for "can a simple table have only 1 column?" or "how many columns".
COUNT_BONUS = 0.1

#: A quarter ("Q2", "Q2 2025", "Q2/2025", "2025 Q2").
_QUARTER = re.compile(r"\b(?:((?:19|20)\d\d)[\s/-]?)?Q([1-4])(?:[\s/-]?((?:19|20)\d\d))?\b", re.I)


def quarters(text: str) -> set[tuple[str, str | None]]:
    """The quarters `text` names, as (quarter, year or None)."""
    return {(m.group(2), m.group(1) or m.group(3)) for m in _QUARTER.finditer(text)}


def only_other_quarters(question: str, texts: Sequence[str]) -> bool:
    """Whether the question asks about a quarter that none of `texts` names while some name
    other quarters: "ETA accuracy in Q2 2025" against figures for Q4 2024 and Q1 2025. A year
    given on both sides must agree."""
    asked = quarters(question)
    if not asked:
        return False
    named = set().union(*(quarters(t) for t in texts))
    return bool(named) and not any(
        q == aq and (y is None or ay is None or y == ay) for q, y in named for aq, ay in asked
    )


#: Ranking bonus for a sentence stating a range that holds an amount of the question: "a 15%
#: discount" is decided by the row "10% – 25%", not by "up to 10%" (services/offline/amounts.py).
RANGE_BONUS = 0.1

#: Evidence added to such a row: an amount of the question falling in a row's range is
#: near-certain evidence that the row decides it, which the embedder underrates in a short row.
RANGE_EVIDENCE = 0.06

#: Ranking penalty for "Deputy owner: ..." when an "Owner: ..." sentence is also retrieved.
QUALIFIED_LABEL_PENALTY = 0.1

#: Ranking penalty for a sentence (and heading) without the identifier the question names:
#: "how long are pg-core backups kept" is not answered by "ClickHouse backups are kept 14 days".
#: Fitted on the union of the corpora's dev splits (`python -m bench.check_ablation`); without
#: the check, answers are lost (docs/history.md).
MISSING_IDENTIFIER_PENALTY = 0.1

#: Evidence added to a sentence that itself holds every identifier or code the question names
#: ("STALLED", "pg-core"): near-certain topic evidence, which the embedder underrates in a
#: long list sentence.
IDENTIFIER_EVIDENCE = 0.05

#: Credit for a word that a numbered code starts with: "what sev is it" and "SEV2".
CODE_CREDIT = 0.8

#: Weight of a term a follow-up borrowed from the previous question, against its own terms.
BACKGROUND_WEIGHT = 0.5

#: Credit for an abbreviation: a term that starts a much longer word ("ack", "acknowledg").
ABBREVIATION_CREDIT = 0.5

#: A number in its own right (not the digit of a code such as "P1" or "SEV2").
_NUMBER = re.compile(r"(?<![A-Za-z])\d")

#: A person, or a role that answers "who" as well as a name does ("VP Sales", "the CFO",
#: "Head of Customer Support").
_PERSON = re.compile(
    r"\b[A-Z][a-zà-ÿ'’-]+\s+[A-Z][a-zà-ÿ'’-]+\b"
    r"|\b(?:S?VP|EVP|CEO|CFO|CTO|CISO|COO|CPO|DPO)\b|\b(?:Head\s+of|Chief)\s+[A-Z]"
)

_DATEISH = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|"
    r"april|may|june|july|august|september|october|november|december|daily|weekly|monthly|"
    r"quarterly|annually|yearly|\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2})\b",
    re.IGNORECASE,
)

#: A sentence that advises for or against something: "should be avoided if not strictly
#: needed", "it is safe to copy ... as long as", "a client/server database is recommended".
_ADVICE = re.compile(
    r"\b(?:should(?:\s+not|n't)?|recommend(?:ed|s)?|avoid(?:ed)?|(?:not|never)\s+(?:strictly\s+)?"
    r"(?:needed|necessary|required)|unnecessary|(?:un)?safe(?:ly)?|prefer(?:red|able)?|"
    r"discouraged|must\s+not|(?:a\s+)?(?:good|bad|poor|better)\s+(?:fit|idea|choice))\b",
    re.IGNORECASE,
)

#: A sentence that says what to do: an instruction ("Use ...", "To start afresh, pass ...",
#: "... and then run ..."; not the noun: "and use of ..."), a way offered ("you can ...",
#: "can be passed", "this is done by", "the solution is", "remains available as ...", "to
#: fully revert ..., there is ..."), or the code it announces (`Unit.code`).
#: Verbs of doing an instruction opens with ("Pass ...", "Run ...", "Set ..."), besides "use".
DOING_VERBS = (
    "pass|set|specify|call|add|run|change|enable|disable|configure|install|put|write|replace|"
    "remove|turn|switch|invoke|type|press|choose|select|create|open|edit|apply"
)

_METHOD = re.compile(
    rf"(?:^|[,:;]\s+|\b(?:then|and|or|just|simply)\s+)(?:use(?!\s+of\b)|{DOING_VERBS}|escape|"
    r"avoid|declare|define|hold|try|make|give|include|load|import|wrap|prefix|quote|double)\b"
    r"|\b(?:you|we|one)\s+(?:can|could|should|must|may|need\s+to|have\s+to)\b"
    r"|\b(?:can|could|should|must|may)\s+(?:also\s+)?be\s+(?:used|passed|set|specified|given|"
    r"added|called|enabled|disabled|escaped|changed|turned|switched|replaced|written)\b"
    r"|\b(?:is|are|can\s+be)\s+(?:achieved|done|accomplished)\s+(?:by|with)\b"
    r"|\bsolution\b|\binstead\b(?!\s+of\b)|\bworkaround\b"
    r"|\b(?:is|are|remains?)\s+(?:still\s+|also\s+)?available\s+(?:as|via|through|with|by)\b"
    r"|\bto\s+(?:fully\s+)?(?:revert|restore|undo|avoid|prevent|disable|suppress|override)\b",
    re.IGNORECASE,
)


#: A place on disk: a path ("~/.inputrc", "/etc/inputrc", "venv/var/app-instance",
#: "conf.d/app.conf") or a variable naming one ("$HOME"); not "and/or" or "read/write".
_PATH = re.compile(
    r"(?<![\w<])(?:~|\.{1,2})?/[\w.-]+|\b[\w.-]+(?:/[\w.-]+){2,}|\b[\w.-]+/[\w-]*\.\w+"
    r"|\$[A-Z_]{3,}\b"
)

_FREQUENCY = re.compile(
    r"\b(?:every|each|per|periodic|periodically|daily|weekly|monthly|quarterly|annually|"
    r"yearly|once|twice|rotation|expiry|only)\b",
    re.IGNORECASE,
)


@dataclass
class Unit:
    """One candidate answer sentence (or table row rendered as a sentence)."""

    text: str
    stems: set[str]
    context: set[str]
    sequence: list[str]  # the sentence's stems in order (for phrase matching)
    hit_index: int  # index into the kept hits
    rank: int  # 0-based rank of the hit within its own search
    position: int
    group: int | None = None  # items of one long list share a group (one per answer)
    code: str = ""  # the code this sentence announces ("... change the call to:"), shown after it
    label: str = ""  # the term of the definition this sentence goes on describing (not its first)

    @property
    def read(self) -> str:
        """The sentence as its meaning is read: after the term it describes, if any, without
        the numbers of enumerated items (where an item stands says nothing of it)."""
        text = without_enumeration(self.text)
        return f"{self.label} — {text}" if self.label else text

    @property
    def shown(self) -> str:
        """The sentence as an answer quotes it: after the term it describes, when it is not
        the definition's first sentence (which holds the term); with the code it announces,
        as a code span."""
        return self.shown_after(None)

    def describes_further(self, previous: Unit | None) -> bool:
        """Whether this sentence goes on with the definition `previous` is part of, right
        after it."""
        return (
            bool(self.label)
            and previous is not None
            and previous.hit_index == self.hit_index
            and previous.position == self.position - 1
            and (previous.label == self.label or previous.text.startswith(self.label))
        )

    def shown_after(self, previous: Unit | None) -> str:
        """As `shown`, without the term right after a sentence of the same definition."""
        text = self.text
        if self.label and not self.describes_further(previous):
            text = f"{self.label} — {text}"
        if not self.code:
            return text
        ticks = "`" * (1 + max((len(run) for run in re.findall(r"`+", self.code)), default=0))
        return f"{text} {ticks}{self.code}{ticks}"


#: A list is joined to its lead-in sentence only when the result stays this short.
MAX_MERGED_WORDS = 60


#: A numbered heading as PDFs and text files print it ("3.4 A minimal class file",
#: "2.1.3. Options"): several levels of numbers, a capital, no closing punctuation.
_NUMBERED_HEADING = re.compile(r"^\d{1,3}(?:\.\d{1,3})+\.?\s+[A-Z][^.:;!?,]*$")
NUMBERED_HEADING_WORDS = 12

#: A heading as plain-text manuals write it: a line of its own in capitals ("IGNORING CASE").
_CAPITALS_HEADING = re.compile(r"^[A-Z][A-Z0-9 '&/-]*[A-Z0-9]$")


def _capitals_heading(lines: list[str], i: int) -> bool:
    """Whether line `i` is a heading in capitals, with a blank line (or the text's edge) on
    either side and at most `NUMBERED_HEADING_WORDS` words."""
    line = lines[i].strip()
    return (
        bool(_CAPITALS_HEADING.match(line))
        and len(line.split()) <= NUMBERED_HEADING_WORDS
        and (i == 0 or not lines[i - 1].strip())
        and (i + 1 == len(lines) or not lines[i + 1].strip())
    )


_LIST_ITEM = re.compile(r"^(?:[-*+•▪◦]|\d{1,2}[.)])\s+")
_ORDINAL = re.compile(r"^(\d{1,2})[.)]\s+")


def _item_text(line: str) -> str:
    """A list item without its marker; an ordered item keeps its number as "(3) ", since the
    number can be what it says ("3. Temporary files are always stored in memory", the
    setting's value), written so that no sentence ends at it."""
    return _LIST_ITEM.sub(
        lambda marker: f"({number}) " if (number := _ordinal(marker)) else "", line
    )


def _ordinal(marker: re.Match[str]) -> str | None:
    ordered = _ORDINAL.match(marker.group(0))
    return ordered.group(1) if ordered else None


_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")


#: Markdown emphasis, "*word*": it opens before a word (or code, a bracket, a quote) and
#: closes after one; quoted asterisks ("subscripted by ‘*’ or ‘@’ ... is ‘@’ or ‘*’") are
#: no emphasis, and nothing between two of them may be lost.
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[\w`(\"'])([^*]+?)(?<=[\w`)\"'.!?:;,])\*(?![\w*])")


def _clean(text: str) -> str:
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


def _table_rows(lines: list[str]) -> tuple[list[str], set[str]]:
    """Rows of a markdown table as sentences, plus the header words (context)."""
    rows = [
        [_clean(cell) for cell in line.strip().strip("|").split("|")]
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
_NO_SENTENCE_END = wordset(
    """a an the of to in on at by for from with without into onto than as and or nor but
    that which whose is are was were be been being has have had can could may might must
    shall should will would not no its their our your his her this these those such"""
)

#: Inline markup (a code span, emphasis): a line opening with it goes on with a line before
#: that ends on a word, whatever the case of its first letter.
_INLINE_MARKUP = "`_*"

#: Markup that may open a soft-wrapped line before its first word (emphasis, code, quotes).
_LEADING_MARKUP = "*_`\\\"'“‘(["

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
    first = following.lstrip(_LEADING_MARKUP)[:1]
    if first.islower():
        return True
    if line[-1:].isalpha() and following[:1] in _INLINE_MARKUP:
        return True  # "Due to this, pycodestyle will raise" / "`E203 ...` warnings."
    last = line.rsplit(None, 1)[-1].lower() if line.split() else ""
    return line.endswith(",") or last in _NO_SENTENCE_END


#: A text filled to a width (a plain-text manual, a hard-wrapped Markdown file): its longest
#: line is at least this long, and a line broken by the filling this share of it at least.
FILL_WIDTH_MIN = 60
FILL_LINE_SHARE = 0.75


def fill_width(lines: list[str]) -> int:
    """The width a text's paragraphs were filled to: its longest line, if it is long enough
    to be one (0 otherwise, a text with no sign of filling)."""
    width = max((len(line.rstrip().expandtabs()) for line in lines), default=0)
    return width if width >= FILL_WIDTH_MIN else 0


#: Box-drawing characters: the rows and rules of a table a text-mode browser drew.
_DRAWN = re.compile("[\u2500-\u257f]")


def _filled(previous: str, following: str, width: int) -> bool:
    """Whether the line `previous` (as in the text) ended only because the first word of
    `following` would have made it longer than the text's fill width: a soft wrap, whatever
    that word starts with ('"N"', '<Enter>', 'CTRL-W')."""
    if not width or not following or _DRAWN.search(previous) or _DRAWN.search(following):
        return False  # a table drawn in box characters fills its width row after row
    length = len(previous.rstrip().expandtabs())
    return length >= FILL_LINE_SHARE * width and length + 1 + len(following.split()[0]) > width


def _logical_lines(lines: list[str], start: int, width: int = 0) -> tuple[str, int]:
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
        if following and _continues(line, following, _filled(lines[i - 1], following, width)):
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


def _going_on(lines: list[str], start: int) -> int | None:
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


#: A lead-in ("... in the argument specification:") is a sentence of this many words at least;
#: a shorter line ending with ":" is a label ("create-table-stmt:"), announcing nothing.
LEAD_IN_WORDS = 3

#: Code joined to the sentence announcing it: at most this many lines and characters.
LEAD_CODE_LINES = 3
LEAD_CODE_CHARS = 160


#: A code line ending with a callout marker, "$ git reset --hard HEAD~3   <2>" (AsciiDoc's and
#: DocBook's callouts: the numbered list after the block says what each marked line does).
_CALLOUT = re.compile(r"^(.*?\S)\s+<(\d{1,2})>$")


def _fenced(lines: list[str], start: int) -> tuple[str, int, dict[str, str]]:
    """The first lines of the fenced code block opening at `start` (joined by "; ", at most
    `LEAD_CODE_LINES` lines and about `LEAD_CODE_CHARS` characters), the index after it, and
    its lines that carry a callout marker, by the marker's number (`_CALLOUT`)."""
    fence = lines[start].strip()[:3]
    i = start + 1
    block: list[str] = []
    callouts: dict[str, str] = {}
    while i < len(lines) and not lines[i].strip().startswith(fence):
        line = lines[i].strip()
        block.append(line)
        marked = _CALLOUT.match(line)
        if marked is not None:
            callouts.setdefault(marked.group(2), marked.group(1))
        i += 1
    return _lead_code(block), i + 1, callouts


def _lead_code(block: list[str]) -> str:
    """What a lead-in shows of the code block it announces (its lines, stripped): the first
    non-blank lines joined by "; ", at most `LEAD_CODE_LINES` lines and about
    `LEAD_CODE_CHARS` characters."""
    kept: list[str] = []
    for line in block:
        if line and len(kept) < LEAD_CODE_LINES and sum(map(len, kept)) < LEAD_CODE_CHARS:
            kept.append(line)
    return "; ".join(kept)[: LEAD_CODE_CHARS + 40]


#: A prose line in an indented block: a sentence of this many words at least, ending as one.
_PROSE_LINE = re.compile(r"^(?:\S+\s+){5,}\S*[.!?]$")
_TABLE_BORDER = re.compile(r"^[-=+|:\s]{3,}$")


def _indented_code(lines: list[str], start: int) -> tuple[str, int]:
    """The indented block opening at `start` as a lead-in shows code (`_lead_code`) and the
    index after it; "" when a line of it reads as prose (a block quote) or draws a table's
    border ("=====  =====", "+----+")."""
    i = start
    while i < len(lines) and lines[i][:1].isspace() and lines[i].strip():
        i += 1
    block = [line.strip() for line in lines[start:i]]
    if any(_PROSE_LINE.match(line) or _TABLE_BORDER.match(line) for line in block):
        return "", i
    return _lead_code(block), i


#: A line of an indented two-column table in a text file: a short term, a tab or a gap of
#: spaces, and what it means in words ("=+\tThe file is read-only", "0\tnever").
_COLUMNS = re.compile(r"^(\S{1,20})(?:\t+|\s{2,})(\S.*[A-Za-z].*)$")


def _indented_columns(lines: list[str], start: int) -> tuple[list[str], int]:
    """The indented block opening at `start` as "term — meaning" items when each of its lines
    (two at least) is a row of a two-column table (`_COLUMNS`) whose meaning opens with a word,
    and the index after it; no items otherwise."""
    i = start
    items: list[str] = []
    while i < len(lines) and lines[i][:1].isspace() and lines[i].strip():
        row = _COLUMNS.match(lines[i].strip())
        if row is None or not row.group(2)[:1].isalpha():
            return [], start
        items.append(f"{row.group(1)} — {_clean(row.group(2)).rstrip('.;, ')}")
        i += 1
    return (items if len(items) >= 2 else []), i


#: A definition list's term, as text files and reStructuredText write it: a short line of its
#: own, unindented, with its description indented on the lines below ("``local`` : flag" /
#: "    Generate a local table of contents. Entries will only include ...").
DEFINITION_TERM_CHARS = 60
DEFINITION_TERM_WORDS = 6

#: A definition as the HTML loader writes `<dt>`/`<dd>` and a table row reads: "term —
#: description" (a term of at most `DEFINITION_TERM_WORDS` words).
_DASH_LABEL = re.compile(r"^([^—.!?]{1,60}?) — \S")


def _definition_term(lines: list[str], i: int) -> str | None:
    """The term at `lines[i]` when it starts a definition (see `DEFINITION_TERM_CHARS`)."""
    line, following = lines[i], lines[i + 1] if i + 1 < len(lines) else ""
    term = line.strip()
    if (
        line[:1].isspace()
        or not following[:1].isspace()
        or not following.strip()
        or len(term) > DEFINITION_TERM_CHARS
        or len(term.split()) > DEFINITION_TERM_WORDS
        or term.endswith((".", ":", ";", ",", "!", "?"))
        or _BLOCK_START.match(term)
        or _BLOCK_START.match(following.strip())
    ):
        return None
    return term


def _synopsis_term(lead: str, code: str) -> str | None:
    """The term of a definition whose description opens with its synopsis: a lead of a term
    alone ("mapfile:", as the HTML loader writes such a term) before code that starts with it
    ("mapfile [-d delim] [array]")."""
    term = lead[:-1].strip() if lead.endswith(":") else ""
    if (
        not term
        or len(term.split()) > DEFINITION_TERM_WORDS
        or not re.match(rf"{re.escape(term)}(?:[\s(\[]|$)", code.lstrip())
    ):
        return None
    return term


def _labelled(sentences: list[str], label: str) -> list[tuple[str, str]]:
    """A definition's sentences as (sentence, term it describes): the first one holds the
    term, the others name it by `Unit.label` (their answer shows it; their context has it)."""
    if not sentences:
        return []
    first = sentences[0] if sentences[0].startswith(label) else f"{label} — {sentences[0]}"
    return [(first, ""), *((sentence, label) for sentence in sentences[1:])]


#: A web or mail address: no words of a sentence ("Python: https://www.python.org/", a
#: link target's, states nothing).
_ADDRESS = re.compile(r"\b(?:https?|ftp)://\S+|\bmailto:\S+|\bwww\.\S+", re.IGNORECASE)


def units_of(text: str, heading_context: set[str], hit_index: int, rank: int) -> list[Unit]:
    """The sentences of a section: paragraphs, list items and table rows; code is skipped,
    except the first lines of a block a sentence ending with ":" announces (joined to it) and
    the lines a callout marks ("... HEAD~3  <2>"), each shown with the numbered item after the
    block that explains it ("2. Rewind the master branch ...").

    A lead-in line ending with ":" is joined to its list ("You must change your password
    when: a; b; c."), since it says what the items are; a long list gives one "lead-in item"
    unit per item instead, and at most one of those makes it into an answer. A lead-in is
    joined to the code block it announces (`Unit.code`), fenced or indented (a text file's
    example, "... set the 'ignorecase' option:" over "\\t:set ignorecase"), or to the
    unindented line after it that is no block of its own (a PDF's or a text file's example,
    "... is declared as follows: \\DeclareOption{...}"); an indented table of terms it
    announces is its list; before any other table or a quotation it says nothing alone, and
    at the passage's end (what it announces cut off into the next passage) it is a sentence.
    Headings in the text ("#", a numbered one, a line in capitals) are context, not units.
    """
    reading = _SectionReading(text.splitlines(), heading_context)
    reading.read()
    units = []
    for position, (sentence, context, group) in enumerate(reading.blocks):
        if len(words(_ADDRESS.sub(" ", sentence))) < 2 or addressed_to_assistant(sentence):
            continue  # a word, or a link with at most a word: no statement
        named = named_words(sentence)
        sequence = [
            stem(w) for w in words(without_enumeration(sentence)) if w not in STOP or w in named
        ]
        group_id = None if group is None else hit_index * 100_000 + group
        units.append(
            Unit(
                sentence,
                set(sequence) | bound_stems(sentence),  # "at most eight" states a maximum
                context,
                sequence,
                hit_index,
                rank,
                position,
                group_id,
                reading.codes.get(position, ""),
                reading.labels.get(position, ""),
            )
        )
    return units


class _SectionReading:
    """A section read line by line into blocks: (sentence, context, list group), with the code
    a block's sentence announces and the term of the definition it goes on with."""

    def __init__(self, lines: list[str], heading_context: set[str]) -> None:
        self.lines = lines
        self.width = fill_width(lines)
        self.heading_context = heading_context
        self.i = 0
        self.blocks: list[tuple[str, set[str], int | None]] = []
        self.local_context = set(heading_context)
        self.lead: str | None = None  # a sentence ending with ":" that nothing has followed yet
        self.lead_follows = False  # whether `lead` ends a paragraph (no label line of its own)
        self.codes: dict[int, str] = {}  # block index -> the code its sentence announces
        self.labels: dict[int, str] = {}  # block index -> the term of the definition it goes on
        # a block of the paragraph just read, ending on no sentence end
        self.open_block: int | None = None
        self.callouts: dict[str, str] = {}  # the last code block's marked lines, by their numbers
        # a term and its synopsis, awaiting its description
        self.synopsis: tuple[str, str] | None = None

    def read(self) -> None:
        lines = self.lines
        while self.i < len(lines):
            stripped = lines[self.i].strip()
            if not stripped:
                self.i += 1
                continue
            dangling, self.open_block = self.open_block, None
            if stripped.startswith(("```", "~~~")):
                self._fenced(dangling)
                continue
            announced, self.lead = self.lead, None
            announced_follows = self.lead_follows
            described_by, self.synopsis = self.synopsis, None
            indented = lines[self.i][:1].isspace()  # a block quote or literal block in a text file
            if (
                indented
                and announced is not None
                and (announced_follows or len(words(announced)) >= LEAD_IN_WORDS)
                and self._indented_announced(announced)
            ):
                continue
            if stripped.startswith("|"):
                self._table()
                continue
            if stripped.startswith("#") or _capitals_heading(lines, self.i):
                self.local_context = set(self.heading_context) | stem_set(stripped.lstrip("#"))
                self.callouts, self.synopsis = {}, None
                self.i += 1
                continue
            if self._definition():
                continue
            self._paragraph(stripped, announced, described_by, indented)
        if self.lead is not None and len(words(self.lead)) >= LEAD_IN_WORDS:
            # The passage ends with a lead-in: what it announces was cut off (the next passage
            # holds it), and "The 'laststatus' option can be used to specify when the last
            # window has a statusline:" still says something without it.
            self.blocks.append((self.lead, self.local_context, None))

    def _define(self, sentences: list[str], term: str) -> None:
        """A definition's sentences as blocks: the first holds its term, the others name it
        (`_labelled`) and have it in their context."""
        about = self.local_context | stem_set(term)
        for sentence, of in _labelled(sentences, term):
            if of:
                self.labels[len(self.blocks)] = of
            self.blocks.append((sentence, about if of else self.local_context, None))

    def _add_listed(self, listed: str, items: list[str], group: int) -> None:
        """A lead-in and its items: the lead-in is incomplete without them, so a short list is
        joined to it whole, a long one item by item (each item's units one `group`)."""
        merged = f"{listed} {'; '.join(items)}."
        if len(words(merged)) <= MAX_MERGED_WORDS:
            self.blocks.append((merged, self.local_context, None))
        else:
            self.blocks.extend((f"{listed} {item}.", self.local_context, group) for item in items)

    def _fenced(self, dangling: int | None) -> None:
        """A fenced code block: the middle of a sentence, a term's synopsis, what a lead-in
        announces, or nothing to read."""
        lines, start = self.lines, self.i
        code, self.i, self.callouts = _fenced(lines, self.i)
        if dangling is not None and code and self.i - start - 2 <= LEAD_CODE_LINES:
            going_on = _going_on(lines, self.i)
            if going_on is not None:
                # "The most straightforward way is to write" + "#!/usr/bin/python" + "as
                # the very first line of your file": code in the middle of a sentence.
                rest, self.i = _logical_lines(lines, going_on, self.width)
                before, context, _ = self.blocks[dangling]
                ticks = "`" * (1 + max(map(len, re.findall(r"`+", code)), default=0))
                joined = split_sentences(f"{before} {ticks}{code}{ticks} {_clean(rest)}")
                if joined[-1].endswith(":") and not _FIELD.match(joined[-1]):
                    self.lead = joined.pop()  # "... so it should be declared with two parameters:"
                    self.lead_follows = bool(joined)
                self.blocks[dangling : dangling + 1] = [(s, context, None) for s in joined]
                if self.lead is None and joined[-1][-1:].isalpha():
                    self.open_block = dangling + len(joined) - 1  # "... It is called as"
                return
        term = _synopsis_term(self.lead, code) if self.lead is not None else None
        if term is not None:
            # "mapfile:" + "mapfile [-d delim] [array]" + "Read lines from ...": a term,
            # its synopsis, then its description, whose first sentence shows both.
            self.synopsis = (term, code)
            self.lead = None
            return
        if self.lead is not None and code:
            # "To start afresh each run, change the call to:" + the call: the code is
            # the answer the sentence announces. It is scored by the sentence's words
            # and shown with the code (`Unit.code`).
            self.codes[len(self.blocks)] = code
            self.blocks.append((self.lead, self.local_context, None))
        self.lead = None

    def _indented_announced(self, announced: str) -> bool:
        """An indented table of terms or an indented example a lead-in announces, read."""
        items, after = _indented_columns(self.lines, self.i)
        if items:
            # "These special characters can be present:" over "\t=\tThe file is
            # read-only": an indented table of terms and what they mean is a list.
            self._add_listed(announced, items, self.i)
            self.i = after
            return True
        code, after = _indented_code(self.lines, self.i)
        if code:
            # "... set the 'ignorecase' option:" over "\t:set ignorecase": a text file's
            # example, announced as a fenced block's is (above); a short lead-in ending a
            # paragraph ("... language code.  For French:") announces it too.
            self.codes[len(self.blocks)] = code
            self.blocks.append((announced, self.local_context, None))
            self.i = after
            return True
        return False

    def _table(self) -> None:
        table = []
        while self.i < len(self.lines) and self.lines[self.i].strip().startswith("|"):
            table.append(self.lines[self.i].strip())
            self.i += 1
        sentences, header = _table_rows(table)
        self.blocks.extend((sentence, self.local_context | header, None) for sentence in sentences)

    def _definition(self) -> bool:
        """A term over its indented description, read as a definition."""
        term = _definition_term(self.lines, self.i)
        if term is None:
            return False
        # "``local`` : flag" over "    Generate a local table of contents. Entries ...":
        # the term is what questions name, and the description's sentences are about it.
        label = _clean(term)
        described: list[str] = []
        self.i += 1
        while (
            self.i < len(self.lines)
            and self.lines[self.i].strip()
            and self.lines[self.i][:1].isspace()
        ):
            described.append(self.lines[self.i].strip())
            self.i += 1
        self._define(split_sentences(_clean(" ".join(described))), label)
        return True

    def _paragraph(
        self,
        stripped: str,
        announced: str | None,
        described_by: tuple[str, str] | None,
        indented: bool,
    ) -> None:
        """A paragraph or a list item: its sentences, a lead-in joined to its list, or the
        description of a term whose synopsis came before."""
        ordinal = _ORDINAL.match(stripped)
        callout = self.callouts.pop(ordinal.group(1), "") if ordinal is not None else ""
        if callout:
            self.codes[len(self.blocks)] = callout  # "2. Rewind the branch ..." says what <2> does
        line, self.i = _logical_lines(self.lines, self.i, self.width)
        if _NUMBERED_HEADING.match(_clean(line)) and len(line.split()) <= NUMBERED_HEADING_WORDS:
            # "3.4 A minimal class file" (a PDF's or a text file's heading, "*08.1* Split a
            # window" marked up): what the sentences after it are about, no sentence of its own
            self.local_context = set(self.heading_context) | stem_set(line)
            return
        line = _clean(_item_text(line))
        if (
            announced is not None
            and (announced[:1].isalnum() or announced[:1] in _LEADING_MARKUP)  # not "% ..."
            and len(words(announced)) >= LEAD_IN_WORDS
            and not line.endswith(":")
            and not indented
            and not _LIST_ITEM.match(stripped)
        ):
            # "This can be changed by giving the modifier ! in the argument specification:" /
            # "\NewDocumentCommand\foobar{m !o}{ ... } where ... will not find ...": what a
            # lead-in announces on a line of its own, not as code (a PDF, a text file).
            line = f"{announced} {line}"
        sentences = split_sentences(line)
        if line.endswith(":") and not _FIELD.match(line) and self._listed(sentences):
            return
        # A lead-in to something that is not a list (a table, code) says nothing alone; one
        # followed by code is joined to it (above).
        if described_by is not None and sentences and not indented:
            term, code = described_by
            self.codes[len(self.blocks)] = code
            self._define(sentences, term)
            return
        self._sentences(sentences, indented)

    def _listed(self, sentences: list[str]) -> bool:
        """The list items after a paragraph ending with ":", joined to it as its lead-in."""
        lines, width = self.lines, self.width
        items: list[str] = []
        j = self.i
        while j < len(lines) and (not lines[j].strip() or _LIST_ITEM.match(lines[j].strip())):
            if lines[j].strip():
                item, j = _logical_lines(lines, j, width)
                item = _clean(_item_text(item)).rstrip(".;, ")
                items.append(re.sub(r",?\s+(?:or|and)$", "", item))
            else:
                j += 1
                if items:
                    break
        if not (items and sentences):
            return False
        listed = sentences.pop()
        self.blocks.extend((sentence, self.local_context, None) for sentence in sentences)
        self._add_listed(listed, items, self.i)
        self.i = j
        return True

    def _sentences(self, sentences: list[str], indented: bool) -> None:
        """A paragraph's sentences as blocks ("term — description. More of it.": the later
        sentences describe the term too); a last one ending with ":" is a lead-in."""
        dashed = _DASH_LABEL.match(sentences[0]) if len(sentences) > 1 else None
        if dashed is not None and len(dashed.group(1).split()) > DEFINITION_TERM_WORDS:
            dashed = None
        for k, sentence in enumerate(sentences):
            if sentence.endswith(":") and not _FIELD.match(sentence):
                continue
            if dashed is not None and k > 0:
                self.labels[len(self.blocks)] = dashed.group(1)
                self.blocks.append((sentence, self.local_context | stem_set(dashed.group(1)), None))
            else:
                self.blocks.append((sentence, self.local_context, None))
        if self.blocks and sentences and sentences[-1][-1:].isalpha() and not indented:
            self.open_block = len(self.blocks) - 1
        if sentences and sentences[-1].endswith(":") and not _FIELD.match(sentences[-1]):
            self.lead, self.lead_follows = sentences[-1], len(sentences) > 1


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


#: English words people use interchangeably, in groups. A knowledge base's own words (its
#: products, its people's slang) belong in its lexicon (`services/offline/lexicon.py`).
_SYNONYM_GROUPS = (
    "keep kept retain retention store",
    "delete deletion erase erasure remove purge",
    "approve approval sign authorise authorize",
    "cost price charge fee pay",
    "allow allowed permit permitted may",
    "forbid forbidden prohibit prohibited banned",
    "rule policy requirement",
    "limit cap maximum max largest biggest",
    "minimum min least smallest",
    "buy bought purchase procure procurement",
    "attempt attempts try tries",
    "lock locks locked lockout",
    "fail failed wrong incorrect invalid",
)

#: Credit for a word of the same group as the question's word ("kept" for "retention").
SYNONYM_CREDIT = 0.7


def _synonyms() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for group in _SYNONYM_GROUPS:
        stems = {stem(w) for w in group.split()}
        for s in stems:
            table.setdefault(s, set()).update(stems - {s})
    return {s: frozenset(others) for s, others in table.items()}


SYNONYMS = _synonyms()


def match(term: str, stems: set[str] | frozenset[str], *, typos: bool = True) -> float:
    """1 for the stem itself; 0.7 for a word sharing its first five letters ("rotat" and
    "rotation"); 0.6 for a typo of it (one edit, or two in long words: "pasword", "lenght");
    `ABBREVIATION_CREDIT` when it starts a word at least three letters longer ("ack");
    `SYNONYM_CREDIT` for a word people use interchangeably (`SYNONYMS`: "kept", "retention").
    `typos=False`: no typo credit (for a correctly spelt word: "paternity" is no "pattern").

    The first of these rules that any stem satisfies decides (a synonym before a typo), so
    the credit is that of the lowest rule over the stems, each pair's rule cached: scoring
    asks this for every question word against every candidate sentence."""
    if term in stems:
        return 1.0
    if len(term) < 3 or not term.isalpha():
        return 0.0
    if not lexicon.active().synonyms_of(term).isdisjoint(stems):
        return SYNONYM_CREDIT  # the knowledge base's own synonyms, as English ones below
    best = _NO_RULE
    for other in stems:
        rule = _rule(term, other, typos)
        if rule < best:
            best = rule
            if rule == 0:
                break
    return _RULE_CREDIT[best]


#: The rules of `match` after the exact stem, in the order they are tried, and their credit.
_RULE_CREDIT = (
    SYNONYM_CREDIT,
    CODE_CREDIT,
    ABBREVIATION_CREDIT,
    0.7,
    0.6,
    ABBREVIATION_CREDIT,
    0.0,
)
_NO_RULE = len(_RULE_CREDIT) - 1


@functools.lru_cache(maxsize=500_000)
def _rule(term: str, other: str, typos: bool) -> int:
    """The first rule of `match` that `other` satisfies for `term` (`_NO_RULE` for none)."""
    if other in SYNONYMS.get(term, frozenset()):
        return 0
    if other.startswith(term) and other[len(term) :].isdigit() and len(other) > len(term):
        return 1  # "sev" for "SEV2", "tier" for "tier1"
    if len(term) == 3:  # too short for typos: only an abbreviation ("ack")
        return 2 if len(other) >= 6 and other.startswith(term) else _NO_RULE
    if (
        len(term) >= 5
        and len(other) >= 5
        and other.startswith(term[:5])
        and term.startswith(other[:5])
    ):
        return 3
    if typos and _typo(term, other):
        return 4
    if len(other) >= len(term) + 3 and other.startswith(term):
        return 5
    return _NO_RULE


@functools.lru_cache(maxsize=200_000)
def _typo(term: str, other: str) -> bool:
    budget = 1 if len(term) < 8 else 2
    return (
        len(other) >= 4
        and abs(len(other) - len(term)) <= budget
        and other[:1] == term[:1]
        and other.isalpha()
        and within_edits(term, other, budget)
    )


#: "how long must they be?" asks for a length, not a time: the noun of the measure asked
#: for when the question ends with "be" (see `MEASURE_BONUS`).
_MEASURE_ASKED = re.compile(
    r"\bhow\s+(long|short|big|large|small|old|tall|far|wide|heavy)\b(?:\s+\w+){0,4}?\s+be\W*$",
    re.IGNORECASE,
)

_MEASURES = {
    "long": "length",
    "short": "length",
    "big": "size",
    "large": "size",
    "small": "size",
    "old": "age",
    "tall": "height",
    "far": "distance",
    "wide": "width",
    "heavy": "weight",
}


def measure_asked(question: str) -> list[str]:
    """The stem of the measure a "how long/big/old ... be?" question asks for ("length")."""
    found = _MEASURE_ASKED.search(question)
    return [stem(_MEASURES[found.group(1).lower()])] if found else []


@dataclass
class Scored:
    unit: Unit
    coverage: float
    total: float
    typed: bool  # holds the kind of fact asked for (a number, a frequency, a name, a date)
    meaning: float = 0.0  # cosine similarity to the question (coverage when not available)
    evidence: float = 0.0  # coverage and meaning mixed: what the refusal decision reads


def _near(a: str, b: str, sequence: Sequence[str], window: int = 2) -> bool:
    positions_a = [i for i, s in enumerate(sequence) if s == a]
    positions_b = [i for i, s in enumerate(sequence) if s == b]
    return any(abs(i - j) <= window for i in positions_a for j in positions_b)


def score_units(
    question: str,
    terms: Sequence[str],
    units: list[Unit],
    hit_texts: Sequence[set[str]] = (),
    semantic: Sequence[float] | None = None,
    background: set[str] | frozenset[str] = frozenset(),
) -> list[Scored]:
    """Rank candidate sentences by lexical coverage and meaning.

    `coverage` (0..1) is the IDF-weighted share of the question's terms the sentence holds
    (half credit for its heading/table-header context; typos and shared word starts get
    partial credit), plus a small bonus for question phrases kept together. Numbers in the
    question count when matched but are never required ("a receipt for a €15 lunch" is
    answered by the rule for amounts over €25). Terms in no retrieved passage weigh half the
    least term: the passages may say it in other words, and meaning decides that. Terms found
    in most sections (a company name) weigh half: they do not tell passages apart.
    `semantic`: the question's cosine similarity to each unit (same order), when available;
    `total` mixes the two and adds small bonuses for rank and for the kind of fact asked for.
    `background`: terms a follow-up borrowed from the previous question; they weigh
    `BACKGROUND_WEIGHT` of a term of the follow-up's own.
    """
    if not units:
        return []
    optional = {t for t in terms if has_digit(t) and not is_code(t)}
    required = [t for t in terms if t not in optional]
    weights, total_weight = _term_weights(terms, required, units, hit_texts, background)
    intents = _Intents.of(question)
    asking = _Asking(
        question=question,
        named=_named_identifiers(question, units),
        own_terms={t for t in required if t not in background},
        measured=measure_asked(question),
        asked_amounts=amounts(question),
        asks_day=bool(days_of_year(question)),
        counted=counted_things(question),
        asked_terms=frozenset(required),  # a follow-up asks what its question asked
    )
    pairs = list(itertools.pairwise(required))
    scored = []
    for index, unit in enumerate(units):
        got, own_words = _credit(unit, terms, weights, asking.own_terms, background)
        phrases = sum(1 for a, b in pairs if _near(a, b, unit.sequence))
        coverage = (
            min(1.0, got / total_weight + PHRASE_BONUS * min(phrases, 2)) if total_weight else 0.0
        )
        typed = intents.typed(unit)
        meaning = semantic[index] if semantic is not None else coverage
        evidence = LEXICAL_WEIGHT * coverage + (1 - LEXICAL_WEIGHT) * meaning
        bonus = 0.05 / (1 + unit.rank) + (intents.bonus if typed and intents.wanted else 0.0)
        bonus, evidence = asking.adjusted(unit, own_words, bonus, evidence)
        scored.append(Scored(unit, coverage, evidence + bonus, typed, meaning, evidence))
    _prefer_plain_labels(scored, set(terms))
    scored.sort(key=lambda s: (-s.total, s.unit.rank, s.unit.hit_index, s.unit.position))
    return scored


def _term_weights(
    terms: Sequence[str],
    required: list[str],
    units: list[Unit],
    hit_texts: Sequence[set[str]],
    background: set[str] | frozenset[str],
) -> tuple[dict[str, float], float]:
    """Each question term's weight (`score_units`), and the required terms' total."""
    n = len(units)
    weights: dict[str, float] = {}
    absent: list[str] = []
    for term in required:
        df = sum(1 for u in units if match(term, u.stems) or match(term, u.context))
        if df == 0:
            absent.append(term)
            continue
        weights[term] = math.log(1 + n / (1 + df))
        if len(hit_texts) >= 3 and sum(term in t for t in hit_texts) / len(hit_texts) >= 0.6:
            weights[term] *= 0.5
    for term in background:
        if term in weights:
            weights[term] *= BACKGROUND_WEIGHT
    floor = min(weights.values()) if weights else 1.0
    for term in absent:
        weights[term] = ABSENT_TERM_WEIGHT * math.log(1 + n)
    total_weight = sum(weights.values())
    for term in terms:
        if term not in required:
            weights[term] = floor
    return weights, total_weight


def _credit(
    unit: Unit,
    terms: Sequence[str],
    weights: dict[str, float],
    own_terms: set[str],
    background: set[str] | frozenset[str],
) -> tuple[float, bool]:
    """The weight of the question terms a sentence holds (its heading's count less), and
    whether it holds one of a follow-up's own terms."""
    got = 0.0
    own_words = not own_terms  # a follow-up of question words only: the topic suffices
    for term in terms:
        m = match(term, unit.stems)
        own_words |= m > 0.0 and term in own_terms
        if m == 0.0 and term in background:
            m = match(term, unit.context)  # the topic, named by the heading as well
        elif m == 0.0 and match(term, unit.context) > 0:
            m = CONTEXT_CREDIT
        got += weights[term] * m
    return got, own_words


@dataclass(frozen=True)
class _Intents:
    """The kinds of fact a question asks for, and whether a sentence holds one."""

    number: bool
    frequency: bool
    person: bool
    path: bool
    date: bool
    method: bool
    advice: bool

    @classmethod
    def of(cls, question: str) -> _Intents:
        return cls(
            number=bool(INTENT_NUMBER.search(question)),
            frequency=bool(INTENT_FREQUENCY.search(question)),
            person=bool(INTENT_WHO.search(question)),
            path=bool(INTENT_PATH.search(question)),
            date=bool(INTENT_WHEN.search(question)),
            method=bool(INTENT_METHOD.search(question)),
            advice=bool(INTENT_ADVICE.search(question)),
        )

    @property
    def other(self) -> bool:
        return self.frequency or self.number or self.person or self.date or self.advice or self.path

    @property
    def wanted(self) -> bool:
        return self.method or self.other

    @property
    def bonus(self) -> float:
        return METHOD_BONUS if self.method and not self.other else INTENT_BONUS

    def typed(self, unit: Unit) -> bool:
        """Whether the sentence holds a fact of a kind asked for (always, when none is)."""
        typed = not self.wanted
        if self.frequency:
            typed |= bool(_FREQUENCY.search(unit.text))
        elif self.number:
            typed |= bool(_NUMBER.search(without_versions(unit.text)))
        if self.person:
            typed |= bool(_PERSON.search(unit.text))
        if self.date:
            # "New in version 3.7" says when; an item's number "(3)" does not
            typed |= bool(
                _DATEISH.search(unit.text) or _NUMBER.search(without_enumeration(unit.text))
            )
        if self.method:
            typed |= bool(unit.code or _METHOD.search(unit.text))
        if self.advice:
            typed |= bool(_ADVICE.search(unit.text))
        if self.path:
            typed |= bool(_PATH.search(unit.text))  # "~/.inputrc", "$XDG_CONFIG_HOME/app"
        return typed


@dataclass(frozen=True)
class _Asking:
    """What a question names, measures and counts: the bonuses and penalties it gives."""

    question: str
    named: list[frozenset[str]]
    own_terms: set[str]
    measured: list[str]
    asked_amounts: list[Amount]
    asks_day: bool
    counted: frozenset[str]
    asked_terms: frozenset[str]

    def adjusted(
        self, unit: Unit, own_words: bool, bonus: float, evidence: float
    ) -> tuple[float, float]:
        """A sentence's ranking bonus and evidence, with what the question gives it added."""
        if self.measured and any(match(m, unit.stems | unit.context) for m in self.measured):
            bonus += MEASURE_BONUS  # "Minimum length: 14 characters" for "how long ... be?"
        if (self.asked_amounts and holds_asked_amount(self.asked_amounts, unit.text)) or (
            self.asks_day and holds_asked_day(self.question, unit.text)
        ):
            bonus += RANGE_BONUS  # the row whose range holds the question's amount
            evidence += RANGE_EVIDENCE
        if self.counted and states_count_of(unit.text, self.counted):
            bonus += COUNT_BONUS  # "at least two columns" for "only 1 column?"
        if not own_words:
            bonus -= HEADING_ONLY_PENALTY  # on topic only through its heading
        named = self.named
        if named and not any(parts <= unit.stems | unit.context for parts in named):
            bonus -= MISSING_IDENTIFIER_PENALTY  # about another system than the one named
        elif named and all(parts <= unit.stems for parts in named):
            evidence += IDENTIFIER_EVIDENCE  # the sentence itself names what was asked about
        length = len(unit.stems)
        if _defines(unit.text, self.own_terms):
            evidence += IDENTIFIER_EVIDENCE  # "alias — Same as ..." for "what's alias for?"
        if _points_elsewhere(unit.text):
            bonus -= POINTER_PENALTY  # "X is described in Y": where the answer is, not it
        if _answers_field(unit.text, self.asked_terms):
            bonus += FIELD_BONUS  # "Default: "brackets"." for "the default ... style?"
        elif length < 3:
            bonus -= 0.1
        elif length > 60:
            bonus -= 0.05
        return bonus, evidence


#: Ranking penalty for a sentence that only says where something is told
#: (`_points_elsewhere`).
POINTER_PENALTY = 0.1

#: "The POSIX mode is described in POSIX Mode", "See Redirections.", "For details, see the
#: guide": a cross-reference, which states nothing the question asked.
_POINTER = re.compile(
    r"^(?:\(?see\b|for\s+(?:more\s+|further\s+|full\s+)?(?:details|information)\b[^.]*\bsee\b)"
    r"|\b(?:is|are)\s+(?:also\s+|further\s+|fully\s+)?(?:described|explained|documented|"
    r"discussed|covered|detailed)\s+(?:in|under|below|above|later|elsewhere)\b",
    re.IGNORECASE,
)

#: A pointer this long or longer says something of its own besides.
POINTER_WORDS = 14


def _points_elsewhere(sentence: str) -> bool:
    """Whether `sentence` is only a cross-reference (`_POINTER`): short, and saying where."""
    return len(sentence.split()) < POINTER_WORDS and _POINTER.search(sentence) is not None


_CODE_WORD = re.compile(r"\b[A-Z]{4,}\b")


def asked_codes(question: str) -> list[str]:
    """The identifiers ("pg-core", "shipment-api") and codes ("STALLED", "EXPIRED") the
    question names as typed: a word in capitals is a code unless the whole message shouts."""
    letters = [c for c in question if c.isalpha()]
    shouting = sum(c.isupper() for c in letters) > 0.5 * len(letters)
    return [*IDENTIFIER.findall(question), *([] if shouting else _CODE_WORD.findall(question))]


#: Where a list inside a sentence splits: a comma or semicolon outside parentheses.
_LIST_SPLIT = re.compile(r"[,;]\s+(?![^()]*\))")


def focus_on(text: str, codes: Sequence[str]) -> str | None:
    """The part of a listing sentence about the code asked for, with the sentence's lead:
    "Types: `LATE`, `STALLED` (no movement for 45 minutes outside a stop), ..." ->
    "Types: `STALLED` (no movement for 45 minutes outside a stop)"; None when the sentence is
    no list or names none of `codes`."""
    parts = _LIST_SPLIT.split(text)
    if len(parts) < 3:
        return None
    lead = ""
    colon = parts[0].find(":")
    if 0 < colon < 40:
        lead, parts[0] = parts[0][: colon + 1], parts[0][colon + 1 :].strip()
    for part in parts:
        if any(re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", part, re.I) for code in codes):
            return f"{lead} {part}".strip()
    return None


def _named_identifiers(question: str, units: Sequence[Unit]) -> list[frozenset[str]]:
    """The stems of each identifier the question names ("pg-core", "shipment-api") that some
    candidate sentence or its heading holds (one nobody holds tells no sentence apart)."""
    named = []
    for identifier in asked_codes(question):
        parts = frozenset(stem(w) for w in words(identifier))
        if parts and any(parts <= u.stems | u.context for u in units):
            named.append(parts)
    return named


_LABEL = re.compile(r"^\W*([^:—–\n]{1,40}?)\s*(?::|\s[—–]\s)")


def _label_stems(text: str) -> frozenset[str]:
    """The stems of a "Label: value" or "Label — value" sentence's label (up to four words)."""
    found = _LABEL.match(text)
    if found is None or len(words(found.group(1))) > 4:
        return frozenset()
    return frozenset(stem(w) for w in words(found.group(1)) if w not in STOP)


#: A field of a field list or a definition: "Default: 10 000.", "Aliases: :ac:".
_FIELD = re.compile(r"^([^\W\d_][\w ./-]{0,40}?):\s+\S")

#: A definition's first sentence, "term — description" (a definition list's item), not a
#: table's row ("EU — Primary region: eu-west-1; ...").
_DEFINED = re.compile(r"^\\?([^\W\d_][\w.@*/-]{0,30}) — (?![^.;:]{1,40}:\s)\S")


def _defines(text: str, terms: set[str]) -> bool:
    """Whether `text` defines a one-word term that is one of `terms` (the question's own)."""
    found = _DEFINED.match(text)
    return found is not None and any(stem(w) in terms for w in words(found.group(1))[:1])


#: Ranking bonus for a field whose label the question asks for ("the default ...", "the
#: alias for ..."): the field's value is what was asked, however short the field is.
FIELD_BONUS = 0.1


def _answers_field(text: str, terms: frozenset[str]) -> bool:
    """Whether `text` is a "Label: value" field whose label's words (at most three) are all
    words of the question: the field gives the value of what the question asks about."""
    found = _FIELD.match(text)
    if found is None or not terms:
        return False
    label = [stem(w) for w in words(found.group(1)) if w not in STOP]
    return 0 < len(label) <= 3 and all(match(t, terms, typos=False) >= 0.7 for t in label)


def _prefer_plain_labels(scored: list[Scored], terms: set[str]) -> None:
    """ "Owner: ..." answers "who is the owner", not "Deputy owner: ...": of two sentences
    whose labels hold the question's word, the one whose label only adds words the question
    did not ask for ranks `QUALIFIED_LABEL_PENALTY` lower."""
    labelled = [(s, _label_stems(s.unit.text)) for s in scored]
    labelled = [(s, stems) for s, stems in labelled if stems & terms]
    for item, stems in labelled:
        if any(other < stems and not (stems - other) & terms for _, other in labelled):
            item.total -= QUALIFIED_LABEL_PENALTY
