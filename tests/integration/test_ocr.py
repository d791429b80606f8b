"""Scans and images read by OCR (Debian's Tesseract), as a user sees them: the text in reading
order, pages as sections, the document marked `extraction: ocr`; and what is refused: a
scan past the page limit (413), an image whose pixels are a decompression bomb (413, within
the parse's memory budget), any scan when Tesseract is not installed (415 naming the
package)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from services.knowledge.loaders import FileLoader, ImageLoader, OcrOptions, PdfLoader
from services.knowledge.loaders.ocr import (
    at_resolution,
    lines_text,
    read_pages,
    tesseract_available,
)
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
