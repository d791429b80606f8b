"""CLI: `almanac feedback` and `almanac calibration stats|report|tune|recalibrate|seed-from-eval`.

The calibration commands act as the local admin (`cli`): their figures are over everyone's
responses, and `tune --apply` / `recalibrate` are audited as actor `cli`. `feedback` acts as
`--user` (default DEFAULT_USER_ID, the user of `almanac ask` and of HTTP requests in
development mode), since only the asker may judge an answer. `--json` prints the same shapes
as the HTTP API.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from backend.api.confidence_schemas import (
    CalibrationOut,
    FeedbackOut,
    RecalibrationOut,
    StatsOut,
    TuneOut,
)
from backend.cli import output
from backend.cli.common import JsonOpt, console, err, open_container, run_command
from backend.cli.eval_commands import case_progress, load_split
from use_cases.access.domain import CLI_ADMIN, Caller
from use_cases.calibration.analytics import MAX_DAYS_BACK
from use_cases.calibration.stats import Band
from use_cases.chat.responses import FeedbackRequest
from use_cases.evaluation.answers import EvaluateAnswersRequest
from use_cases.shared.errors import InvalidRequest

calibration_app = typer.Typer(
    help="How honest the confidence is: statistics, diagram, phrase tuning, recalibration.",
    no_args_is_help=True,
)

DaysOpt = Annotated[
    int,
    typer.Option("--days-back", min=1, max=MAX_DAYS_BACK, help="Responses of the last N days."),
]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _bands_table(bands: list[Band]) -> Table:
    table = Table("band", "responses", "feedback", "mean conf.", "accuracy", "Brier", "calibrated")
    for band in bands:
        calibrated = "-" if band.is_calibrated is None else ("yes" if band.is_calibrated else "no")
        table.add_row(
            band.label,
            str(band.responses),
            str(band.with_feedback),
            _fmt(band.mean_confidence),
            _pct(band.observed_accuracy),
            _fmt(band.brier_score),
            calibrated,
        )
    return table


def feedback(
    response_id: Annotated[str, typer.Argument(help="The response_id of the answer.")],
    outcome: Annotated[
        str | None,
        typer.Option("--outcome", help="yes: the answer was right; no: it was not."),
    ] = None,
    notes: Annotated[str | None, typer.Option("--notes", help="What was right or wrong.")] = None,
    withdraw: Annotated[
        bool,
        typer.Option("--withdraw", help="Withdraw your feedback: the answer is unrated again."),
    ] = False,
    user: Annotated[
        str | None,
        typer.Option("--user", help="Who was given the answer. Default: DEFAULT_USER_ID."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Say whether an answer was right; a second verdict replaces the first, and --withdraw
    takes it back."""

    def body() -> None:
        if withdraw == (outcome is not None) or (withdraw and notes is not None):
            raise InvalidRequest("Give --outcome yes|no (and --notes), or --withdraw alone.")
        verdict = (outcome or "").strip().lower()
        if not withdraw and verdict not in ("yes", "no"):
            raise InvalidRequest("--outcome must be yes or no.")
        with open_container() as container:
            caller = Caller(user or container.settings.auth.default_user_id, "user", None)
            use_case = container.calibration.feedback
            receipt = asyncio.run(
                use_case.execute_withdraw(caller, response_id)
                if withdraw
                else use_case.execute(caller, FeedbackRequest(response_id, verdict == "yes", notes))
            )
        if as_json:
            output.print_json(FeedbackOut.of(receipt).model_dump(mode="json"))
        else:
            console.print(f"{receipt.message} ({escape(receipt.response_id)})", highlight=False)

    run_command(body)


@calibration_app.command("stats")
def stats(days_back: DaysOpt = 7, as_json: JsonOpt = False) -> None:
    """Responses, feedback, average confidence, Brier score and the ten bands."""

    def body() -> None:
        with open_container() as container:
            result = container.calibration.stats.stats(None, days_back)
        if as_json:
            output.print_json(StatsOut.of(result).model_dump(mode="json"))
            return
        console.print(
            f"[bold]Last {days_back} days[/]: {result.total_responses} responses, "
            f"{result.with_feedback} with feedback ({result.positive} right, "
            f"{result.negative} wrong), average confidence {_fmt(result.average_confidence)}, "
            f"accuracy {_pct(result.observed_accuracy)}, Brier {_fmt(result.brier_score)}",
            highlight=False,
        )
        if result.message:
            console.print(escape(result.message), highlight=False)
        console.print(_bands_table(result.bands))

    run_command(body)


