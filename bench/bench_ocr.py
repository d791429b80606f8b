"""OCR against the text layer: typeset English pages rasterised at 150 dpi and saved as grey
JPEGs (as `pdftoppm -r 150 -gray -jpeg` or a scanner would), read as the loaders read a scan
(services/knowledge/loaders/ocr.py: scaled to the OCR resolution, Debian's Tesseract, the
pages `--workers` at once), and compared with the text PDFium reads off the same pages.
Printed, never asserted.

    python -m bench.bench_ocr                      # the latex-guides corpus, 12 pages
    python -m bench.bench_ocr --pages 30 --dpi 200 --workers 1
    python -m bench.bench_ocr --start 4            # 12 other pages, spread as the default's

"characters correct" is the share of the text layer's characters (whitespace folded to one
space) that the OCR text matches in order (difflib's matching blocks over the whole page): a
marginal note read after its paragraph instead of beside its line counts as lost, and so do
leader dots (". . . .") and symbols the English model lacks ("⟨", "ε").

Time: "pages/s" is wall-clock seconds from the JPEGs to the text (decoding, scaling and
Tesseract's runs), and "CPU s a page" the CPU of this process and its `tesseract` children
over the same span: on a machine shared with other work the latter is the steadier figure,
and the load average is printed beside it.
"""

from __future__ import annotations

import argparse
import difflib
import io
import os
import resource
import time
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image

from services.budgets import BUDGET
from services.knowledge.loaders.ocr import (
    OcrOptions,
    at_resolution,
    lines_text,
    read_pages,
    require_tesseract,
)

CORPUS = Path(__file__).resolve().parents[1] / "sample_data" / "corpora" / "latex-guides"


def folded(text: str) -> str:
    return " ".join(text.replace("\ufffe", "").replace("\u00ad", "").split())


def correct_share(ocr: str, layer: str) -> float:
    """Characters of `layer` that `ocr` matches in order, over `layer`'s characters."""
    if not layer:
        return 1.0
    matcher = difflib.SequenceMatcher(None, ocr, layer, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(layer)


def scanned(page: pdfium.PdfPage, dpi: int) -> bytes:
    """The page as a grey JPEG at `dpi`, its resolution recorded, as pdftoppm writes it."""
    image = page.render(scale=dpi / 72, grayscale=True).to_pil()
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=75, dpi=(dpi, dpi))
    return buffer.getvalue()


def cpu_now() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=12, help="pages to read (default 12)")
    parser.add_argument(
        "--start", type=int, default=0, help="the sample's first page (another sample, same spread)"
    )
    parser.add_argument("--dpi", type=int, default=150, help="the scans' resolution")
    parser.add_argument("--ocr-dpi", type=int, default=OcrOptions.dpi, help="read at (OCR_DPI)")
    parser.add_argument("--workers", type=int, default=OcrOptions.workers, help="pages at once")
    parser.add_argument("--min-confidence", type=float, default=OcrOptions.min_confidence)
    args = parser.parse_args()
    require_tesseract("bench")
    options = OcrOptions(dpi=args.ocr_dpi, workers=args.workers, min_confidence=args.min_confidence)
    pages: list[tuple[str, int]] = [
        (pdf.name, index)
        for pdf in sorted((CORPUS / "documents").glob("*.pdf"))
        for index in range(len(pdfium.PdfDocument(pdf)))
    ]
    step = max(1, len(pages) // args.pages)
    chosen = pages[args.start :: step][: args.pages]
    layers: list[str] = []
    scans: list[bytes] = []
    for name, index in chosen:
        document = pdfium.PdfDocument(CORPUS / "documents" / name)
        layers.append(folded(document[index].get_textpage().get_text_range()))
        scans.append(scanned(document[index], args.dpi))
        document.close()

    def images():  # decoded and scaled as the image loader does, as OCR asks for them
        for data in scans:
            image = Image.open(io.BytesIO(data))
            yield at_resolution(image.convert("L"), options, BUDGET.max_image_pixels)

    started, cpu_started = time.perf_counter(), cpu_now()
    read = read_pages("bench", images(), options)
    seconds, cpu = time.perf_counter() - started, cpu_now() - cpu_started
    load = os.getloadavg()[0]
    print(f"{'page':<22} {'chars':>6} {'correct':>8}")
    matched = total = 0.0
    for (name, index), layer, lines in zip(chosen, layers, read, strict=True):
        share = correct_share(folded(lines_text(lines)), layer)
        matched += share * len(layer)
        total += len(layer)
        print(f"{name} p{index + 1:<10} {len(layer):>6} {share:>8.3f}")
    print(
        f"\n{len(chosen)} pages scanned at {args.dpi} dpi, read at {options.dpi} dpi, "
        f"{options.workers} at once: characters correct {matched / max(total, 1):.3f} "
        f"of {total:,.0f}; "
        f"{len(chosen) / seconds:.2f} pages/s, {cpu / len(chosen):.2f} CPU s a page "
        f"(load average {load:.1f} on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
