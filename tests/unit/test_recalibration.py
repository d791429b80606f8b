"""Recalibration: the synthetic check (true accuracy = raw confidence squared), the rules of
fitting, activation and automatic refits, and that new responses get the map."""

from __future__ import annotations

import random

import pytest

from services.calibration.fitting import NumpyCalibrationFitter
from tests.fakes import (
    InMemoryAuditLog,
    InMemoryCalibrationStore,
    InMemoryResponseLog,
    SteppingClock,
)
from tests.narrowing import present
from use_cases.access.audit import RecordAudit
from use_cases.access.domain import CLI_ADMIN, Caller
from use_cases.calibration.analytics import Recalibrate
from use_cases.calibration.stats import expected_calibration_error
from use_cases.chat.responses import FeedbackRequest, RecordFeedback, RecordResponse, ResponseRecord
from use_cases.confidence.domain import FittedMap
from use_cases.shared.errors import Conflict, Forbidden, NotFound

ANA = Caller("ana", "user", None)


class World:
    def __init__(self, *, min_feedback: int = 50, auto: bool = False) -> None:
        self.log = InMemoryResponseLog()
        self.store = InMemoryCalibrationStore()
        self.clock = SteppingClock()
        self.audit_log = InMemoryAuditLog()
        self.record = RecordResponse(self.log, self.store, self.clock)
        self.recalibrate = Recalibrate(
            self.log,
            self.store,
            NumpyCalibrationFitter(),
            self.clock,
            RecordAudit(self.audit_log, self.clock),
            min_feedback=min_feedback,
            auto=auto,
        )
        self.feedback = RecordFeedback(self.log, self.clock, recalibration=self.recalibrate)

    def answer(self, raw: float, user: str = "ana") -> str:
        record = ResponseRecord(user, "chat", "q?", "a.", "test", True, 5, raw_confidence=raw)
        return self.record.record(record).response_id

    def seed(self, n: int, seed: int) -> None:
        """`n` answers whose chance of being right is their raw confidence squared."""
        rng = random.Random(seed)
        for _ in range(n):
            raw = rng.random()
            response_id = self.answer(raw)
            self.log.put_feedback(response_id, rng.random() < raw**2, None, self.clock.now())


def test_recalibration_brings_held_out_ece_under_five_hundredths_on_2000_items() -> None:
    world = World()
    world.seed(2000, seed=42)
    result = world.recalibrate.fit(CLI_ADMIN)
    fit = result.fit
    assert fit.heldout_size == 1000 and fit.train_size == 1000
    assert fit.ece_before is not None and fit.ece_before > 0.12  # squared: badly overconfident
    assert fit.ece_after is not None and fit.ece_after < 0.05
    assert fit.brier_after is not None and fit.brier_before is not None
    assert fit.brier_after < fit.brier_before
    assert fit.active and world.store.active_calibration() == result.stored
    # a new response gets the map, the raw value kept alongside
    recorded = world.record.record(
        ResponseRecord("ana", "chat", "q?", "a.", "test", True, 5, raw_confidence=0.5)
    )
    assert recorded.raw_confidence == 0.5
    assert recorded.confidence == pytest.approx(0.25, abs=0.08)
    assert recorded.calibration_version == present(result.stored).version
    assert world.audit_log.entries[-1].action == "confidence.recalibrate"


def test_platt_scaling_also_fixes_the_squared_process() -> None:
    world = World()
    world.seed(2000, seed=3)
    fit = world.recalibrate.fit(CLI_ADMIN, method="platt").fit
    assert fit.map.method == "platt" and fit.ece_after is not None and fit.ece_after < 0.06


def test_the_calibrated_confidence_of_new_answers_is_itself_calibrated() -> None:
    world = World()
    world.seed(2000, seed=11)
    world.recalibrate.fit(CLI_ADMIN)
    rng = random.Random(99)
    pairs = []
    for _ in range(2000):
        raw = rng.random()
        recorded = world.record.record(
            ResponseRecord("ana", "chat", "q?", "a.", "test", True, 5, raw_confidence=raw)
        )
        pairs.append((recorded.confidence, rng.random() < raw**2))
    assert expected_calibration_error([(raw, o) for raw, o in pairs]) is not None
    assert present(expected_calibration_error(pairs)) < 0.05


def test_needs_the_minimum_feedback_and_an_admin() -> None:
    world = World(min_feedback=50)
    world.seed(49, seed=1)
    with pytest.raises(Conflict, match="at least 50"):
        world.recalibrate.fit(CLI_ADMIN)
    with pytest.raises(Forbidden):
        world.recalibrate.fit(ANA)
    assert world.store.calibrations == []


class AlwaysSure:
    """A fitter whose map says 1.0 whatever the raw confidence: worse than any raw value."""

    def fit(self, raw: object, outcomes: object, method: str) -> FittedMap:
        return FittedMap("isotonic", xs=(0.0, 1.0), ys=(1.0, 1.0))


def test_a_map_that_makes_held_out_ece_worse_is_stored_but_not_activated() -> None:
    world = World(min_feedback=20)
    world.seed(40, seed=5)
    world.recalibrate.fitter = AlwaysSure()
    result = world.recalibrate.fit(CLI_ADMIN)
    assert present(result.fit.ece_after) > present(result.fit.ece_before)
    assert not result.fit.active and "not activated" in result.message
    assert world.store.latest_calibration() == result.stored
    assert world.store.active_calibration() is None
    assert (
        world.record.record(
            ResponseRecord("ana", "chat", "q?", "a.", "test", True, 5, raw_confidence=0.3)
        ).confidence
        == 0.3
    )


def test_feedback_refits_automatically_at_the_minimum_and_each_time_as_much_again() -> None:
    world = World(min_feedback=20, auto=True)
    rng = random.Random(8)
    ids = [world.answer(rng.random()) for _ in range(45)]
    for number, response_id in enumerate(ids, 1):
        world.feedback.record("ana", FeedbackRequest(response_id, rng.random() < 0.5))
        expected = 0 if number < 20 else 1 if number < 40 else 2
        assert len(world.store.calibrations) == expected, number
    assert {c.author for c in world.store.calibrations} == {"auto"}
    assert world.audit_log.entries == []  # no one's action


def test_feedback_is_only_the_askers_and_a_second_replaces_the_first() -> None:
    world = World()
    response_id = world.answer(0.7)
    first = world.feedback.record("ana", FeedbackRequest(response_id, True, "  fine "))
    assert (first.replaced, first.status) == (False, "recorded")
    second = world.feedback.record("ana", FeedbackRequest(response_id, False))
    assert second.replaced and "replaces" in second.message
    assert present(present(world.log.get(response_id)).feedback).outcome is False
    for user, rid in (("bob", response_id), ("ana", "resp_" + "0" * 24), ("ana", "nonsense")):
        with pytest.raises(NotFound):
            world.feedback.record(user, FeedbackRequest(rid, True))
