"""The response log and calibration store adapters, on real databases: every test runs on
SQLite and on PostgreSQL (`backend` fixture), through the ports only; and the in-memory fakes
the unit tests use (`tests/fakes/`), on every test that needs no database of its own (those
that read rows or race connections name the real backends)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.calibration import CalibrationStore, ResponseLog
from services.calibration.response_log import PG_MIGRATIONS
from services.calibration.schema import MIGRATIONS
from services.sql import sql_db
from tests.fakes import InMemoryCalibrationStore, InMemoryResponseLog
from tests.store_backends import (
    WITH_MEMORY,
    AppDb,
    open_app_db_or_memory,
    open_store,
    real_backends,
)
from use_cases.confidence.domain import CalibrationFit, FittedMap, LoggedResponse, LoggedSources

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(params=WITH_MEMORY)
def backend(request: pytest.FixtureRequest) -> str:
    """A real backend, or the in-memory fakes."""
    return str(request.param)


@pytest.fixture
def app_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    yield from open_app_db_or_memory(backend, tmp_path, request)


@pytest.fixture
def log(app_db: AppDb | None):
    yield from open_store(app_db, InMemoryResponseLog, ResponseLog)


@pytest.fixture
def calibration(app_db: AppDb | None):
    yield from open_store(app_db, InMemoryCalibrationStore, CalibrationStore)


def _response(n: int, *, user: str = "ana", at: datetime = NOON, **extra: Any) -> LoggedResponse:
    values: dict[str, Any] = {
        "response_id": f"resp_{n:04d}",
        "user_id": user,
        "kind": "chat",
        "query": f"question {n}",
        "response_text": f"answer {n} [1]",
        "raw_confidence": 0.1 + n / 100,
        "confidence": 0.2 + n / 100,
        "confidence_phrase": "moderate",
        "model": "offline-extractive",
        "search_ran": n % 2 == 0,
        "latency_ms": 10 + n,
        "created_at": at,
    }
    values.update(extra)
    return LoggedResponse(**values)


def test_a_logged_response_reads_back_whole(log) -> None:
    cited = LoggedSources(documents=(3, 17), tables=("hr_ledger",))
    sent = _response(
        1,
        calibration_version=3,
        phrase_version=2,
        chat_id="c1",
        message_id="m1",
        kind="advice",
        sources=cited,
    )
    log.add(sent)
    nothing_cited = _response(2, sources=LoggedSources())
    log.add(nothing_cited)
    assert log.get("resp_0001") == sent
    assert log.get("resp_0002") == nothing_cited
    assert log.get("resp_0001").created_at.utcoffset() == timedelta(0)
    assert log.get("resp_nope") is None


@real_backends
def test_a_log_from_before_sources_were_recorded_migrates_with_none(app_db: AppDb) -> None:
    """A response logged before `cited_sources` existed reads back with `sources` None (not
    "cited nothing"): withholding must not take it for an answer that cited nothing."""
    old = sql_db(app_db.db if app_db.db is not None else app_db.path)
    old.migrate(sqlite=MIGRATIONS[:2], postgres=PG_MIGRATIONS[:1])
    if app_db.db is None:
        old.close()  # on PostgreSQL the pool is the test's, closed with it
    app_db.raw(
        "INSERT INTO response_log (response_id, user_id, kind, query, response_text, "
        "raw_confidence, confidence, confidence_phrase, model, search_ran, latency_ms, "
        "created_at) VALUES ('resp_0009', 'ana', 'chat', 'q', 'a', 0.5, 0.5, 'moderate', "
        "'offline-extractive', ?, 12, '2026-03-02T12:00:00.000000+00:00')",
        True,
    )
    log = app_db.open(ResponseLog)
    try:
        [before] = log.recent(limit=5)
        log.add(_response(1, sources=LoggedSources((4,), ())))
        assert (before.response_id, before.sources) == ("resp_0009", None)
        assert log.get("resp_0001").sources == LoggedSources((4,), ())
    finally:
        log.close()


def test_feedback_is_recorded_then_replaced_and_counted_once(log) -> None:
    log.add(_response(1))
    assert log.put_feedback("resp_0001", True, None, NOON) is False
    assert log.put_feedback("resp_0001", False, "Wrong date.", NOON + timedelta(hours=1)) is True
    feedback = log.get("resp_0001").feedback
    assert (feedback.outcome, feedback.notes, feedback.at) == (
        False,
        "Wrong date.",
        NOON + timedelta(hours=1),
    )
    assert log.feedback_count() == 1


def test_withdrawn_feedback_leaves_the_response_unrated(log) -> None:
    log.add(_response(1))
    log.add(_response(2))
    log.put_feedback("resp_0001", True, "Right.", NOON)
    log.put_feedback("resp_0002", False, None, NOON)
    assert log.remove_feedback("resp_0001") is True
    assert log.get("resp_0001").feedback is None
    assert log.get("resp_0002").feedback is not None  # only that response's
    assert log.feedback_count() == 1
    assert log.remove_feedback("resp_0001") is False  # nothing left to withdraw
    assert log.put_feedback("resp_0001", False, None, NOON) is False  # a first verdict again


def test_recent_is_newest_first_with_ties_in_insertion_order(log) -> None:
    log.add(_response(1, at=NOON))
    log.add(_response(2, at=NOON + timedelta(minutes=1)))
    log.add(_response(3, at=NOON + timedelta(minutes=1)))
    log.add(_response(4, user="bob", at=NOON + timedelta(minutes=2)))
    assert [r.response_id for r in log.recent(limit=10)] == [
        "resp_0004",
        "resp_0003",
        "resp_0002",
        "resp_0001",
    ]
    assert [r.response_id for r in log.recent(limit=2, user_id="ana")] == [
        "resp_0003",
        "resp_0002",
    ]


def test_for_chat_and_scored_filter_and_order_oldest_first(log) -> None:
    log.add(_response(1, at=NOON + timedelta(days=1), chat_id="c1"))
    log.add(_response(2, at=NOON, chat_id="c1"))
    log.add(_response(3, at=NOON - timedelta(days=3), chat_id="c2", user="bob"))
    log.put_feedback("resp_0002", True, None, NOON)
    assert [r.response_id for r in log.for_chat("c1")] == ["resp_0002", "resp_0001"]
    assert log.for_chat("nope") == []
    scored = log.scored()
    assert [(s.response_id, s.outcome) for s in scored] == [
        ("resp_0003", None),
        ("resp_0002", True),
        ("resp_0001", None),
    ]
    assert scored[1].raw_confidence == pytest.approx(0.12) and scored[1].created_at == NOON
    assert [s.response_id for s in log.scored(since=NOON)] == ["resp_0002", "resp_0001"]
    assert [s.response_id for s in log.scored(since=NOON, user_id="bob")] == []
    assert [s.response_id for s in log.scored(user_id="bob")] == ["resp_0003"]


def test_a_naive_time_is_taken_as_utc(log) -> None:
    log.add(_response(1, at=NOON.replace(tzinfo=None)))
    assert log.get("resp_0001").created_at == NOON
    assert [s.response_id for s in log.scored(since=NOON.replace(tzinfo=None))] == ["resp_0001"]


def test_forgetting_a_user_deletes_their_responses_and_feedback(log) -> None:
    for n in range(3):
        log.add(_response(n))
        log.put_feedback(f"resp_{n:04d}", True, None, NOON)
    log.add(_response(9, user="bob"))
    assert log.forget_user("ana") == 3
    assert log.forget_user("ana") == 0
    assert [r.response_id for r in log.recent(limit=10)] == ["resp_0009"]
    assert log.feedback_count() == 0


@real_backends
def test_feedback_for_an_unknown_response_is_refused(log, app_db: AppDb) -> None:
    with pytest.raises(app_db.integrity_error):
        log.put_feedback("resp_nope", True, None, NOON)
    assert log.feedback_count() == 0


@real_backends
def test_racing_verdicts_on_one_response_report_exactly_one_first(app_db: AppDb) -> None:
    store = app_db.open(ResponseLog)
    store.add(_response(1))

    def verdicts(worker: int) -> list[bool]:
        mine = app_db.open_apart(ResponseLog)
        replaced = [
            mine.put_feedback("resp_0001", n % 2 == 0, f"w{worker}", NOON) for n in range(5)
        ]
        mine.close()
        return replaced

    with ThreadPoolExecutor(4) as pool:
        replaced = [r for batch in pool.map(verdicts, range(4)) for r in batch]
    assert replaced.count(False) == 1 and len(replaced) == 20
    assert app_db.raw("SELECT replaced FROM response_feedback") == [(19,)]
    store.close()


# -- calibration state ------------------------------------------------------------------------


def _fit(active: bool = True, method: str = "isotonic") -> CalibrationFit:
    return CalibrationFit(
        map=FittedMap(method, (0.1, 0.5, 0.9), (0.05, 0.4, 0.95), 0.0, 0.0)  # type: ignore[arg-type]  # a method name as stored
        if method == "isotonic"
        else FittedMap("platt", slope=1.25, intercept=-0.1),
        feedback_used=40,
        train_size=30,
        heldout_size=10,
        ece_before=0.21,
        ece_after=0.04,
        brier_before=None,
        brier_after=0.18,
        active=active,
    )


def test_thresholds_are_versioned_and_the_newest_is_in_force(calibration) -> None:
    assert calibration.current_thresholds() is None
    first = calibration.save_thresholds((0.2, 0.4, 0.6, 0.8), "auto-tune", "root", NOON)
    second = calibration.save_thresholds((0.25, 0.45, 0.65, 0.85), "manual", "cli", NOON)
    assert (first.version, second.version) == (1, 2)
    current = calibration.current_thresholds()
    assert current == second
    assert (current.bounds, current.source, current.author) == (
        (0.25, 0.45, 0.65, 0.85),
        "manual",
        "cli",
    )
    assert current.created_at == NOON and current.created_at.utcoffset() == timedelta(0)
    with pytest.raises(ValueError):
        calibration.save_thresholds((0.9, 0.1, 0.2, 0.3), "manual", "cli", NOON)
    assert calibration.current_thresholds().version == 2


def test_calibrations_round_trip_and_the_newest_active_one_is_in_force(calibration) -> None:
    assert calibration.active_calibration() is None and calibration.latest_calibration() is None
    first = calibration.save_calibration(_fit(method="platt"), "root", NOON)
    trial = calibration.save_calibration(_fit(active=False), "root", NOON + timedelta(hours=1))
    assert (first.version, trial.version) == (1, 2)
    assert calibration.active_calibration() == first
    assert calibration.latest_calibration() == trial
    assert calibration.latest_calibration().fit == _fit(active=False)
    assert calibration.active_calibration().map.apply(0.5) == pytest.approx(first.map.apply(0.5))


@real_backends
def test_stored_versions_cannot_be_changed_or_deleted(calibration, app_db: AppDb) -> None:
    calibration.save_thresholds((0.2, 0.4, 0.6, 0.8), "auto-tune", "root", NOON)
    calibration.save_calibration(_fit(), "root", NOON)
    for statement in (
        "UPDATE confidence_phrase_versions SET author = 'eve'",
        "DELETE FROM confidence_phrase_versions",
        "UPDATE confidence_calibrations SET active = NOT active"
        if app_db.is_postgres
        else "UPDATE confidence_calibrations SET active = 1 - active",
        "DELETE FROM confidence_calibrations",
    ):
        with pytest.raises(app_db.integrity_error, match=r"never changed|kept"):
            app_db.raw(statement)
    assert calibration.current_thresholds().author == "root"


@real_backends
def test_concurrent_saves_get_distinct_consecutive_versions(app_db: AppDb) -> None:
    app_db.open(CalibrationStore).close()

    def save(worker: int) -> list[int]:
        store = app_db.open_apart(CalibrationStore)
        versions = []
        for n in range(6):
            bounds = (0.1, 0.2, 0.3, 0.4 + worker / 100 + n / 1000)
            versions.append(store.save_thresholds(bounds, "auto-tune", f"w{worker}", NOON).version)
            versions.append(store.save_calibration(_fit(), f"w{worker}", NOON).version)
        store.close()
        return versions

    with ThreadPoolExecutor(4) as pool:
        versions = [v for batch in pool.map(save, range(4)) for v in batch]
    assert sorted(versions) == sorted([*range(1, 25), *range(1, 25)])
