"""The calibration use cases on in-memory fakes: confidence stats, the Brier score report, the
calibration report, the reliability diagram, phrase auto-tuning, the phrase status, what
`tests/unit/test_recalibration.py` leaves of `Recalibrate`, and the recent responses.

Every figure is computed by hand (definitions in `use_cases/calibration/stats.py`). The e2e
counterparts through the app and the CLI are `tests/e2e/test_confidence_api.py` and
`tests/e2e/test_cli_calibration.py`. The clock stands at 2026-03-02 12:00 UTC, a Monday (ISO
week 2026-W10); no recalibration map is active unless a test stores one, so the confidence
shown is the raw confidence a response is recorded with.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes import (
    InMemoryAuditLog,
    InMemoryCalibrationStore,
    InMemoryResponseLog,
    SteppingClock,
)
from use_cases.access.audit import RecordAudit
from use_cases.access.domain import CLI_ADMIN, Caller
from use_cases.calibration.analytics import (
    AutoTunePhrases,
    DrawReliabilityDiagram,
    GetBrierScore,
    GetCalibrationReport,
    GetConfidenceStats,
    GetPhraseStatus,
    Recalibrate,
)
from use_cases.calibration.ports import DiagramBin
from use_cases.calibration.stats import Band, WeekDrift
from use_cases.chat.responses import (
    FeedbackRequest,
    ListRecentResponses,
    RecordFeedback,
    RecordResponse,
    ResponseRecord,
)
from use_cases.confidence.domain import CalibrationFit, FittedMap
from use_cases.confidence.estimator import DEFAULT_PHRASES
from use_cases.shared.errors import Forbidden, InvalidRequest

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
ANA = Caller("ana", "user", "key_ana")
BOB = Caller("bob", "user", "key_bob")
ROOT = Caller("root", "admin", "key_root")
DEFAULT_BOUNDS = {"low": 0.2, "moderate": 0.4, "high": 0.6, "very high": 0.8}


class World:
    def __init__(self) -> None:
        self.log = InMemoryResponseLog()
        self.store = InMemoryCalibrationStore()
        self.clock = SteppingClock(NOW)
        self.audit_log = InMemoryAuditLog()
        self.audit = RecordAudit(self.audit_log, self.clock)
        self.recorder = RecordResponse(self.log, self.store, self.clock)
        self.feedback = RecordFeedback(self.log, self.clock)

    def answer(
        self, raw: float, outcome: bool | None = None, *, user: str = "ana", at: datetime = NOW
    ) -> str:
        """Logs an answer of raw confidence `raw` at `at`, with the asker's feedback if any."""
        self.clock.current = at
        record = ResponseRecord(user, "chat", "q?", "a.", "test", True, 5, raw_confidence=raw)
        response_id = self.recorder.record(record).response_id
        if outcome is not None:
            self.feedback.record(user, FeedbackRequest(response_id, outcome))
        self.clock.current = NOW
        return response_id

    def seed(self) -> None:
        """Five answers of the last week (four rated) and one rated ten days ago."""
        self.answer(0.9, True, at=datetime(2026, 3, 1, 10, tzinfo=UTC))  # W09
        self.answer(0.7, False, at=datetime(2026, 3, 1, 11, tzinfo=UTC))  # W09
        self.answer(0.3, True, at=datetime(2026, 3, 2, 9, tzinfo=UTC))  # W10
        self.answer(0.2, False, user="bob", at=datetime(2026, 3, 2, 10, tzinfo=UTC))  # W10
        self.answer(0.6, None, at=datetime(2026, 3, 2, 11, tzinfo=UTC))  # not rated
        self.answer(0.1, True, at=datetime(2026, 2, 20, 12, tzinfo=UTC))  # W08, 10 days old

    def tuner(self) -> AutoTunePhrases:
        return AutoTunePhrases(self.log, self.store, self.clock, self.audit)

    def band_rows(self, rows: Sequence[tuple[float, int, int]]) -> None:
        """(confidence, answers, right) per band, a day old, alternately ana's and bob's."""
        for confidence, count, right in rows:
            for i in range(count):
                user = "ana" if i % 2 else "bob"
                self.answer(confidence, i < right, user=user, at=NOW - timedelta(days=1))


