"""A PDF page's text as a person reads it, from PDFium's text layer (`pypdfium2`).

PDFium puts a space between words that a typesetter placed apart without writing a space
character (pdfTeX, groff and others place each word by itself), reads a page's columns in the
order they were drawn, and marks a word hyphenated at a line's end with U+FFFE ("com\\ufffe
mands"). This module reads a page into lines with their place and type size, and from a whole
document's lines drops what a reader skips: running headers, footers and page numbers. It
keeps footnotes apart from the sentences they interrupt and finds headings from the type
size where a document has no bookmarks.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import NamedTuple

import pypdfium2 as pdfium

from services.knowledge.loaders.pdf_chars import line_facts

#: Ligatures a font may draw as one glyph ("ﬁ", "ﬂ", "ﬃ"): the letters they stand for.
_LIGATURES = str.maketrans(
    {chr(code): unicodedata.normalize("NFKC", chr(code)) for code in range(0xFB00, 0xFB07)}
)
#: PDFium's mark for a hyphen at a line's end inside a word.
SOFT_HYPHEN_MARK = "\ufffe"


class Line(NamedTuple):
    """One line of a page: its text and where it sits (PDF points, y up from the bottom).
    A named tuple, not a frozen dataclass: a page of a list or a table makes one per ~14
    bytes of text, and a frozen dataclass's constructor (a `__setattr__` call per field)
    cost three times a tuple's."""

    text: str
    top: float
    bottom: float
    size: float
    #: whether the line is set in a bold face from its first character to its last
    bold: bool = False


@dataclass(frozen=True)
class PageText:
    lines: tuple[Line, ...]
    height: float
    #: (x rounded to a point, text) of the short pieces that start far right on the page
    right: tuple[tuple[int, str], ...]


#: Marginal notes start this far across the page (a share of its width) or further.
MARGIN_START = 0.72
#: ... and are this short (words, characters).
MARGIN_NOTE_WORDS = 3
MARGIN_NOTE_CHARS = 30


def read_page(page: pdfium.PdfPage) -> PageText:
    """The page's lines in PDFium's reading order, with ligatures as letters and a
    hyphenation mark as a hyphen ending the line (`join_broken_words` decides the rest)."""
    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
        lines = _lines(textpage, text)
        right = _right_pieces(textpage, width or 1.0)
    finally:
        textpage.close()
    return PageText(tuple(lines), height or 1.0, tuple(right))


#: A line of PDFium's text: up to a line break, or up to and with a hyphenation mark (PDFium
#: runs a hyphenated word's second half on without a break; it starts a line of its own).
_LINE = re.compile(r"[^\n\ufffe]*(?:\ufffe|\n|$)")
#: A character beyond U+FFFF.
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _lines(textpage: pdfium.PdfTextPage, text: str) -> list[Line]:
    # PDFium counts UTF-16 units: a character beyond U+FFFF (a math letter) is two of them
    # (counted only on a page that has one: one step per character of every page otherwise)
    wide = [0, *accumulate(ord(c) > 0xFFFF for c in text)] if _ASTRAL.search(text) else None
    # A page without a ligature, NUL, soft hyphen or hyphenation mark (most pages) has its
    # lines cleaned by the strip alone: `_clean`'s four passes per line cost as much as a
    # line's geometry on pages of short lines (lists, tables, code).
    clean = _clean if _UNCLEAN.search(text) else _strip_break
    texts: list[str] = []
    spans: list[tuple[int, int]] = []
    add_text, add_span = texts.append, spans.append
    for found in _LINE.finditer(text):
        raw = found.group(0)
        line = clean(raw)
        if not line.strip():
            continue
        start = found.start()
        first = start + len(raw) - len(raw.lstrip())
        last = start + len(raw.rstrip("\r\n \ufffe")) - 1
        if wide is not None:
            first, last = first + wide[first], last + wide[last]
        add_text(line)
        add_span((first, last))
    # The lines' boxes, sizes and faces, asked of PDFium in one pass (`pdf_chars`: a page of
    # short lines is a text object per line, too costly through pypdfium2's helpers)
    facts = line_facts(textpage, spans, _bold_face)
    return [
        Line(line, *fact) if fact is not None else Line(line, 0.0, 0.0, 0.0, False)
        for line, fact in zip(texts, facts, strict=True)
    ]


