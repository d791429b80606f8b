"""The HTML run report, rendered with the real SVG figures and Jinja2 from the hand-made export
fixture, then parsed: figures embedded, nothing external, the export's numbers on the page."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag

from services.evaluation.report import HtmlReportRenderer
from use_cases.access.domain import Caller
from use_cases.evaluation.report import RenderRunReport
from use_cases.shared.errors import Forbidden, NotFound

FIXTURE = Path(__file__).parents[1] / "fixtures" / "eval_run_export.json"
MODELS = ("offline-extractive", "openai:gpt-4o-mini")
ADMIN = Caller(user_id="ada", role="admin", key_id="k1")
USER = Caller(user_id="bob", role="user", key_id="k2")


@pytest.fixture(scope="module")
def export() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def page(export: dict[str, Any]) -> BeautifulSoup:
    return BeautifulSoup(HtmlReportRenderer().render_html(export), "html.parser")


def attr(tag: Tag, name: str) -> str:
    """A single-valued attribute's text (bs4 types any attribute as possibly a list)."""
    value = tag[name]
    assert isinstance(value, str), (tag.name, name, value)
    return value


def one(tag: Tag, selector: str) -> Tag:
    """The first element `selector` matches, which the test expects to be there."""
    found = tag.select_one(selector)
    assert found is not None, selector
    return found


def value_of(tag: Any) -> float | None:
    raw = tag["data-value"]
    return None if raw == "" else float(raw)


def test_every_figure_is_an_embedded_svg(page: BeautifulSoup) -> None:
    images = page.find_all("img")
    alts = [img["alt"] for img in images]
    assert alts == [
        "Answer and retrieval metrics per model",
        "Correct per dimension and model",
        "Reliability diagram",
        "Latency distribution per model",
        "Answer drift and retrieval overlap per perturbation",
    ]
    for img in images:
        prefix = "data:image/svg+xml;base64,"
        assert attr(img, "src").startswith(prefix)
        svg = base64.b64decode(attr(img, "src")[len(prefix) :]).decode()
        assert "<svg" in svg and svg.rstrip().endswith("</svg>")


def test_nothing_is_fetched_from_outside_the_page(page: BeautifulSoup) -> None:
    assert page.find_all(["script", "link", "iframe", "object", "embed"]) == []
    for tag in page.find_all(True):
        for attribute in ("src", "href", "srcset", "poster", "data"):
            if tag.has_attr(attribute):
                value = attr(tag, attribute)
                assert value.startswith(("data:", "#")), (tag.name, value[:40])
    css = one(page, "style").string
    assert css is not None
    assert "url(" not in css and "@import" not in css
    anchors = {a["href"][1:] for a in page.find_all("a")}
    assert anchors <= {section["id"] for section in page.find_all("section")}


def test_headline_tiles_are_the_exports_numbers(
    page: BeautifulSoup, export: dict[str, Any]
) -> None:
    tiles = page.select("#headline .tile .value")
    assert len(tiles) == 2 * 6
    for tile in tiles:
        overall = export["aggregates"][tile["data-model"]]["overall"]
        assert value_of(tile) == overall[tile["data-metric"]]
    shown = {(t["data-model"], t["data-metric"]): t.get_text(strip=True) for t in tiles}
    # written out by hand from the fixture
    assert shown[("offline-extractive", "correct")] == "75.0%"
    assert shown[("offline-extractive", "ndcg@5")] == "0.772"
    assert shown[("offline-extractive", "latency_p95_ms")] == "244 ms"
    assert shown[("offline-extractive", "cost_usd")] == "$0"
    assert shown[("openai:gpt-4o-mini", "correct")] == "81.2%"
    assert shown[("openai:gpt-4o-mini", "citation_recall")] == "88.5%"
    assert shown[("openai:gpt-4o-mini", "ece")] == "0.166"
    assert shown[("openai:gpt-4o-mini", "latency_p95_ms")] == "3.38 s"
    assert shown[("openai:gpt-4o-mini", "cost_usd")] == "$0.0049"
    error_chips = page.select("#headline .model h3 .chip.error")
    assert [c.get_text(strip=True) for c in error_chips] == ["1 case failed with an error"]


def test_the_metrics_table_has_every_aggregate_of_every_model(
    page: BeautifulSoup, export: dict[str, Any]
) -> None:
    cells = page.select("table.metrics td[data-metric]")
    seen = {(c["data-model"], c["data-metric"]): c for c in cells}
    for model in MODELS:
        overall = export["aggregates"][model]["overall"]
        assert {metric for m, metric in seen if m == model} == set(overall)
        for metric, expected in overall.items():
            assert value_of(seen[(model, metric)]) == expected, (model, metric)
    judge = seen[("offline-extractive", "judge_correct")]
    assert judge.get_text(strip=True) == "–" and "null" in judge["class"]
    # the best model on a row is marked, on the right side for "lower is better"
    assert "best" in seen[("openai:gpt-4o-mini", "correct")]["class"]
    assert "best" in seen[("offline-extractive", "latency_p50_ms")]["class"]
    assert "best" not in seen[("offline-extractive", "input_tokens")]["class"]


