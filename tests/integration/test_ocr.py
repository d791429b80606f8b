"""Scans and images read by OCR (Debian's Tesseract), as a user sees them: the text in reading
order, pages as sections, the document marked `extraction: ocr`; and what is refused: a
scan past the page limit (413), an image whose pixels are a decompression bomb (413, within
the parse's memory budget), any scan when Tesseract is not installed (415 naming the
package)."""

from __future__ import annotations

import functools
import io
import os
import re
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFont

from services.knowledge.loaders import FileLoader, ImageLoader, OcrOptions, PdfLoader
from services.knowledge.loaders.ocr import (
    at_resolution,
    lines_text,
    read_pages,
    tesseract_available,
)
from services.knowledge.loaders.ocr_words import hocr_words
from services.parse_pool import BudgetedLoader
from tests.memory_peak import MiB, tree_peak
from tests.office_files import png_claiming
from use_cases.shared.errors import InputTooCostly, UnsupportedDocument

needs_tesseract = pytest.mark.skipif(
    not tesseract_available(),
    reason="tesseract is not installed: apt-get install tesseract-ocr (.ci/run installs it)",
)

LEFT = [
    "Visitors park in bay seven",
    "behind the north entrance.",
    "Badges are handed out",
    "at the reception desk.",
]
RIGHT = [
    "Bicycles are locked in the",
    "racks beside building two.",
    "Cargo bikes use the garage",
    "under the east wing.",
]