#: What `_clean` changes besides the line break: a ligature, a NUL, a soft hyphen, the mark.
_UNCLEAN = re.compile(r"[\ufb00-\ufb06\x00\u00ad\ufffe]")


def _clean(raw: str) -> str:
    line = raw.rstrip("\r\n").translate(_LIGATURES)
    # "-" for the mark: `join_broken_words` makes the word whole (or keeps a compound's hyphen)
    return line.replace("\x00", "").replace("\u00ad", "").replace(SOFT_HYPHEN_MARK, "-")


def _strip_break(raw: str) -> str:
    """`_clean` for a page where `_UNCLEAN` finds nothing."""
    return raw.rstrip("\r\n")


#: Words in a font's name that say it is bold; weights from this on are bold too.
_BOLD_NAME = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
BOLD_WEIGHT = 600


def _bold_face(weight: int, name: Callable[[], str]) -> bool:
    """Whether a font is a bold face: by its weight, else by its base name (asked only then:
    a name is a buffer built in Python)."""
    return weight >= BOLD_WEIGHT or bool(_BOLD_NAME.search(name()))


#: Far enough out to hold whatever a page draws, off its box too (a float PDFium can hold).
_FAR = 1e30


def _right_pieces(textpage: pdfium.PdfTextPage, width: float) -> list[tuple[int, str]]:
    # One question for the whole band right of `MARGIN_START` before one per run of text
    # (most pages have no marginal note; a rect per line is a third of a list page's cost).
    # A run starting in the band reads a part of the band's text (PDFium gives the characters
    # whose box meets the rectangle asked: those of a run's rect meet the band's): without two
    # letters or digits there, no run's piece can have them.
    band = _clean(textpage.get_text_bounded(MARGIN_START * width, -_FAR, _FAR, _FAR))
    if sum(c.isalnum() for c in band) < 2:
        return []
    pieces: list[tuple[int, str]] = []
    for index in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(index)
        if left < MARGIN_START * width:
            continue
        piece = " ".join(_clean(textpage.get_text_bounded(left, bottom, right, top)).split())
        if _note_like(piece):
            pieces.append((round(left), piece))
    return pieces


def _note_like(piece: str) -> bool:
    """Whether a piece of text is as short as a marginal note (`MARGIN_NOTE_WORDS`,
    `MARGIN_NOTE_CHARS`) and has two letters or digits."""
    return (
        sum(c.isalnum() for c in piece) >= 2
        and len(piece.split()) <= MARGIN_NOTE_WORDS
        and len(piece) <= MARGIN_NOTE_CHARS
    )


def margin_pieces(lines: Sequence[tuple[float, str]], width: float) -> tuple[tuple[int, str], ...]:
    """`PageText.right` of a scanned page: its lines ((left edge in points, text), as OCR
    read them) that start right of `MARGIN_START` and are as short as a note, as a text
    page's are found. Why: OCR reads a marginal note as a block of its own ("New" above
    "description"), set among the page's text; the PDF loader cuts a document's column of
    notes out of its text (`pdf._without_margin_notes`) as it does a text PDF's."""
    return tuple(
        (round(left), text)
        for left, text in lines
        if left >= MARGIN_START * width and _note_like(" ".join(text.split()))
    )


