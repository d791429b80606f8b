"""OCR against the text layer: typeset English pages rasterised at 150 dpi and saved as grey
JPEGs (as `pdftoppm -r 150 -gray -jpeg` or a scanner would), read as the loaders read a scan
(services/knowledge/loaders/ocr.py: scaled to the OCR resolution, Debian's Tesseract, the
pages `--workers` at once), and compared with the text PDFium reads off the same pages.
Printed, never asserted.

    python -m bench.bench_ocr                      # the latex-guides corpus, 12 pages
    python -m bench.bench_ocr --pages 30 --dpi 200 --workers 1
    python -m bench.bench_ocr --start 4            # 12 other pages, spread as the default's
    python -m bench.bench_ocr --scan-pages 300     # one 300-page scanned PDF, as ingested

"characters correct" is the share of the text layer's characters (whitespace folded to one
space) that the OCR text matches in order (difflib's matching blocks over the whole page): a
marginal note read after its paragraph instead of beside its line counts as lost, and so do
leader dots (". . . .") and symbols the English model lacks ("⟨", "ε").

Time: "pages/s" is wall-clock seconds from the JPEGs to the text (decoding, scaling and
Tesseract's runs), and "CPU s a page" the CPU of this process and its `tesseract` children
over the same span: on a machine shared with other work the latter is the steadier figure,
and the load average is printed beside it.

`--scan-pages N` reads one scanned PDF of N pages (the corpus's pages cycled, each a 150-dpi
grey JPEG as above) as `almanac ingest` and an admin's upload read it: through the parse
child (services/parse_pool.py) with the default budgets (PARSE_MEMORY_MB, OCR_CPU_SECONDS,
OCR_WORKERS), and prints pages/s, the CPU of the parse child and its `tesseract` runs a
page, and the peak resident memory of the process tree (this process, the fork server, the
parse child and its `tesseract` runs, sampled every 20 ms) above where it started, and the
parse child's own, each with its peaks over the first and the last fifth of the run beside
it: memory that grew with the pages would show there.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import io
import os
import resource
import threading
import time
from pathlib import Path

import psutil
import pypdfium2 as pdfium
from PIL import Image

from services.budgets import BUDGET
from services.knowledge.loaders import FileLoader
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
    parser.add_argument(
        "--scan-pages", type=int, default=0, help="read one scanned PDF of this many pages"
    )
    args = parser.parse_args()
    require_tesseract("bench")
    options = OcrOptions(dpi=args.ocr_dpi, workers=args.workers, min_confidence=args.min_confidence)
    if args.scan_pages:
        long_scan(args.scan_pages, args.dpi, options)
        return
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


class TreeSampler:
    """The resident memory of this process's tree (every 20 ms, in a thread), with when it
    was sampled, and the CPU of the parse child with its reaped `tesseract` runs."""

    def __init__(self) -> None:
        self._root = psutil.Process()
        self.started = time.perf_counter()
        self.baseline = self._rss()[0]
        self.samples: list[tuple[float, int]] = []  # (seconds from the start, bytes)
        self.parse_samples: list[tuple[float, int]] = []  # the parse child's alone
        self.parse_cpu: dict[int, float] = {}  # pid -> own + reaped children's CPU, last seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _rss(self) -> tuple[int, list[psutil.Process]]:
        processes = [self._root, *self._root.children(recursive=True)]
        total = 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                continue
        return total, processes

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            total, processes = self._rss()
            now = time.perf_counter() - self.started
            self.samples.append((now, total))
            parse = 0
            servers = set()  # the fork server (and multiprocessing's resource tracker)
            for process in processes[1:]:
                try:
                    if process.ppid() == self._root.pid:
                        servers.add(process.pid)
                except psutil.Error:  # gone since it was listed
                    continue
            for process in processes:
                try:
                    if process.ppid() not in servers:
                        continue  # not a parse child: a `tesseract` run, or one being started
                    if process.name().startswith("tesseract"):
                        continue
                    times = process.cpu_times()
                    self.parse_cpu[process.pid] = (
                        times.user + times.system + times.children_user + times.children_system
                    )
                    parse += process.memory_info().rss
                except psutil.Error:
                    continue
            self.parse_samples.append((now, parse))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mib(self, since: float = 0.0, until: float = 1.0) -> float:
        """The tree's peak above the start between two shares of the run's time."""
        end = self.samples[-1][0] if self.samples else 0.0
        window = [b for t, b in self.samples if since * end <= t <= until * end]
        return (max(window, default=self.baseline) - self.baseline) / (1024 * 1024)

    def parse_peak_mib(self, since: float = 0.0, until: float = 1.0) -> float:
        """The parse child's own peak resident memory (its `tesseract` runs apart) between
        two shares of the run's time."""
        end = self.parse_samples[-1][0] if self.parse_samples else 0.0
        window = [b for t, b in self.parse_samples if since * end <= t <= until * end]
        return max(window, default=0) / (1024 * 1024)


def long_scan(pages: int, dpi: int, options: OcrOptions) -> None:
    """One scanned PDF of `pages` pages read through the parse child (module docstring)."""
    from services.parse_pool import BudgetedLoader  # the fork server starts on first use

    sources = [
        (pdf, index)
        for pdf in sorted((CORPUS / "documents").glob("*.pdf"))
        for index in range(len(pdfium.PdfDocument(pdf)))
    ]
    images = []
    for number in range(pages):
        pdf, index = sources[number % len(sources)]
        document = pdfium.PdfDocument(pdf)
        images.append(Image.open(io.BytesIO(scanned(document[index], dpi))))
        document.close()
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=dpi)
    data = buffer.getvalue()
    del images
    loader = BudgetedLoader(functools.partial(FileLoader, options))
    loader.load("warm.md", b"# Warm\n\nThe fork server is started.\n")
    sampler = TreeSampler()
    try:
        read = loader.load("scan.pdf", data)
    finally:
        seconds = time.perf_counter() - sampler.started
        sampler.stop()
    cpu = sum(sampler.parse_cpu.values())
    print(
        f"{pages} pages scanned at {dpi} dpi ({len(data) / 1e6:.1f} MB), read at {options.dpi} "
        f"dpi, {options.workers} at once, in the parse child with the default budgets: "
        f"{read.metadata.get('ocr_pages')} pages read by OCR, {len(read.sections)} sections\n"
        f"{seconds:.0f} s: {pages / seconds:.2f} pages/s, {cpu / pages:.2f} CPU s a page "
        f"(parse child and its tesseract runs, sampled; {cpu:.0f} s in all)\n"
        f"peak memory of the process tree above its start: {sampler.peak_mib():.0f} MiB "
        f"(first fifth of the run {sampler.peak_mib(0, 0.2):.0f}, last fifth "
        f"{sampler.peak_mib(0.8, 1):.0f}; {sampler.baseline / (1024 * 1024):.0f} MiB at the "
        f"start)\nthe parse child alone, its tesseract runs apart: peak "
        f"{sampler.parse_peak_mib():.0f} MiB (first fifth {sampler.parse_peak_mib(0, 0.2):.0f}, "
        f"last fifth {sampler.parse_peak_mib(0.8, 1):.0f})\n"
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
