"""`POST /feedback` and every `/confidence/*` endpoint through the app, on a seeded log whose
figures were computed by hand (see tests/unit/test_calibration_stats.py for the arithmetic).

The clock is fixed at 2026-03-02 12:00 UTC (a Monday, ISO week 2026-W10)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import httpx
import pytest

from backend.bootstrap import Container
from services.calibration import ResponseLog
from tests.conftest import asgi_client, issue_key
from use_cases.confidence.domain import LoggedResponse

# (id suffix, user, confidence, outcome, created at); every raw confidence is 0.5
SEED = [
    ("a1", "ana", 0.95, True, datetime(2026, 2, 27, 9)),
    ("a2", "ana", 0.85, True, datetime(2026, 2, 28, 9)),
    ("a3", "ana", 0.85, False, datetime(2026, 3, 1, 9)),
    ("a4", "ana", 0.35, False, datetime(2026, 3, 2, 8)),
    ("a5", "ana", 0.35, True, datetime(2026, 3, 2, 9)),
    ("b1", "bob", 0.05, False, datetime(2026, 3, 2, 10)),
    ("a6", "ana", 0.55, None, datetime(2026, 3, 2, 11)),  # no feedback
    ("a0", "ana", 0.15, True, datetime(2026, 2, 10, 9)),  # 20 days old
]


def rid(suffix: str) -> str:
    return "resp_" + suffix.rjust(24, "0")


def seed(
    container: Container, rows: Sequence[tuple[str, str, float, bool | None, datetime]]
) -> None:
    log = ResponseLog(container.settings.storage.app_db_path)
    try:
        for suffix, user, confidence, outcome, at in rows:
            log.add(
                LoggedResponse(
                    response_id=rid(suffix),
                    user_id=user,
                    kind="chat",
                    query=f"question {suffix}",
                    response_text=f"answer {suffix}",
                    raw_confidence=0.5,
                    confidence=confidence,
                    confidence_phrase="moderate",
                    model="offline-extractive",
                    search_ran=True,
                    latency_ms=12,
                    created_at=at,
                )
            )
            if outcome is not None:
                log.put_feedback(rid(suffix), outcome, None, at)
    finally:
        log.close()


@pytest.fixture
def seeded(container: Container) -> Iterator[Container]:
    seed(container, SEED)
    yield container


async def test_stats_of_the_last_week_match_the_hand_computed_figures(
    seeded: Container, client: httpx.AsyncClient
) -> None:
    body = (await client.get("/confidence/stats", params={"days_back": 7})).json()
    assert body["scope"] == "all"  # development mode: the local admin
    assert (body["total_responses"], body["with_feedback"]) == (7, 6)
    assert (body["positive"], body["negative"]) == (3, 3)
    assert body["average_confidence"] == round(3.95 / 7, 4)
    assert (body["observed_accuracy"], body["brier_score"]) == (0.5, 0.2158)
    band = {b["label"]: b for b in body["bands"]}
    assert band["0.8-0.9"] == {
        "label": "0.8-0.9",
        "lower": 0.8,
        "upper": 0.9,
        "responses": 2,
        "with_feedback": 2,
        "mean_confidence": 0.85,
        "observed_accuracy": 0.5,
        "brier_score": 0.3725,
        "is_calibrated": False,
    }
    assert band["0.5-0.6"]["responses"] == 1 and band["0.5-0.6"]["observed_accuracy"] is None
    assert body["message"] is None


async def test_calibration_report_gives_ece_bands_raw_ece_and_weekly_drift(
    seeded: Container, client: httpx.AsyncClient
) -> None:
    week = (await client.get("/confidence/calibration", params={"days_back": 7})).json()
    assert week["ece"] == round(1.1 / 6, 4) and week["raw_ece"] == 0.0
    assert week["overconfidence"] == round(3.4 / 6 - 0.5, 4)
    assert [b["is_calibrated"] for b in week["bands"] if b["label"] in ("0.0-0.1", "0.3-0.4")] == [
        True,
        False,
    ]
    month = (await client.get("/confidence/calibration")).json()  # default 30 days
    assert month["responses_with_feedback"] == 7
    assert month["ece"] == round(1.95 / 7, 4)
    assert month["drift"] == [
        {"week": "2026-W07", "responses": 1, "ece": 0.85, "brier_score": 0.7225},
        {"week": "2026-W09", "responses": 3, "ece": 0.25, "brier_score": 0.2492},
        {"week": "2026-W10", "responses": 3, "ece": 0.1167, "brier_score": 0.1825},
    ]


async def test_brier_score_with_its_curve_and_diagram_data(
    seeded: Container, client: httpx.AsyncClient
) -> None:
    body = (await client.get("/confidence/brier-score")).json()
    assert (body["brier_score"], body["total"]) == (0.2158, 6)
    curve = body["calibration_curve"]
    assert [
        (p["lower"], p["mean_confidence"], p["observed_accuracy"], p["count"]) for p in curve
    ] == [
        (0.0, 0.05, 0.0, 1),
        (0.3, 0.35, 0.5, 2),
        (0.8, 0.85, 0.5, 2),
        (0.9, 0.95, 1.0, 1),
    ]
    assert body["reliability_diagram"]["bins"] == curve
    assert body["reliability_diagram"]["perfect_calibration"] == [[0.0, 0.0], [1.0, 1.0]]


async def test_recent_lists_the_newest_first_with_feedback(
    seeded: Container, client: httpx.AsyncClient
) -> None:
    body = (await client.get("/confidence/recent", params={"limit": 2})).json()
    assert body["count"] == 2
    assert [r["response_id"] for r in body["responses"]] == [rid("a6"), rid("b1")]
    assert body["responses"][0]["feedback"] is None
    assert body["responses"][1]["feedback"]["outcome"] is False
    assert body["responses"][1]["raw_confidence"] == 0.5


async def test_the_reliability_diagram_is_an_svg_picture(
    seeded: Container, client: httpx.AsyncClient
) -> None:
    response = await client.get("/confidence/reliability-diagram.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.lstrip().startswith("<?xml") and "<svg" in response.text
    assert "ECE 0.279" in response.text  # the title: 7 answers with feedback, ECE 1.95 / 7


async def test_an_empty_window_answers_nulls_and_a_message(client: httpx.AsyncClient) -> None:
    stats = (await client.get("/confidence/stats")).json()
    assert stats["total_responses"] == 0 and stats["brier_score"] is None
    assert stats["average_confidence"] is None and stats["message"] == (
        "No responses in the last 7 days."
    )
    calibration = (await client.get("/confidence/calibration")).json()
    assert calibration["ece"] is None and calibration["drift"] == []
    brier = (await client.get("/confidence/brier-score", params={"days_back": 1})).json()
    assert brier["brier_score"] is None and brier["message"] == "No responses in the last 1 day."
    svg = await client.get("/confidence/reliability-diagram.svg")
    assert svg.status_code == 200 and "No feedback" in svg.text


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/confidence/stats", {"days_back": 0}),
        ("/confidence/stats", {"days_back": 366}),
        ("/confidence/calibration", {"days_back": -1}),
        ("/confidence/brier-score", {"days_back": "many"}),
        ("/confidence/reliability-diagram.svg", {"days_back": 10**30}),
        ("/confidence/recent", {"limit": 0}),
        ("/confidence/recent", {"limit": 101}),
    ],
)
async def test_parameters_out_of_range_are_422_problems(
    path: str, params: dict[str, Any], client: httpx.AsyncClient
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_feedback_records_replaces_and_says_so(
    seeded: Container, client: httpx.AsyncClient
) -> None:
    seed(seeded, [("d1", "default", 0.55, None, datetime(2026, 3, 2, 11, 30))])
    target = rid("d1")  # the local user's (development mode)
    first = await client.post("/feedback", json={"response_id": target, "outcome": True})
    assert first.status_code == 200
    assert first.json() == {
        "status": "success",
        "result": "recorded",
        "message": "Feedback recorded.",
        "response_id": target,
    }
    second = await client.post(
        "/feedback", json={"response_id": target, "outcome": False, "feedback_notes": "Wrong."}
    )
    assert second.json()["result"] == "replaced" and "replaces" in second.json()["message"]
    recent = (await client.get("/confidence/recent", params={"limit": 1})).json()
    assert recent["responses"][0]["feedback"]["outcome"] is False
    assert recent["responses"][0]["feedback"]["notes"] == "Wrong."
    stats = (await client.get("/confidence/stats")).json()
    assert stats["with_feedback"] == 7  # replaced, not added


async def test_feedback_is_withdrawn_and_the_answer_counts_as_unrated_again(
    seeded: Container, client: httpx.AsyncClient
) -> None:
    seed(seeded, [("d2", "default", 0.55, None, datetime(2026, 3, 2, 11, 30))])
    target = rid("d2")
    before = (await client.get("/confidence/stats")).json()["with_feedback"]
    await client.post("/feedback", json={"response_id": target, "outcome": False})
    assert (await client.get("/confidence/stats")).json()["with_feedback"] == before + 1
    undo = await client.delete(f"/feedback/{target}")
    assert undo.status_code == 200
    assert undo.json() == {
        "status": "success",
        "result": "withdrawn",
        "message": "Feedback withdrawn; the answer counts as unrated again.",
        "response_id": target,
    }
    assert (await client.get("/confidence/stats")).json()["with_feedback"] == before
    recent = (await client.get("/confidence/recent", params={"limit": 1})).json()
    assert recent["responses"][0]["response_id"] == target
    assert recent["responses"][0]["feedback"] is None
    again = await client.delete(f"/feedback/{target}")  # nothing left to withdraw
    assert again.status_code == 404 and "no feedback to withdraw" in again.json()["detail"]
    for unknown in (rid("ff"), "resp_nope"):
        response = await client.delete(f"/feedback/{unknown}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    # a verdict given after the undo is recorded as a first one
    redo = await client.post("/feedback", json={"response_id": target, "outcome": True})
    assert redo.json()["result"] == "recorded"


@pytest.mark.parametrize(
    "body",
    [
        {"response_id": rid("a6")},
        {"response_id": rid("a6"), "outcome": "yes"},
        {"response_id": "", "outcome": True},
        {"response_id": rid("a6"), "outcome": True, "feedback_notes": "x" * 2001},
        {"response_id": rid("a6"), "outcome": True, "extra": 1},
    ],
)
async def test_bad_feedback_is_a_422_problem(
    body: dict[str, object], seeded: Container, client: httpx.AsyncClient
) -> None:
    response = await client.post("/feedback", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_feedback_on_an_unknown_response_is_a_404_problem(
    seeded: Container, client: httpx.AsyncClient
) -> None:
    for unknown in (rid("ff"), "resp_nope"):
        response = await client.post("/feedback", json={"response_id": unknown, "outcome": True})
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


async def test_users_see_their_own_figures_and_may_not_judge_anothers_answer(
    auth_container: Container,
) -> None:
    seed(auth_container, SEED)
    async with asgi_client(auth_container) as http:
        ana = await issue_key(auth_container, "ana")
        bob = await issue_key(auth_container, "bob")
        admin = await issue_key(auth_container, "root", "admin")
        mine = (await http.get("/confidence/stats", headers=ana)).json()
        assert (mine["scope"], mine["total_responses"], mine["with_feedback"]) == ("own", 6, 5)
        everyone = (await http.get("/confidence/stats", headers=admin)).json()
        assert (everyone["scope"], everyone["total_responses"]) == ("all", 7)
        recent = (await http.get("/confidence/recent", headers=bob)).json()
        assert [r["response_id"] for r in recent["responses"]] == [rid("b1")]
        for caller in (bob, admin):
            refused = await http.post(
                "/feedback", json={"response_id": rid("a6"), "outcome": True}, headers=caller
            )
            assert refused.status_code == 404
        accepted = await http.post(
            "/feedback", json={"response_id": rid("a6"), "outcome": True}, headers=ana
        )
        assert accepted.status_code == 200


async def test_auto_tune_suggests_then_applies_versioned_audited_thresholds(
    container: Container, client: httpx.AsyncClient
) -> None:
    rows: list[tuple[str, str, float, bool | None, datetime]] = []
    for band, confidence, right in ((2, 0.25, 3), (5, 0.55, 6), (8, 0.85, 9)):
        for i in range(10):
            rows.append((f"t{band}{i}", "ana", confidence, i < right, datetime(2026, 3, 1, 9)))
    seed(container, rows)
    dry = (await client.post("/confidence/auto-tune")).json()
    assert dry["dry_run"] is True and dry["applied"] is False
    # moderate's promise alone would put it at 0.5, but no rated answer lies between 0.4 and
    # 0.5 to move it on: it stays, and the phrases stay distinct.
    assert dry["suggested"] == {"low": 0.2, "moderate": 0.4, "high": 0.5, "very high": 0.8}
    assert [c["action"] for c in dry["changes"]] == ["keep", "keep", "lower", "keep"]
    assert "; keep moderate at 0.40 (the feedback alone would move it to 0.50" in dry["message"]
    assert dry["current"]["version"] == 0
    applied = (await client.post("/confidence/auto-tune", params={"dry_run": "false"})).json()
    assert applied["applied"] is True and applied["current"]["version"] == 1
    status = (await client.get("/confidence/phrase-status")).json()
    assert status["thresholds"]["thresholds"] == applied["suggested"]
    assert status["thresholds"]["source"] == "auto-tune"
    assert status["promises"] == {"low": 0.2, "moderate": 0.4, "high": 0.6, "very high": 0.8}
    audit = (await client.get("/api/audit", params={"action": "confidence.tune"})).json()
    entry = audit["entries"][0]
    assert entry["before"]["version"] == 0 and entry["after"]["version"] == 1
    again = (await client.post("/confidence/auto-tune", params={"dry_run": "false"})).json()
    assert again["applied"] is False and "already fit" in again["message"]
    recorded = container.calibration.record_response.record(_record(raw_confidence=0.55))
    assert recorded.confidence_phrase == "high"  # high now starts at 0.5


async def test_auto_tune_keeps_the_phrases_ordered_and_distinct_and_says_why(
    container: Container, client: httpx.AsyncClient
) -> None:
    """62 rated answers, 93% right, made auto-tune store low = moderate = high =
    0.2 and very high = 0.5, so "low" and "moderate" could never be shown."""
    rows: list[tuple[str, str, float, bool | None, datetime]] = []
    # (band, answers, right): every band from 0.2 up meets 60%, from 0.5 up meets 80%.
    for band, count, right in ((2, 8, 6), (3, 6, 6), (4, 6, 4), (5, 10, 10), (6, 10, 10),
                               (7, 10, 10), (8, 12, 12)):  # fmt: skip
        for i in range(count):
            confidence = band / 10 + 0.05
            rows.append((f"u{band}{i}", "ana", confidence, i < right, datetime(2026, 3, 1, 9)))
    assert len(rows) == 62 and sum(1 for r in rows if r[3]) == 58  # 93.5% right
    seed(container, rows)

    dry = (await client.post("/confidence/auto-tune")).json()
    suggested = list(dry["suggested"].values())
    assert suggested == [0.2, 0.3, 0.4, 0.5]
    moves = {c["phrase"]: c for c in dry["changes"]}
    assert moves["moderate"]["target"] == 0.2 and moves["moderate"]["suggested"] == 0.3
    assert "raised to 0.30" in moves["moderate"]["reason"]
    assert moves["very high"]["rated_answers"] == 30  # the answers from 0.5 to 0.8
    assert dry["message"].startswith("Dry run, nothing was changed; it would keep low")
    assert "lower very high from 0.80 to 0.50" in dry["message"]

    applied = (await client.post("/confidence/auto-tune", params={"dry_run": "false"})).json()
    stored = (await client.get("/confidence/phrase-status")).json()["thresholds"]
    assert applied["applied"] and list(stored["thresholds"].values()) == suggested
    phrases = [container.calibration.record_response.record(_record(raw_confidence=c))
               for c in (0.1, 0.25, 0.35, 0.45, 0.9)]  # fmt: skip
    assert [p.confidence_phrase for p in phrases] == [
        "very low",
        "low",
        "moderate",
        "high",
        "very high",
    ]


async def test_auto_tune_needs_rated_answers_to_move_a_phrase(
    container: Container, client: httpx.AsyncClient
) -> None:
    rows = [(f"s{i}", "ana", 0.35, True, datetime(2026, 3, 1, 9)) for i in range(6)]
    seed(container, rows)
    dry = (await client.post("/confidence/auto-tune")).json()
    # Six answers at 0.35, all right, would pull every phrase down to 0.3: too few to move any.
    assert dry["suggested"] == {"low": 0.2, "moderate": 0.4, "high": 0.6, "very high": 0.8}
    assert "already fit" in dry["message"] and "only 6 rated answers" in dry["message"]


def _record(**overrides: object):
    from use_cases.chat.responses import ResponseRecord

    values: dict[str, Any] = {
        "user_id": "ana",
        "kind": "chat",
        "query": "q?",
        "response_text": "a.",
        "model": "offline-extractive",
        "search_ran": True,
        "latency_ms": 3,
    }
    values.update(overrides)
    return ResponseRecord(**values)


async def test_recalibrate_needs_enough_feedback_then_fits_and_reports(
    seeded: Container, client: httpx.AsyncClient
) -> None:
    early = await client.post("/confidence/recalibrate")
    assert early.status_code == 409
    assert "at least 50" in early.json()["detail"]
    rows = [(f"r{i}", "ana", 0.5, i % 4 == 0, datetime(2026, 3, 1, 9)) for i in range(60)]
    seed(seeded, rows)
    dry = (await client.post("/confidence/recalibrate", params={"dry_run": "true"})).json()
    assert dry["stored"] is False and dry["fit"]["version"] is None
    done = await client.post("/confidence/recalibrate", params={"method": "isotonic"})
    assert done.status_code == 200
    fit = done.json()["fit"]
    assert fit["feedback_used"] == 67 and fit["train_size"] + fit["heldout_size"] == 67
    status = (await client.get("/confidence/phrase-status")).json()["recalibration"]
    assert status["latest"]["version"] == 1 and status["feedback"] == 67
    bad = await client.post("/confidence/recalibrate", params={"method": "magic"})
    assert bad.status_code == 422
