"""The PDF loader's page and content budget: pages are counted, and each page's
decompressed content is charged before PDFium reads any page, a shared stream each time a
page draws it.

A hostile PDF's refusal is checked by what was done to refuse it, never by the seconds it
took: PDFium never opened the document, and the budget's meter inflated no more than the
budget (or each shared stream once). The seconds are measured by
`python -m bench.bench_hostile_inputs`."""

from __future__ import annotations

import re

import pypdfium2 as pdfium
import pytest

from services.budgets import BUDGET, InputBudget
from services.knowledge.loaders.pdf import PdfLoader
from tests import hostile_inputs
from tests.inflation import counting_inflation
from use_cases.shared.errors import InputTooCostly, InvalidDocument

KiB = 1024
MiB = 1024 * KiB


@pytest.fixture
def pdfium_opened(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the documents given to PDFium to read (the costly work: it parses every
    page's content to read its text), recorded while the test runs."""
    opened: list[int] = []
    open_document = pdfium.PdfDocument

    def spy(data: bytes, *args: object, **kwargs: object) -> pdfium.PdfDocument:
        opened.append(len(data))
        return open_document(data, *args, **kwargs)

    monkeypatch.setattr(pdfium, "PdfDocument", spy)
    return opened


def _refused(name: str) -> str:
    """The refusal of the default content budget, naming the document and the budget."""
    return re.escape(
        f"{name} decompresses to more than {BUDGET.max_pdf_content:,} bytes of page content: "
        "refused."
    )


def _within_budget(loader: PdfLoader, name: str, pdf: bytes) -> bool:
    """Whether `loader` reads `pdf` past its budget checks (the generated pages print one
    word over itself, which PDFium may find no text in: that refusal is not the budget's)."""
    try:
        loader.load(name, pdf)
    except InvalidDocument as exc:
        assert "no extractable text" in str(exc)
    return True


def test_a_pdf_within_the_budget_is_read_by_pdfium(pdfium_opened: list[int]) -> None:
    """The spies see the work: a PDF within the budget is opened by PDFium, and its content
    inflated by the meter (so an empty record below means the work was not done)."""
    pdf = hostile_inputs.fan_out_pdf(pages=3, content=64 * KiB)
    with counting_inflation() as inflated:
        assert _within_budget(PdfLoader(), "three.pdf", pdf)
    assert pdfium_opened == [len(pdf)]
    assert inflated.bytes > 60 * KiB  # the 64 KiB stream, inflated once


def test_the_issues_fan_out_pdf_is_refused_before_any_page_is_read(
    pdfium_opened: list[int],
) -> None:
    pdf = hostile_inputs.fan_out_pdf(pages=40, content=512 * KiB)  # ~50 s of PDFium before
    with (
        counting_inflation() as inflated,
        pytest.raises(InputTooCostly, match=_refused("fan-out.pdf")),
    ):
        PdfLoader().load("fan-out.pdf", pdf)
    assert pdfium_opened == []
    assert inflated.bytes <= 512 * KiB  # the shared stream inflated once, not once a page


def test_an_xmp_stream_inflating_to_a_gib_is_refused_before_pdfium_opens_it(
    pdfium_opened: list[int],
) -> None:
    """PDFium inflates the catalog's XMP `/Metadata` in full and parses it as XML when it opens
    a document (~7 times its size in memory: 3 GiB once took a parse to 4 GB). It is charged
    with the page content, inflated no further than the budget."""
    pdf = hostile_inputs.metadata_bomb_pdf(1024 * MiB)  # ~1 MB
    with (
        counting_inflation() as inflated,
        pytest.raises(InputTooCostly, match="bytes of page content and metadata: refused"),
    ):
        PdfLoader().load("xmp.pdf", pdf)
    assert pdfium_opened == []
    assert inflated.bytes <= BUDGET.max_pdf_content + 2 * MiB


def test_an_xmp_stream_is_charged_with_the_page_content(pdfium_opened: list[int]) -> None:
    loader = PdfLoader(InputBudget(max_pdf_content=2 * MiB))
    document = loader.load("xmp.pdf", hostile_inputs.metadata_bomb_pdf(1 * MiB))
    assert (document.title, document.metadata) == ("Hello", {"pages": "1"})
    assert pdfium_opened
    with pytest.raises(InputTooCostly, match="2,097,152 bytes of page content and metadata"):
        loader.load("xmp.pdf", hostile_inputs.metadata_bomb_pdf(3 * MiB))


@pytest.mark.parametrize("via_form", [False, True])
def test_a_shared_stream_is_charged_for_every_page_that_draws_it(via_form: bool) -> None:
    loader = PdfLoader(InputBudget(max_pdf_content=200 * KiB))
    within = hostile_inputs.fan_out_pdf(pages=3, content=64 * KiB, via_form=via_form)
    assert _within_budget(loader, "three.pdf", within)  # 192 KiB drawn
    over = hostile_inputs.fan_out_pdf(pages=4, content=64 * KiB, via_form=via_form)
    with pytest.raises(InputTooCostly, match="204,800 bytes of page content"):
        loader.load("four.pdf", over)  # 256 KiB drawn from one 64 KiB stream


def test_pages_past_the_cap_are_refused() -> None:
    pdf = hostile_inputs.fan_out_pdf(pages=5, content=1 * KiB)
    assert _within_budget(PdfLoader(InputBudget(max_pdf_pages=5)), "five.pdf", pdf)
    with pytest.raises(InputTooCostly, match="has 5 pages; at most 4 are read"):
        PdfLoader(InputBudget(max_pdf_pages=4)).load("five.pdf", pdf)


def test_a_form_is_charged_each_time_a_page_draws_it() -> None:
    loader = PdfLoader(InputBudget(max_pdf_content=200 * KiB))
    within = hostile_inputs.fan_out_pdf(pages=1, content=64 * KiB, via_form=True, draws=3)
    assert _within_budget(loader, "three.pdf", within)
    over = hostile_inputs.fan_out_pdf(pages=1, content=64 * KiB, via_form=True, draws=4)
    with pytest.raises(InputTooCostly, match="204,800 bytes of page content"):
        loader.load("four.pdf", over)  # one page drawing one 64 KiB form four times


def test_a_form_drawn_thousands_of_times_is_refused_before_any_page_is_read(
    pdfium_opened: list[int],
) -> None:
    pdf = hostile_inputs.fan_out_pdf(pages=1, content=16 * KiB, via_form=True, draws=20_000)
    assert len(pdf) < 200_000  # 320 MiB of content drawn: ~35 s of PDFium without the charge
    with (
        counting_inflation() as inflated,
        pytest.raises(InputTooCostly, match=_refused("forms.pdf")),
    ):
        PdfLoader().load("forms.pdf", pdf)
    assert pdfium_opened == []
    assert inflated.bytes <= 16 * KiB  # the form inflated once, its draws counted


def test_an_inline_image_is_charged_what_it_inflates_to_each_time_its_stream_is_drawn(
    pdfium_opened: list[int],
) -> None:
    pdf = hostile_inputs.inline_image_pdf(pages=40, pixels=64 * MiB)
    assert len(pdf) < 100_000  # 2.5 GiB inflated by PDFium, ~7 s of CPU, without the charge
    with (
        counting_inflation() as inflated,
        pytest.raises(InputTooCostly, match=_refused("inline.pdf")),
    ):
        PdfLoader().load("inline.pdf", pdf)
    assert pdfium_opened == []
    # the image inflated until the budget is spent (in pieces of up to 1 MiB), not 64 MiB
    assert inflated.bytes <= BUDGET.max_pdf_content + MiB

    loader = PdfLoader(InputBudget(max_pdf_content=200 * KiB))
    assert _within_budget(loader, "three.pdf", hostile_inputs.inline_image_pdf(3, 64 * KiB))
    with pytest.raises(InputTooCostly, match="204,800 bytes of page content"):
        loader.load("four.pdf", hostile_inputs.inline_image_pdf(4, 64 * KiB))


def test_a_type3_fonts_glyph_procedures_are_charged_once_a_document(
    pdfium_opened: list[int],
) -> None:
    pdf = hostile_inputs.type3_pdf(pages=40, glyph=32 * MiB)  # ~1.7 s of PDFium uncharged
    with (
        counting_inflation() as inflated,
        pytest.raises(InputTooCostly, match=_refused("type3.pdf")),
    ):
        PdfLoader().load("type3.pdf", pdf)
    assert pdfium_opened == []
    assert inflated.bytes <= BUDGET.max_pdf_content + MiB  # the budget's worth, not 32 MiB

    loader = PdfLoader(InputBudget(max_pdf_content=200 * KiB))
    # Parsed once a document, like the font: 40 pages of a 150 KiB glyph are within 200 KiB.
    assert _within_budget(loader, "small.pdf", hostile_inputs.type3_pdf(40, 150 * KiB))
    with pytest.raises(InputTooCostly, match="204,800 bytes of page content"):
        loader.load("big.pdf", hostile_inputs.type3_pdf(1, 250 * KiB))


def test_an_image_xobject_pdfium_does_not_decode_is_not_charged() -> None:
    """The content budget charges what PDFium inflates to read a page's text, and it reads
    text without decoding images: a PDF of large screenshots is not refused for its pixels.
    (These pages' text layer is too thin to be used, so they are also read by OCR, which
    renders them and so decodes the image once a page, inside the parse child's limits.)"""
    pdf = hostile_inputs.image_xobject_pdf(pages=40, pixels=64 * 1024 * KiB)
    assert _within_budget(PdfLoader(), "screenshots.pdf", pdf)


@pytest.mark.parametrize("stream", ["/ToUnicode", "/FontFile2"])
def test_a_font_side_stream_inflating_to_300_mib_is_refused_before_pdfium_opens_it(
    pdfium_opened: list[int], stream: str
) -> None:
    """PDFium inflates a font's ToUnicode map and embedded program when it loads the font
    (a 1.6 KB PDF's 300 MiB ToUnicode map cost an attachment +640 MB; 0.9-1.5 GiB ones
    stopped at the parse child's 1 GiB). Each is charged with the page content now, inflated
    no further than the budget, before PDFium sees the file."""
    pdf = hostile_inputs.font_stream_bomb_pdf(stream, 300 * MiB)  # ~300 KB
    with (
        counting_inflation() as inflated,
        pytest.raises(InputTooCostly, match=_refused("font.pdf")),
    ):
        PdfLoader().load("font.pdf", pdf)
    assert pdfium_opened == []
    assert inflated.bytes <= BUDGET.max_pdf_content + 2 * MiB


@pytest.mark.parametrize("stream", ["/ToUnicode", "/FontFile2"])
def test_a_font_side_stream_is_charged_once_with_the_page_content(
    pdfium_opened: list[int], stream: str
) -> None:
    loader = PdfLoader(InputBudget(max_pdf_content=2 * MiB))
    assert _within_budget(loader, "font.pdf", hostile_inputs.font_stream_bomb_pdf(stream, MiB))
    assert pdfium_opened
    with pytest.raises(InputTooCostly, match="2,097,152 bytes of page content"):
        loader.load("font.pdf", hostile_inputs.font_stream_bomb_pdf(stream, 3 * MiB))
