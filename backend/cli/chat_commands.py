"""CLI: ask, chat, sql, chats and tables."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from backend.api.chat_schemas import ChatOut, ChatSummaryOut, MessageOut
from backend.bootstrap import Container
from backend.cli import output
from backend.cli.common import JsonOpt, console, err, open_container, run_command
from services.office.workbooks import WORKBOOK_EXTENSIONS
from use_cases.access.domain import CLI_ADMIN
from use_cases.admin.table_uploads import table_placement
from use_cases.chat.chat_turns import ChatRequest, ChatResult
from use_cases.chat.domain import Chat, Message
from use_cases.knowledge.domain import web_link
from use_cases.shared.errors import InvalidRequest
from use_cases.tables.tables import LoadTableRequest, LoadWorkbookRequest

chats_app = typer.Typer(help="List, show and delete chats.", no_args_is_help=True)
tables_app = typer.Typer(help="Load and list the structured tables.", no_args_is_help=True)

UserOpt = Annotated[
    str | None,
    typer.Option(
        "--user",
        help="Whose chats. Default: DEFAULT_USER_ID, the user of HTTP requests when "
        "AUTH_ENABLED=false.",
        show_default=False,
    ),
]


def _user(container: Container, user: str | None) -> str:
    return user or container.settings.auth.default_user_id


def _print_answer(result: ChatResult) -> None:
    console.print(output.ChatMarkdown(result.answer))
    for source in result.sources:  # a synced page's citation link, under the answer's list
        if source.cited and (link := web_link(source.link)):
            console.print(escape(f"[{source.number}] {link}"), highlight=False, soft_wrap=True)
    console.print(f"[dim]model {result.model} · chat {result.chat_id}[/]", highlight=False)
    if result.response_id is not None and result.confidence is not None:
        console.print(
            f"[dim]confidence {result.confidence_phrase} ({result.confidence:.2f}) · rate it: "
            f"almanac feedback {result.response_id} --outcome yes|no[/]",
            highlight=False,
        )


def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    model: Annotated[str | None, typer.Option(help="One of ALLOWED_MODELS.")] = None,
    chat_id: Annotated[str | None, typer.Option("--chat-id", help="Continue this chat.")] = None,
    user: UserOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask one question; print the cited answer and its sources."""

    def body() -> None:
        with open_container(with_sample=True) as container:
            request = ChatRequest(_user(container, user), question, chat_id, model)
            result = asyncio.run(container.chat.chat.execute(request))
        if as_json:
            output.print_json(ChatOut.of(result).model_dump(mode="json"))
        else:
            _print_answer(result)

    run_command(body)


def chat(
    chat_id: Annotated[str | None, typer.Option("--chat-id", help="Resume this chat.")] = None,
    model: Annotated[str | None, typer.Option(help="One of ALLOWED_MODELS.")] = None,
    user: UserOpt = None,
) -> None:
    """An interactive session with history (empty line or Ctrl-D to leave)."""

    def body() -> None:
        current = chat_id
        with open_container(with_sample=True) as container:
            who = _user(container, user)
            if current:
                asyncio.run(container.chat.chats.page(who, current, limit=1))  # a 404 if not
                console.print(f"Resuming chat {current}.")
            while True:
                try:
                    question = console.input("[bold green]you>[/] ").strip()
                except EOFError:
                    break
                if not question or question in ("exit", "quit", "/exit"):
                    break
                try:
                    result = asyncio.run(
                        container.chat.chat.execute(ChatRequest(who, question, current, model))
                    )
                except InvalidRequest as exc:
                    err.print(f"[red]{escape(exc.detail)}[/]", highlight=False)
                    continue
                current = result.chat_id
                _print_answer(result)
        if current:
            console.print(f"Chat saved: almanac chat --chat-id {current}", highlight=False)

    run_command(body)


def sql(
    query: Annotated[str, typer.Argument(help="One read-only SELECT statement.")],
    as_json: JsonOpt = False,
) -> None:
    """Run one SELECT in the read-only sandbox the agent uses."""

    def body() -> None:
        with open_container(with_sample=True) as container:
            result = container.tables.run_sql.run(query)
        if as_json:
            output.print_json(
                {
                    "columns": list(result.columns),
                    "rows": [list(row) for row in result.rows],
                    "truncated": result.truncated,
                }
            )
            return
        table = Table(*result.columns)
        for row in result.rows:
            table.add_row(*(output.plain("NULL" if cell is None else str(cell)) for cell in row))
        console.print(table)
        if result.truncated:
            console.print(f"(first {len(result.rows)} rows; more matched)")

    run_command(body)


@chats_app.command("list")
def chats_list(user: UserOpt = None, as_json: JsonOpt = False) -> None:
    """The user's chats, newest first."""

    def body() -> None:
        with open_container() as container:
            chats = asyncio.run(container.chat.chats.list(_user(container, user)))
        print_chats(chats, as_json)

    run_command(body)


