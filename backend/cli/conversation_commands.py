"""CLI: `almanac conversations`, conversations had elsewhere as Almanac chats. This module
holds the group and `import`; the other commands of the group register themselves from
their own modules."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from backend.cli import output
from backend.cli.common import JsonOpt, console, open_container, run_command
from use_cases.conversations.import_domain import ImportOutcome

conversations_app = typer.Typer(
    help="Conversations: import (ChatGPT, Claude, Grok, exports), list, show, summarise and "
    "search your chats, and draft projects.",
    no_args_is_help=True,
)

UserOpt = Annotated[
    str | None,
    typer.Option(
        "--user", help="Whose chats get them. Default: DEFAULT_USER_ID.", show_default=False
    ),
]


@conversations_app.command("import")
def import_conversations(
    source: Annotated[
        str,
        typer.Argument(
            help="A share link (https://chatgpt.com/share/..., claude.ai, grok.com) or an "
            "export file (conversations.json or the export's ZIP)."
        ),
    ],
    user: UserOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a shared conversation, or every conversation of an export file, as chats (a
    conversation imported before is found again, not duplicated)."""
    path = Path(source)
    is_file = "://" not in source and path.is_file()

    def body() -> dict[str, Any]:
        with open_container() as container:
            importer = container.conversation_import
            who = user or container.settings.auth.default_user_id
            if is_file:
                return importer.from_file.run_now(
                    who, path.name, path.read_bytes(), lambda done, total: None
                )
            return _outcome(asyncio.run(importer.from_url.execute(who, source)))

    result = run_command(body)
    if as_json:
        output.print_json(result)
    elif is_file:
        console.print(
            f"{result['conversations_total']} conversations: {result['imported']} imported, "
            f"{result['skipped_duplicates']} already imported "
            f"({result['messages_imported']} messages).",
            highlight=False,
        )
    else:
        verb = "Imported" if result["created"] else "Already imported"
        chat = result["chat"]
        console.print(
            f"{verb}: chat {chat['id']} — {escape(chat['title'])} "
            f"({chat['source']}, {result['messages']} messages)",
            highlight=False,
        )


def _outcome(outcome: ImportOutcome) -> dict[str, Any]:
    chat = outcome.chat
    return {
        "created": outcome.created,
        "messages": outcome.messages,
        "chat": {
            "id": chat.id,
            "title": chat.title,
            "source": chat.source,
            "source_url": chat.source_url,
            "created_at": chat.created_at.isoformat(),
        },
    }
