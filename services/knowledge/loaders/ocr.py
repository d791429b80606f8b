"""Reading text off images with Debian's Tesseract (the `tesseract` command of the
`tesseract-ocr` package, English data included), through pytesseract.

Rules:
- The engine and its model are installed with the system (`apt-get install tesseract-ocr`),
  never downloaded at run time. Without the command, reading a scan is `UnsupportedDocument`
  (415) naming the package (`require_tesseract`); everything else works.
- A page is read with Tesseract's automatic page segmentation, which finds the blocks of
  text and reads them in order. Where it runs a line on across two columns (their lines
  level with each other), the line is cut at the gutter (`COLUMN_GAP`), and where gutters
  recur the page is read column by column (`_column_order`); a blank line between blocks.
- Tesseract's hOCR is read (`ocr_words.hocr_words`), for each line's estimated type size
  (`OcrLine.size`, from its x-height): the PDF loader finds a scan's headings by it. Leader
  dots, which the English model reads as letters, are read from the pixels
  (`with_leaders`), and the words before them, which it misreads beside the dots, are read
  again by themselves (`_reread_before_leaders`: one more short run on a page of contents).
  A list's bullets, which it reads as "e", are read from the pixels too (`with_bullets`).
- A line whose words Tesseract is less sure of than `min_confidence` on average (0-100) is
  left out: on a scan that is mostly noise, speckles and the edges of pictures.
- Tesseract's English model reads type best at about 300 dpi (the x-height some 20-30
  pixels): a page is read at `OcrOptions.dpi`, a scan PDF's page rendered so, an image that
  records a lower resolution (a 150-dpi scan) scaled up to it (`at_resolution`); measured
  on 150-dpi pages of a typeset manual (bench/bench_ocr.py), reading them at 300 dpi got
  0.94 of the characters right where 150 got 0.89.
- Each page costs a second or two of CPU: a document's OCR has a CPU budget of its own
  (`OcrOptions.cpu_s`, OCR_CPU_SECONDS), Tesseract's runs included, measured before each
  page is handed to Tesseract (`_CpuBudget`): past it the document is `InputTooCostly`
  (413) naming the setting, whatever its page count; `OcrOptions.max_pages` is only a
  safety cap checked before any page is read (a chat attachment's pages are its own,
  small). The parse child is told of each page (`allow_another_step`,
  services/parse_pool.py), so a scan's wall-clock allowance grows with its pages. Each
  `tesseract` runs with one thread (`OMP_THREAD_LIMIT=1`) under the parse's CPU and memory
  limits (a child process inherits them) and a time-out of its own, and `OcrOptions.workers`
  pages are read at once (`read_pages`: one per core), the next page rendered while they
  run; one worker (a chat attachment's) reads them one after another in the loader's own
  thread, one page's pixels held at a time. A page goes to `tesseract` as an uncompressed
  PGM file, which it reads as it reads the PNG pytesseract writes by default (the same
  words), for a tenth of a CPU second less a page.
"""

from __future__ import annotations

import os
import resource
import shutil
import xml.etree.ElementTree as ElementTree
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from services.budgets import BUDGET
from services.knowledge.loaders.ocr_words import INK, dot_marks, dots_text, hocr_words
from services.parse_pool import allow_another_step
from use_cases.shared.errors import InputTooCostly, InvalidDocument, UnsupportedDocument

#: What an operator installs for OCR (the message of a scan refused without it).
TESSERACT_PACKAGE = "tesseract-ocr"
#: Seconds one page's `tesseract` run may take before the page counts as unreadable.
PAGE_TIMEOUT_S = 60