def test_dimension_and_robustness_tables_are_the_exports_numbers(
    page: BeautifulSoup, export: dict[str, Any]
) -> None:
    rows = page.select("table.dimensions tr[data-dimension]")
    assert [r["data-dimension"] for r in rows] == [
        d for d in ("kb", "sql", "refuse", "follow_up") for _ in MODELS
    ]
    for row in rows:
        for cell in row.select("td[data-metric]"):
            by_dimension = export["aggregates"][cell["data-model"]]["by_dimension"]
            assert value_of(cell) == by_dimension[row["data-dimension"]][cell["data-metric"]]
    for row in page.select("table.robustness tr[data-perturbation]"):
        for cell in row.select("td[data-metric]"):
            robustness = export["aggregates"][cell["data-model"]]["robustness"]
            block = robustness["by_perturbation"][row["data-perturbation"]]
            assert value_of(cell) == block[cell["data-metric"]]
    drift = one(
        page, 'table.robustness td[data-metric="answer_drift"][data-model="offline-extractive"]'
    )
    assert drift.get_text(strip=True) == "3.1%"


def test_failures_list_the_wrong_and_errored_clean_cases(page: BeautifulSoup) -> None:
    failures = page.select("article.failure")
    assert [(f["data-model"], f["data-case"]) for f in failures] == [
        ("offline-extractive", "kb-008"),
        ("offline-extractive", "kb-012"),
        ("offline-extractive", "sq-016"),
        ("offline-extractive", "fu-005"),
        ("openai:gpt-4o-mini", "kb-012"),
        ("openai:gpt-4o-mini", "kb-017"),
        ("openai:gpt-4o-mini", "rf-002"),
    ]
    errored = failures[5]
    assert "error after 3 attempts" in errored.get_text()
    assert "503 Service Unavailable" in one(errored, ".errortext").get_text()
    refusal = failures[6]
    assert "a refusal" in refusal.get_text() and "a short poem" in refusal.get_text()
    flips = [
        tuple(td.get_text(strip=True) for td in tr.find_all("td")[:3])
        for tr in page.select("table.flips tbody tr")
    ]
    assert flips == [
        ("kb-009", "offline-extractive", "typos"),
        ("kb-006", "openai:gpt-4o-mini", "typos"),
        ("kb-012", "openai:gpt-4o-mini", "filler"),
    ]


def test_untrusted_answers_are_escaped(export: dict[str, Any]) -> None:
    hostile = copy.deepcopy(export)
    row = next(r for r in hostile["cases"] if r["case_id"] == "kb-008")
    row["answer"] = '<script>alert("x")</script><img src="https://evil.example/x.png">'
    page = BeautifulSoup(HtmlReportRenderer().render_html(hostile), "html.parser")
    assert page.find_all("script") == []
    assert all(attr(img, "src").startswith("data:") for img in page.find_all("img"))
    assert '<script>alert("x")</script>' in one(page, "article.failure .answer").get_text()


def test_a_running_run_says_so_and_an_empty_one_renders(export: dict[str, Any]) -> None:
    running = copy.deepcopy(export)
    running["status"] = "running"
    running["progress"] = {
        "total": 96,
        "done": 41,
        "completed": 40,
        "failed": 1,
        "percent": 42.7,
    }
    page = BeautifulSoup(HtmlReportRenderer().render_html(running), "html.parser")
    banner = " ".join(one(page, ".banner").get_text().split())
    assert "This run is running: 41 of 96 executions done (42.7%), 1 failed." in banner

    empty = {
        "run_id": "run_new",
        "status": "queued",
        "progress": {"total": 0, "done": 0, "completed": 0, "failed": 0, "percent": 0.0},
        "task": {"id": "answers", "name": "answers", "version": "v", "cases": 0},
        "models": [],
        "settings": {"k": 5},
        "aggregates": {},
        "cases": [],
    }
    page = BeautifulSoup(HtmlReportRenderer().render_html(empty), "html.parser")
    assert "No model has results yet." in page.get_text()
    assert page.find_all("img") == []


class FakeExports:
    def __init__(self, exports: Mapping[str, Mapping[str, Any]]) -> None:
        self._exports = exports

    async def export(self, caller: Caller, run_id: str) -> Mapping[str, Any]:
        if run_id not in self._exports:
            raise NotFound(f"No evaluation run {run_id}.")
        return self._exports[run_id]


async def test_the_use_case_renders_a_run_for_an_admin_only(export: dict[str, Any]) -> None:
    report = RenderRunReport(FakeExports({"run_1": export}), HtmlReportRenderer())
    html = await report.execute(ADMIN, "run_1")
    assert (
        one(BeautifulSoup(html, "html.parser"), "title")
        .get_text()
        .startswith("Evaluation run_3f2a9c41d07e")
    )
    with pytest.raises(Forbidden, match="admin role"):
        await report.execute(USER, "run_1")
    with pytest.raises(NotFound):
        await report.execute(ADMIN, "run_2")
