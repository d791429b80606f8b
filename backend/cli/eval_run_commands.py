"""CLI: `almanac eval run | show | compare | report | cancel | delete`: the runs of
docs/evaluation-runs.md.

`eval run` executes in this process (with a progress bar on a terminal's stderr) and stores
the run like the server does, so `eval show`, `GET /api/v1/eval-runs/{run_id}` and `eval compare`
read it afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from backend.api.eval_schemas import RunSummaryOut
from backend.bootstrap import Container
from backend.cli import output
from backend.cli.common import JsonOpt, console, err, open_container, run_command
from backend.cli.eval_group import eval_app
from backend.cli.run_controls import cancel_run, delete_run
from use_cases.access.domain import CLI_ADMIN
from use_cases.evaluation.datasets import DatasetUpload
from use_cases.evaluation.run_domain import PromptRef
from use_cases.evaluation.runs import RunRequest
from use_cases.shared.errors import InvalidRequest


def parse_prompt_version(text: str | None) -> PromptRef | None:
    if text is None:
        return None
    kind, sep, number = text.partition(":")
    if not sep or not kind.strip() or not number.strip().isdigit() or int(number) < 1:
        raise InvalidRequest(f"--prompt-version {text!r}: use TYPE:N, e.g. chat:3.")
    return PromptRef(kind.strip(), int(number))


def file_upload(dataset: str | None) -> DatasetUpload | None:
    """A dataset argument that is a file path: its upload (same content, same version)."""
    path = Path(dataset) if dataset else None
    if path is None or not path.is_file():
        return None
    return DatasetUpload(path.name, path.read_bytes())


def execute_run(
    container: Container,
    request: RunRequest,
    *,
    dataset: str | None = None,
    show_progress: bool,
    on_row: Callable[[Mapping[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Start a run and execute it here; returns its export."""

    upload = file_upload(dataset)

    async def go() -> dict[str, Any]:
        task_id = request.task_id if dataset is None else dataset
        if upload is not None:
            task_id = (await container.evaluation.datasets.upload(CLI_ADMIN, upload)).dataset.id
        record = await container.evaluation.benchmark.start(
            CLI_ADMIN, RunRequest(**{**request.__dict__, "task_id": task_id})
        )
        progress = (
            Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            )
            if show_progress
            else None
        )
        if progress is None:
            await container.evaluation.benchmark.execute(record.run_id, on_row)
        else:
            with progress:
                bar = progress.add_task(record.run_id, total=record.total)

                def advance(row: Mapping[str, Any]) -> None:
                    progress.advance(bar)
                    if on_row is not None:
                        on_row(row)

                await container.evaluation.benchmark.execute(record.run_id, advance)
        return await container.evaluation.benchmark.export(CLI_ADMIN, record.run_id)

    return asyncio.run(go())


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_summary(export: Mapping[str, Any]) -> None:
    k = export["settings"]["k"]
    progress = export["progress"]
    console.print(
        f"[bold]Run {export['run_id']}[/] {export['status']}: task {escape(export['task']['id'])} "
        f"v{export['task']['version']}, {progress['done']}/{progress['total']} items done, "
        f"{progress['failed']} failed",
        highlight=False,
    )
    table = Table(
        "model", "cases", "errors", "correct", "cited", "refusal acc.", "token F1",
        f"ndcg@{k}", "ECE", "p50 ms", "p95 ms", "cost $",
    )  # fmt: skip
    for model, block in export["aggregates"].items():
        agg = block["overall"]
        table.add_row(
            escape(model),
            str(agg["cases"]),
            str(agg["errors"]),
            _pct(agg["correct"]),
            _pct(agg["cited"]),
            _pct(agg["refusal_accuracy"]),
            _num(agg["token_f1"]),
            _num(agg.get(f"ndcg@{k}")),
            _num(agg["ece"]),
            _num(agg["latency_p50_ms"], 0),
            _num(agg["latency_p95_ms"], 0),
            _num(agg["cost_usd"], 4),
        )
    console.print(table)
    for model, block in export["aggregates"].items():
        robust = block.get("robustness") or {}
        if robust.get("perturbations"):
            console.print(
                f"{escape(model)} robustness: answer drift {_pct(robust['answer_drift'])}, "
                f"retrieval overlap@{k} {_num(robust.get(f'retrieval_overlap@{k}'))}",
                highlight=False,
            )


