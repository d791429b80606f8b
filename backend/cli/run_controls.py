"""The `cancel` and `delete` command bodies shared by `almanac eval` and `almanac clean`: each
command keeps its own name, arguments and help, and names its kind of run (`noun`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import typer

from backend.bootstrap import Container
from backend.cli import output
from backend.cli.common import console, open_container, run_command
from use_cases.jobs.background import StoredRun

R = TypeVar("R", bound=StoredRun)


def cancel_run(
    cancel: Callable[[Container], Coroutine[Any, Any, R]],
    *,
    noun: str,
    as_json: bool,
    to_json: Callable[[R], Any],
) -> None:
    """Cancel a run as `cancel` does; print the cancelled run (`to_json` with `--json`)."""

    def body() -> None:
        with open_container() as container:
            run = asyncio.run(cancel(container))
        if as_json:
            output.print_json(to_json(run))
        else:
            console.print(f"Cancelled {noun} {run.run_id}.", highlight=False)

    run_command(body)


def delete_run(
    delete: Callable[[Container], Coroutine[Any, Any, None]],
    *,
    noun: str,
    run_id: str,
    contents: str,
    yes: bool,
) -> None:
    """Delete a run as `delete` does, after asking unless `yes` (`contents`: what goes with
    it, e.g. "rows"); no answer is exit code 1."""

    def body() -> None:
        if not yes and not typer.confirm(f"Delete {noun} {run_id} and its {contents}?"):
            raise typer.Exit(1)
        with open_container() as container:
            asyncio.run(delete(container))
        console.print(f"Deleted {noun} {run_id}.", highlight=False)

    run_command(body)