def page(columns: list[list[str]], *, size: tuple[int, int] = (1700, 1100)) -> Image.Image:
    """A white page with `columns` of black text, as a 200-dpi scan of printed text."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    for number, lines in enumerate(columns):
        for row, line in enumerate(lines):
            draw.text((100 + 820 * number, 120 + 70 * row), line, fill=0, font=font)
    return image


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def scanned_pdf(*images: Image.Image) -> bytes:
    """An image-only PDF, one image a page, as a scanner writes one."""
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=list(images[1:]), resolution=200)
    return buffer.getvalue()


def words(text: str) -> list[str]:
    return text.replace("\n", " ").split()


@needs_tesseract
def test_an_image_is_read_column_by_column_and_marked_as_ocr() -> None:
    document = FileLoader().load("parking-notice.png", png(page([LEFT, RIGHT])))
    assert document.title == "Parking notice"
    assert document.metadata["extraction"] == "ocr"
    (section,) = document.sections
    assert section.heading_path == ("Parking notice",)
    read = words(section.text)
    assert read == words(" ".join(LEFT + RIGHT))  # the left column first, then the right


@needs_tesseract
def test_a_table_s_rows_are_read_as_lines_not_cell_by_cell() -> None:
    """Cells far apart on a row (a table of sizes, a contents line and its page number)
    are one line, as a text layer has them: Tesseract's line is cut only at a gutter
    between columns, which narrow cells are not."""
    rows = [("Small type", "9 points"), ("Large type", "14 points"), ("Huge type", "25 points")]
    image = Image.new("L", (1700, 500), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    for number, (name, size) in enumerate(rows):
        draw.text((100, 100 + 80 * number), name, fill=0, font=font)
        draw.text((1200, 100 + 80 * number), size, fill=0, font=font)
    read = ImageLoader().load("sizes.png", png(image)).sections[0].text
    assert [words(line) for line in read.splitlines() if line.strip()] == [
        words(f"{name} {size}") for name, size in rows
    ]


@needs_tesseract
def test_a_scanned_pdf_is_read_page_by_page_in_the_parse_child() -> None:
    data = scanned_pdf(page([LEFT]), page([RIGHT]))
    document = BudgetedLoader(FileLoader, cpu_s=5).load("scan.pdf", data)
    assert document.metadata["extraction"] == "ocr"
    assert document.metadata["ocr_pages"] == "2"
    assert [s.heading_path[-1] for s in document.sections] == ["Page 1", "Page 2"]
    assert [words(s.text) for s in document.sections] == [
        words(" ".join(LEFT)),
        words(" ".join(RIGHT)),
    ]


@needs_tesseract
def test_lines_below_the_confidence_are_left_out() -> None:
    noisy = page([LEFT])
    draw = ImageDraw.Draw(noisy)
    for x in range(100, 1500, 9):  # a band of speckles, no text
        for y in range(900, 960, 7):
            draw.point((x + (y % 5), y), fill=0)
    kept = ImageLoader(ocr=OcrOptions(min_confidence=60)).load("notice.png", png(noisy))
    assert words(kept.sections[0].text) == words(" ".join(LEFT))


@needs_tesseract
def test_a_scan_past_the_page_limit_is_413_before_any_page_is_read() -> None:
    data = scanned_pdf(page([LEFT]), page([RIGHT]), page([LEFT]))
    loader = PdfLoader(ocr=OcrOptions(max_pages=2))
    with pytest.raises(InputTooCostly, match=r"scan\.pdf has 3 scanned pages; OCR reads at most 2"):
        loader.load("scan.pdf", data)


@needs_tesseract
def test_a_scan_past_its_ocr_cpu_budget_is_413_in_the_parse_child_naming_the_setting() -> None:
    """The budget counts `tesseract`'s CPU with the loader's: a page's run alone costs more
    than a tenth of a CPU second, so 0.2 s is passed within the first three of four pages."""
    data = scanned_pdf(*(page([LEFT]) for _ in range(4)))
    ocr = OcrOptions(cpu_s=0.2, workers=1)
    loader = BudgetedLoader(functools.partial(FileLoader, ocr), cpu_s=5)
    with pytest.raises(
        InputTooCostly,
        match=r"scan\.pdf takes more than 0\.2 s of CPU to read by OCR "
        r"\(OCR_CPU_SECONDS; stopped after [123] pages?\): refused",
    ):
        loader.load("scan.pdf", data)


@pytest.fixture(scope="module")
def pixel_bomb() -> bytes:
    return png_claiming(30_000, 30_000)


def test_an_image_of_30000_by_30000_pixels_is_413_in_the_parse_child_within_its_memory(
    pixel_bomb: bytes,
) -> None:
    assert len(pixel_bomb) < 1024 * 1024  # a small file
    loader = BudgetedLoader(FileLoader, cpu_s=5, memory_bytes=512 * MiB)
    with tree_peak(os.getpid()) as peak, pytest.raises(InputTooCostly) as refused:
        loader.load("bomb.png", pixel_bomb)
    assert "bomb.png is an image of more than 64,000,000 pixels" in refused.value.detail
    assert peak.growth < 512 * MiB, peak  # decoded, it would be 900 MB


def test_without_tesseract_a_scan_is_415_naming_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `tesseract` command on it
    loader = FileLoader()
    refusals: list[Callable[[], object]] = [
        lambda: loader.load("notice.png", png(page([LEFT]))),
        lambda: loader.load("scan.pdf", scanned_pdf(page([LEFT]))),
    ]
    for refused in refusals:
        with pytest.raises(UnsupportedDocument, match="apt-get install tesseract-ocr"):
            refused()


def test_an_image_recording_a_low_resolution_is_read_at_the_ocr_resolution() -> None:
    scan = Image.new("L", (620, 880), 255)
    scan.info["dpi"] = (150, 150)
    read_at = at_resolution(scan, OcrOptions(dpi=300), max_pixels=64_000_000)
    assert read_at.size == (1240, 1760)
    assert at_resolution(scan, OcrOptions(dpi=300), max_pixels=1_000_000).size[0] < 1240
    unrecorded = Image.new("L", (620, 880), 255)
    assert at_resolution(unrecorded, OcrOptions(dpi=300), max_pixels=64_000_000) is unrecorded


@needs_tesseract
def test_a_small_150_dpi_scan_is_read_word_for_word() -> None:
    """Small type on a 150-dpi scan (x-height ~6 pixels): read at its own size, Tesseract
    misread two of its words."""
    image = Image.new("L", (1240, 300), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=13)
    for row, line in enumerate(LEFT + RIGHT):
        draw.text((60, 20 + 26 * row), line, fill=0, font=font)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=75, dpi=(150, 150))
    document = ImageLoader().load("small.jpg", buffer.getvalue())
    assert words(document.sections[0].text) == words(" ".join(LEFT + RIGHT))


@needs_tesseract
def test_pages_read_at_once_come_back_in_page_order() -> None:
    pages = [page([[f"Page number {n} of the scan"]], size=(1700, 400)) for n in range(1, 6)]
    read = read_pages("scan.tif", iter(pages), OcrOptions(workers=3))
    assert [words(lines_text(lines)) for lines in read] == [
        words(f"Page number {n} of the scan") for n in range(1, 6)
    ]


#: A typeset manual whose first page is a table of contents with leader dots.
MANUAL = Path(__file__).resolve().parents[2] / "sample_data/corpora/latex-guides/documents"


@needs_tesseract
def test_leader_dots_of_a_table_of_contents_are_read_as_dots() -> None:
    """Tesseract's English model reads a row of leader dots as letters ("oo RRR ee"), and
    did so on every dotted line of this page, scanned at 150 dpi: the dots are read from the
    pixels, as many as are printed, spaced as printed."""
    document = pdfium.PdfDocument(MANUAL / "cfgguide.pdf")
    layer = document[0].get_textpage().get_text_range()
    printed = [line for line in layer.splitlines() if re.search(r"(?: \.){20,}", line)]
    buffer = io.BytesIO()
    document[0].render(scale=150 / 72, grayscale=True).to_pil().save(
        buffer, "JPEG", quality=75, dpi=(150, 150)
    )
    document.close()
    read = ImageLoader().load("contents.jpg", buffer.getvalue()).sections[0].text
    dotted = [line for line in read.splitlines() if re.search(r"(?: \.){20,}", line)]
    assert len(printed) == 15
    assert len(dotted) >= 12, read  # 13 of the 15 read so here, none before
    assert not re.search(r"\b(?:oo|ee|RR|SS)\b", read), read  # no dots read as letters


@needs_tesseract
def test_the_names_beside_leader_dots_are_read_without_the_dots() -> None:
    """With the dots on their line, Tesseract misread the typewriter-face file names of this
    table of contents ("texsys.cfg" as "TONSVSICIE"; 1 of 15 entries read right): the words
    before the dots are read again by themselves, 10 of 15 right here."""
    document = pdfium.PdfDocument(MANUAL / "cfgguide.pdf")
    layer = document[0].get_textpage().get_text_range()
    entries = [
        re.split(r" \. \.", line)[0].strip()
        for line in layer.splitlines()
        if re.search(r"(?: \.){20,}", line)
    ]
    buffer = io.BytesIO()
    document[0].render(scale=150 / 72, grayscale=True).to_pil().save(
        buffer, "JPEG", quality=75, dpi=(150, 150)
    )
    document.close()
    read = ImageLoader().load("contents.jpg", buffer.getvalue()).sections[0].text
    before_dots = {line.split(" . .")[0].strip() for line in read.splitlines()}
    assert len(entries) == 15
    assert {"texsys.cfg", "fonttext.cfg", "hyphen.cfg"} <= before_dots, read
    assert sum(entry in before_dots for entry in entries) >= 9, read


def headed_page(heading: str, lines: list[str]) -> Image.Image:
    """A 200-dpi page: a heading in 20-point type above lines of 12-point type."""
    image = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(image)
    draw.text((100, 120), heading, fill=0, font=ImageFont.load_default(size=64))
    font = ImageFont.load_default(size=40)
    for row, line in enumerate(lines):
        draw.text((100, 260 + 60 * row), line, fill=0, font=font)
    return image


@needs_tesseract
def test_a_scan_without_bookmarks_is_sectioned_at_the_headings_its_type_sizes_show() -> None:
    """An image-only PDF has no bookmarks and no font sizes: a short line OCR reads in larger
    type than the body is a heading, and heads the section below it, as in a text PDF."""
    data = scanned_pdf(
        headed_page("Parking", [*LEFT, "Short line of body text"]),
        headed_page("Cycling", RIGHT),
    )
    document = PdfLoader().load("site-guide.pdf", data)
    assert [s.heading_path for s in document.sections] == [
        ("Parking", "Page 1"),
        ("Cycling", "Page 2"),
    ]
    assert [words(s.text) for s in document.sections] == [
        words(" ".join([*LEFT, "Short line of body text"])),
        words(" ".join(RIGHT)),
    ]


def titled_page(title: str | None, heading: list[str], lines: list[str]) -> Image.Image:
    """A 200-dpi page: a title in 30-point type (if any), a heading in 20-point type over
    one line or more, and lines of 12-point type."""
    image = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(image)
    top = 120
    if title is not None:
        draw.text((100, top), title, fill=0, font=ImageFont.load_default(size=100))
        top += 200
    for part in heading:
        draw.text((100, top), part, fill=0, font=ImageFont.load_default(size=64))
        top += 80
    font = ImageFont.load_default(size=40)
    for row, line in enumerate(lines):
        draw.text((100, top + 40 + 60 * row), line, fill=0, font=font)
    return image


@needs_tesseract
def test_a_scan_s_title_titles_it_and_a_heading_over_two_lines_is_one() -> None:
    """The largest type of a scan's first page is its title, not the root of every
    section's path; a heading printed over two lines (the second without descenders, which
    Tesseract's line size misjudged) heads its section whole."""
    data = scanned_pdf(
        titled_page("Site Guide", ["Parking for visitors", "and contractors"], LEFT),
        titled_page(None, ["Cycling"], RIGHT),
    )
    document = PdfLoader().load("site-guide.pdf", data)
    assert document.title == "Site Guide"
    assert [s.heading_path for s in document.sections] == [
        ("Page 1",),
        ("Parking for visitors and contractors", "Page 1"),
        ("Cycling", "Page 2"),
    ]
    assert words(document.sections[0].text) == ["Site", "Guide"]
    assert words(document.sections[1].text) == words(" ".join(LEFT))


