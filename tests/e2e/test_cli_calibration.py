"""`almanac feedback` and `almanac calibration ...`, run through the real CLI on a data dir."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from backend.bootstrap import bootstrap
from backend.cli.main import app
from backend.config import Settings
from services.calibration import ResponseLog
from tests.conftest import make_settings
from tests.e2e.test_cli_eval import CASES, _write
from tests.narrowing import present
from use_cases.chat.responses import ResponseRecord
from use_cases.confidence.domain import LoggedResponse

runner = CliRunner()


def _app_db(data_dir: Path) -> Path:
    return Settings(_env_file=None, data_dir=data_dir).storage.app_db_path


def _seed_one(data_dir: Path, user: str = "default") -> str:
    """One logged answer of `user`, through the use case (as a chat turn would log it)."""
    container = bootstrap(make_settings(data_dir))
    try:
        record = ResponseRecord(user, "chat", "q?", "Every 90 days [1].", "test", True, 7)
        return container.calibration.record_response.record(record).response_id
    finally:
        container.close()


def test_feedback_records_then_replaces_and_refuses_an_unknown_id(
    env: None, data_dir: Path
) -> None:
    response_id = _seed_one(data_dir)
    first = runner.invoke(app, ["feedback", response_id, "--outcome", "yes", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["result"] == "recorded"
    second = runner.invoke(app, ["feedback", response_id, "--outcome", "no", "--notes", "Old."])
    assert second.exit_code == 0 and "replaces" in second.stdout
    log = ResponseLog(_app_db(data_dir))
    try:
        feedback = present(log.get(response_id)).feedback
        assert feedback is not None and (feedback.outcome, feedback.notes) == (False, "Old.")
    finally:
        log.close()
    other = runner.invoke(app, ["feedback", response_id, "--outcome", "yes", "--user", "bob"])
    assert other.exit_code == 1 and "No response" in other.output
    bad = runner.invoke(app, ["feedback", response_id, "--outcome", "maybe"])
    assert bad.exit_code == 1 and "yes or no" in bad.output


def test_feedback_is_withdrawn_once_and_only_by_itself(env: None, data_dir: Path) -> None:
    response_id = _seed_one(data_dir)
    runner.invoke(app, ["feedback", response_id, "--outcome", "no"])
    neither = runner.invoke(app, ["feedback", response_id])
    both = runner.invoke(app, ["feedback", response_id, "--outcome", "yes", "--withdraw"])
    for refused in (neither, both):
        assert refused.exit_code == 1 and "--withdraw alone" in refused.output
    undo = runner.invoke(app, ["feedback", response_id, "--withdraw", "--json"])
    assert undo.exit_code == 0, undo.output
    assert json.loads(undo.stdout)["result"] == "withdrawn"
    log = ResponseLog(_app_db(data_dir))
    try:
        assert present(log.get(response_id)).feedback is None
    finally:
        log.close()
    again = runner.invoke(app, ["feedback", response_id, "--withdraw"])
    assert again.exit_code == 1 and "no feedback to withdraw" in again.output


def test_stats_and_report_on_an_empty_log_say_so(env: None, data_dir: Path) -> None:
    stats = runner.invoke(app, ["calibration", "stats", "--json"])
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout)["message"] == "No responses in the last 7 days."
    text = runner.invoke(app, ["calibration", "report"])
    assert text.exit_code == 0 and "No responses in the last 30 days." in text.stdout
    out_of_range = runner.invoke(app, ["calibration", "stats", "--days-back", "0"])
    assert out_of_range.exit_code == 2


def test_report_draws_the_diagram_as_png_or_svg(env: None, data_dir: Path) -> None:
    for name, magic in (("diagram.png", b"\x89PNG"), ("diagram.svg", b"<?xml")):
        result = runner.invoke(app, ["calibration", "report", "--out", name])
        assert result.exit_code == 0, result.output
        assert (data_dir / name).read_bytes().startswith(magic)
    wrong = runner.invoke(app, ["calibration", "report", "--out", "diagram.gif"])
    assert wrong.exit_code == 1 and ".png or .svg" in wrong.output


def test_seed_from_eval_logs_each_case_with_its_correctness(
    env: None, data_dir: Path, tmp_path: Path
) -> None:
    cases = _write(tmp_path / "mine.jsonl", CASES)
    result = runner.invoke(app, ["calibration", "seed-from-eval", "--cases", str(cases), "--json"])
    assert result.exit_code == 0, result.output
    seeded = json.loads(result.stdout)
    assert seeded["logged"] == 3 and seeded["model"] == "offline-extractive"
    assert seeded["recalibration"] is None and "at least 50" in seeded["recalibration_skipped"]
    assert seeded["raw_ece"] is not None
    stats = json.loads(runner.invoke(app, ["calibration", "stats", "--json"]).stdout)
    assert (stats["total_responses"], stats["with_feedback"], stats["positive"]) == (3, 3, 2)
    again = runner.invoke(app, ["calibration", "seed-from-eval", "--cases", str(cases)])
    assert again.exit_code == 0 and "Logged 3 answers" in again.stdout
    stats = json.loads(runner.invoke(app, ["calibration", "stats", "--json"]).stdout)
    assert stats["total_responses"] == 3  # replaced, not added


def test_tune_and_recalibrate_from_the_cli(env: None, data_dir: Path) -> None:
    log = ResponseLog(_app_db(data_dir))
    try:
        now = datetime.now(UTC)
        for i in range(60):
            # answers at 0.45 are right 30% of the time: "moderate" (40%) must start higher
            confidence = 0.45 if i < 30 else 0.85
            log.add(
                LoggedResponse(
                    f"resp_{i:024x}",
                    "ana",
                    "chat",
                    "q",
                    "a",
                    confidence,
                    confidence,
                    "low",
                    "test",
                    True,
                    1,
                    now,
                )
            )
            log.put_feedback(f"resp_{i:024x}", i % 10 < (3 if i < 30 else 9), None, now)
    finally:
        log.close()
    dry = runner.invoke(app, ["calibration", "tune", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["applied"] is False
    applied = runner.invoke(app, ["calibration", "tune", "--apply"])
    assert applied.exit_code == 0 and "version 1" in applied.stdout
    fitted = runner.invoke(app, ["calibration", "recalibrate", "--json"])
    assert fitted.exit_code == 0, fitted.output
    fit = json.loads(fitted.stdout)["fit"]
    assert fit["feedback_used"] == 60 and fit["version"] == 1
    audit = runner.invoke(app, ["audit", "--json"])
    actions = [e["action"] for e in json.loads(audit.stdout)["entries"]]
    assert {"confidence.tune", "confidence.recalibrate"} <= set(actions)
