"""Tesseract's hOCR read into a table of words, and the leader dots of a table of contents
recognised from the pixels.

Why hOCR and not Tesseract's TSV: each hOCR line carries `x_size`, Tesseract's estimate of
the line's type size (ascenders to descenders, fitted over the row), where a TSV line has
only the box of the letters it happens to hold ("Contents", without a descender, is a box a
quarter shorter than its type). The PDF loader takes that size for a text line's type size,
so a scan's headings (a short line set larger than the body) section it as a text PDF's do.

Why leaders are read here: Tesseract's English model reads a row of leader dots
(". . . . ." between a title and its page number) as letters ("oo RRR ee"), which costs a
table-of-contents page half its characters. A run of words whose ink lies wholly in a thin
band at the line's foot, in small separate marks as wide as they are high, is dots whatever
the model read: it is written as that many dots, spaced as printed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from itertools import pairwise
from typing import Any

#: The hOCR classes Tesseract gives a line of text (a caption, a header and a floating line
#: are lines too).
_LINE_CLASSES = frozenset({"ocr_line", "ocr_header", "ocr_caption", "ocr_textfloat"})
_BBOX = re.compile(r"bbox (\d+) (\d+) (\d+) (\d+)")
_WCONF = re.compile(r"x_wconf (-?[\d.]+)")
_XSIZE = re.compile(r"x_size ([\d.]+)")
_XASC = re.compile(r"x_ascenders ([\d.]+)")
_XDESC = re.compile(r"x_descenders ([\d.]+)")

#: The columns of `image_to_data`'s dictionary, and `size`: the word's line's type size in
#: pixels (hOCR's `x_size`; 0 where Tesseract gave none).
COLUMNS = (
    *("text", "block_num", "par_num", "line_num"),
    *("left", "top", "width", "height", "conf", "size"),
)


def hocr_words(hocr: bytes) -> dict[str, list[Any]]:
    """The words of a page's hOCR in reading order, as `pytesseract.image_to_data`'s
    dictionary has them (block, paragraph and line numbers, box, confidence), with the type
    size of each word's line. A page without words is an empty table."""
    found: dict[str, list[Any]] = {column: [] for column in COLUMNS}
    root = ElementTree.fromstring(hocr)
    counters = {"block": 0, "par": 0, "line": 0}

    def walk(element: ElementTree.Element, size: float) -> None:
        kind = element.get("class", "")
        title = element.get("title", "")
        if kind == "ocr_carea":
            counters["block"] += 1
        elif kind == "ocr_par":
            counters["par"] += 1
        elif kind in _LINE_CLASSES:
            counters["line"] += 1
            size = line_size(title)
        elif kind == "ocrx_word":
            _add_word(found, element, title, size, counters)
            return
        for child in element:
            walk(child, size)

    walk(root, 0.0)
    return found


#: A line's type size (ascenders to descenders) in x-heights, about so in common faces (2.05
#: in Computer Modern, 1.8 in DejaVu Sans).
SIZE_PER_X_HEIGHT = 2.0


def line_size(title: str) -> float:
    """A line's type size from its hOCR title: its x-height (`x_size` less `x_ascenders` and
    `x_descenders`) times `SIZE_PER_X_HEIGHT`; `x_size` where those are not given; 0 where
    none is. Why not `x_size` itself: Tesseract measures the x-height on every line, but
    guesses the descenders of a line that has none, short by half at times, so that
    "and classes" read a size smaller than "Configuration files for standard packages"
    above it, the two lines of one heading."""
    size = _XSIZE.search(title)
    if size is None:
        return 0.0
    ascenders, descenders = _XASC.search(title), _XDESC.search(title)
    if ascenders is None or descenders is None:
        return float(size.group(1))
    x_height = float(size.group(1)) - float(ascenders.group(1)) - float(descenders.group(1))
    return round(x_height * SIZE_PER_X_HEIGHT, 1) if x_height > 0 else float(size.group(1))


def _add_word(
    found: dict[str, list[Any]],
    element: ElementTree.Element,
    title: str,
    size: float,
    counters: dict[str, int],
) -> None:
    box = _BBOX.search(title)
    text = "".join(element.itertext()).strip()
    if box is None or not text:
        return
    left, top, right, bottom = (int(value) for value in box.groups())
    confidence = _WCONF.search(title)
    row = {
        "text": text,
        "block_num": counters["block"],
        "par_num": counters["par"],
        "line_num": counters["line"],
        "left": left,
        "top": top,
        "width": right - left,
        "height": bottom - top,
        "conf": float(confidence.group(1)) if confidence else 0.0,
        "size": size,
    }
    for column, value in row.items():
        found[column].append(value)


#: Ink is darker than this (0 black, 255 white).
INK = 128
#: Leader dots lie in a band at the line's foot no higher than this share of its type size,
#: ...
DOT_BAND = 0.22
#: ... each mark no wider than this many times the band's height (a dot, not a rule or "_").
DOT_WIDTH = 2.0
#: Dots further apart than this share of the type size are printed spaced (". . ."), closer
#: ones run together ("...").
SPACED_DOTS = 0.3


def dot_marks(
    pixels: Any, box: tuple[int, int, int, int], line_bottom: int, size: float
) -> list[float] | None:
    """The centres (x, in pixels) of the marks of the word at `box` (left, top, right,
    bottom, in `pixels`: a grey numpy array) if they are dots alone, else None: all its ink
    within a band `DOT_BAND` of the type size high at the line's foot, each mark no wider
    than `DOT_WIDTH` times the band."""
    if size <= 0:
        return None
    left, _, right, _ = box
    top = max(0, line_bottom - round(size))
    crop = pixels[top : line_bottom + 1, max(0, left) : right + 1] < INK
    if crop.size == 0:
        return None
    rows = crop.any(axis=1).nonzero()[0]
    if not len(rows) or rows[-1] - rows[0] + 1 > max(2, round(DOT_BAND * size)):
        return None
    height = rows[-1] - rows[0] + 1
    marks: list[tuple[int, int]] = []  # (first, last) column of each mark
    for index in crop.any(axis=0).nonzero()[0].tolist():
        if marks and marks[-1][1] == index - 1:
            marks[-1] = (marks[-1][0], index)
        else:
            marks.append((index, index))
    if not marks or any(last - first + 1 > DOT_WIDTH * height for first, last in marks):
        return None
    return [max(0, left) + (first + last) / 2 for first, last in marks]


def dots_text(centres: list[float], size: float) -> str:
    """Leader dots written as printed: spaced (". . .") where they stand further apart than
    `SPACED_DOTS` of the type size (their median distance), else run together ("...")."""
    gaps = sorted(b - a for a, b in pairwise(centres))
    pitch = gaps[len(gaps) // 2] if gaps else size  # the median: a dot split by noise is two
    return (" " if pitch > SPACED_DOTS * size else "").join("." * len(centres))