@dataclass(frozen=True)
class OcrLine:
    """One line read off a page: its text and box, in pixels of the image."""

    text: str
    top: int
    bottom: int
    block: int
    #: Tesseract's estimate of the line's type size, ascenders to descenders (hOCR's
    #: `x_size`; 0 where it gave none)
    size: float = 0.0
    #: where the line starts, in pixels from the image's left edge (a marginal note's
    #: column, `pdf_text.margin_pieces`)
    left: int = 0
    #: (left edge, text) of the pieces after a wide gap that the line was joined from
    #: (`_rejoined`): a marginal note Tesseract read onto the line beside it is one
    joined: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class OcrOptions:
    """How scans are read (the OCR_* settings, backend/config/documents.py)."""

    #: Dots per inch a page is read at: a PDF page rasterised so, a lower-resolution image
    #: scaled up to it (Tesseract's model reads ~300 dpi best).
    dpi: int = 300
    #: Lines Tesseract is less sure of than this, on average over their words, go (0-100):
    #: at 60, lines of good text with a logo or a symbol it misreads went too.
    min_confidence: float = 30.0
    #: Tesseract's language data (`eng`; `eng+deu` with tesseract-ocr-deu installed).
    language: str = "eng"
    #: Pages one document may ask OCR to read (a scanned PDF's, a TIFF's frames), checked
    #: before any is read; more is `InputTooCostly` (413). A safety cap: `cpu_s` binds first.
    max_pages: int = BUDGET.max_ocr_pages
    #: CPU seconds OCR may spend on one document, its `tesseract` runs included, checked as
    #: each page starts; past it, `InputTooCostly` (413) naming `cpu_setting`.
    cpu_s: float = BUDGET.ocr_cpu_s
    #: Pages read at once, one single-threaded `tesseract` each (one per core); 1 reads them
    #: one after another in the loader's own thread.
    workers: int = 2
    #: The setting `max_pages` comes from, and what to do instead of sending such a document,
    #: both said when one has more pages to read (a chat attachment's are its own).
    max_pages_setting: str = "OCR_MAX_PAGES"
    over_pages_advice: str = ""
    #: The setting (or settings) `cpu_s` comes from.
    cpu_setting: str = "OCR_CPU_SECONDS"

    def too_many_pages(self, name: str, pages: int, what: str = "scanned pages") -> str:
        """The refusal of a document with `pages` pages to read, more than `max_pages`."""
        advice = f" {self.over_pages_advice}" if self.over_pages_advice else ""
        return (
            f"{name} has {pages:,} {what}; OCR reads at most {self.max_pages:,} "
            f"({self.max_pages_setting}): refused.{advice}"
        )

    def too_much_cpu(self, name: str, pages_read: int) -> str:
        """The refusal of a document whose OCR spent more than `cpu_s` CPU seconds."""
        advice = f" {self.over_pages_advice}" if self.over_pages_advice else ""
        read = f"{pages_read:,} page{'' if pages_read == 1 else 's'}"
        seconds = f"{self.cpu_s:,.0f}" if self.cpu_s >= 1 else f"{self.cpu_s:g}"
        return (
            f"{name} takes more than {seconds} s of CPU to read by OCR "
            f"({self.cpu_setting}; stopped after {read}): refused.{advice}"
        )


class _CpuBudget:
    """The CPU this process and its reaped children (the `tesseract` runs) spent since the
    document's OCR started, checked against `OcrOptions.cpu_s` before each page."""

    def __init__(self, name: str, options: OcrOptions, total: int) -> None:
        self._name = name
        self._options = options
        self._total = total
        self._started = _cpu_now()
        self.pages = 0

    def next_page(self) -> None:
        """Another page is about to be read: refused past the budget, else announced (its
        number and the document's pages: the progress a long scan's ingest shows)."""
        if _cpu_now() - self._started > self._options.cpu_s:
            raise InputTooCostly(self._options.too_much_cpu(self._name, self.pages))
        self.pages += 1
        allow_another_step(self.pages, self._total)


def _cpu_now() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def require_tesseract(name: str) -> None:
    if not tesseract_available():
        raise UnsupportedDocument(
            f"{name} needs OCR (it is a scan or an image), and OCR is not installed on this "
            f"server: install Debian's {TESSERACT_PACKAGE} package (apt-get install "
            f"{TESSERACT_PACKAGE}), or upload a file with a text layer."
        )


