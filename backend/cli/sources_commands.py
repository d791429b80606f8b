"""CLI: `almanac sources add|list|sync|history|remove`: synced folders and S3 buckets
(docs/sources.md). The CLI acts as the local admin on the server's data directory.

`sync` runs the sync in this process (not as a job): it prints each item that changed to
stderr as it is decided, then exactly one line to stdout, `N added, N updated, N unchanged,
N removed, N failed`; it exits 1 when the listing failed (nothing was removed)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from backend.api.source_schemas import SourceOut, SyncRunOut
from backend.cli import output
from backend.cli.common import JsonOpt, console, err, open_container, run_command
from use_cases.access.domain import CLI_ADMIN
from use_cases.sources.domain import SourceView
from use_cases.sources.manage import AddSourceRequest
from use_cases.sources.sync import SyncRequest

sources_app = typer.Typer(
    help="Synced sources: folders, S3 buckets and websites kept in sync with the knowledge base.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="The source's name (its documents' key prefix).")]


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else ""


@sources_app.command("add")
def add(
    name: NameArg,
    folder: Annotated[str | None, typer.Option("--folder", help="A folder to sync.")] = None,
    s3: Annotated[
        str | None, typer.Option("--s3", help="s3://BUCKET/PREFIX (credentials: AWS_*).")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="A website to sync.")] = None,
    every: Annotated[
        str | None, typer.Option("--every", help="Sync on a schedule: 90s, 30m, 2h, 1d.")
    ] = None,
    collection: Annotated[
        str | None, typer.Option("--collection", help="The collection its documents join.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Declare a source. A scheduled one is synced by the server when it falls due (at once
    the first time); `almanac sources sync NAME` syncs it now."""

    def body() -> None:
        request = AddSourceRequest.of_options(
            name, folder=folder, s3=s3, url=url, every=every, collection=collection
        )
        with open_container() as container:
            view = asyncio.run(container.sources.sources.add(CLI_ADMIN, request))
        if as_json:
            output.print_json(SourceOut.of(view).model_dump(mode="json"))
            return
        console.print(
            f"Added source {view.spec.name} ({_described(view)}).",
            highlight=False,
            soft_wrap=True,
        )

    run_command(body)


@sources_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Every source, its documents, its last sync and when the next is due."""

    def body() -> None:
        with open_container() as container:
            views = asyncio.run(container.sources.sources.list_sources())
        if as_json:
            output.print_json([SourceOut.of(v).model_dump(mode="json") for v in views])
            return
        table = Table(box=box.SIMPLE_HEAD, show_edge=False)
        for column in ("name", "kind", "location", "every", "docs", "last sync", "next sync"):
            table.add_column(column, overflow="fold")
        for view in views:
            last = view.last_run
            table.add_row(
                view.spec.name,
                view.spec.kind,
                output.plain(view.spec.location),
                f"{view.spec.every_s}s" if view.spec.every_s else "",
                str(view.documents),
                f"{last.status} {_when(last.started_at)}: {last.counts.line()}" if last else "",
                _when(view.next_sync_at),
            )
        console.print(table)
        console.print(f"{len(views)} source{'s' if len(views) != 1 else ''}")

    run_command(body)


@sources_app.command("sync")
def sync(name: NameArg) -> None:
    """Sync a source now; ends with one line: N added, N updated, N unchanged, N removed,
    N failed."""

    def on_item(key: str, outcome: str) -> None:
        if outcome != "unchanged":
            err.print(f"  {outcome:<9} {key}", highlight=False, markup=False)

    def body() -> None:
        with open_container() as container:
            run = container.sources.sync.run(SyncRequest(name=name, on_item=on_item))
        for item in run.errors:
            err.print(f"failed: {item.key}: {item.reason}", highlight=False, markup=False)
        if run.error:
            err.print(
                f"The listing failed, so nothing was removed: {run.error}",
                highlight=False,
                markup=False,
            )
        typer.echo(run.counts.line())
        if run.status != "done":
            raise typer.Exit(1)

    run_command(body)


@sources_app.command("history")
def history(
    name: NameArg,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200)] = 10,
    as_json: JsonOpt = False,
) -> None:
    """The source's syncs, newest first."""

    def body() -> None:
        with open_container() as container:
            runs = asyncio.run(container.sources.sources.sync_history(name, limit))
        if as_json:
            output.print_json([SyncRunOut.of(r).model_dump(mode="json") for r in runs])
            return
        for run in runs:
            line = f"{_when(run.started_at)}  {run.status:<7} {run.trigger:<8} {run.counts.line()}"
            console.print(
                line + (f"  ({run.error})" if run.error else ""), highlight=False, soft_wrap=True
            )

    run_command(body)


@sources_app.command("remove")
def remove(
    name: NameArg,
    keep_documents: Annotated[
        bool, typer.Option("--keep-documents", help="Keep its documents in the knowledge base.")
    ] = False,
) -> None:
    """Remove a source and, unless --keep-documents, its documents."""

    def body() -> None:
        with open_container() as container:
            removed = asyncio.run(
                container.sources.sources.remove(CLI_ADMIN, name, keep_documents=keep_documents)
            )
        kept = " (its documents were kept)" if keep_documents else ""
        console.print(
            f"Removed source {name}{kept}; {removed} document{'s' if removed != 1 else ''} "
            "removed.",
            highlight=False,
            soft_wrap=True,
        )

    run_command(body)


def _described(view: SourceView) -> str:
    spec = view.spec
    every = f", every {spec.every_s} s" if spec.every_s else ", synced when asked"
    return f"{spec.kind} {spec.location}{every}"
