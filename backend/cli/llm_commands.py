"""CLI: `almanac prompts show|set|history|activate|reset TYPE` and `almanac models defaults`
(`almanac prompts try`, the playground, is in `backend/cli/playground_commands.py`).

Like the other admin commands, these act as the local admin (`CLI_ADMIN`) and every change is
audited with actor `cli`. `almanac prompts show TYPE` prints the prompt text alone on stdout
(what it is goes to stderr), so `almanac prompts show chat > prompt.md`, an edit, and
`almanac prompts set chat --file prompt.md` make a new version.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from backend.api.llm_schemas import ModelDefaultOut, PromptOut, PromptVersionsOut
from backend.cli import output
from backend.cli.common import JsonOpt, console, err, open_container, run_command
from backend.cli.playground_commands import prompts_try
from use_cases.access.domain import CLI_ADMIN
from use_cases.prompts.domain import EffectivePrompt
from use_cases.prompts.manage_prompts import PromptWrite
from use_cases.shared.errors import InvalidRequest

prompts_app = typer.Typer(
    help="Show and change the system prompts (numbered versions per prompt type).",
    no_args_is_help=True,
)
models_app = typer.Typer(help="The default model of each prompt type.", no_args_is_help=True)
prompts_app.command("try")(prompts_try)

TypeArg = Annotated[str, typer.Argument(help="The prompt type: chat.", metavar="TYPE")]


def _describe(prompt: EffectivePrompt) -> str:
    if prompt.version is None:
        origin = "the SYSTEM_PROMPT setting" if prompt.source == "setting" else "built in"
        revision = f", revision {prompt.revision}" if prompt.revision else ""
        return f"The {prompt.prompt_type} prompt in force is the default ({origin}{revision})."
    when = prompt.created_at.isoformat(timespec="seconds") if prompt.created_at else "?"
    return (
        f"The {prompt.prompt_type} prompt in force is version {prompt.version}, "
        f"by {prompt.author}, {when}."
    )


def _note(message: str) -> None:
    err.print(message, highlight=False, markup=False, soft_wrap=True)


@prompts_app.command("show")
def prompts_show(
    prompt_type: TypeArg,
    default: Annotated[
        bool, typer.Option("--default", help="The type's default instead of the prompt in force.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Print the system prompt in force (its text alone on stdout)."""

    def body() -> None:
        with open_container() as container:
            read = container.prompts.prompts.default if default else container.prompts.prompts.show
            prompt = asyncio.run(read(CLI_ADMIN, prompt_type))
        if as_json:
            output.print_json(PromptOut.of(prompt).model_dump(mode="json"))
            return
        if default:
            _note(f"The default {prompt.prompt_type} prompt ({prompt.source}):")
        else:
            _note(_describe(prompt))
        typer.echo(prompt.text)

    run_command(body)


def _read_text(file: Path | None) -> str:
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidRequest(f"{file}: no such file.") from None
        except UnicodeDecodeError:
            raise InvalidRequest(f"{file} is not UTF-8 text.") from None
        except OSError as exc:
            raise InvalidRequest(f"{file} cannot be read: {exc.strerror}.") from None
    if sys.stdin.isatty():
        raise InvalidRequest("Pass the new prompt with --file PATH, or pipe it on stdin.")
    return sys.stdin.read()


def _print_write(write: PromptWrite, as_json: bool, done: str, unchanged: str) -> None:
    if as_json:
        output.print_json(PromptOut.of(write.prompt).model_dump(mode="json"))
    else:
        console.print(done if write.changed else unchanged, highlight=False, markup=False)