def read_lines(name: str, image: Any, options: OcrOptions) -> list[OcrLine]:
    """The lines Tesseract reads on `image` (a Pillow image), in reading order, the unsure
    ones left out."""
    require_tesseract(name)
    allow_another_step(1, 1)
    return _read(name, image, options)


def read_pages(
    name: str, images: Iterable[Any], options: OcrOptions, pages: int = 0
) -> list[list[OcrLine]]:
    """`read_lines` of each image, in order, `options.workers` at once. An image is drawn
    from `images` (rendered) while the workers read the pages before it, at most one page
    waiting for a worker, so `workers` + 2 pages' pixels are held at most, however many pages
    there are; the parse child hears of each page from this thread (its number, of
    `pages`). Past `options.cpu_s` of CPU, the next page is refused (`InputTooCostly`) and
    the pages running are let finish. One worker reads the pages in this thread, one page's
    pixels held at a time."""
    require_tesseract(name)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # set here, before the workers read it
    read: list[list[OcrLine]] = []
    budget = _CpuBudget(name, options, pages)
    if options.workers <= 1:  # one page at a time, in this thread: no thread's memory arena
        for image in images:
            budget.next_page()
            read.append(_read(name, image, options))
        return read
    with ThreadPoolExecutor(options.workers) as pool:
        running: deque[Future[list[OcrLine]]] = deque()
        for image in images:
            budget.next_page()
            running.append(pool.submit(_read, name, image, options))
            if len(running) > max(1, options.workers):
                read.append(running.popleft().result())
        read += [future.result() for future in running]
    return read


def at_resolution(image: Any, options: OcrOptions, max_pixels: int) -> Any:
    """`image` scaled up to `options.dpi` where it records a lower resolution (a 150-dpi
    scan), within `max_pixels`; an image that records none is read as it is."""
    recorded = image.info.get("dpi")
    try:
        dpi = float(recorded[0]) if recorded else 0.0
    except (TypeError, ValueError, IndexError):
        dpi = 0.0
    if not 0 < dpi < options.dpi * 0.9:
        return image
    width, height = image.size
    scale = min(options.dpi / dpi, (max_pixels / max(width * height, 1)) ** 0.5)
    if scale <= 1.05:
        return image
    from PIL import Image  # imported where it runs

    return image.resize((round(width * scale), round(height * scale)), Image.Resampling.LANCZOS)


def _read(name: str, image: Any, options: OcrOptions) -> list[OcrLine]:
    import numpy  # imported where it runs

    pixels = numpy.asarray(image.convert("L"))
    found = _words(name, image, options, "--psm 3")
    with_leaders(found, pixels)
    with_bullets(found, pixels)
    _reread_before_leaders(name, found, pixels, options)
    return _lines(found, options.min_confidence)


def _words(name: str, image: Any, options: OcrOptions, config: str) -> dict[str, list[Any]]:
    """The words Tesseract reads on `image` with `config` (`ocr_words.hocr_words`)."""
    import pytesseract  # imported where it runs

    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # one thread: the parse budget is per core
    if image.mode in _RAW_MODES:
        image.format = "PPM"  # handed over uncompressed: a PNG cost 0.1 CPU-s a page to write
    try:
        hocr = pytesseract.image_to_pdf_or_hocr(
            image,
            lang=options.language,
            config=config,
            extension="hocr",
            timeout=PAGE_TIMEOUT_S,
        )
        return hocr_words(hocr)
    except (RuntimeError, pytesseract.TesseractError, ElementTree.ParseError) as exc:
        raise InvalidDocument(
            f"{name} could not be read by OCR ({' '.join(str(exc).split())[:200]})."
        ) from None