@eval_app.command("run")
def run(
    dataset: Annotated[str, typer.Argument(help="A dataset id (`answers`) or a .jsonl/.csv file.")],
    model: Annotated[
        list[str] | None, typer.Option("--model", help="A model to run (repeat for several).")
    ] = None,
    prompt_version: Annotated[
        str | None, typer.Option(help="Run with this stored prompt version, TYPE:N (chat:3).")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Cases at once (1-32).")] = None,
    robustness: Annotated[
        bool, typer.Option("--robustness", help="Also ask every perturbed form of each case.")
    ] = False,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Only cases with this tag (repeatable).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N cases.")] = None,
    k: Annotated[int, typer.Option(help="Cut-off of the retrieval metrics.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the perturbations.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Run a dataset through the chat on one or more models and score every case."""

    def body() -> None:
        request = RunRequest(
            task_id=dataset,
            models=tuple(model or ()),
            prompt_version=parse_prompt_version(prompt_version),
            concurrency=concurrency,
            robustness=robustness,
            seed=seed,
            k=k,
            limit=limit,
            tags=tuple(tag or ()),
        )
        show = not as_json and err.is_terminal
        with open_container(with_sample=True) as container:
            export = execute_run(container, request, dataset=dataset, show_progress=show)
        if as_json:
            output.print_json(export)
        else:
            print_summary(export)

    run_command(body)


@eval_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="A run id, or `latest`.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a stored run: its status, progress and metrics (--json: the whole export)."""

    def body() -> None:
        with open_container() as container:
            export = asyncio.run(container.evaluation.benchmark.export(CLI_ADMIN, run_id))
        if as_json:
            output.print_json(export)
        else:
            print_summary(export)

    run_command(body)


@eval_app.command("report")
def report(
    run_id: Annotated[str, typer.Argument(help="A run id, or `latest`.")],
    html: Annotated[
        Path, typer.Option("--html", help="Write the self-contained HTML report to this file.")
    ],
) -> None:
    """Write a run's HTML report: metrics per model and dimension, reliability diagram,
    latency distribution, robustness and failures, with every figure inline."""

    def body() -> None:
        with open_container() as container:
            page = asyncio.run(container.evaluation.run_report.execute(CLI_ADMIN, run_id))
        try:
            html.write_text(page, encoding="utf-8")
        except OSError as exc:
            raise InvalidRequest(f"Cannot write the report to {html}: {exc.strerror}.") from None
        err.print(f"Report written to {escape(str(html))} ({len(page) // 1024:,} KiB).")

    run_command(body)


@eval_app.command("cancel")
def cancel(
    run_id: Annotated[str, typer.Argument(help="A queued or running run's id, or `latest`.")],
    as_json: JsonOpt = False,
) -> None:
    """Cancel a queued or running run: it stops, its rows so far are kept (audited
    eval_run.cancel)."""
    cancel_run(
        lambda container: container.evaluation.benchmark.cancel(CLI_ADMIN, run_id),
        noun="evaluation run",
        as_json=as_json,
        to_json=lambda record: RunSummaryOut.of(record).model_dump(mode="json"),
    )


@eval_app.command("delete")
def delete(
    run_id: Annotated[str, typer.Argument(help="A finished run's id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a finished run and its rows; a queued or running one must be cancelled first
    (audited eval_run.delete)."""
    delete_run(
        lambda container: container.evaluation.benchmark.delete(CLI_ADMIN, run_id),
        noun="evaluation run",
        run_id=run_id,
        contents="rows",
        yes=yes,
    )


@eval_app.command("compare")
def compare_runs(
    run_a: Annotated[str, typer.Argument(help="The baseline run.")],
    run_b: Annotated[str, typer.Argument(help="The candidate run.")],
    fail_on: Annotated[
        str | None,
        typer.Option(help='Exit 1 when a change breaks a rule, e.g. "correct<-0.02,ndcg@5<-0.02".'),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Metric deltas from run A to run B; with --fail-on, exit 1 on a regression."""

    def body() -> tuple[Any, ...]:
        with open_container() as container:
            report = asyncio.run(
                container.evaluation.compare_runs.execute(CLI_ADMIN, run_a, run_b, fail_on)
            )
        if as_json:
            output.print_json(report.as_dict())
        else:
            _print_comparison(report.comparison, report.violations, report.unchecked)
        return report.violations

    if run_command(body):
        raise typer.Exit(1)


def _print_comparison(comparison: Any, broken: Sequence[Any], skipped: Sequence[Any]) -> None:
    for warning in comparison.warnings:
        err.print(f"[yellow]Warning:[/] {escape(warning)}", highlight=False)
    for model in comparison.models:
        table = Table("metric", "A", "B", "delta", title=escape(model.model))
        for name, delta in model.metrics.items():
            change = delta.delta
            table.add_row(
                name,
                _num(delta.a, 4),
                _num(delta.b, 4),
                "-" if change is None else f"{change:+.4f}",
            )
        console.print(table)
    for item in skipped:
        console.print(f"unchecked: {escape(item.model)} {item.rule}: {escape(item.reason)}")
    for violation in broken:
        console.print(f"[red]✗ {escape(str(violation))}[/]", highlight=False)
    if not broken:
        console.print("[green]No rule violated.[/]")
