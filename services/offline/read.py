"""Candidate answer sentences: a retrieved section split into units (`units_of`).

Paragraphs, list items and table rows become units (table rows as "label — header: value;
..."), code is skipped except what a sentence announces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.knowledge.fts_query import words
from services.offline import tuning
from services.offline.question import without_enumeration
from services.offline.read_lines import (
    ADDRESS,
    DASH_LABEL,
    FIELD,
    LEADING_MARKUP,
    LIST_ITEM,
    NUMBERED_HEADING,
    ORDINAL,
    _fenced,
    addressed_to_assistant,
    capitals_heading,
    clean,
    definition_term,
    example_steps,
    fill_width,
    going_on_at,
    indented_code,
    indented_columns,
    item_text,
    labelled,
    logical_lines,
    synopsis_term,
    table_rows,
    whole_block,
)
from services.offline.text import STOP, bound_stems, named_words, stem, stem_set
from services.offline.tuning import ReadTuning
from use_cases.shared.sentences import split_sentences


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
        if "\n" in self.code:  # a block, shown as one (`render` cites the sentence before it)
            fence = "`" * max(3, len(ticks))
            return f"{text}\n{fence}\n{self.code}\n{fence}"
        return f"{text} {ticks}{self.code}{ticks}"


def units_of(
    text: str,
    heading_context: set[str],
    hit_index: int,
    rank: int,
    read: ReadTuning | None = None,
) -> list[Unit]:
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

    `read`: the answer context's reading knobs; without one (a passage split while it is
    ingested, where no answer's context reaches), `tuning.DEFAULT_TUNING`'s as they are now.
    """
    knobs = tuning.DEFAULT_TUNING.read if read is None else read
    reading = _SectionReading(text.splitlines(), heading_context, knobs)
    reading.read()
    units = []
    for position, (sentence, context, group) in enumerate(reading.blocks):
        if len(words(ADDRESS.sub(" ", sentence))) < 2 or addressed_to_assistant(sentence):
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

    def __init__(self, lines: list[str], heading_context: set[str], read: ReadTuning) -> None:
        self.lines = lines
        self.knobs = read
        self.width = fill_width(lines, read)
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
                and (announced_follows or len(words(announced)) >= self.knobs.lead_in_words)
                and self._indented_announced(announced)
            ):
                continue
            if stripped.startswith("|"):
                self._table()
                continue
            if stripped.startswith("#") or capitals_heading(lines, self.i, self.knobs):
                self.local_context = set(self.heading_context) | stem_set(stripped.lstrip("#"))
                self.callouts, self.synopsis = {}, None
                self.i += 1
                continue
            if self._definition():
                continue
            self._paragraph(stripped, announced, described_by, indented)
        if self.lead is not None and len(words(self.lead)) >= self.knobs.lead_in_words:
            # The passage ends with a lead-in: what it announces was cut off (the next passage
            # holds it), and "The 'laststatus' option can be used to specify when the last
            # window has a statusline:" still says something without it.
            self.blocks.append((self.lead, self.local_context, None))

    def _define(self, sentences: list[str], term: str) -> None:
        """A definition's sentences as blocks: the first holds its term, the others name it
        (`labelled`) and have it in their context."""
        about = self.local_context | stem_set(term)
        for sentence, of in labelled(sentences, term):
            if of:
                self.labels[len(self.blocks)] = of
            self.blocks.append((sentence, about if of else self.local_context, None))

    def _add_listed(self, listed: str, items: list[str], group: int) -> None:
        """A lead-in and its items: the lead-in is incomplete without them, so a short list is
        joined to it whole, a long one item by item (each item's units one `group`)."""
        merged = f"{listed} {'; '.join(items)}."
        if len(words(merged)) <= self.knobs.max_merged_words:
            self.blocks.append((merged, self.local_context, None))
        else:
            self.blocks.extend((f"{listed} {item}.", self.local_context, group) for item in items)

    def _fenced(self, dangling: int | None) -> None:
        """A fenced code block: the middle of a sentence, a term's synopsis, what a lead-in
        announces, or nothing to read."""
        lines, start = self.lines, self.i
        code, self.i, self.callouts, raw = _fenced(lines, self.i, self.knobs)
        if dangling is not None and code and self.i - start - 2 <= self.knobs.lead_code_lines:
            going_on = going_on_at(lines, self.i)
            if going_on is not None:
                # "The most straightforward way is to write" + "#!/usr/bin/python" + "as
                # the very first line of your file": code in the middle of a sentence.
                rest, self.i = logical_lines(lines, going_on, self.knobs, self.width)
                before, context, _ = self.blocks[dangling]
                ticks = "`" * (1 + max(map(len, re.findall(r"`+", code)), default=0))
                joined = split_sentences(f"{before} {ticks}{code}{ticks} {clean(rest)}")
                if joined[-1].endswith(":") and not FIELD.match(joined[-1]):
                    self.lead = joined.pop()  # "... so it should be declared with two parameters:"
                    self.lead_follows = bool(joined)
                self.blocks[dangling : dangling + 1] = [(s, context, None) for s in joined]
                if self.lead is None and joined[-1][-1:].isalpha():
                    self.open_block = dangling + len(joined) - 1  # "... It is called as"
                return
        term = synopsis_term(self.lead, code, self.knobs) if self.lead is not None else None
        if term is not None:
            # "mapfile:" + "mapfile [-d delim] [array]" + "Read lines from ...": a term,
            # its synopsis, then its description, whose first sentence shows both.
            self.synopsis = (term, code)
            self.lead = None
            return
        if self.lead is not None and code:
            # "To start afresh each run, change the call to:" + the call: the code is
            # the answer the sentence announces, shown whole (up to `ReadTuning.block_chars`,
            # cut at a line). It is scored by the sentence's words and shown with the code
            # (`Unit.code`).
            self.codes[len(self.blocks)] = whole_block(raw, self.knobs)
            self.blocks.append((self.lead, self.local_context, None))
        self.lead = None
        for comment, commands in example_steps(raw, self.knobs):
            # "# Extract the src directory" over "$ borg extract ... home/USERNAME/src": in
            # a manual's examples the comment is the sentence and the command its answer,
            # scored by the comment's words (the command's words are its context).
            self.codes[len(self.blocks)] = commands
            self.blocks.append((comment, self.local_context | stem_set(commands), None))

    def _indented_announced(self, announced: str) -> bool:
        """An indented table of terms or an indented example a lead-in announces, read."""
        items, after = indented_columns(self.lines, self.i)
        if items:
            # "These special characters can be present:" over "\t=\tThe file is
            # read-only": an indented table of terms and what they mean is a list.
            self._add_listed(announced, items, self.i)
            self.i = after
            return True
        code, after = indented_code(self.lines, self.i, self.knobs)
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
        sentences, header = table_rows(table)
        self.blocks.extend((sentence, self.local_context | header, None) for sentence in sentences)

    def _definition(self) -> bool:
        """A term over its indented description, read as a definition."""
        term = definition_term(self.lines, self.i, self.knobs)
        if term is None:
            return False
        # "``local`` : flag" over "    Generate a local table of contents. Entries ...":
        # the term is what questions name, and the description's sentences are about it.
        label = clean(term)
        described: list[str] = []
        self.i += 1
        while (
            self.i < len(self.lines)
            and self.lines[self.i].strip()
            and self.lines[self.i][:1].isspace()
        ):
            described.append(self.lines[self.i].strip())
            self.i += 1
        self._define(split_sentences(clean(" ".join(described))), label)
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
        ordinal = ORDINAL.match(stripped)
        callout = self.callouts.pop(ordinal.group(1), "") if ordinal is not None else ""
        if callout:
            self.codes[len(self.blocks)] = callout  # "2. Rewind the branch ..." says what <2> does
        line, self.i = logical_lines(self.lines, self.i, self.knobs, self.width)
        if (
            NUMBERED_HEADING.match(clean(line))
            and len(line.split()) <= self.knobs.numbered_heading_words
        ):
            # "3.4 A minimal class file" (a PDF's or a text file's heading, "*08.1* Split a
            # window" marked up): what the sentences after it are about, no sentence of its own
            self.local_context = set(self.heading_context) | stem_set(line)
            return
        line = clean(item_text(line))
        if (
            announced is not None
            and (announced[:1].isalnum() or announced[:1] in LEADING_MARKUP)  # not "% ..."
            and len(words(announced)) >= self.knobs.lead_in_words
            and not line.endswith(":")
            and not indented
            and not LIST_ITEM.match(stripped)
        ):
            # "This can be changed by giving the modifier ! in the argument specification:" /
            # "\NewDocumentCommand\foobar{m !o}{ ... } where ... will not find ...": what a
            # lead-in announces on a line of its own, not as code (a PDF, a text file).
            line = f"{announced} {line}"
        sentences = split_sentences(line)
        if line.endswith(":") and not FIELD.match(line) and self._listed(sentences):
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
        while j < len(lines) and (not lines[j].strip() or LIST_ITEM.match(lines[j].strip())):
            if lines[j].strip():
                item, j = logical_lines(lines, j, self.knobs, width)
                item = clean(item_text(item)).rstrip(".;, ")
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
        dashed = DASH_LABEL.match(sentences[0]) if len(sentences) > 1 else None
        if dashed is not None and len(dashed.group(1).split()) > self.knobs.definition_term_words:
            dashed = None
        for k, sentence in enumerate(sentences):
            if sentence.endswith(":") and not FIELD.match(sentence):
                continue
            if dashed is not None and k > 0:
                self.labels[len(self.blocks)] = dashed.group(1)
                self.blocks.append((sentence, self.local_context | stem_set(dashed.group(1)), None))
            else:
                self.blocks.append((sentence, self.local_context, None))
        if self.blocks and sentences and sentences[-1][-1:].isalpha() and not indented:
            self.open_block = len(self.blocks) - 1
        if sentences and sentences[-1].endswith(":") and not FIELD.match(sentences[-1]):
            self.lead, self.lead_follows = sentences[-1], len(sentences) > 1