#: Running headers and footers sit in this share of the page's height at its top or foot ...
RUNNING_BAND = 0.12
#: ... among its first or last lines ...
RUNNING_LINES = 2
#: ... and read the same (digits aside) on this many pages at least, and this share of them.
RUNNING_MIN_PAGES = 2
RUNNING_SHARE = 0.3
#: A line of a page number alone: "12", "- 12 -", "Page 12", "xiv", "12 of 40".
_PAGE_NUMBER = re.compile(
    r"^[-–—\s]*(?:page\s+)?(?:\d{1,4}|[ivxlcdm]{1,7})(?:\s*(?:of|/)\s*\d{1,4})?[-–—\s]*$",
    re.IGNORECASE,
)


def _shape(text: str) -> str:
    """A line as running headers repeat it: case, spaces and numbers aside."""
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def _edge_lines(page: PageText) -> list[int]:
    """Indexes of the page's first and last lines that lie in its top or foot band, set
    apart from the text beside them (`RUNNING_GAP`)."""
    band = RUNNING_BAND * page.height
    count = len(page.lines)
    candidates = {*range(min(RUNNING_LINES, count)), *range(max(0, count - RUNNING_LINES), count)}
    found = []
    for index in sorted(candidates):
        line = page.lines[index]
        if line.bottom >= page.height - band:
            below = [other.top for other in page.lines if other.top < line.bottom]
            if not below or line.bottom - max(below) > RUNNING_GAP * line.size:
                found.append(index)
        elif line.top <= band:
            above = [other.bottom for other in page.lines if other.bottom > line.top]
            if not above or min(above) - line.top > RUNNING_GAP * line.size:
                found.append(index)
    return found


#: A running line is further from the nearest line of text than this many times its size.
RUNNING_GAP = 0.8


def without_running_lines(pages: Sequence[PageText | None]) -> list[PageText | None]:
    """The pages without their running headers and footers (a line at a page's top or foot
    that the same band of other pages repeats, numbers aside) and page numbers (a line of a
    number alone at a page's top or foot)."""
    # each page's edge lines and their shapes, found once (a page of short lines has many lines
    # for `_edge_lines` to compare its edges with)
    edges = [
        {index: _shape(page.lines[index].text) for index in _edge_lines(page)}
        if page is not None
        else {}
        for page in pages
    ]
    seen: Counter[str] = Counter()
    for shapes in edges:
        seen.update(set(shapes.values()))
    read = sum(page is not None for page in pages)
    repeated = {
        shape
        for shape, count in seen.items()
        if count >= RUNNING_MIN_PAGES and count >= RUNNING_SHARE * read
    }
    kept: list[PageText | None] = []
    for page, shapes in zip(pages, edges, strict=True):
        if page is None:
            kept.append(None)
            continue
        drop = {
            index
            for index, shape in shapes.items()
            if shape in repeated or _PAGE_NUMBER.match(page.lines[index].text)
        }
        if not drop:
            kept.append(page)
            continue
        lines = tuple(line for index, line in enumerate(page.lines) if index not in drop)
        kept.append(PageText(lines, page.height, page.right))
    return kept


def body_size(pages: Sequence[PageText | None]) -> float:
    """The type size most of the document's characters are set in."""
    # counted by each size as read, then rounded: one rounding per size, not per line (the
    # rounded sizes come in the order the lines first have them, as counting line by line)
    exact: dict[float, int] = {}
    for page in pages:
        for line in page.lines if page is not None else ():
            exact[line.size] = exact.get(line.size, 0) + len(line.text)
    sizes: Counter[float] = Counter()
    for size, count in exact.items():
        sizes[round(size, 1)] += count
    return sizes.most_common(1)[0][0] if sizes else 0.0


#: Footnotes are set this much smaller than the body text, or smaller ...
FOOTNOTE_RATIO = 0.9


def page_text(page: PageText, body: float) -> tuple[str, str]:
    """The page's lines as text, and its footnotes (lines in small type below every line of
    body type) apart: a footnote printed at the foot of a column or page no longer cuts the
    sentence that goes on in the next column or on the next page."""
    if not page.lines:
        return "", ""
    lowest = min(
        (line.bottom for line in page.lines if line.size >= FOOTNOTE_RATIO * body),
        default=None,
    )
    notes = [
        line
        for line in page.lines
        if lowest is not None and line.size < FOOTNOTE_RATIO * body and line.top < lowest
    ]
    text = "\n".join(line.text for line in page.lines if line not in notes)
    return text, "\n".join(line.text for line in notes)


