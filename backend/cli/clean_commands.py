"""CLI: `almanac clean tables | tasks | run | results | report | cancel | delete`: the
data-cleaning benchmark
of docs/cleaning.md. `clean run` executes in this process and stores the run like the server
does, so `clean results`, `GET /api/results/{run_id}` and the metrics endpoints read it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from backend.api.cleaning_schemas import CleaningRunOut
from backend.cli import output
from backend.cli.common import JsonOpt, console, err, open_container, run_command
from backend.cli.run_controls import cancel_run, delete_run
from use_cases.access.domain import CLI_ADMIN
from use_cases.cleaning.runs import CleaningRunRequest
from use_cases.cleaning.tasks import TaskSelection
from use_cases.shared.errors import InvalidRequest

clean_app = typer.Typer(help="Data-cleaning benchmarks (docs/cleaning.md).", no_args_is_help=True)

Names = Annotated[list[str] | None, typer.Option(help="Repeat for several; default: all.")]


@clean_app.command("tables")
def tables(as_json: JsonOpt = False) -> None:
    """The clean tables tasks are built from, with their source and licence."""

    def body() -> None:
        with open_container() as container:
            found = asyncio.run(container.cleaning.cleaning_tasks.list_tables(CLI_ADMIN))
        if as_json:
            output.print_json(found)
            return
        table = Table("name", "rows", "columns", "key", "licence", "source")
        for t in found:
            table.add_row(
                t["name"], str(t["rows"]), str(len(t["columns"])), t["key"] or "-",
                escape(t["licence"]), escape(t["source"]),
            )  # fmt: skip
        console.print(table)

    run_command(body)


@clean_app.command("tasks")
def tasks(
    table: Names = None,
    dimension: Names = None,
    difficulty: Names = None,
    seed: Annotated[int, typer.Option(help="Seed of the error injector.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """The tasks of a seed: table x dimension x difficulty, with their injected errors."""

    def body() -> None:
        selection = TaskSelection(table or (), dimension or (), difficulty or (), seed)
        with open_container() as container:
            found = asyncio.run(container.cleaning.cleaning_tasks.list(CLI_ADMIN, selection))
        if as_json:
            output.print_json(found)
            return
        listing = Table("task", "rows", "columns", "errors")
        for t in found:
            listing.add_row(t["task_id"], str(t["rows"]), str(t["columns"]), str(t["errors"]))
        console.print(listing)

    run_command(body)


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_summary(export: Mapping[str, Any]) -> None:
    progress = export["progress"]
    console.print(
        f"[bold]Cleaning run {export['run_id']}[/] {export['status']}: "
        f"{progress['done']}/{progress['total']} results, {progress['failed']} failed, "
        f"seed {export['settings'].get('seed')}",
        highlight=False,
    )
    for model, block in export["aggregates"].items():
        table = Table(
            "dimension", "tasks", "precision", "recall", "F1", "corruption", "drift",
            "dirty drift", title=escape(model),
        )  # fmt: skip
        for name, figures in [*block["by_dimension"].items(), ("all", block["overall"])]:
            table.add_row(
                name,
                str(figures["tasks"]),
                _num(figures["precision"]),
                _num(figures["recall"]),
                _num(figures["f1"]),
                _num(figures["corruption_rate"], 4),
                _num(figures["drift_score"], 4),
                _num(figures["drift_dirty"], 4),
            )
        console.print(table)
        robust = block["robustness"]
        console.print(
            f"F1 by difficulty: {robust['f1_by_difficulty']}; hard/easy {_num(robust['ratio'])}; "
            f"valid results {block['reliability']['valid']}/{block['reliability']['tasks']}",
            highlight=False,
        )


@clean_app.command("run")
def run(
    model: Annotated[
        list[str] | None, typer.Option("--model", help="A cleaner (default: offline-rules).")
    ] = None,
    table: Names = None,
    dimension: Names = None,
    difficulty: Names = None,
    seed: Annotated[int, typer.Option(help="Seed of the error injector.")] = 0,
    repeats: Annotated[int, typer.Option(help="Times each task is cleaned (1-5).")] = 1,
    concurrency: Annotated[int | None, typer.Option(help="Tasks at once (1-32).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the cleaning benchmark here and print the metrics per dimension."""

    def body() -> None:
        request = CleaningRunRequest(
            models=tuple(model or ()),
            tables=tuple(table or ()),
            dimensions=tuple(dimension or ()),
            difficulties=tuple(difficulty or ()),
            seed=seed,
            repeats=repeats,
            concurrency=concurrency,
        )

        async def go(container: Any) -> dict[str, Any]:
            started = await container.cleaning.cleaning_runs.start(CLI_ADMIN, request)
            await container.cleaning.cleaning_runs.execute(started.run_id)
            return await container.cleaning.cleaning_runs.export(CLI_ADMIN, started.run_id)

        with open_container() as container:
            export = asyncio.run(go(container))
        if as_json:
            output.print_json(export)
        else:
            print_summary(export)

    run_command(body)


@clean_app.command("results")
def results(
    run_id: Annotated[str, typer.Argument(help="A cleaning run id, or `latest`.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a stored cleaning run (--json: the whole export)."""

    def body() -> None:
        with open_container() as container:
            export = asyncio.run(container.cleaning.cleaning_runs.export(CLI_ADMIN, run_id))
        if as_json:
            output.print_json(export)
        else:
            print_summary(export)

    run_command(body)


@clean_app.command("report")
def report(
    run_id: Annotated[str, typer.Argument(help="A cleaning run id, or `latest`.")],
    html: Annotated[Path, typer.Option("--html", help="Write the HTML report to this file.")],
) -> None:
    """Write a cleaning run's self-contained HTML report (per-dimension charts inline)."""

    def body() -> None:
        with open_container() as container:
            page = asyncio.run(container.cleaning.cleaning_report.execute(CLI_ADMIN, run_id))
        try:
            html.write_text(page, encoding="utf-8")
        except OSError as exc:
            raise InvalidRequest(f"Cannot write the report to {html}: {exc.strerror}.") from None
        err.print(f"Report written to {escape(str(html))} ({len(page) // 1024:,} KiB).")

    run_command(body)


@clean_app.command("cancel")
def cancel(
    run_id: Annotated[str, typer.Argument(help="A queued or running run's id, or `latest`.")],
    as_json: JsonOpt = False,
) -> None:
    """Cancel a queued or running cleaning run: it stops, its results so far are kept
    (audited cleaning_run.cancel)."""
    cancel_run(
        lambda container: container.cleaning.cleaning_runs.cancel(CLI_ADMIN, run_id),
        noun="cleaning run",
        as_json=as_json,
        to_json=lambda run: CleaningRunOut.of(run).model_dump(mode="json"),
    )


@clean_app.command("delete")
def delete(
    run_id: Annotated[str, typer.Argument(help="A finished cleaning run's id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a finished cleaning run and its results; a queued or running one must be
    cancelled first (audited cleaning_run.delete)."""
    delete_run(
        lambda container: container.cleaning.cleaning_runs.delete(CLI_ADMIN, run_id),
        noun="cleaning run",
        run_id=run_id,
        contents="results",
        yes=yes,
    )