#: Modes Pillow writes as a raw PBM/PGM/PPM file, which Tesseract reads as it reads a PNG
#: of the same pixels (no resolution recorded in either).
_RAW_MODES = frozenset({"1", "L", "RGB"})


#: A run of dot-only words holds at least this many dots to be read as leader dots (a lone
#: mark at a line's foot may be a comma).
MIN_LEADER_DOTS = 3


def with_leaders(found: dict[str, list[Any]], pixels: Any) -> None:
    """Each run of words on a line whose ink is dots alone (`ocr_words.dot_marks`) rewritten
    in place as one word of that many dots, its confidence left out of the line's
    (`LEADER_CONFIDENCE`): Tesseract reads leader dots as letters of no confidence."""
    lines: dict[tuple[int, int, int], list[int]] = {}
    for index in range(len(found["text"])):
        key = (found["block_num"][index], found["par_num"][index], found["line_num"][index])
        lines.setdefault(key, []).append(index)
    for words in lines.values():
        words.sort(key=lambda i: found["left"][i])
        bottom = max(found["top"][i] + found["height"][i] for i in words)
        size = found["size"][words[0]]
        run: list[int] = []
        centres: list[float] = []
        for index in [*words, -1]:
            marks = None
            if index >= 0:
                box = _box(found, index)
                marks = dot_marks(pixels, box, bottom, size)
            if marks is not None:
                run.append(index)
                centres += marks
                continue
            if len(centres) >= MIN_LEADER_DOTS:
                first, last = run[0], run[-1]
                found["text"][first] = dots_text(centres, size)
                found["width"][first] = _box(found, last)[2] - found["left"][first]
                found["conf"][first] = LEADER_CONFIDENCE
                for other in run[1:]:
                    found["text"][other] = ""
            run, centres = [], []


#: A line's first word of one character whose ink fills this share of its box or more, the
#: box about square (width over height within `BULLET_SHAPE`), is a bullet: a letter's ink
#: fills half of its box or less ("e" about 0.4 at 300 dpi), a bullet's disc about 0.7.
BULLET_FILL = 0.6
BULLET_SHAPE = (0.75, 1.33)
BULLET = "•"


def with_bullets(found: dict[str, list[Any]], pixels: Any) -> None:
    """Each line's first word that is one character of solid, square-boxed ink (a disc)
    rewritten in place as a bullet ("•"). Why: Tesseract's English model reads a list's
    bullet as "e", sure of it, and each item then starts with a word it does not have."""
    lines: dict[tuple[int, int, int], list[int]] = {}
    for index, text in enumerate(found["text"]):
        if str(text).strip():
            key = (found["block_num"][index], found["par_num"][index], found["line_num"][index])
            lines.setdefault(key, []).append(index)
    for words in lines.values():
        first = min(words, key=lambda i: found["left"][i])
        if len(str(found["text"][first]).strip()) != 1:
            continue
        left, top, right, bottom = _box(found, first)
        width, height = right - left, bottom - top
        if width <= 0 or height <= 0 or not BULLET_SHAPE[0] <= width / height <= BULLET_SHAPE[1]:
            continue
        ink = pixels[max(0, top) : bottom, max(0, left) : right] < INK
        if ink.size and float(ink.mean()) >= BULLET_FILL:
            found["text"][first] = BULLET


#: A line's words before its leader dots are read again by themselves where Tesseract was
#: less sure of them than this (0-100), ...
REREAD_BELOW = 80.0
#: ... cut out with this share of their height above and below, and set this many heights
#: apart on the sheet read in one run.
REREAD_MARGIN = 0.3
REREAD_SPACING = 1.0


