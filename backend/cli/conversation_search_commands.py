"""CLI: `almanac conversations list|show|summary|search` (summaries and search across chats)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from backend.api.chat_schemas import ChatSummaryOut, MessageOut
from backend.api.conversation_search_schemas import ChatSearchOut, SummaryOut
from backend.cli import output
from backend.cli.chat_commands import UserOpt, print_chats, whole_chat
from backend.cli.common import JsonOpt, console, open_container, run_command
from backend.cli.conversation_commands import conversations_app
from use_cases.conversations.search import MAX_CHAT_SEARCH_LIMIT, ChatSearchRequest
from use_cases.conversations.search_ports import ConversationSummary
from use_cases.shared.errors import NotFound


def _print_summary(summary: ConversationSummary) -> None:
    flags = [summary.model] + (["edited"] if summary.edited else [])
    flags += ["stale"] if summary.stale else []
    console.print(output.ChatMarkdown(summary.text))
    console.print(
        f"[dim]{escape(' · '.join(flags))} · {summary.message_count} messages · "
        f"{summary.updated_at.isoformat(timespec='seconds')}[/]",
        highlight=False,
    )


@conversations_app.command("list")
def conversations_list(
    user: UserOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Chats to show (1 to 500).")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Your conversations (chats), most recently active first."""

    def body() -> None:
        with open_container() as container:
            who = user or container.settings.auth.default_user_id
            chats = asyncio.run(container.chat.chats.list(who, limit=limit))
        print_chats(chats, as_json)

    run_command(body)


@conversations_app.command("show")
def conversations_show(chat_id: str, user: UserOpt = None, as_json: JsonOpt = False) -> None:
    """A conversation: its summary (if made) and its messages."""

    def body() -> None:
        with open_container() as container:
            who = user or container.settings.auth.default_user_id
            chat, messages = asyncio.run(whole_chat(container, who, chat_id))
            try:
                summary = asyncio.run(
                    container.conversation_search.conversation_summaries.get(who, chat_id)
                )
            except NotFound:
                summary = None
        if as_json:
            output.print_json(
                {
                    "chat": ChatSummaryOut.of(chat).model_dump(mode="json"),
                    "summary": SummaryOut.of(summary).model_dump(mode="json") if summary else None,
                    "messages": [MessageOut.of(m).model_dump(mode="json") for m in messages],
                }
            )
            return
        console.print(f"[bold]{escape(chat.title)}[/]", highlight=False)
        if summary is not None:
            console.print("\n[bold]Summary:[/]")
            _print_summary(summary)
        for message in messages:
            status = "" if message.status == "complete" else f" [{message.status}]"
            console.print(f"\n[bold]{message.role}{status}:[/]", highlight=False)
            console.print(output.ChatMarkdown(message.content or "(no text)"))

    run_command(body)


@conversations_app.command("summary")
def conversations_summary(
    chat_id: str,
    regenerate: Annotated[
        bool, typer.Option("--regenerate", help="Make the summary again (or for the first time).")
    ] = False,
    set_text: Annotated[
        str | None, typer.Option("--set", help="Replace the summary's text (marks it edited).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="With --regenerate: one of ALLOWED_MODELS.")
    ] = None,
    user: UserOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a conversation's summary; --regenerate makes it, --set replaces its text."""
    if regenerate and set_text is not None:
        raise typer.BadParameter("Use --regenerate or --set, not both.")

    def body() -> ConversationSummary:
        with open_container() as container:
            who = user or container.settings.auth.default_user_id
            summaries = container.conversation_search.conversation_summaries
            if set_text is not None:
                return asyncio.run(summaries.edit(who, chat_id, set_text))
            if regenerate:
                return asyncio.run(summaries.regenerate(who, chat_id, model))
            return asyncio.run(summaries.get(who, chat_id))

    summary = run_command(body)
    if as_json:
        output.print_json(SummaryOut.of(summary).model_dump(mode="json"))
    else:
        _print_summary(summary)


@conversations_app.command("search")
def conversations_search(
    query: Annotated[str, typer.Argument(help="Words or a paraphrase of what was said.")],
    limit: Annotated[
        int,
        typer.Option(
            min=1, max=MAX_CHAT_SEARCH_LIMIT, help=f"Hits (1 to {MAX_CHAT_SEARCH_LIMIT})."
        ),
    ] = 10,
    user: UserOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search your conversations' titles, summaries and messages (BM25 + vectors)."""

    def body() -> ChatSearchOut:
        with open_container() as container:
            who = user or container.settings.auth.default_user_id
            page = asyncio.run(
                container.conversation_search.search_chats.execute(
                    ChatSearchRequest(who, query, limit=limit)
                )
            )
        return ChatSearchOut.of(page)

    found = run_command(body)
    if as_json:
        output.print_json(found.model_dump(mode="json"))
        return
    if not found.hits:
        console.print("No conversation matches.")
        return
    table = Table("chat", "title", "matched", "snippet")
    for hit in found.hits:
        table.add_row(hit.chat_id, output.plain(hit.title), hit.matched, output.plain(hit.snippet))
    console.print(table)