@calibration_app.command("report")
def report(
    days_back: DaysOpt = 30,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Also draw the reliability diagram to this .png or .svg."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Confidence against observed accuracy: ECE, bands, weekly drift (and the diagram)."""

    def body() -> None:
        fmt = None
        if out is not None:
            fmt = out.suffix.lower().lstrip(".")
            if fmt not in ("png", "svg"):
                raise InvalidRequest("--out must name a .png or .svg file.")
        with open_container() as container:
            result = container.calibration.calibration.report(None, days_back)
            picture = container.calibration.diagram.draw(None, days_back, fmt) if fmt else None
        if out is not None and picture is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(picture)
            err.print(f"Reliability diagram written to {escape(str(out))}", highlight=False)
        if as_json:
            output.print_json(CalibrationOut.of(result).model_dump(mode="json"))
            return
        console.print(
            f"[bold]Last {days_back} days[/]: {result.responses_with_feedback} answers with "
            f"feedback, average confidence {_fmt(result.average_confidence)}, accuracy "
            f"{_pct(result.observed_accuracy)}, ECE {_fmt(result.ece)} "
            f"(raw {_fmt(result.raw_ece)})",
            highlight=False,
        )
        if result.message:
            console.print(escape(result.message), highlight=False)
        console.print(_bands_table(result.bands))
        for week in result.drift:
            console.print(
                f"  {week.week}: {week.responses} answers, ECE {_fmt(week.ece)}", highlight=False
            )

    run_command(body)


@calibration_app.command("tune")
def tune(
    days_back: DaysOpt = 7,
    apply: Annotated[
        bool, typer.Option("--apply", help="Apply the suggestion as a new version.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Suggest confidence-phrase thresholds from observed accuracy (`--apply` to apply)."""

    def body() -> None:
        with open_container() as container:
            result = container.calibration.auto_tune.tune(CLI_ADMIN, days_back, not apply)
        if as_json:
            output.print_json(TuneOut.of(result).model_dump(mode="json"))
            return
        current = ", ".join(f"{p} ≥ {v:.2f}" for p, v in result.current.as_dict().items())
        console.print(f"In force (version {result.current.version}): {current}", highlight=False)
        if result.suggested is not None:
            names = result.current.as_dict().keys()
            suggested = ", ".join(
                f"{p} ≥ {v:.2f}" for p, v in zip(names, result.suggested, strict=True)
            )
            console.print(f"Suggested: {suggested}", highlight=False)
        console.print(escape(result.message), highlight=False)

    run_command(body)


@calibration_app.command("recalibrate")
def recalibrate(
    method: Annotated[
        str | None, typer.Option(help="isotonic or platt. Default: RECALIBRATION_METHOD.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Fit and measure only.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Refit the map from raw confidence to observed accuracy (needs enough feedback)."""

    def body() -> None:
        with open_container() as container:
            result = container.calibration.recalibrate.fit(
                CLI_ADMIN, method=method, dry_run=dry_run
            )
        if as_json:
            output.print_json(RecalibrationOut.of(result).model_dump(mode="json"))
            return
        fit = result.fit
        console.print(
            f"{fit.map.method}: fitted on {fit.train_size}, held out {fit.heldout_size}: "
            f"ECE {_fmt(fit.ece_before)} → {_fmt(fit.ece_after)}, "
            f"Brier {_fmt(fit.brier_before)} → {_fmt(fit.brier_after)}. {result.message}",
            highlight=False,
        )

    run_command(body)


@calibration_app.command("seed-from-eval")
def seed_from_eval(
    split: Annotated[str, typer.Option(help="Which cases: dev, test or all.")] = "all",
    model: Annotated[str | None, typer.Option(help="One of ALLOWED_MODELS.")] = None,
    cases: Annotated[
        Path | None,
        typer.Option(help="A JSONL file of cases, or a folder with dev.jsonl and test.jsonl."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N cases (a quick check).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the answer evaluation and log each case with its correctness as feedback."""

    def body() -> None:
        loaded = load_split(split, cases)[:limit]
        on_case = case_progress(as_json)

        with open_container(with_sample=True) as container:
            seeded = asyncio.run(
                container.calibration.seed_from_eval.execute(
                    CLI_ADMIN,
                    EvaluateAnswersRequest(loaded, split=split, model=model, on_case=on_case),
                )
            )
        fit = seeded.recalibration.fit if seeded.recalibration else None
        data = {
            "split": split,
            "model": seeded.evaluation.model,
            "logged": seeded.logged,
            "accuracy": seeded.evaluation.accuracy,
            "raw_ece": seeded.raw_ece,
            "raw_brier": seeded.raw_brier,
            "recalibration": RecalibrationOut.of(seeded.recalibration).model_dump(mode="json")
            if seeded.recalibration
            else None,
            "recalibration_skipped": seeded.recalibration_skipped,
        }
        if as_json:
            output.print_json(data)
            return
        console.print(
            f"Logged {seeded.logged} answers of {escape(seeded.evaluation.model)} with feedback "
            f"(accuracy {_pct(seeded.evaluation.accuracy)}): raw ECE {_fmt(seeded.raw_ece)}, "
            f"Brier {_fmt(seeded.raw_brier)}",
            highlight=False,
        )
        if fit is not None and seeded.recalibration is not None:
            console.print(
                f"Recalibrated ({fit.map.method}, held out {fit.heldout_size}): ECE "
                f"{_fmt(fit.ece_before)} → {_fmt(fit.ece_after)}. "
                f"{seeded.recalibration.message}",
                highlight=False,
            )
        elif seeded.recalibration_skipped:
            console.print(f"Not recalibrated: {escape(seeded.recalibration_skipped)}")

    run_command(body)
