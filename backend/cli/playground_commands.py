"""CLI: `almanac prompts try TYPE`, the prompt playground from the terminal.

One question, one prompt (a stored version, the prompt in force, or a template file), one or
more models, answered side by side exactly as `POST /api/playground/run` does; nothing is
stored. It acts as the local admin (`CLI_ADMIN`), like the other prompt commands.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from backend.api.playground_schemas import PlaygroundOut
from backend.cli import output
from backend.cli.common import JsonOpt, console, open_container, run_command
from use_cases.access.domain import CLI_ADMIN
from use_cases.evaluation.playground import PlaygroundPrompt, PlaygroundRequest, PlaygroundResult
from use_cases.shared.errors import InvalidRequest


def prompts_try(
    prompt_type: Annotated[str, typer.Argument(help="The prompt type: chat.", metavar="TYPE")],
    question: Annotated[
        str, typer.Option("--question", "-q", help="The question every model answers.")
    ],
    version: Annotated[
        int | None,
        typer.Option(min=1, help="A stored version (a draft or not); default: the one in force."),
    ] = None,
    template: Annotated[
        Path | None,
        typer.Option("--template-file", help="An unsaved prompt text (UTF-8) to try instead."),
    ] = None,
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="A template variable, NAME=VALUE (repeat for more)."),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="A model to run (repeat for more); default: chat's."),
    ] = None,
    search: Annotated[
        bool | None,
        typer.Option(
            "--search/--no-search", help="Force or forbid the knowledge-base search, as in chat."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Try a prompt on one question with one or more models, side by side (nothing stored)."""

    def body() -> None:
        request = PlaygroundRequest(
            prompt=PlaygroundPrompt(prompt_type, version, _read(template)),
            question=question,
            variables=_variables(var or []),
            models=model or [],
            search_override=search,
        )
        with open_container(with_sample=True) as container:
            result = asyncio.run(container.evaluation.playground.run(CLI_ADMIN, request))
        if as_json:
            output.print_json(PlaygroundOut.of(result).model_dump(mode="json"))
        else:
            _print(result)
        if all(row.error for row in result.results):
            raise typer.Exit(1)

    run_command(body)


def _read(template: Path | None) -> str | None:
    if template is None:
        return None
    try:
        return template.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"{template} cannot be read as UTF-8 text: {exc}.") from None


def _variables(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidRequest(f"--var {pair!r}: write it as NAME=VALUE.")
        values[name.strip()] = value
    return values


def _print(result: PlaygroundResult) -> None:
    """One block per model: a header line with its figures, then its answer (or error)."""
    label = f"version {result.version}" if result.version is not None else result.source
    filled = ", ".join(f"{k}={v}" for k, v in result.variables.items()) or "no variables"
    console.print(f"The {result.prompt_type} prompt ({label}; {filled})", highlight=False)
    for row in result.results:
        cost = "cost unknown" if row.cost_usd is None else f"${row.cost_usd:.6f}"
        tokens = (
            "tokens unknown"
            if row.input_tokens is None
            else f"{row.input_tokens}/{row.output_tokens} tokens"
        )
        console.rule(
            output.plain(f"{row.model} · {row.latency_ms} ms · {tokens} · {cost}"),
            align="left",
        )
        if row.error:
            console.print(output.plain(f"Error: {row.error}"), style="red")
        else:
            console.print(output.plain(row.output or ""))