def test_tesseract_s_hocr_is_read_into_words_with_their_line_s_type_size() -> None:
    hocr = b"""<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><body>
<div class='ocr_page' id='page_1' title='bbox 0 0 900 600'>
 <div class='ocr_carea' id='block_1_1' title="bbox 10 10 500 200">
  <p class='ocr_par' id='par_1_1' title="bbox 10 10 500 200">
   <span class='ocr_header' id='line_1_1'
     title="bbox 10 10 300 60; x_size 50; x_descenders 9; x_ascenders 13">
    <span class='ocrx_word' id='word_1_1' title='bbox 10 10 300 60; x_wconf 96'>Parking</span>
   </span>
   <span class='ocr_line' id='line_1_2' title="bbox 10 100 500 130; x_size 31.5">
    <span class='ocrx_word' id='word_1_2' title='bbox 10 100 200 130; x_wconf 91'>Bay</span>
    <span class='ocrx_word' id='word_1_3' title='bbox 220 100 500 130; x_wconf 45'>&lt;7&gt;</span>
   </span>
  </p>
 </div>
</div></body></html>"""
    found = hocr_words(hocr)
    assert found["text"] == ["Parking", "Bay", "<7>"]
    assert found["line_num"] == [1, 2, 2]
    assert found["block_num"] == [1, 1, 1]
    assert found["size"] == [56.0, 31.5, 31.5]  # twice the x-height (50 - 9 - 13), or x_size
    assert found["conf"] == [96.0, 91.0, 45.0]
    assert (found["left"][2], found["top"][2], found["width"][2], found["height"][2]) == (
        220,
        100,
        280,
        30,
    )


