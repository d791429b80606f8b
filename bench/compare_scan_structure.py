"""A scan's structure and text beside its text layer's: each latex-guides PDF read by the
PDF loader as it is and as a scan (`pdftoppm -r 150 -gray -jpeg`, then `img2pdf`, as
`bench.bench_converted_corpora --to scan` makes it), side by side. Printed, never asserted.

    python -m bench.compare_scan_structure                   # the five latex-guides PDFs
    python -m bench.compare_scan_structure --cache /tmp/ocr  # OCR's lines kept between runs
    python -m bench.compare_scan_structure --show cfgguide   # the two paths lists, side by side

For each PDF:
- "paths": the section paths (a section's heading path without its "Page N"), whitespace
  folded, that the scan shares with the text PDF, over the paths either has (a path the
  scan lacks or adds counts against it);
- "at page": the same of (path, page) pairs: a heading found on another page counts too;
- "words": the text PDF's words (sections' texts joined, whitespace folded) that the scan's
  have in the same order (difflib's matching blocks over the two word lists), over the text
  PDF's words.

`--cache DIR` keeps each scanned page's OCR lines, keyed by the page's pixels, the OCR
options and the source of the OCR modules, so a change to how lines become headings is
measured in seconds; a change to OCR itself misses the cache and reads again.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import pickle
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.bench_converted_corpora import convert
from services.knowledge.loaders import pdf as pdf_loader
from services.knowledge.loaders.ocr import OcrLine, OcrOptions
from services.knowledge.loaders.pdf import PdfLoader
from use_cases.knowledge.domain import ParsedDocument

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "sample_data" / "corpora" / "latex-guides" / "documents"
OCR_SOURCES = ("ocr.py", "ocr_words.py")


def folded(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def paths(document: ParsedDocument) -> set[tuple[str, ...]]:
    return {tuple(folded(part) for part in s.heading_path[:-1]) for s in document.sections}


def paths_at_pages(document: ParsedDocument) -> set[tuple[str, ...]]:
    return {tuple(folded(part) for part in s.heading_path) for s in document.sections}


def words(document: ParsedDocument) -> list[str]:
    return folded(" ".join(s.text for s in document.sections)).split()


def in_order(scan: Sequence[str], text: Sequence[str]) -> float:
    """The share of `text`'s words that `scan` has in the same order."""
    if not text:
        return 1.0
    matcher = difflib.SequenceMatcher(None, scan, text, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(text)


def agreement(scan: set[tuple[str, ...]], text: set[tuple[str, ...]]) -> tuple[int, int]:
    return len(scan & text), len(scan | text)


class CachedOcr:
    """`read_pages` with each page's lines kept in `folder`, keyed by its pixels, the
    options and the OCR modules' source."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        source = b"".join(
            (ROOT / "services" / "knowledge" / "loaders" / name).read_bytes()
            for name in OCR_SOURCES
        )
        self.code = hashlib.sha256(source).hexdigest()
        self.read_pages = pdf_loader.read_pages

    def __call__(
        self, name: str, images: Iterable[Any], options: OcrOptions
    ) -> list[list[OcrLine]]:
        held = list(images)
        keys = [
            hashlib.sha256(
                f"{self.code}{options}{image.size}".encode() + image.tobytes()
            ).hexdigest()
            for image in held
        ]
        missing = [i for i, key in enumerate(keys) if not (self.folder / key).exists()]
        if missing:
            read = self.read_pages(name, [held[i] for i in missing], options)
            for i, lines in zip(missing, read, strict=True):
                (self.folder / keys[i]).write_bytes(pickle.dumps(lines))
        return [pickle.loads((self.folder / key).read_bytes()) for key in keys]


def compare(
    source: Path, scans: Path, loader: PdfLoader, show: bool
) -> tuple[tuple[int, int], tuple[int, int], float, int]:
    """Paths shared, (path, page) pairs shared, words in order and the text PDF's word count."""
    scan_file = scans / source.name
    if not scan_file.exists():
        convert(source, scans, "scan")
    text = loader.load(source.name, source.read_bytes())
    scan = loader.load(source.name, scan_file.read_bytes())
    if show:
        text_paths, scan_paths = paths(text), paths(scan)
        for path in sorted(text_paths | scan_paths):
            mark = (
                "="
                if path in text_paths and path in scan_paths
                else ("T" if path in text_paths else "S")
            )
            print(f"  {mark} {' > '.join(path)}")
    text_words = words(text)
    return (
        agreement(paths(scan), paths(text)),
        agreement(paths_at_pages(scan), paths_at_pages(text)),
        in_order(words(scan), text_words),
        len(text_words),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, help="keep OCR's lines of each page here")
    parser.add_argument("--scans", type=Path, help="keep the scanned PDFs here")
    parser.add_argument("--show", action="append", default=[], help="list a PDF's paths")
    args = parser.parse_args()
    if args.cache:
        pdf_loader.read_pages = CachedOcr(args.cache)
    loader = PdfLoader()
    with tempfile.TemporaryDirectory(prefix="almanac-scans-") as tmp:
        scans = args.scans or Path(tmp)
        scans.mkdir(parents=True, exist_ok=True)
        print(f"{'pdf':<16} {'paths':>14} {'at page':>14} {'words':>7}")
        totals = [0, 0, 0, 0]
        matched = counted = 0.0
        for source in sorted(CORPUS.glob("*.pdf")):
            show = source.stem in args.show
            (shared, either), (at, at_either), ratio, count = compare(source, scans, loader, show)
            totals = [a + b for a, b in zip(totals, (shared, either, at, at_either), strict=True)]
            matched += ratio * count
            counted += count
            print(
                f"{source.stem:<16} {shared:>4}/{either:<4} {shared / max(either, 1):>4.0%}"
                f" {at:>4}/{at_either:<4} {at / max(at_either, 1):>4.0%} {ratio:>7.3f}"
            )
        print(
            f"{'all':<16} {totals[0]:>4}/{totals[1]:<4} {totals[0] / max(totals[1], 1):>4.0%}"
            f" {totals[2]:>4}/{totals[3]:<4} {totals[2] / max(totals[3], 1):>4.0%}"
            f" {matched / max(counted, 1):>7.3f}"
        )


if __name__ == "__main__":
    main()
