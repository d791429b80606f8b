"""The `almanac eval` command group. `eval_commands` adds `answers` to it and
`eval_run_commands` adds `run`, `show`, `compare` and `report`; it lives here so that neither
of those modules imports the other for it."""

from __future__ import annotations

import typer

eval_app = typer.Typer(help="Evaluate the answers.", no_args_is_help=True)
