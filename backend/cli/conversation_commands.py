"""CLI: the `almanac conversations` group (its commands register themselves on it)."""

from __future__ import annotations

import typer

conversations_app = typer.Typer(
    help="Conversations: import, list, show, summarise and search your chats, and draft projects.",
    no_args_is_help=True,
)
