"""A long scan through `almanac ingest`, as an administrator ingests a folder: OCR is budgeted
by what it costs (OCR_CPU_SECONDS, Tesseract's CPU included), not by a page count, so a scan
longer than the old 50-page limit is read by default; past the CPU budget the file is
refused naming the setting, and the rest of the folder is still ingested. While the scan is
read, `almanac ingest`'s progress says which page. (A 300-page scan's
figures are bench/bench_ocr.py's `--scan-pages`; here 60 small pages keep the run short.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from typer.testing import CliRunner

from backend.cli import progress
from backend.cli.main import app
from tests.integration.test_ocr import needs_tesseract, scanned_pdf

pytestmark = needs_tesseract

runner = CliRunner()

#: Pages of the scan: more than the 50 OCR read at most by default before.
PAGES = 60


@pytest.fixture
def env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "DATA_DIR": str(data_dir),
        "LOAD_SAMPLE_DATA": "false",
        "LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(data_dir)  # no stray .env from the repository


def small_page(number: int) -> Image.Image:
    """A small scanned slip of one line (2 x 0.6 inches at 200 dpi): cheap to read."""
    image = Image.new("L", (400, 120), 255)
    font = ImageFont.load_default(size=36)
    ImageDraw.Draw(image).text((20, 40), f"Clause {number} holds", fill=0, font=font)
    return image


@pytest.fixture(scope="module")
def long_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("long-scan")
    (folder / "contract.pdf").write_bytes(
        scanned_pdf(*(small_page(number) for number in range(1, PAGES + 1)))
    )
    (folder / "notes.md").write_text("# Notes\n\nThe archive room is on floor 3.\n")
    return folder


def documents() -> dict[str, dict[str, object]]:
    result = runner.invoke(app, ["docs", "list", "--limit", "100", "--json"])
    return {d["source"]: d for d in json.loads(result.stdout)["documents"]}


def test_a_scan_of_more_pages_than_the_old_limit_is_ingested_by_default_page_by_page(
    env: None, long_scan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its progress lines (written every PROGRESS_INTERVAL while the run lasts, here often:
    the scan's pages take seconds) say which OCR page is being read."""
    monkeypatch.setattr(progress, "PROGRESS_INTERVAL", 0.05)
    result = runner.invoke(app, ["ingest", str(long_scan), "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    read = re.findall(rf"reading contract\.pdf, OCR page (\d+)/{PAGES}\n", result.stderr)
    assert read and all(1 <= int(page) <= PAGES for page in read), result.stderr[-2000:]
    listed = documents()
    assert "notes.md" in listed
    shown = runner.invoke(app, ["docs", "show", str(listed["contract.pdf"]["id"]), "--json"])
    sections = json.loads(shown.stdout)["sections"]
    assert sections[-1]["heading_path"][-1] == f"Page {PAGES}"  # every page read
    assert f"Clause {PAGES} holds" in sections[-1]["text"]


def test_a_scan_past_its_ocr_cpu_budget_is_refused_naming_the_setting(
    env: None, long_scan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One CPU second: each page's `tesseract` run alone costs a tenth of one or more, so
    the 60 pages pass it on any machine."""
    monkeypatch.setenv("OCR_CPU_SECONDS", "1")
    result = runner.invoke(app, ["ingest", str(long_scan)])
    assert result.exit_code == 1
    assert "1 added" in result.stdout and "1 failed" in result.stdout, result.stderr
    assert "contract.pdf takes more than 1 s of CPU to read by OCR" in result.stderr
    assert "(OCR_CPU_SECONDS;" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    listed = documents()
    assert "notes.md" in listed and "contract.pdf" not in listed