def print_chats(chats: Sequence[Chat], as_json: bool) -> None:
    """A list of chats as the API gives it (`--json`), or a table (with where an imported
    chat came from)."""
    if as_json:
        output.print_json([ChatSummaryOut.of(c).model_dump(mode="json") for c in chats])
        return
    table = Table("id", "title", "source", "updated")
    for c in chats:
        updated = c.updated_at.isoformat(timespec="seconds")
        table.add_row(c.id, output.plain(c.title), c.source or "", updated)
    console.print(table)


async def whole_chat(
    container: Container, user_id: str, chat_id: str
) -> tuple[Chat, list[Message]]:
    """The chat and all its messages, read a page at a time (`ManageChats.pages`)."""
    chat, pages = await container.chat.chats.pages(user_id, chat_id)
    return chat, [message async for page in pages for message in page]


@chats_app.command("show")
def chats_show(chat_id: str, user: UserOpt = None, as_json: JsonOpt = False) -> None:
    """One chat's messages."""

    def body() -> None:
        with open_container() as container:
            chat_, messages = asyncio.run(whole_chat(container, _user(container, user), chat_id))
        if as_json:
            output.print_json(
                {
                    "chat": ChatSummaryOut.of(chat_).model_dump(mode="json"),
                    "messages": [MessageOut.of(m).model_dump(mode="json") for m in messages],
                }
            )
            return
        console.print(f"[bold]{escape(chat_.title)}[/]", highlight=False)
        for message in messages:
            status = "" if message.status == "complete" else f" [{message.status}]"
            console.print(f"\n[bold]{message.role}{status}:[/]", highlight=False)
            console.print(output.ChatMarkdown(message.content or "(no text)"))

    run_command(body)


@chats_app.command("delete")
def chats_delete(chat_id: str, user: UserOpt = None) -> None:
    """Delete a chat and its messages."""

    def body() -> None:
        with open_container() as container:
            asyncio.run(container.chat.chats.delete(_user(container, user), chat_id))
        console.print(f"Deleted chat {chat_id}.")

    run_command(body)


@tables_app.command("load")
def tables_load(
    file: Annotated[
        Path, typer.Argument(help="A .csv, .tsv or .jsonl file, or a workbook (.xlsx, .ods).")
    ],
    name: Annotated[
        str | None,
        typer.Option(
            help="Table name (created or replaced); for a workbook, the prefix of its tables' "
            "names (default: the file's name)."
        ),
    ] = None,
    collection: Annotated[
        str | None,
        typer.Option(
            help="Collection the tables belong to (`default`: the default one; default: a "
            "new table goes to the default collection, a replaced one keeps its own)."
        ),
    ] = None,
) -> None:
    """Create or replace a table from CSV or JSON lines, or a table per sheet of a workbook,
    with inferred column types."""

    def body() -> None:
        with open_container() as container:
            placement = table_placement(container.knowledge.read_scope, collection)
            if file.suffix.lower() in WORKBOOK_EXTENSIONS:
                request = LoadWorkbookRequest(file, name, placement)
                loaded = container.admin.admin_load_workbook.run(CLI_ADMIN, request)
                schemas = [table.schema for table in loaded]
            elif name is None:
                raise InvalidRequest("Name the table: --name NAME (only a workbook names its own).")
            else:
                request_one = LoadTableRequest(file, name, placement)
                schemas = [container.admin.admin_load_table.run(CLI_ADMIN, request_one)]
        for schema in schemas:
            console.print(
                f"Loaded {schema.row_count} rows into {schema.name} "
                f"({', '.join(f'{c.name} {c.type}' for c in schema.columns)})",
                highlight=False,
            )

    run_command(body)


@tables_app.command("drop")
def tables_drop(
    name: Annotated[str, typer.Argument(help="The table to delete.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a table; the assistant's lookups stop seeing it at once (audited table.drop)."""

    def body() -> None:
        with open_container() as container:
            schemas = container.tables.list_tables.run()
            found = next((s for s in schemas if s.name.lower() == name.lower()), None)
            question = f"Delete table {found.name} ({found.row_count} rows)?" if found else ""
            if found is not None and not yes and not typer.confirm(question):
                raise typer.Exit(1)
            dropped = container.admin.drop_table.run(CLI_ADMIN, name)
        console.print(f"Deleted table {dropped.name} ({dropped.row_count} rows).", highlight=False)

    run_command(body)


@tables_app.command("list")
def tables_list(as_json: JsonOpt = False) -> None:
    """The tables the agent can query, with their columns."""

    def body() -> None:
        with open_container(with_sample=True) as container:
            schemas = container.tables.list_tables.run()
            names = container.knowledge.read_scope.names()
        data: list[dict[str, Any]] = [
            {
                "name": s.name,
                "rows": s.row_count,
                "columns": [
                    {"name": c.name, "type": c.type, "samples": list(c.samples)} for c in s.columns
                ],
                "collection": None if s.collection_id is None else names.get(s.collection_id),
            }
            for s in schemas
        ]
        if as_json:
            output.print_json(data)
            return
        for schema in data:
            columns = ", ".join(f"{c['name']} {c['type']}" for c in schema["columns"])
            where = f" in {schema['collection']}" if schema["collection"] else ""
            console.print(
                f"[bold]{schema['name']}[/]{where} ({schema['rows']} rows): {columns}",
                highlight=False,
            )

    run_command(body)