#: Headings are set this much larger than the body text, or larger, ...
HEADING_RATIO = 1.15
#: ... are this short, and do not end as a sentence does.
MAX_HEADING_CHARS = 80
#: At most this many heading levels (the largest sizes) are told apart.
MAX_HEADING_LEVELS = 3


def headings(pages: Sequence[PageText | None], body: float) -> list[list[tuple[int, str]]]:
    """For each page, the (level, text) of its heading lines, in page order: lines set
    larger than the body (`HEADING_RATIO`; level 0 is the largest size) or in bold at the
    body's size (the level below the sizes), short and not ending as a sentence does. For
    documents without bookmarks."""
    found: list[list[tuple[float, str]]] = []
    for page in pages:
        found.append(
            [
                (round(line.size, 1) if line.size >= HEADING_RATIO * body else 0.0, text)
                for line in (page.lines if page is not None else ())
                if body > 0 and _is_heading(line, body)
                for text in [" ".join(line.text.split())]
            ]
        )
    sizes = sorted({size for page in found for size, _ in page}, reverse=True)
    levels = {size: min(rank, MAX_HEADING_LEVELS - 1) for rank, size in enumerate(sizes)}
    return [[(levels[size], text) for size, text in page] for page in found]


def _is_heading(line: Line, body: float) -> bool:
    text = line.text.strip()
    return (
        (line.size >= HEADING_RATIO * body or (line.bold and line.size >= FOOTNOTE_RATIO * body))
        and len(text) <= MAX_HEADING_CHARS
        and "\n" not in text
        and not text.endswith((".", ",", ";", ":"))
        and any(c.isalpha() for c in text)
    )


#: Below this share of its letters in known words, a PDF's text is likely unreadable:
#: words glued together, a scan's OCR layer gone wrong, or a font without a character map.
LOW_TEXT_QUALITY = 0.6
_LETTERS = re.compile(r"[^\W\d_]+")


def known_word_share(text: str, known: Container[str]) -> float:
    """The share of `text`'s letters that lie in words of `known` (the bundled English
    word-frequency list): near 1 for readable English, near 0 for glued words ("Itisimp
    ortanttounderstand"), which a count of words would hide (one glued run is one word)."""
    words = _LETTERS.findall(text.lower())
    letters = sum(len(word) for word in words)
    if not letters:
        return 0.0
    return sum(len(word) for word in words if word in known) / letters


#: OCR's type sizes (Tesseract's per-line estimate) wander by a tenth either way on lines of
#: one size: sizes within this ratio of the body's are the body's, ...
OCR_BODY_SPREAD = (0.87, HEADING_RATIO)
#: ... and larger sizes within this ratio of the smallest of their group are one size.
OCR_SIZE_SPREAD = 1.1


