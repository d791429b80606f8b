"""CLI: the `almanac conversations` group (its commands register themselves on it)."""

from __future__ import annotations

import typer

conversations_app = typer.Typer(
    help="Conversations: imported chats, their summaries, search and project drafts.",
    no_args_is_help=True,
)
