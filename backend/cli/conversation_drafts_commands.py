"""CLI: `almanac conversations draft ID`, a conversation's project draft: show it (drafting
it first when there is none), draft it again, change it in words, list its versions, make one
active, export one as Markdown or JSON."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

import typer
from rich.markup import escape

from backend.api.conversation_drafts_schemas import DraftVersionOut, ProjectDraftOut
from backend.bootstrap import Container
from backend.cli import output
from backend.cli.common import JsonOpt, console, open_container, run_command
from backend.cli.conversation_commands import conversations_app
from use_cases.conversations.draft_domain import DraftState, DraftVersion
from use_cases.conversations.draft_export import render_markdown
from use_cases.conversations.drafts import DraftRequest, DraftTurnRequest
from use_cases.shared.errors import NotFound


@conversations_app.command("draft")
def draft(
    chat_id: Annotated[str, typer.Argument(help="The conversation (chat) id.")],
    new: Annotated[
        bool, typer.Option("--new", help="Draft again from the conversation (a new version).")
    ] = False,
    say: Annotated[
        str | None,
        typer.Option(help='Change the draft in words ("add a goal: ..."); one version per change.'),
    ] = None,
    activate: Annotated[
        int | None, typer.Option(min=1, help="Make this version the active one.")
    ] = None,
    versions: Annotated[bool, typer.Option("--versions", help="List the versions.")] = False,
    export: Annotated[
        Literal["markdown", "json"] | None,
        typer.Option(help="Print the draft as a file: markdown or json."),
    ] = None,
    version: Annotated[
        int | None, typer.Option(min=1, help="The version to show or export (default: active).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="One of ALLOWED_MODELS.")] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Whose conversation. Default: DEFAULT_USER_ID.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A conversation's project draft (drafted first when it has none)."""

    def body() -> None:
        with open_container() as container:
            asyncio.run(_run(container, user or container.settings.auth.default_user_id))

    async def _run(container: Container, who: str) -> None:
        if new:
            await container.conversation_drafts.draft_project.execute(
                DraftRequest(who, chat_id, model=model)
            )
        else:
            try:
                await container.conversation_drafts.draft_versions.active(who, chat_id)
            except NotFound as missing:
                if "no project draft" not in missing.detail:
                    raise
                await container.conversation_drafts.draft_project.execute(
                    DraftRequest(who, chat_id, model=model)
                )
        if say is not None:
            turn = await container.conversation_drafts.update_draft.execute(
                DraftTurnRequest(who, chat_id, say, model=model)
            )
            console.print(escape(turn.reply), highlight=False)
        if activate is not None:
            await container.conversation_drafts.draft_versions.activate(who, chat_id, activate)
        if versions:
            page = await container.conversation_drafts.draft_versions.versions(
                who, chat_id, limit=500
            )
            _print_versions(page.versions, page.active_version, as_json)
            return
        if export is not None:
            exported = await container.conversation_drafts.draft_versions.export(
                who, chat_id, export, version
            )
            typer.echo(exported.text, nl=False)
            return
        if version is not None:
            shown = await container.conversation_drafts.draft_versions.version(
                who, chat_id, version
            )
            _print_version(shown, as_json)
            return
        _print_state(
            await container.conversation_drafts.draft_versions.active(who, chat_id), as_json
        )

    run_command(body)


def _print_state(state: DraftState, as_json: bool) -> None:
    if as_json:
        output.print_json(ProjectDraftOut.of(state).model_dump(mode="json"))
        return
    console.print(
        f"[dim]version {state.draft.active_version} of {state.draft.latest_version} (active)[/]",
        highlight=False,
    )
    console.print(output.ChatMarkdown(render_markdown(state.version)))


def _print_version(version: DraftVersion, as_json: bool) -> None:
    if as_json:
        output.print_json(DraftVersionOut.of(version).model_dump(mode="json"))
        return
    console.print(output.ChatMarkdown(render_markdown(version)))


def _print_versions(found: list[DraftVersion], active: int, as_json: bool) -> None:
    if as_json:
        output.print_json([DraftVersionOut.of(v).model_dump(mode="json") for v in found])
        return
    for v in found:
        mark = "*" if v.number == active else " "
        by = f"{v.author} ({v.model})" if v.model else v.author
        console.print(
            f"{mark} v{v.number}  {v.created_at:%Y-%m-%d %H:%M}  {by}: {v.note}",
            highlight=False,
            markup=False,
        )