class RecordingRenderer:
    def __init__(self) -> None:
        self.calls: list[tuple[list[DiagramBin], str, str]] = []

    def render(self, bins: Sequence[DiagramBin], *, title: str, fmt: str) -> bytes:
        self.calls.append((list(bins), title, fmt))
        return f"<{fmt}>".encode()


class CountingFitter:
    """Fit n returns the Platt map of slope n: fit 1 (the split) is the identity, so it
    leaves the held-out ECE as it was; fit 2 (on everything) is told apart by its slope."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[float], list[bool], str]] = []

    def fit(self, raw: Sequence[float], outcomes: Sequence[bool], method: str) -> FittedMap:
        self.calls.append((list(raw), list(outcomes), method))
        return FittedMap("platt", slope=float(len(self.calls)), intercept=0.0)


def bin_at(index: int, confidence: float, right: float) -> DiagramBin:
    return DiagramBin(index / 10, (index + 1) / 10, confidence, right, 1)


# --- GetConfidenceStats --------------------------------------------------------------------


def test_an_admins_stats_of_the_week_are_over_everyones_answers() -> None:
    world = World()
    world.seed()
    stats = GetConfidenceStats(world.log, world.clock).stats(ROOT, days_back=7)
    assert (stats.scope, stats.days_back) == ("all", 7)
    assert (stats.total_responses, stats.with_feedback) == (5, 4)  # the 10-day-old one is out
    assert (stats.positive, stats.negative) == (2, 2)
    assert stats.average_confidence == 0.54  # (.9 + .7 + .3 + .2 + .6) / 5, rated or not
    assert stats.observed_accuracy == 0.5
    assert stats.brier_score == 0.2575  # (.1² + .7² + .7² + .2²) / 4 = 1.03 / 4
    assert stats.message is None
    assert stats.bands[9] == Band(9, 0.9, 1.0, 1, 1, 0.9, 1.0, 0.01, True)  # |1 - .9| <= .1
    assert stats.bands[7] == Band(7, 0.7, 0.8, 1, 1, 0.7, 0.0, 0.49, False)
    assert stats.bands[6] == Band(6, 0.6, 0.7, 1, 0, None, None, None, None)  # unrated
    assert [b.responses for b in stats.bands] == [0, 0, 1, 1, 0, 0, 1, 1, 0, 1]


def test_a_users_stats_are_over_their_own_answers_only() -> None:
    world = World()
    world.seed()
    stats = GetConfidenceStats(world.log, world.clock).stats(ANA, days_back=7)
    assert stats.scope == "own"
    assert (stats.total_responses, stats.with_feedback) == (4, 3)
    assert (stats.positive, stats.negative) == (2, 1)
    assert stats.average_confidence == 0.625  # (.9 + .7 + .3 + .6) / 4
    assert stats.observed_accuracy == 0.6667
    assert stats.brier_score == 0.33  # (.01 + .49 + .49) / 3
    assert stats.bands[2].responses == 0  # bob's 0.2


async def test_execute_gives_the_callers_figures_from_a_worker_thread() -> None:
    world = World()
    world.seed()
    mine = await GetConfidenceStats(world.log, world.clock).execute(BOB, days_back=7)
    assert (mine.scope, mine.total_responses, mine.brier_score) == ("own", 1, 0.04)


def test_the_window_reaches_back_exactly_days_back_days() -> None:
    world = World()
    world.answer(0.5, True, at=NOW - timedelta(days=1))  # on the edge: in
    world.answer(0.5, False, at=NOW - timedelta(days=1, seconds=1))  # out
    stats = GetConfidenceStats(world.log, world.clock).stats(ROOT, days_back=1)
    assert (stats.total_responses, stats.positive) == (1, 1)
    assert GetConfidenceStats(world.log, world.clock).stats(ROOT, days_back=2).negative == 1


@pytest.mark.parametrize("days_back", [0, -1, 366])
def test_days_back_outside_1_to_365_is_refused(days_back: int) -> None:
    world = World()
    world.seed()
    renderer = RecordingRenderer()
    for call in (
        GetConfidenceStats(world.log, world.clock).stats,
        GetBrierScore(world.log, world.clock).report,
        GetCalibrationReport(world.log, world.clock).report,
        DrawReliabilityDiagram(world.log, world.clock, renderer).draw,
    ):
        with pytest.raises(InvalidRequest, match="between 1 and 365"):
            call(ROOT, days_back)
    with pytest.raises(InvalidRequest, match="between 1 and 365"):
        world.tuner().tune(ROOT, days_back=days_back)
    assert renderer.calls == []
    assert GetConfidenceStats(world.log, world.clock).stats(ROOT, 365).with_feedback == 5


def test_an_empty_window_gives_nulls_and_says_so() -> None:
    world = World()
    world.answer(0.8, True, at=NOW - timedelta(days=3))
    stats = GetConfidenceStats(world.log, world.clock).stats(ROOT, days_back=1)
    assert (stats.total_responses, stats.average_confidence, stats.brier_score) == (0, None, None)
    assert stats.message == "No responses in the last 1 day."
    brier = GetBrierScore(world.log, world.clock).report(ROOT, days_back=2)
    assert (brier.brier_score, brier.total, brier.calibration_curve) == (None, 0, [])
    assert brier.message == "No responses in the last 2 days."


def test_answers_without_feedback_give_null_figures_and_ask_for_feedback() -> None:
    world = World()
    world.answer(0.3)
    world.answer(0.6)
    stats = GetConfidenceStats(world.log, world.clock).stats(ROOT)
    assert (stats.total_responses, stats.with_feedback) == (2, 0)
    assert stats.average_confidence == 0.45  # of every answer, so known without feedback
    assert (stats.observed_accuracy, stats.brier_score) == (None, None)
    assert stats.message == (
        "No feedback in the last 7 days: accuracy, Brier score and ECE need feedback."
    )
    report = GetCalibrationReport(world.log, world.clock).report(ROOT)
    assert (report.ece, report.raw_ece, report.overconfidence) == (None, None, None)
    assert report.drift == []
    assert report.message == stats.message.replace("7 days", "30 days")


# --- GetBrierScore, GetCalibrationReport, DrawReliabilityDiagram ----------------------------


def test_brier_score_with_a_curve_of_the_bands_with_feedback() -> None:
    world = World()
    world.seed()
    report = GetBrierScore(world.log, world.clock).report(ROOT)  # default: 7 days
    assert (report.days_back, report.scope) == (7, "all")
    assert (report.brier_score, report.total) == (0.2575, 4)
    assert report.calibration_curve == [  # the unrated 0.6 has no point
        bin_at(2, 0.2, 0.0),
        bin_at(3, 0.3, 1.0),
        bin_at(7, 0.7, 0.0),
        bin_at(9, 0.9, 1.0),
    ]


def test_calibration_report_of_a_month_with_overconfidence_ece_and_weekly_drift() -> None:
    world = World()
    world.seed()
    report = GetCalibrationReport(world.log, world.clock).report(ROOT)  # default: 30 days
    assert (report.days_back, report.scope, report.responses_with_feedback) == (30, "all", 5)
    assert report.average_confidence == 0.44  # (.1 + .9 + .7 + .3 + .2) / 5
    assert report.observed_accuracy == 0.6
    assert report.overconfidence == -0.16  # claims too little
    assert report.ece == 0.52  # one answer a band: (.9 + .1 + .7 + .7 + .2) / 5
    assert report.raw_ece == 0.52  # no map: what was shown is the raw confidence
    assert report.tolerance == 0.1
    assert report.bands[6].responses == 1 and report.bands[6].is_calibrated is None
    assert report.drift == [
        WeekDrift("2026-W08", 1, 0.9, 0.81),
        WeekDrift("2026-W09", 2, 0.4, 0.25),  # (.1 + .7) / 2; (.01 + .49) / 2
        WeekDrift("2026-W10", 2, 0.45, 0.265),  # (.7 + .2) / 2; (.49 + .04) / 2
    ]
    assert report.message is None


def test_figures_are_of_the_shown_confidence_and_raw_ece_of_the_raw_one() -> None:
    world = World()
    halving = FittedMap("isotonic", xs=(0.0, 1.0), ys=(0.0, 0.5))
    fit = CalibrationFit(halving, 50, 25, 25, 0.3, 0.1, 0.3, 0.2, True)
    world.store.save_calibration(fit, "cli", NOW)
    world.answer(0.8, True)  # shown 0.4
    world.answer(0.6, False)  # shown 0.3
    report = GetCalibrationReport(world.log, world.clock).report(ROOT)
    assert report.average_confidence == 0.35
    assert report.ece == 0.45  # (|1 - .4| + |0 - .3|) / 2
    assert report.raw_ece == 0.4  # (|1 - .8| + |0 - .6|) / 2
    stats = GetConfidenceStats(world.log, world.clock).stats(ROOT)
    assert stats.brier_score == 0.225  # (.6² + .3²) / 2


def test_the_reliability_diagram_draws_the_rated_bands_with_count_and_ece() -> None:
    world = World()
    world.seed()
    renderer = RecordingRenderer()
    drawing = DrawReliabilityDiagram(world.log, world.clock, renderer)
    assert drawing.draw(ROOT, days_back=7, fmt="png") == b"<png>"
    bins, title, fmt = renderer.calls[-1]
    assert fmt == "png"
    assert title == "Reliability, last 7 days: 4 answers with feedback, ECE 0.425"  # 1.7 / 4
    assert bins == [
        bin_at(2, 0.2, 0.0),
        bin_at(3, 0.3, 1.0),
        bin_at(7, 0.7, 0.0),
        bin_at(9, 0.9, 1.0),
    ]
    drawing.draw(ANA)  # default: 30 days, svg; ana's .9, .7, .3 and .1
    bins, title, fmt = renderer.calls[-1]
    assert (fmt, len(bins)) == ("svg", 4)
    assert title == "Reliability, last 30 days: 4 answers with feedback, ECE 0.600"  # 2.4 / 4


def test_the_diagram_without_feedback_has_no_ece_and_only_svg_or_png_are_drawn() -> None:
    world = World()
    world.answer(0.5)
    renderer = RecordingRenderer()
    drawing = DrawReliabilityDiagram(world.log, world.clock, renderer)
    drawing.draw(ROOT, days_back=30, fmt="svg")
    assert renderer.calls == [([], "Reliability, last 30 days: 0 answers with feedback", "svg")]
    with pytest.raises(InvalidRequest, match="svg or png"):
        drawing.draw(ROOT, fmt="gif")
    assert len(renderer.calls) == 1


# --- AutoTunePhrases -----------------------------------------------------------------------

#: 30 rated answers in three bands: 30%, 70% and 90% right.
THREE_BANDS = [(0.25, 10, 3), (0.55, 10, 7), (0.85, 10, 9)]
PLAN = (
    "keep low at 0.20 (the feedback for its promise of 20% puts it there); "
    "keep moderate at 0.40 (the feedback alone would move it to 0.50, but only 0 rated answers "
    "lie between 0.40 and 0.50 (at least 10 needed to move it)); "
    "lower high from 0.60 to 0.50 (the 10 rated answers from 0.50 up to 0.60 are right at least "
    "60% of the time in every band with enough feedback); "
    "keep very high at 0.80 (the feedback for its promise of 80% puts it there)."
)


def test_tuning_is_for_admins_only() -> None:
    world = World()
    world.band_rows(THREE_BANDS)
    with pytest.raises(Forbidden, match="Tuning the confidence phrases"):
        world.tuner().tune(ANA, dry_run=False)
    assert (world.store.thresholds, world.audit_log.entries) == ([], [])


@pytest.mark.parametrize(
    ("raws", "outcome", "message"),
    [
        ([], None, "No responses in the last 7 days."),
        (
            [0.55] * 6,
            None,
            "No feedback in the last 7 days: accuracy, Brier score and ECE need feedback.",
        ),
        ([0.15, 0.35, 0.55, 0.75] * 4, True, "No band has 5 or more answers with feedback yet."),
    ],
)
def test_no_band_with_five_rated_answers_leaves_the_thresholds_and_says_why(
    raws: list[float], outcome: bool | None, message: str
) -> None:
    world = World()
    for raw in raws:  # four rated answers a band at most
        world.answer(raw, outcome)
    result = world.tuner().tune(ROOT, dry_run=False)
    assert (result.suggested, result.moves, result.applied) == (None, (), False)
    assert result.message.startswith(message)
    assert result.message.endswith(" The thresholds are unchanged.")
    assert result.current == DEFAULT_PHRASES and world.store.thresholds == []


def test_tuning_reads_only_the_window() -> None:
    world = World()
    for i in range(10):
        world.answer(0.55, i < 7, at=NOW - timedelta(days=10))
    assert world.tuner().tune(ROOT, days_back=7).suggested is None
    month = world.tuner().tune(ROOT, days_back=30)
    assert month.bands[5].with_feedback == 10 and month.suggested == (0.2, 0.4, 0.5, 0.8)


def test_a_dry_run_says_what_it_would_do_with_each_phrase_and_changes_nothing() -> None:
    world = World()
    world.band_rows(THREE_BANDS)
    result = world.tuner().tune(ROOT)  # dry run by default
    assert (result.dry_run, result.applied) == (True, False)
    assert result.suggested == (0.2, 0.4, 0.5, 0.8)
    assert [(m.action, m.target, m.rated) for m in result.moves] == [
        ("keep", 0.2, 0),
        ("keep", 0.5, 0),  # moderate's promise alone would put it at 0.5: no evidence
        ("lower", 0.5, 10),
        ("keep", 0.8, 0),
    ]
    assert [b.with_feedback for b in result.bands] == [0, 0, 10, 0, 0, 10, 0, 0, 10, 0]
    assert (result.min_band_feedback, result.min_move_feedback) == (5, 10)
    assert result.message == "Dry run, nothing was changed; it would " + PLAN
    assert (world.store.thresholds, world.audit_log.entries) == ([], [])


def test_applying_stores_the_next_version_audits_it_and_a_rerun_finds_it_fits() -> None:
    world = World()
    world.band_rows(THREE_BANDS)
    result = world.tuner().tune(ROOT, dry_run=False)
    assert result.applied and result.message == "Applied as thresholds version 1: " + PLAN
    saved = world.store.current_thresholds()
    assert saved is not None and result.current == saved
    assert (saved.bounds, saved.version) == ((0.2, 0.4, 0.5, 0.8), 1)
    assert (saved.source, saved.author, saved.created_at) == ("auto-tune", "root", NOW)
    [entry] = world.audit_log.entries
    assert (entry.actor_user_id, entry.actor_key_id, entry.at) == ("root", "key_root", NOW)
    assert (entry.action, entry.target) == ("confidence.tune", "confidence:phrases")
    assert entry.before == {"version": 0, "thresholds": DEFAULT_BOUNDS}
    assert entry.after == {"version": 1, "thresholds": {**DEFAULT_BOUNDS, "high": 0.5}}
    # new answers get the new phrases: high now starts at 0.5
    recorded = world.recorder.record(
        ResponseRecord("ana", "chat", "q?", "a.", "test", True, 5, raw_confidence=0.55)
    )
    assert recorded.confidence_phrase == "high"
    again = world.tuner().tune(CLI_ADMIN, dry_run=False)
    assert (again.applied, again.current.version) == (False, 1)
    assert again.message.startswith("The thresholds in force already fit the feedback. keep low")
    assert len(world.store.thresholds) == 1 and len(world.audit_log.entries) == 1


@pytest.mark.parametrize(("answers", "moved"), [(9, False), (10, True)])
def test_a_bound_moves_only_on_min_move_feedback_rated_answers(answers: int, moved: bool) -> None:
    world = World()
    # high's promise (60%) is kept from 0.5 up either way: 7 of 9 or 7 of 10 right at 0.55
    world.band_rows([(0.25, 10, 3), (0.55, answers, 7), (0.85, 10, 9)])
    result = world.tuner().tune(ROOT, dry_run=False)
    high = result.moves[2]
    assert (high.phrase, high.current, high.target, high.rated) == ("high", 0.6, 0.5, answers)
    assert high.suggested == (0.5 if moved else 0.6) and result.applied is moved
    if not moved:
        assert result.message.startswith("The thresholds in force already fit the feedback.")
        assert (
            "keep high at 0.60 (the feedback alone would move it to 0.50, but only 9 rated "
            "answers lie between 0.50 and 0.60 (at least 10 needed to move it))"
        ) in result.message
        assert world.store.thresholds == []


def test_tuned_bounds_rise_by_a_band_so_every_phrase_can_still_be_shown() -> None:
    world = World()
    # 10 answers, all right, in each band from 0.2 to 0.9: every promise alone says 0.2
    world.band_rows([(index / 10 + 0.05, 10, 10) for index in range(2, 9)])
    result = world.tuner().tune(ROOT, dry_run=False)
    assert [m.target for m in result.moves] == [0.2, 0.2, 0.2, 0.2]
    assert [m.rated for m in result.moves] == [0, 20, 40, 60]
    assert result.suggested == (0.2, 0.3, 0.4, 0.5)
    assert [m.action for m in result.moves] == ["keep", "lower", "lower", "lower"]
    assert result.moves[1].reason.endswith("; raised to 0.30 to stay 0.10 above the phrase below")
    assert "lower very high from 0.80 to 0.50" in result.message
    phrases = [
        world.recorder.record(
            ResponseRecord("ana", "chat", "q?", "a.", "test", True, 5, raw_confidence=raw)
        ).confidence_phrase
        for raw in (0.1, 0.25, 0.35, 0.45, 0.9)
    ]
    assert phrases == ["very low", "low", "moderate", "high", "very high"]


# --- GetPhraseStatus and Recalibrate -------------------------------------------------------


def recalibrate(world: World, fitter: CountingFitter, min_feedback: int = 4) -> Recalibrate:
    return Recalibrate(
        world.log, world.store, fitter, world.clock, world.audit, min_feedback=min_feedback
    )


async def test_phrase_status_by_default_and_for_any_caller() -> None:
    world = World()
    world.seed()
    status = await GetPhraseStatus(world.store, recalibrate(world, CountingFitter(), 50)).execute(
        ANA
    )
    assert status.thresholds == DEFAULT_PHRASES
    assert status.promises == DEFAULT_BOUNDS
    recal = status.recalibration
    assert (recal.method, recal.min_feedback, recal.auto) == ("isotonic", 50, True)
    assert recal.feedback == 5
    assert (recal.active, recal.latest, recal.next_fit_at) == (None, None, 50)


def test_phrase_status_after_tuning_keeps_the_promises_and_counts_from_the_last_fit() -> None:
    world = World()
    world.band_rows(THREE_BANDS)
    world.tuner().tune(ROOT, dry_run=False)
    inactive = CalibrationFit(FittedMap("isotonic"), 60, 30, 30, 0.1, 0.2, 0.2, 0.3, False)
    stored = world.store.save_calibration(inactive, "auto", NOW)
    status = GetPhraseStatus(world.store, recalibrate(world, CountingFitter(), 50)).status()
    assert (status.thresholds.version, status.thresholds.bounds) == (1, (0.2, 0.4, 0.5, 0.8))
    assert status.promises == DEFAULT_BOUNDS  # what a phrase stands for does not move
    recal = status.recalibration
    assert (recal.feedback, recal.active, recal.latest) == (30, None, stored)
    assert recal.next_fit_at == 110  # the last fit used 60: the next at 60 + 50


def test_a_recalibration_dry_run_stores_nothing_and_an_unknown_method_is_refused() -> None:
    world = World()
    world.seed()  # five rated answers
    fitter = CountingFitter()
    with pytest.raises(InvalidRequest, match="isotonic, platt"):
        recalibrate(world, fitter).fit(ROOT, method="magic")
    assert fitter.calls == []
    result = recalibrate(world, fitter).fit(ROOT, dry_run=True)
    assert (result.stored, result.message) == (None, "Dry run: nothing was stored.")
    assert (result.fit.feedback_used, result.fit.heldout_size, result.fit.train_size) == (5, 2, 3)
    assert (world.store.calibrations, world.audit_log.entries) == ([], [])


def test_a_map_that_leaves_held_out_ece_as_it_was_is_activated_and_audited() -> None:
    world = World()
    rows = [(0.9, True), (0.7, False), (0.3, True), (0.2, False)]
    for raw, outcome in rows:
        world.answer(raw, outcome)
    fitter = CountingFitter()
    result = recalibrate(world, fitter).fit(ROOT, method="platt")
    # split (half held out of four), then everything; the method passed through
    assert [(len(raw), method) for raw, _, method in fitter.calls] == [(2, "platt"), (4, "platt")]
    assert sorted(zip(*fitter.calls[1][:2], strict=True)) == sorted(rows)
    fit = result.fit
    assert fit.ece_before is not None and fit.ece_after == fit.ece_before  # identity map
    assert fit.brier_after == fit.brier_before and fit.active
    assert result.stored is not None and result.stored.map.slope == 2.0  # fitted on all four
    assert world.store.active_calibration() == result.stored
    assert result.message == "Recalibration version 1 is active."
    [entry] = world.audit_log.entries
    assert (entry.action, entry.target) == ("confidence.recalibrate", "confidence:calibration")
    assert (entry.actor_user_id, entry.before) == ("root", None)
    assert entry.after == {
        "version": 1,
        "method": "platt",
        "active": True,
        "feedback_used": 4,
        "ece_before": fit.ece_before,
        "ece_after": fit.ece_before,
    }
    recalibrate(world, CountingFitter()).fit(CLI_ADMIN)
    assert world.audit_log.entries[-1].before == {"version": 1, "method": "platt"}
    assert world.audit_log.entries[-1].actor_user_id == "cli"


# --- ListRecentResponses -------------------------------------------------------------------


def test_recent_responses_are_the_callers_own_newest_first_with_their_feedback() -> None:
    world = World()
    first = world.answer(0.4, True, at=NOW - timedelta(hours=3))
    world.answer(0.5, False, user="bob", at=NOW - timedelta(hours=2))
    last = world.answer(0.6, None, at=NOW - timedelta(hours=1))
    mine = ListRecentResponses(world.log).list(ANA)
    assert [r.response_id for r in mine] == [last, first]
    assert mine[0].feedback is None
    assert mine[1].feedback is not None and mine[1].feedback.outcome is True
    older = mine[1]
    assert (older.raw_confidence, older.confidence_phrase, older.user_id) == (
        0.4,
        "moderate",
        "ana",
    )


async def test_recent_responses_of_everyone_for_an_admin_and_a_limit_of_1_to_100() -> None:
    world = World()
    for hours in range(5, 0, -1):
        world.answer(0.5, user="ana" if hours % 2 else "bob", at=NOW - timedelta(hours=hours))
    listing = ListRecentResponses(world.log)
    everyone = await listing.execute(ROOT, limit=3)
    assert [r.created_at for r in everyone] == [NOW - timedelta(hours=h) for h in (1, 2, 3)]
    assert [r.user_id for r in everyone] == ["ana", "bob", "ana"]
    assert len(listing.list(ROOT, limit=100)) == 5 and len(listing.list(BOB, limit=1)) == 1
    for limit in (0, 101):
        with pytest.raises(InvalidRequest, match="between 1 and 100"):
            listing.list(ROOT, limit=limit)
