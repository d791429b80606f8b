"""Heading-aware chunking: parent sections for generation, small overlapping retrieval chunks.

Each `ParsedSection` becomes one or more parent sections (the text the agent reads, at most
`max_section_tokens`), and each parent is cut into retrieval chunks of about `chunk_tokens`
with about `overlap_tokens` of overlap. Every chunk is a verbatim substring of its parent,
and every parent a verbatim substring of the (stripped) section text, so callers can locate
a chunk inside its section for highlighting.

Cutting prefers, in order: paragraph boundaries (blank lines, the edges of fenced code
blocks), list items / table rows / heading lines, sentence ends, other line breaks, and only
then word boundaries (a single "word" longer than a chunk, e.g. unspaced CJK text, is cut
by characters). A better boundary is taken over a later one as long as the piece is at least
half (parents) or 60% (chunks) full. Table rows and code lines are never split inside a row
or line unless that one row/line alone exceeds the size.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from use_cases.knowledge.domain import ParsedDocument, SectionDraft
from use_cases.shared.sentences import sentence_breaks

TOKENS_PER_WORD = 1.3
CHARS_PER_TOKEN_FLOOR = 5.0

# Quality of a cut just before a unit; higher is better.
PARAGRAPH, ITEM, SENTENCE, LINE, WORD = 4, 3, 2, 1, 0

PARENT_MIN_FILL = 0.5
BALANCE_SLACK = 1.15
CHUNK_MIN_FILL = 0.6

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_TERMINALS = frozenset(".!?…。！？")
_CLOSERS = "\"'”’)]」』"
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"\s*(?:[-*+•]|\d{1,9}[.)]|[a-zA-Z][.)])\s")
_HEADING_LINE = re.compile(r" {0,3}#{1,6}(?:\s|$)")
_WORD = re.compile(r"\S+")
_HEADING_MARKS = re.compile(r"^\s*#{1,6}\s+|\s+#+\s*$")


def _estimate(text: str) -> float:
    """Approximate token count (see `estimate_tokens`); a float so pieces add up exactly."""
    tokens = len(text.split()) * TOKENS_PER_WORD
    if not text.isascii():
        tokens += len(_CJK.findall(text))
    visible = len(text) - text.count(" ") - text.count("\n") - text.count("\t")
    return max(tokens, visible / CHARS_PER_TOKEN_FLOOR)


def _span_tokens(text: str, start: int, end: int, ascii_only: bool) -> float:
    """`_estimate(text[start:end])` for part of one line. For ASCII text words are counted
    as spaces + tabs + 1, without slicing (never fewer than `str.split` finds)."""
    if not ascii_only:
        return _estimate(text[start:end])
    blanks = text.count(" ", start, end) + text.count("\t", start, end)
    return max((blanks + 1) * TOKENS_PER_WORD, (end - start - blanks) / CHARS_PER_TOKEN_FLOOR)


def estimate_tokens(text: str) -> int:
    """A fast approximation of a subword tokenizer's token count.

    `max(1.3 x whitespace-separated words + CJK characters, non-space characters / 5)`:
    1.3 tokens per word matches WordPiece/BPE tokenizers on English prose within ~15%; every
    CJK ideograph or kana/hangul syllable counts as a token (such text has no spaces); the
    characters / 5 floor keeps long unspaced strings (URLs, identifiers, hashes) from
    counting as one token. Only C-level string methods (`split`, `count`, `isascii`) run on
    ASCII text, so this is cheap enough for every line of a large corpus. The estimate of a
    text never exceeds the sum of the estimates of its lines/sentences, so a chunk packed to
    <= N tokens piecewise also estimates to <= N as a whole.
    """
    return math.ceil(_estimate(text))


@dataclass(slots=True)
class _Unit:
    """An uncuttable span of text: a sentence, a list item, a table row or a code line."""

    start: int
    end: int
    tokens: float
    cut: int  # quality of a cut just before this unit
    whole: bool = False  # a table row, code line or heading: never overlap a part of it


@dataclass(slots=True)
class _Piece:
    start: int
    end: int
    first: int  # index of the first whole unit in the piece
    stop: int  # one past the last unit


class HeadingChunker:
    """The `Chunker`: parent sections of <= `max_section_tokens`, retrieval chunks of about
    `chunk_tokens` overlapping by about `overlap_tokens` (token counts per
    `estimate_tokens`).

    * Sections with no text, or whose text is only their own heading, are dropped.
    * A section that fits `max_section_tokens` is one parent; a longer one is split into
      consecutive parents of roughly even size (not full ones plus a scrap), on paragraph
      boundaries where possible, each keeping the section's heading path unchanged.
    * A parent that fits `chunk_tokens` is one chunk (its whole text). Longer parents are
      packed greedily into chunks; each following chunk starts with the last whole
      sentences/lines of the previous chunk that fit in `overlap_tokens` (or, when the last
      sentence alone is too long, its last words), so overlap never crosses into a parent
      it does not belong to and never starts inside a word.
    * The result is deterministic: the same document always gives the same drafts.
    """

    def __init__(
        self, chunk_tokens: int = 160, overlap_tokens: int = 32, max_section_tokens: int = 1200
    ) -> None:
        if chunk_tokens < 8:
            raise ValueError("chunk_tokens must be at least 8")
        if not 0 <= overlap_tokens < chunk_tokens:
            raise ValueError("overlap_tokens must be >= 0 and smaller than chunk_tokens")
        if max_section_tokens < chunk_tokens:
            raise ValueError("max_section_tokens must be at least chunk_tokens")
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens
        self.max_section_tokens = max_section_tokens

    def chunk(self, document: ParsedDocument) -> list[SectionDraft]:
        drafts: list[SectionDraft] = []
        for section in document.sections:
            text = section.text.replace("\r\n", "\n").strip()
            if _is_heading_only(text, section.heading_path):
                continue
            for parent, chunks in self._split(text):
                drafts.append(
                    SectionDraft(heading_path=section.heading_path, text=parent, chunks=chunks)
                )
        return drafts

    def split_section(self, text: str) -> list[tuple[str, tuple[str, ...]]]:
        """(parent text, its chunks) for one section's text; empty for blank text."""
        return self._split(text.replace("\r\n", "\n").strip())

    def _split(self, text: str) -> list[tuple[str, tuple[str, ...]]]:
        if not text:
            return []
        if _estimate(text) <= self.chunk_tokens:
            return [(text, (text,))]
        units = _segment(text)
        if not units:
            return []
        total = sum(unit.tokens for unit in units)
        if total <= self.max_section_tokens:
            parents = [_Piece(units[0].start, units[-1].end, 0, len(units))]
        else:
            # Aim for parents of even size rather than full ones plus a small remainder.
            count = math.ceil(total / self.max_section_tokens)
            limit = min(self.max_section_tokens, math.ceil(total / count * BALANCE_SLACK))
            units = _fit(text, units, limit)
            parents = _pack(text, units, limit, 0, PARENT_MIN_FILL)
        result: list[tuple[str, tuple[str, ...]]] = []
        for parent in parents:
            parent_text = text[parent.start : parent.end]
            part = units[parent.first : parent.stop]
            if sum(unit.tokens for unit in part) <= self.chunk_tokens:
                result.append((parent_text, (parent_text,)))
                continue
            # Leave room for the overlap, but never cut words to fit a near-zero room.
            room = max(self.chunk_tokens - self.overlap_tokens, self.chunk_tokens // 2)
            part = _fit(text, part, room)
            pieces = _pack(text, part, self.chunk_tokens, self.overlap_tokens, CHUNK_MIN_FILL)
            result.append((parent_text, tuple(text[p.start : p.end] for p in pieces)))
        return result


def _is_heading_only(text: str, heading_path: tuple[str, ...]) -> bool:
    """True for empty text, text made only of Markdown heading lines, or the heading itself."""
    if not text:
        return True
    first, _, rest = text.partition("\n")
    if not rest.strip():
        bare = _HEADING_MARKS.sub("", first).strip().casefold()
        if heading_path and bare == heading_path[-1].strip().casefold():
            return True
    if not _HEADING_LINE.match(first):  # cheap exit for ordinary text
        return False
    return all(_HEADING_LINE.match(line) for line in text.split("\n") if line.strip())


def _segment(text: str) -> list[_Unit]:
    """Split text into units, each tagged with how good a place to cut just before it is."""
    units: list[_Unit] = []
    append = units.append
    ascii_only = text.isascii()
    fence: str | None = None
    next_cut = PARAGRAPH
    ended_sentence = True
    position = 0
    length = len(text)
    while position < length:
        newline = text.find("\n", position)
        line_end = length if newline == -1 else newline
        line_start = position
        position = line_end + 1
        line = text[line_start:line_end]
        stripped = line.strip()
        if fence is not None:
            if stripped:
                start = line_start + (len(line) - len(line.lstrip()))
                end = line_start + len(line.rstrip())
                append(_Unit(start, end, _estimate(stripped), LINE, True))
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = None
                next_cut = PARAGRAPH
            continue
        if not stripped:
            next_cut = PARAGRAPH
            continue
        start = line_start + (len(line) - len(line.lstrip()))
        end = line_start + len(line.rstrip())
        opening = _FENCE.match(line)
        if opening is not None:
            fence = opening.group(1)
            append(_Unit(start, end, _estimate(stripped), PARAGRAPH, True))
            next_cut = LINE
            ended_sentence = True
            continue
        if stripped[0] == "|" or _HEADING_LINE.match(line):
            cut = PARAGRAPH if next_cut == PARAGRAPH else ITEM
            append(_Unit(start, end, _estimate(stripped), cut, True))
            next_cut = ITEM
            ended_sentence = True
            continue
        if next_cut == PARAGRAPH:
            cut = PARAGRAPH
        elif _LIST_ITEM.match(line):
            cut = ITEM
        else:
            cut = SENTENCE if ended_sentence else LINE
        piece_start = start
        for piece_end, following in sentence_breaks(text, start, end):
            tokens = _span_tokens(text, piece_start, piece_end, ascii_only)
            append(_Unit(piece_start, piece_end, tokens, cut))
            piece_start = following
            cut = SENTENCE
        if piece_start == start:
            tokens = _estimate(stripped)
        else:
            tokens = _span_tokens(text, piece_start, end, ascii_only)
        append(_Unit(piece_start, end, tokens, cut))
        ended_sentence = stripped.rstrip(_CLOSERS)[-1:] in _TERMINALS
        next_cut = LINE
    return units


def _fit(text: str, units: list[_Unit], limit: int) -> list[_Unit]:
    """Split any unit larger than `limit` on word boundaries (characters as a last resort)."""
    if all(unit.tokens <= limit for unit in units):
        return units
    fitted: list[_Unit] = []
    for unit in units:
        if unit.tokens <= limit:
            fitted.append(unit)
            continue
        cut = unit.cut
        start = end = -1
        total = 0.0
        for word in _WORD.finditer(text, unit.start, unit.end):
            tokens = _estimate(word.group())
            if tokens > limit:  # one giant "word": flush, then cut it by characters
                if start >= 0:
                    fitted.append(_Unit(start, end, total, cut))
                    cut = WORD
                fitted.extend(_split_chars(text, word.start(), word.end(), tokens, limit, cut))
                cut = WORD
                start, total = -1, 0.0
                continue
            if start >= 0 and total + tokens > limit:
                fitted.append(_Unit(start, end, total, cut))
                cut = WORD
                start, total = -1, 0.0
            if start < 0:
                start = word.start()
            end = word.end()
            total += tokens
        if start >= 0:
            fitted.append(_Unit(start, end, total, cut))
    return fitted


def _split_chars(
    text: str, start: int, end: int, tokens: float, limit: int, cut: int
) -> list[_Unit]:
    """Cut one over-long "word" (unspaced CJK text, a hash, a URL) into <= limit pieces."""
    step = max(1, int((end - start) * limit / tokens))
    pieces = []
    offset = start
    while offset < end:
        stop = min(offset + step, end)
        piece_tokens = _estimate(text[offset:stop])
        while piece_tokens > limit and stop - offset > 1:
            stop -= max(1, (stop - offset) // 8)
            piece_tokens = _estimate(text[offset:stop])
        pieces.append(_Unit(offset, stop, piece_tokens, cut))
        cut = WORD
        offset = stop
    return pieces


def _pack(text: str, units: list[_Unit], limit: int, overlap: int, min_fill: float) -> list[_Piece]:
    """Greedily pack units (each <= limit) into pieces of <= limit tokens.

    When a piece is full, the cut goes at the best-quality boundary that still leaves the
    piece at least `min_fill` full (the latest one among equals). With `overlap`, the next
    piece starts with trailing whole units of the previous one worth <= `overlap` tokens,
    or the last words of its final unit when that unit alone is too long.
    """
    pieces: list[_Piece] = []
    count = len(units)
    first = 0
    start = units[0].start
    carried = 0.0
    threshold = min_fill * limit
    while True:
        total = carried
        stop = first
        while stop < count and (stop == first or total + units[stop].tokens <= limit):
            total += units[stop].tokens
            stop += 1
        if stop < count:
            best, best_cut = stop, units[stop].cut
            filled = carried
            for index in range(first, stop - 1):
                filled += units[index].tokens
                candidate = units[index + 1].cut
                if filled >= threshold and candidate > best_cut:
                    best, best_cut = index + 1, candidate
                elif filled >= threshold and candidate == best_cut and index + 1 > best:
                    best = index + 1
            stop = best
        pieces.append(_Piece(start, units[stop - 1].end, first, stop))
        if stop >= count:
            return pieces
        budget = min(overlap, limit - units[stop].tokens)
        carried = 0.0
        next_start = units[stop].start
        if budget > 0:
            back = stop
            while back - 1 > first and carried + units[back - 1].tokens <= budget:
                back -= 1
                carried += units[back].tokens
            if back < stop:
                next_start = units[back].start
            elif not units[stop - 1].whole:
                next_start, carried = _word_tail(text, units[stop - 1], budget, next_start)
        first = stop
        start = next_start


def _word_tail(text: str, unit: _Unit, budget: float, default: int) -> tuple[int, float]:
    """The start of the last words of `unit` worth <= budget tokens (default if none fit)."""
    words = [word.start() for word in _WORD.finditer(text, unit.start, unit.end)]
    take = min(len(words), int(budget / TOKENS_PER_WORD))
    while take > 0:
        start = words[-take]
        tokens = _estimate(text[start : unit.end])
        if tokens <= budget:
            return start, tokens
        take -= max(1, take // 4)
    return default, 0.0