def steady_sizes(pages: Sequence[PageText | None], read: Sequence[int]) -> list[PageText | None]:
    """The pages, the lines of those at the indexes `read` (OCR's) with their estimated
    type sizes made steady, so that a scan's body text is one size (its footnotes and
    headings told apart from it as a text page's are, `page_text`, `headings`) and each
    heading size one level: the body is the size most of their characters are read at
    (their median), the sizes near it (`OCR_BODY_SPREAD`) are it, and the larger sizes go
    in groups (`OCR_SIZE_SPREAD`), each read as its largest."""
    weighted = sorted(
        (line.size, len(line.text))
        for index in read
        for line in (pages[index].lines if pages[index] is not None else ())  # type: ignore[union-attr]  # narrowed by the test before it
        if line.size > 0
    )
    if not weighted:
        return list(pages)
    middle, seen = sum(count for _, count in weighted) / 2, 0
    body = weighted[-1][0]
    for size, count in weighted:
        seen += count
        if seen >= middle:
            body = size
            break
    steady = {size: body for size, _ in weighted if size < OCR_BODY_SPREAD[1] * body}
    larger = sorted(
        {
            line.size
            for index in read
            for line in (pages[index].lines if pages[index] is not None else ())  # type: ignore[union-attr]  # narrowed by the test before it
            if line.size >= OCR_BODY_SPREAD[1] * body and _LOWER.search(line.text)
        }
    )
    groups: list[list[float]] = []
    for size in larger:
        if not groups or size > OCR_SIZE_SPREAD * groups[-1][0]:
            groups.append([])
        groups[-1].append(size)
    steady |= {size: group[-1] for group in groups for size in group}
    return [
        page
        if index not in read or page is None
        else PageText(
            tuple(
                Line(line.text, line.top, line.bottom, _steady(line.size, body, steady), line.bold)
                for line in page.lines
            ),
            page.height,
            page.right,
        )
        for index, page in enumerate(pages)
    ]


#: A line with a small letter has an x-height to measure; a date or a number alone ("1997/12/01"
#: in a margin) has none, and its size, which Tesseract guesses, joins no heading size.
_LOWER = re.compile(r"[a-z]")


def _steady(size: float, body: float, steady: dict[float, float]) -> float:
    if size < OCR_BODY_SPREAD[0] * body:
        return size  # footnotes and smaller: kept as read
    return steady.get(size, size)


def joined_headings(
    pages: Sequence[PageText | None], read: Sequence[int], body: float
) -> list[PageText | None]:
    """The pages, a heading OCR read over two lines on those at the indexes `read` made one
    line ("Configuration files for standard packages" above "and classes"): the next line
    set at the same heading size (`HEADING_RATIO`), less than its type size below, with no
    body text between, not ending as a sentence does and not starting with a section
    number. A text page's lines are left as they are. Why: each line would otherwise head a
    section of its own, the second replacing the first in the path."""
    scanned = set(read)
    return [
        page
        if index not in scanned or page is None or body <= 0
        else PageText(_joined(page.lines, body), page.height, page.right)
        for index, page in enumerate(pages)
    ]


#: A line starting with a section number ("3.1 ", "A.2 ") is a heading of its own.
_NUMBERED = re.compile(r"^(?:\d+|[A-Z])(?:\.\d+)*\.?\s")


def _joined(lines: Sequence[Line], body: float) -> tuple[Line, ...]:
    kept: list[Line] = []
    for line in lines:
        last = kept[-1] if kept else None
        text = " ".join(line.text.split())
        if (
            last is not None
            and line.size == last.size >= HEADING_RATIO * body
            and 0 <= last.bottom - line.top < line.size
            and not last.text.rstrip().endswith((".", ",", ";", ":"))
            and not _NUMBERED.match(text)
            and len(last.text) + 1 + len(text) <= MAX_HEADING_CHARS
        ):
            kept[-1] = last._replace(text=_run_on(last.text, text), bottom=line.bottom)
        else:
            kept.append(line)
    return tuple(kept)


def _run_on(first: str, second: str) -> str:
    """Two lines of a heading as one: a word hyphenated at the first's end ("environ-",
    "ments") whole again."""
    first = first.rstrip()
    if first.endswith("-") and first[-2:-1].isalpha() and second[:1].islower():
        return first[:-1] + second
    return f"{first} {second}"


def title_apart(
    found: Sequence[Sequence[tuple[int, str]]],
) -> tuple[str | None, list[list[tuple[int, str]]]]:
    """The document's title and its other headings (`headings`' levels and lines), for a
    scan: the first page's headings at the largest size (level 0) are its title when no
    other page has a heading that large and other headings follow; the rest move a level
    up. Why: read as a heading, the title heads every section of the document (its path's
    root), where a text PDF's bookmarks leave it out. Otherwise no title and the headings
    as they are."""
    first = [text for level, text in found[0] if level == 0] if found else []
    later = [level for page in found[1:] for level, _ in page]
    rest = [level for level, _ in found[0] if level != 0] if found else []
    if not first or 0 in later or not (later or rest):
        return None, [list(page) for page in found]
    return " ".join(first), [
        [(max(level - 1, 0), text) for level, text in page if index or level != 0]
        for index, page in enumerate(found)
    ]