def _reread_before_leaders(
    name: str, found: dict[str, list[Any]], pixels: Any, options: OcrOptions
) -> None:
    """The words before each line's leader dots (`with_leaders`) read again without the
    dots, where Tesseract was unsure of them (`REREAD_BELOW`), and taken in their place
    where it is surer of the new reading. Why: with the dots on its line, Tesseract's line
    model misreads the words too ("texsys.cfg" as "TONSVSICIE" on a 150-dpi scan of a table
    of contents); cut out by themselves, it reads them right. All such pieces of a page
    are set one under the other on one white sheet and read in one run (`--psm 6`, a block
    of lines): one more start of Tesseract for a page of contents, none for other pages."""
    pieces = _before_leaders(found)
    if not pieces:
        return
    from PIL import Image  # imported where it runs

    boxes = [_union(found, words) for words in pieces]
    crops: list[tuple[int, int, int, int]] = []  # the box cut out of the page, padded
    for left, top, right, bottom in boxes:
        pad = round(REREAD_MARGIN * (bottom - top))
        crops.append((left - pad, top - pad, right + pad, bottom + pad))
    gap = round(REREAD_SPACING * max(bottom - top for _, top, _, bottom in crops))
    width = max(right - left for left, _, right, _ in crops) + 2 * gap
    sheet = Image.new("L", (width, gap + sum(b - t + gap for _, t, _, b in crops)), 255)
    page = Image.fromarray(pixels)
    bands: list[tuple[int, int]] = []  # each piece's rows on the sheet
    y = gap
    for left, top, right, bottom in crops:
        sheet.paste(page.crop((left, top, right, bottom)), (gap, y))
        bands.append((y, y + bottom - top))
        y += bottom - top + gap
    again = _words(name, sheet, options, "--psm 6")
    for words, (top, bottom), crop in zip(pieces, bands, crops, strict=True):
        read = [
            i
            for i, text in enumerate(again["text"])
            if str(text).strip() and top <= again["top"][i] + again["height"][i] / 2 <= bottom
        ]
        if _take_if_surer(found, words, again, read):
            ends = max(again["left"][i] + again["width"][i] for i in read)
            _dots_from(found, words[0], crop[0] - gap + ends, pixels)


def _before_leaders(found: dict[str, list[Any]]) -> list[list[int]]:
    """For each line with leader dots, the words left of them, where Tesseract's mean
    confidence in them is below `REREAD_BELOW`."""
    lines: dict[tuple[int, int, int], list[int]] = {}
    for index in range(len(found["text"])):
        key = (found["block_num"][index], found["par_num"][index], found["line_num"][index])
        lines.setdefault(key, []).append(index)
    pieces: list[list[int]] = []
    for words in lines.values():
        leaders = [i for i in words if found["conf"][i] == LEADER_CONFIDENCE]
        if not leaders:
            continue
        start = min(found["left"][i] for i in leaders)
        before = [i for i in words if found["left"][i] < start and str(found["text"][i]).strip()]
        if before and sum(found["conf"][i] for i in before) / len(before) < REREAD_BELOW:
            pieces.append(sorted(before, key=lambda i: found["left"][i]))
    return pieces


def _union(found: dict[str, list[Any]], words: list[int]) -> tuple[int, int, int, int]:
    boxes = [_box(found, i) for i in words]
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _take_if_surer(
    found: dict[str, list[Any]], words: list[int], again: dict[str, list[Any]], read: list[int]
) -> bool:
    """The words `read` again in the place of `words` (their text in the first, the others
    emptied), where their mean confidence is higher; whether they were."""
    if not read:
        return False
    before = sum(found["conf"][i] for i in words) / len(words)
    after = sum(again["conf"][i] for i in read) / len(read)
    if after <= before:
        return False
    read.sort(key=lambda i: (again["line_num"][i], again["left"][i]))
    first = words[0]
    found["text"][first] = " ".join(str(again["text"][i]).strip() for i in read)
    found["width"][first] = _box(found, words[-1])[2] - found["left"][first]
    found["conf"][first] = after
    for other in words[1:]:
        found["text"][other] = ""
    return True


#: Leader dots are counted from this share of the type size right of the words read again.
DOTS_AFTER_WORDS = 0.3