def noted_page(lines: list[str], notes: dict[int, str]) -> Image.Image:
    """A 200-dpi page of `lines`, with a marginal note beside some (`notes`: row -> note)
    in a column of its own right of the text, as LaTeX's documentation prints them."""
    image = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    for row, line in enumerate(lines):
        draw.text((100, 200 + 60 * row), line, fill=0, font=font)
        if row in notes:
            draw.text((1300, 200 + 60 * row), notes[row], fill=0, font=font)
    return image


@needs_tesseract
def test_a_scan_s_marginal_notes_stay_out_of_its_text() -> None:
    """A column of short notes right of the text ("New feature" beside a paragraph) is cut
    out of a scan's text as it is out of a text PDF's: Tesseract reads such a note onto
    the end of the line beside it, or as a block of its own."""
    body = [*LEFT, *RIGHT]
    data = scanned_pdf(
        noted_page(body, {1: "New feature"}),
        noted_page(body, {4: "New feature"}),
        noted_page(body, {2: "New feature", 6: "New"}),
    )
    document = PdfLoader().load("guide.pdf", data)
    assert [words(s.text) for s in document.sections] == [words(" ".join(body))] * 3
    # notes on one page or two are not a column of notes: their text stays
    once = PdfLoader().load("guide.pdf", scanned_pdf(noted_page(body, {1: "New feature"})))
    assert "New feature" in " ".join(words(once.sections[0].text))


@needs_tesseract
def test_a_list_s_bullets_are_read_as_bullets() -> None:
    """Tesseract's English model reads a bullet (a filled disc) as "e"; a line starting
    with the letters "e" and "o" keeps them."""
    items = ["Visitors park in bay seven", "Badges are handed out", "Bicycles are locked"]
    image = Image.new("L", (1700, 1100), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    for row, item in enumerate(items):
        top = 200 + 70 * row
        draw.ellipse((100, top + 14, 118, top + 32), fill=0)
        draw.text((150, top), item, fill=0, font=font)
    draw.text((150, 200 + 70 * len(items)), "e and o start this line", fill=0, font=font)
    [lines] = read_pages("list.png", [image], OcrOptions())
    assert [line.text for line in lines] == [
        *(f"• {item}" for item in items),
        "e and o start this line",
    ]