#: A section number of two parts or more and what follows it ("1.3. Further information":
#: "1.3", ".", the rest; "A.2", "a.2" in a title compared case-folded).
_SECTION_NUMBER = re.compile(r"^((?:\d+|[A-Za-z])(?:\.\d+)+)(\.?)(\s.*)$")


def scan_headings(found: Sequence[Sequence[tuple[int, str]]]) -> list[list[tuple[int, str]]]:
    """A scan's headings (`headings`' levels and lines) without the rows of symbols
    (`is_symbol_row`) and the sentences ending in a footnote mark (`_marked`), and with
    each section number written as most of the document's are: OCR reads the gap after
    "1.3" as "1.3." at times, where the other numbers have no dot. Why: the section's path
    would name it unlike its siblings (and unlike the text PDF's bookmarks), so a search
    for "1.3 Further information" misses."""
    found = [
        [(level, text) for level, text in page if not is_symbol_row(text) and not _marked(text)]
        for page in found
    ]
    numbers = [m for page in found for _, text in page if (m := _SECTION_NUMBER.match(text))]
    dotted = sum(1 for m in numbers if m.group(2))
    if 2 * dotted >= len(numbers):
        return [list(page) for page in found]
    return [[(level, undotted(text)) for level, text in page] for page in found]


#: Marks of code and markup that prose and headings seldom have.
_CODE_MARKS = re.compile(r"[\\{}#%_~@^|<>=$]")
#: A word of letters alone (two or more), punctuation around it aside.
_PLAIN_WORD = re.compile(r"^[(\[\"'‘“]*[^\W\d_]{2,}[)\]\"'’”.,;:!?]*$")


def is_symbol_row(text: str) -> bool:
    """Whether a line OCR found set as large as a heading is a row of symbols: it has a
    mark of code or markup (`_CODE_MARKS`: a backslash, a brace, "#", "%", ...), not one
    word of plain letters, and letters make less than half of it ("E{~_}{{UP}{DOWN}}", a
    formula, a row of a symbol table). Why: Tesseract estimates a line's type size from its
    x-height, which braces and symbols mislead, so the line heads a section and takes the
    place of the real heading before it. A heading with a mark among words ("C# and F#",
    "Using <div>") stays one, and so does a line of code of mostly letters
    ("\\IfBooleanTF{#1}%"): dropping those too made the scans' paths closer to the text
    PDFs' but lost a refusal on the latex-guides dev split (docs/notes/benchmarks.md)."""
    marks = "".join(text.split())
    return (
        bool(_CODE_MARKS.search(text))
        and not any(_PLAIN_WORD.match(word) for word in text.split())
        and 2 * sum(c.isalpha() for c in marks) < len(marks)
    )


#: A sentence's end with a footnote mark or a closing quote after it ("reserved.*"), which
#: OCR reads for the superscript mark of a title page's notice.
_MARKED_END = re.compile(r"[.,;:][*†‡'’\"”]+$")


def _marked(text: str) -> bool:
    """Whether a line ends as a sentence does, behind a footnote mark ("All rights
    reserved.*"): a sentence of a title page's notice, set large, is no heading, as a line
    ending with the full stop itself is none (`_is_heading`)."""
    return bool(_MARKED_END.search(text.rstrip()))


def undotted(text: str) -> str:
    """`text` (one line) without the dot after its section number: "1.3. Further
    information" is "1.3 Further information"."""
    numbered = _SECTION_NUMBER.match(text)
    return f"{numbered.group(1)}{numbered.group(3)}" if numbered else text
