"""What PDFium knows of a text page's lines (their boxes, type sizes and faces), asked through
pypdfium2's raw bindings: the one module allowed to (the house rule, ruff's TID251, bans
`pypdfium2.raw` and `ctypes` everywhere else; tests/unit/test_pdf_chars.py checks that no
other module imports them).

Why: PDFium makes a text object per show-text operator, so a page of a list, a table or code
is one text object per line, and the line's facts were asked through pypdfium2's helper
classes, which build a Python object for each answer (a text object, its matrix, its font,
two character boxes: ~12 µs a line, most of a PDF's load at 1.6 CPU-s per MB of list items;
`bench.bench_loaders`). The same PDFium functions called here cost ~3.5 µs a line in all.

Rules:
- Exactly the calls the helpers make for the same facts (`FPDFText_GetCharBox`,
  `FPDFText_GetTextObject`, `FPDFPageObj_GetMatrix`, `FPDFTextObj_GetFontSize`,
  `FPDFTextObj_GetFont`, `FPDFFont_GetWeight`, `FPDFFont_GetBaseFontName`), with the same
  checks: a page reads as it did through the helpers, and a call that fails raises
  `PdfiumError` where a helper did (the loader then skips that page, as before).
- In: pypdfium2's own `PdfTextPage` and character indexes. Out: numbers, booleans and
  strings. No pointer, handle or buffer leaves this module, and nothing is kept past a call
  (a text object or font handle is only good while its page is open).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as raw

__all__ = ["BoldFace", "LineFacts", "line_facts"]

#: Whether a font is set in a bold face, from its weight and (asked only if the answer needs
#: it) its base name: the policy is the caller's (`pdf_text`).
BoldFace = Callable[[int, Callable[[], str]], bool]
#: A line's top and bottom (PDF points, y up), its type size as drawn, and whether it is bold.
LineFacts = tuple[float, float, float, bool]

_INT, _ADDRESS, _DOUBLE = ctypes.c_int, ctypes.c_void_p, ctypes.c_double


def _plain(function: Any, restype: Any, *argtypes: Any) -> Any:
    """A function of the raw bindings declared with plain types (an address as a Python
    int): ctypes then checks no pointer type per argument, which halves a call's cost
    (1.1 to 0.6 µs for a character's box). The C signature is the bindings' own, and so is
    the calling convention (a second function object of the bindings' own class, at the
    same address: the bindings' object is left as it is)."""
    address = ctypes.cast(function, _ADDRESS).value
    if not address:  # the bindings resolve every symbol when they load: never
        raise ImportError(f"PDFium has no {function!r}")
    plain = type(function)(address)
    plain.restype, plain.argtypes = restype, argtypes
    return plain


# fpdf_text.h and fpdf_edit.h: a text page, page object or font handle is an address.
_get_textobj = _plain(raw.FPDFText_GetTextObject, _ADDRESS, _ADDRESS, _INT)
_get_charbox = _plain(
    raw.FPDFText_GetCharBox, _INT, _ADDRESS, _INT, _ADDRESS, _ADDRESS, _ADDRESS, _ADDRESS
)
_get_matrix = _plain(raw.FPDFPageObj_GetMatrix, _INT, _ADDRESS, _ADDRESS)
_get_font_size = _plain(raw.FPDFTextObj_GetFontSize, _INT, _ADDRESS, _ADDRESS)
_get_font = _plain(raw.FPDFTextObj_GetFont, _ADDRESS, _ADDRESS)
_get_weight = _plain(raw.FPDFFont_GetWeight, _INT, _ADDRESS)
_get_base_name = _plain(
    raw.FPDFFont_GetBaseFontName, ctypes.c_size_t, _ADDRESS, _ADDRESS, ctypes.c_size_t
)


def line_facts(
    textpage: pdfium.PdfTextPage, spans: Sequence[tuple[int, int]], bold_face: BoldFace
) -> list[LineFacts | None]:
    """For each (first, last) character index of a line of `textpage`: its top and bottom
    (the higher top and the lower bottom of the two characters' boxes), the type size of its
    first character's text object (the font size scaled by the object's matrix; 1.0 for a
    character PDFium made up, which has none), and whether its first and last characters are
    both set in a bold face. None for a line whose first index is not on the page.

    A page's lines share a few fonts: each font's face is asked once (`bold_face`), by the
    value of its handle. The loop runs once per line of every page, its calls inline."""
    page = ctypes.cast(textpage.raw, _ADDRESS).value
    count = textpage.count_chars()
    low, high, spare = _DOUBLE(), _DOUBLE(), _DOUBLE()
    low_at, high_at, spare_at = (ctypes.addressof(value) for value in (low, high, spare))
    matrix, font_size = raw.FS_MATRIX(), ctypes.c_float()
    matrix_at, font_size_at = ctypes.addressof(matrix), ctypes.addressof(font_size)
    get_textobj, get_charbox, get_matrix = _get_textobj, _get_charbox, _get_matrix
    get_font_size, get_font = _get_font_size, _get_font
    faces: dict[int, bool] = {}
    facts: list[LineFacts | None] = []
    add = facts.append
    for first, last in spans:
        if not 0 <= first < count:
            add(None)
            continue
        textobj = get_textobj(page, first)
        if not get_charbox(page, first, spare_at, spare_at, low_at, high_at):  # yes, lrbt
            raise pdfium.PdfiumError("Failed to get charbox.")
        top, bottom = high.value, low.value
        if last != first and 0 <= last < count:  # a one-character line's box is asked once
            if not get_charbox(page, last, spare_at, spare_at, low_at, high_at):
                raise pdfium.PdfiumError("Failed to get charbox.")
            other_top, other_bottom = high.value, low.value
            if other_top > top:
                top = other_top
            if other_bottom < bottom:
                bottom = other_bottom
        if not textobj:  # a character PDFium made up (a space it put between words)
            add((top, bottom, 1.0, False))
            continue
        font = get_font(textobj)
        bold = faces.get(font)
        if bold is None:
            bold = _face(font, faces, bold_face)
        if bold and last != first:
            other = get_textobj(page, last) if 0 <= last < count else None
            bold = bool(other) and _face(get_font(other), faces, bold_face)
        if not get_matrix(textobj, matrix_at):
            raise pdfium.PdfiumError("Failed to get matrix of pageobject.")
        if not get_font_size(textobj, font_size_at):
            raise pdfium.PdfiumError("Failed to get font size.")
        # (the helpers took max(scale, 0.0) first: an absolute value is never below it)
        scale = abs(matrix.a * matrix.d - matrix.b * matrix.c) ** 0.5
        add((top, bottom, font_size.value * scale, bold))
    return facts


def _face(font: int | None, faces: dict[int, bool], bold_face: BoldFace) -> bool:
    """Whether `font` is bold, asked of `bold_face` the first time (kept in `faces`)."""
    if not font:  # no font (a null handle) among others: what FPDFFont_GetWeight says too
        raise pdfium.PdfiumError("Failed to get font weight.")
    bold = faces.get(font)
    if bold is None:
        weight = _get_weight(font)
        if weight == -1:
            raise pdfium.PdfiumError("Failed to get font weight.")
        bold = faces[font] = bold_face(weight, lambda: _base_name(font))
    return bold


def _base_name(font: int) -> str:
    size = _get_base_name(font, None, 0)
    if not size:
        raise pdfium.PdfiumError("Failed to get font base name.")
    buffer = ctypes.create_string_buffer(size)
    _get_base_name(font, buffer, size)
    return bytes(memoryview(buffer)[: size - 1]).decode("utf-8", errors="replace")
