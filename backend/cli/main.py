"""The `almanac` command: serve the API, ingest and manage documents, search, benchmark.

Every command is an entry of `COMMANDS` (`backend/cli/registry.py`): its module is imported
when it runs, so `almanac --help` answers at once and each command loads only what it needs.
A new command (or group) is one entry here, in the order `almanac --help` lists it, and a
module of its own under `backend/cli/` (docs/extending.md, "A CLI command").
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from backend.cli.common import VersionOpt, start_run
from backend.cli.registry import CommandEntry, lazy_group

_CLI = "backend.cli"

COMMANDS: tuple[CommandEntry, ...] = (
    CommandEntry(
        "ask",
        f"{_CLI}.chat_commands:ask",
        "Ask one question; print the cited answer and its sources.",
    ),
    CommandEntry(
        "chat",
        f"{_CLI}.chat_commands:chat",
        "An interactive session with history (empty line or Ctrl-D to leave).",
    ),
    CommandEntry(
        "sql",
        f"{_CLI}.chat_commands:sql",
        "Run one SELECT in the read-only sandbox the agent uses.",
    ),
    CommandEntry(
        "audit",
        f"{_CLI}.admin_commands:audit",
        "The audit log of admin actions, newest first.",
    ),
    CommandEntry(
        "feedback",
        f"{_CLI}.calibration_commands:feedback",
        "Say whether an answer was right; a second verdict replaces the first, and --withdraw "
        "takes it back.",
    ),
    CommandEntry(
        "advise",
        f"{_CLI}.advice_commands:advise",
        "Ask for structured advice: the advice, its confidence, reasoning, alternatives and "
        "sources.",
    ),
    CommandEntry(
        "worker",
        f"{_CLI}.worker_commands:worker",
        "Run background jobs (uploads, evaluation runs, ...) queued by the API replicas; no HTTP.",
    ),
    CommandEntry(
        "mcp",
        f"{_CLI}.mcp_commands:mcp",
        "Serve Almanac's MCP tools and documents over stdio (for Claude Desktop, Cursor, ...).",
    ),
    CommandEntry(
        "serve",
        f"{_CLI}.serve_commands:serve",
        "Serve the HTTP API (ingests the bundled sample knowledge base on first start, or, "
        "with --knowledge PATH, your own folder instead).",
    ),
    CommandEntry(
        "ingest",
        f"{_CLI}.knowledge_commands:ingest",
        "Ingest files of the types Almanac reads (docs/guide.md#file-types); unchanged files "
        "are skipped. The documents are searchable once their chunks are embedded and stored; "
        "the offline answerer's sentences are prepared after that (answer-ready).",
    ),
    CommandEntry(
        "formats",
        f"{_CLI}.formats_commands:formats",
        "List the file types Almanac reads (docs/guide.md#file-types), plugins' included.",
    ),
    CommandEntry(
        "search",
        f"{_CLI}.search_commands:search",
        "Hybrid search of the knowledge base.",
    ),
    CommandEntry(
        "reindex",
        f"{_CLI}.knowledge_commands:reindex",
        "Re-embed every chunk with the configured embedder (after changing the model).",
    ),
    CommandEntry(
        "docs",
        f"{_CLI}.knowledge_commands:docs_app",
        "List, show and remove knowledge-base documents.",
    ),
    CommandEntry("chats", f"{_CLI}.chat_commands:chats_app", "List, show and delete chats."),
    CommandEntry(
        "tables", f"{_CLI}.chat_commands:tables_app", "Load and list the structured tables."
    ),
    CommandEntry(
        "model", f"{_CLI}.knowledge_commands:model_app", "Manage the local embedding model."
    ),
    CommandEntry("bench", f"{_CLI}.knowledge_commands:bench_app", "Benchmarks."),
    CommandEntry(
        "eval",
        f"{_CLI}.eval_group:eval_app",
        "Evaluate the answers.",
        extends=(f"{_CLI}.eval_commands", f"{_CLI}.eval_run_commands"),
    ),
    CommandEntry(
        "keys",
        f"{_CLI}.admin_commands:keys_app",
        "Create, list and revoke API keys (used when AUTH_ENABLED=true).",
    ),
    CommandEntry(
        "prompts",
        f"{_CLI}.llm_commands:prompts_app",
        "Show and change the system prompts (numbered versions per prompt type).",
        extends=(f"{_CLI}.library_commands",),
    ),
    CommandEntry(
        "projects", f"{_CLI}.library_commands:projects_app", "Projects of the prompt library."
    ),
    CommandEntry(
        "use-cases", f"{_CLI}.library_commands:use_cases_app", "Use cases of the prompt library."
    ),
    CommandEntry(
        "models", f"{_CLI}.llm_commands:models_app", "The default model of each prompt type."
    ),
    CommandEntry(
        "calibration",
        f"{_CLI}.calibration_commands:calibration_app",
        "How honest the confidence is: statistics, diagram, phrase tuning, recalibration.",
    ),
    CommandEntry(
        "db",
        f"{_CLI}.db_commands:db_app",
        "The storage backend: schema migrations, checks, moving SQLite to PostgreSQL.",
    ),
    CommandEntry(
        "sources",
        f"{_CLI}.sources_commands:sources_app",
        "Synced sources: folders, S3 buckets and websites kept in sync with the knowledge base.",
    ),
    CommandEntry(
        "collections",
        f"{_CLI}.collection_commands:collections_app",
        "Collections: each team's documents, read by the users and groups granted them.",
    ),
    CommandEntry(
        "clean", f"{_CLI}.clean_commands:clean_app", "Data-cleaning benchmarks (docs/cleaning.md)."
    ),
    CommandEntry(
        "conversations",
        f"{_CLI}.conversation_commands:conversations_app",
        "Conversations: import (ChatGPT, Claude, Grok, exports), list, show, summarise and "
        "search your chats, and draft projects.",
        extends=(f"{_CLI}.conversation_drafts_commands", f"{_CLI}.conversation_search_commands"),
    ),
)

app = typer.Typer(
    name="almanac",
    help="Almanac: grounded, cited answers over your own documents and tables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=lazy_group(COMMANDS),
)


@app.callback()
def _options(
    version: VersionOpt = False,
    knowledge: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            file_okay=False,
            help="Act on the knowledge base of this folder (the one `almanac serve --knowledge "
            "PATH` serves); also ALMANAC_KNOWLEDGE=PATH. Without either, the one served last "
            "from this directory. DATA_DIR, when set, always wins.",
        ),
    ] = None,
) -> None:
    """Options for every command."""
    start_run(None if knowledge is None else str(knowledge))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