def _dots_from(found: dict[str, list[Any]], first: int, ends: int, pixels: Any) -> None:
    """The leader dots of `first`'s line counted again from where the words read again end
    (`ends`, in pixels of the page): the misread words' boxes took some of the dots."""
    line = (found["block_num"][first], found["par_num"][first], found["line_num"][first])
    words = [
        i
        for i in range(len(found["text"]))
        if (found["block_num"][i], found["par_num"][i], found["line_num"][i]) == line
    ]
    leaders = [i for i in words if found["conf"][i] == LEADER_CONFIDENCE and found["text"][i]]
    if not leaders:
        return
    lead, size = leaders[0], found["size"][first]
    bottom = max(found["top"][i] + found["height"][i] for i in words)
    start = ends + round(DOTS_AFTER_WORDS * size)
    right = _box(found, lead)[2]
    marks = dot_marks(pixels, (start, found["top"][lead], right, bottom), bottom, size)
    if marks is None or len(marks) <= str(found["text"][lead]).count("."):
        return
    found["text"][lead] = dots_text(marks, size)
    found["left"][lead], found["width"][lead] = start, right - start
    found["width"][first] = max(1, ends - found["left"][first])


#: The confidence a word of leader dots is given: none, so that it counts neither for nor
#: against its line's.
LEADER_CONFIDENCE = -1.0


def _box(found: dict[str, list[Any]], index: int) -> tuple[int, int, int, int]:
    left, top = found["left"][index], found["top"][index]
    return left, top, left + found["width"][index], top + found["height"][index]


#: A gap between two words of one of Tesseract's lines wider than this many times the
#: line's height is a gutter between columns: Tesseract runs a line on across columns whose
#: lines are level with each other (a word space is about a third of the height).
COLUMN_GAP = 2.0
#: Gaps this close to each other (in pixels, at any resolution: a share of the page's width)
#: are one gutter; a gutter must recur on this many lines.
GUTTER_SLACK = 0.03
GUTTER_LINES = 3
#: Text on each side of a gutter is at least this share of the page's width: a column, not a
#: table of contents' page number or a marginal note (read in line, as a text layer has them).
MIN_COLUMN_SHARE = 0.2


@dataclass(frozen=True)
class _Piece:
    """Words of one line, on one side of any gutter: their text and box."""

    text: str
    left: int
    right: int
    top: int
    bottom: int
    block: int
    size: float = 0.0
    #: whether the piece goes on with the line of the piece before it, cut at a wide gap
    cut: bool = False
    #: (left, text) of the pieces joined onto this one (`_rejoined`)
    joined: tuple[tuple[int, str], ...] = ()


def _lines(found: Mapping[str, Sequence[Any]], min_confidence: float) -> list[OcrLine]:
    lines: dict[tuple[int, int, int], list[int]] = {}
    for index, word in enumerate(found["text"]):
        if str(word).strip():
            key = (found["block_num"][index], found["par_num"][index], found["line_num"][index])
            lines.setdefault(key, []).append(index)
    pieces: list[_Piece] = []
    for (block, _, _), words in lines.items():  # Tesseract's reading order
        confidences = [float(found["conf"][i]) for i in words]
        confidences = [c for c in confidences if c != LEADER_CONFIDENCE] or [100.0]
        if sum(confidences) / len(confidences) < min_confidence:
            continue
        pieces += _split_at_gaps(found, words, block)
    width = max(
        (int(w) + int(x) for w, x in zip(found["width"], found["left"], strict=True)), default=1
    )
    return [
        OcrLine(
            piece.text, piece.top, piece.bottom, piece.block, piece.size, piece.left, piece.joined
        )
        for piece in _column_order(pieces, width)
    ]


