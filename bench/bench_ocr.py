"""OCR against the text layer: typeset English pages rasterised at 150 dpi (as a scanner
would), read by the loaders' OCR (Debian's Tesseract, services/knowledge/loaders/ocr.py), and
compared with the text PDFium reads off the same pages. Printed, never asserted.

    python -m bench.bench_ocr                      # the latex-guides corpus, 12 pages
    python -m bench.bench_ocr --pages 30 --dpi 200

"characters correct" is the share of the text layer's characters (whitespace folded to one
space) that the OCR text matches in order (difflib's matching blocks); "pages/s" counts the
rasterising and Tesseract's run, on one thread, as the parse child does it."""

from __future__ import annotations

import argparse
import difflib
import time
from pathlib import Path

import pypdfium2 as pdfium

from services.knowledge.loaders.ocr import OcrOptions, lines_text, read_lines, require_tesseract

CORPUS = Path(__file__).resolve().parents[1] / "sample_data" / "corpora" / "latex-guides"


def folded(text: str) -> str:
    return " ".join(text.replace("\ufffe", "").replace("\u00ad", "").split())


def correct_share(ocr: str, layer: str) -> float:
    """Characters of `layer` that `ocr` matches in order, over `layer`'s characters."""
    if not layer:
        return 1.0
    matcher = difflib.SequenceMatcher(None, ocr, layer, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(layer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=12, help="pages to read (default 12)")
    parser.add_argument("--dpi", type=int, default=150, help="rasterising resolution")
    args = parser.parse_args()
    require_tesseract("bench")
    options = OcrOptions(dpi=args.dpi)
    pages: list[tuple[str, int]] = [
        (pdf.name, index)
        for pdf in sorted((CORPUS / "documents").glob("*.pdf"))
        for index in range(len(pdfium.PdfDocument(pdf)))
    ]
    step = max(1, len(pages) // args.pages)
    chosen = pages[::step][: args.pages]
    matched = total = 0
    seconds = 0.0
    print(f"{'page':<22} {'chars':>6} {'correct':>8} {'s':>6}")
    for name, index in chosen:
        document = pdfium.PdfDocument(CORPUS / "documents" / name)
        page = document[index]
        layer = folded(page.get_textpage().get_text_range())
        started = time.perf_counter()
        bitmap = page.render(scale=args.dpi / 72, grayscale=True)
        ocr = folded(lines_text(read_lines(name, bitmap.to_pil(), options)))
        took = time.perf_counter() - started
        share = correct_share(ocr, layer)
        matched += round(share * len(layer))
        total += len(layer)
        seconds += took
        print(f"{name} p{index + 1:<10} {len(layer):>6} {share:>8.3f} {took:>6.2f}")
        document.close()
    print(
        f"\n{len(chosen)} pages at {args.dpi} dpi: characters correct {matched / max(total, 1):.3f}"
        f" of {total:,}; {len(chosen) / seconds:.2f} pages/s ({seconds / len(chosen):.2f} s a page)"
    )


if __name__ == "__main__":
    main()