@prompts_app.command("set")
def prompts_set(
    prompt_type: TypeArg,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Read the prompt from this file (UTF-8); default: stdin."),
    ] = None,
    draft: Annotated[
        bool,
        typer.Option(
            "--draft",
            help="Store a draft: the next version, not in force (needed for a template whose "
            "{{variables}} are not all built in).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Store a new version of the system prompt and make it active (or a --draft)."""

    def body() -> None:
        text = _read_text(file)
        with open_container() as container:
            write = asyncio.run(
                container.prompts.prompts.create(CLI_ADMIN, prompt_type, text, activate=not draft)
            )
        version = write.prompt.version
        state = "a draft, not in force" if draft else "it is in force now"
        _print_write(
            write,
            as_json,
            f"Created version {version} of the {prompt_type} prompt; {state}.",
            f"Unchanged: version {version} of the {prompt_type} prompt has this text already.",
        )

    run_command(body)


@prompts_app.command("history")
def prompts_history(
    prompt_type: TypeArg,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Versions to show.")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="Skip the newest N.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """The stored versions of the system prompt, newest first (* = in force)."""

    def body() -> None:
        with open_container() as container:
            page = asyncio.run(
                container.prompts.prompts.versions(
                    CLI_ADMIN, prompt_type, limit=limit, offset=offset
                )
            )
        if as_json:
            output.print_json(PromptVersionsOut.of(prompt_type, page).model_dump(mode="json"))
            return
        table = Table(box=box.SIMPLE_HEAD, show_edge=False)
        for column in ("", "version", "created", "author", "chars", "variables"):
            table.add_column(column, no_wrap=True)
        table.add_column("first line", overflow="ellipsis", no_wrap=True, max_width=40)
        for version in page.versions:
            table.add_row(
                "*" if version.version == page.active else "",
                str(version.version),
                version.created_at.isoformat(timespec="seconds"),
                output.plain(version.author),
                f"{len(version.text):,}",
                output.plain(", ".join(version.variables)),
                output.plain(version.text.splitlines()[0] if version.text else ""),
            )
        if page.versions:
            console.print(table)
        in_force = f"version {page.active}" if page.active is not None else "the default"
        console.print(
            f"{len(page.versions)} of {page.total} versions; in force: {in_force}", highlight=False
        )

    run_command(body)


@prompts_app.command("activate")
def prompts_activate(
    prompt_type: TypeArg,
    version: Annotated[int, typer.Argument(min=1, help="The version number.")],
    as_json: JsonOpt = False,
) -> None:
    """Put a stored version of the system prompt in force."""

    def body() -> None:
        with open_container() as container:
            write = asyncio.run(container.prompts.prompts.activate(CLI_ADMIN, prompt_type, version))
        _print_write(
            write,
            as_json,
            f"Version {version} of the {prompt_type} prompt is in force now.",
            f"Version {version} of the {prompt_type} prompt was in force already.",
        )

    run_command(body)


@prompts_app.command("reset")
def prompts_reset(prompt_type: TypeArg, as_json: JsonOpt = False) -> None:
    """Put the default system prompt back in force (the versions are kept)."""

    def body() -> None:
        with open_container() as container:
            write = asyncio.run(container.prompts.prompts.reset(CLI_ADMIN, prompt_type))
        _print_write(
            write,
            as_json,
            f"The default {prompt_type} prompt is in force again; the versions are kept.",
            f"The default {prompt_type} prompt was in force already.",
        )

    run_command(body)


@models_app.command("defaults")
def models_defaults(
    set_: Annotated[
        tuple[str, str] | None,
        typer.Option("--set", metavar="TYPE MODEL", help="Make MODEL the default of TYPE."),
    ] = None,
    clear: Annotated[
        str | None,
        typer.Option(
            "--clear",
            metavar="TYPE",
            help="Remove TYPE's default (then DEFAULT_MODEL or the built-in default applies).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the default model of each prompt type; --set or --clear one first."""
    if set_ is not None and clear is not None:
        raise typer.BadParameter("Use --set or --clear, not both.")

    def body() -> None:
        with open_container() as container:
            manage = container.prompts.model_defaults
            if set_ is not None:
                asyncio.run(manage.set(CLI_ADMIN, set_[0], set_[1]))
            elif clear is not None:
                asyncio.run(manage.set(CLI_ADMIN, clear, None))
            shown = [asyncio.run(manage.show(CLI_ADMIN, name)) for name in manage.types]
            allowed = manage.allowed
        if as_json:
            output.print_json([ModelDefaultOut.of(item).model_dump(mode="json") for item in shown])
            return
        table = Table(box=box.SIMPLE_HEAD, show_edge=False)
        for column in ("type", "setting", "in force", "from"):
            table.add_column(column, overflow="fold")
        for item in shown:
            setting = item.stored.model if item.stored else "-"
            table.add_row(
                item.prompt_type,
                output.plain(setting + (" (no longer allowed)" if item.stale else "")),
                output.plain(item.model),
                item.source,
            )
        console.print(table)
        console.print(f"Allowed models: {', '.join(allowed)}", highlight=False, markup=False)

    run_command(body)