def _split_at_gaps(
    found: Mapping[str, Sequence[Any]], words: list[int], block: int
) -> list[_Piece]:
    """A line's words as pieces, cut where a gap is a gutter (`COLUMN_GAP`)."""
    words = sorted(words, key=lambda i: int(found["left"][i]))
    height = max(int(found["height"][i]) for i in words)
    groups: list[list[int]] = [[words[0]]]
    for before, word in pairwise(words):
        gap = int(found["left"][word]) - int(found["left"][before]) - int(found["width"][before])
        if gap > COLUMN_GAP * height:
            groups.append([])
        groups[-1].append(word)
    return [
        _Piece(
            text=" ".join(str(found["text"][i]).strip() for i in group),
            left=int(found["left"][group[0]]),
            right=int(found["left"][group[-1]]) + int(found["width"][group[-1]]),
            top=min(int(found["top"][i]) for i in group),
            bottom=max(int(found["top"][i]) + int(found["height"][i]) for i in group),
            block=block,
            size=float(found["size"][group[0]]) if "size" in found else 0.0,
            cut=number > 0,
        )
        for number, group in enumerate(groups)
    ]


def _column_order(pieces: list[_Piece], width: int) -> list[_Piece]:
    """The pieces in reading order: where gutters recur (`GUTTER_LINES`), each run of
    pieces between two lines that span them is read column by column, top to bottom; a
    page without gutters keeps Tesseract's order."""
    wide = MIN_COLUMN_SHARE * width
    gaps = sorted(
        (left.right + right.left) / 2
        for left, right in pairwise(pieces)
        if right.top < left.bottom
        and right.left > left.right  # cut from one line
        and left.right - left.left >= wide
        and right.right - right.left >= wide
    )
    gutters: list[float] = []
    run: list[float] = []
    for gap in gaps:
        if run and gap - run[-1] > GUTTER_SLACK * width:
            if len(run) >= GUTTER_LINES:
                gutters.append(sum(run) / len(run))
            run = []
        run.append(gap)
    if len(run) >= GUTTER_LINES:
        gutters.append(sum(run) / len(run))
    pieces = _rejoined(pieces, gutters)
    if not gutters:
        return pieces
    ordered: list[_Piece] = []
    section: list[_Piece] = []
    for piece in pieces:
        if any(piece.left < gutter < piece.right for gutter in gutters):  # spans the columns
            ordered += _by_column(section, gutters)
            ordered.append(piece)
            section = []
        else:
            section.append(piece)
    return ordered + _by_column(section, gutters)


def _rejoined(pieces: list[_Piece], gutters: list[float]) -> list[_Piece]:
    """The pieces of each line cut at a gap where no gutter lies one line again: a table's
    row ("\\Huge size", "24.88pt") or a contents line and its page number are read as the
    text layer has them, on one line, not as lines of their own."""
    joined: list[_Piece] = []
    for piece in pieces:
        last = joined[-1] if joined else None
        if (
            last is not None
            and piece.cut
            and not any(last.right <= gutter <= piece.left for gutter in gutters)
        ):
            joined[-1] = _Piece(
                text=f"{last.text} {piece.text}",
                left=last.left,
                right=piece.right,
                top=min(last.top, piece.top),
                bottom=max(last.bottom, piece.bottom),
                block=last.block,
                size=last.size,
                cut=last.cut,
                joined=(*last.joined, (piece.left, piece.text)),
            )
        else:
            joined.append(piece)
    return joined


def _by_column(pieces: list[_Piece], gutters: list[float]) -> list[_Piece]:
    def column(piece: _Piece) -> int:
        return sum(1 for gutter in gutters if gutter < piece.left)

    return sorted(pieces, key=lambda piece: (column(piece), piece.top))


def lines_text(lines: Sequence[OcrLine]) -> str:
    """The lines as text: a line break between the lines of a block, a blank line between
    blocks."""
    parts: list[str] = []
    for index, line in enumerate(lines):
        if index and line.block != lines[index - 1].block:
            parts.append("\n")
        parts.append(line.text + "\n")
    return "".join(parts).strip()
