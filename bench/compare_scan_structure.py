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
  PDF's words; "kept": the same matched words over the scan's, so that words the scan has
  and the text PDF has not (marginal notes, symbols misread as letters) count.

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
from typing import Any, NamedTuple

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


def matched(scan: Sequence[str], text: Sequence[str]) -> int:
    """How many of `text`'s words `scan` has in the same order."""
    matcher = difflib.SequenceMatcher(None, scan, text, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks())


def in_order(scan: Sequence[str], text: Sequence[str]) -> float:
    """The share of `text`'s words that `scan` has in the same order."""
    return matched(scan, text) / len(text) if text else 1.0


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
        self, name: str, images: Iterable[Any], options: OcrOptions, pages: int = 0
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
            read = self.read_pages(name, [held[i] for i in missing], options, pages)
            for i, lines in zip(missing, read, strict=True):
                (self.folder / keys[i]).write_bytes(pickle.dumps(lines))
        return [pickle.loads((self.folder / key).read_bytes()) for key in keys]


class Compared(NamedTuple):
    paths: tuple[int, int]  # shared, either
    at_page: tuple[int, int]
    words: tuple[int, int, int]  # matched in order, the text PDF's, the scan's


def compare(source: Path, scans: Path, loader: PdfLoader, show: bool) -> Compared:
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
    text_words, scan_words = words(text), words(scan)
    return Compared(
        agreement(paths(scan), paths(text)),
        agreement(paths_at_pages(scan), paths_at_pages(text)),
        (matched(scan_words, text_words), len(text_words), len(scan_words)),
    )


def row(label: str, found: Compared) -> str:
    (shared, either), (at, at_either), (same, text, scan) = found
    return (
        f"{label:<16} {shared:>4}/{either:<4} {shared / max(either, 1):>4.0%}"
        f" {at:>4}/{at_either:<4} {at / max(at_either, 1):>4.0%}"
        f" {same / max(text, 1):>7.3f} {same / max(scan, 1):>7.3f}"
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
        print(f"{'pdf':<16} {'paths':>14} {'at page':>14} {'words':>7} {'kept':>7}")
        total = Compared((0, 0), (0, 0), (0, 0, 0))
        for source in sorted(CORPUS.glob("*.pdf")):
            found = compare(source, scans, loader, source.stem in args.show)
            total = Compared(
                (total.paths[0] + found.paths[0], total.paths[1] + found.paths[1]),
                (total.at_page[0] + found.at_page[0], total.at_page[1] + found.at_page[1]),
                (
                    total.words[0] + found.words[0],
                    total.words[1] + found.words[1],
                    total.words[2] + found.words[2],
                ),
            )
            print(row(source.stem, found))
        print(row("all", total))


if __name__ == "__main__":
    main()
