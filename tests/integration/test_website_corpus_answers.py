"""One evaluation corpus served as a local website answers as well as the same pages ingested
from a folder: within one case per split. The site (tests/website_server.py) serves the
corpus's HTML pages under `/python-howtos/` with a start page that links every page and is
itself `noindex`; the website reader (services/crawler) crawls it, and its `Fetched` pages are
ingested through the ingest use case with the page's URL as each document's source. The
folder side is what `almanac eval answers --corpus python-howtos` ingests. Each side is
scored on its dev and test splits in its own fresh data directory. An `answers` test: `make
check-answers` runs it (a few minutes: two ingests and four evaluations)."""

from __future__ import annotations

import asyncio
import tempfile
from functools import partial
from pathlib import Path

import pytest

from backend.bootstrap import Container, load_sample_data_if_empty
from backend.cli.common import open_container
from backend.cli.eval_commands import corpus_settings, evaluate
from services.crawler import CrawlLimits, WebsiteReader
from tests.website_server import website
from use_cases.evaluation.answers import AnswerReport
from use_cases.knowledge.ingest import IngestRequest, IngestSource
from use_cases.sources.ports import Fetched

CORPUS = "python-howtos"
SPLITS = ("dev", "test")


def _scored(container: Container, eval_dir: Path, answers_job: str | None) -> dict[str, int]:
    if answers_job is not None:  # scored answer-ready, as corpus_report does
        asyncio.run(container.knowledge.prepare_answers.wait(answers_job))
    reports: dict[str, AnswerReport] = {
        split: evaluate(container, f"{CORPUS}/{split}", split, None, eval_dir, lambda r: None)
        for split in SPLITS
    }
    return {split: report.correct for split, report in reports.items()}


def _from_folder() -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="almanac-folder-") as tmp:
        settings, eval_dir = corpus_settings(CORPUS, Path(tmp))
        with open_container(settings) as container:
            loaded = load_sample_data_if_empty(container)
            assert loaded is not None and not loaded.failed
            return _scored(container, eval_dir, loaded.answers_job)


def _from_website(documents: Path) -> tuple[dict[str, int], int]:
    files = sorted(p.relative_to(documents).as_posix() for p in documents.rglob("*.html"))
    with website() as site:
        for name in files:
            site.pages[f"/{CORPUS}/{name}"] = (
                "text/html; charset=utf-8",
                (documents / name).read_bytes(),
            )
        links = "".join(f'<li><a href="{name}">{name}</a></li>' for name in files)
        site.html(
            f"/{CORPUS}/index.html",
            f"<ul>{links}</ul>",
            head='<meta name="robots" content="noindex">',
        )
        reader = WebsiteReader(
            f"{site.base}/{CORPUS}/index.html",
            CrawlLimits(request_delay_s=0.0),
            allowed_hosts=["127.0.0.1"],
        )
        pages = [event for event in reader.read({}) if isinstance(event, Fetched)]
    with tempfile.TemporaryDirectory(prefix="almanac-website-") as tmp:
        settings, eval_dir = corpus_settings(CORPUS, Path(tmp))
        settings = settings.updated(load_sample_data=False)
        with open_container(settings) as container:
            report = container.knowledge.ingest.run(
                IngestRequest(
                    sources=[
                        IngestSource(
                            source=page.key,
                            name=page.name,
                            read=partial(bytes, page.content),
                        )
                        for page in pages
                    ]
                )
            )
            assert not report.failed
            return _scored(container, eval_dir, report.answers_job), len(pages)


@pytest.mark.answers
@pytest.mark.slow
def test_a_corpus_served_as_a_website_answers_as_its_folder_does() -> None:
    documents = corpus_settings(CORPUS, Path("/nonexistent"))[0].knowledge_base.sample_data_dir
    folder = _from_folder()
    site, pages = _from_website(Path(documents))
    assert pages == len(list(Path(documents).rglob("*.html")))
    print(f"\n{CORPUS} correct per split: folder {folder}, website {site}")
    for split in SPLITS:
        assert abs(site[split] - folder[split]) <= 1, (split, folder, site)
