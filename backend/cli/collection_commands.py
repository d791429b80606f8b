"""CLI: `almanac collections create|list|grant|revoke|delete|who-can-read` (docs/collections.md).

The CLI acts as the local admin (`CLI_ADMIN`); every change is audited with actor `cli`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from backend.api.collection_schemas import CollectionOut, DocumentAccessOut
from backend.cli import output
from backend.cli.common import JsonOpt, console, err, open_container, run_command
from use_cases.access.domain import CLI_ADMIN
from use_cases.knowledge.collections import Grant
from use_cases.shared.errors import InvalidRequest

collections_app = typer.Typer(
    help="Collections: each team's documents, read by the users and groups granted them.",
    no_args_is_help=True,
)

UserOpt = Annotated[str | None, typer.Option("--user", help="A user id.")]
GroupOpt = Annotated[str | None, typer.Option("--group", help="A group (from sign-in).")]


def _grant(user: str | None, group: str | None) -> Grant:
    if (user is None) == (group is None):
        raise InvalidRequest("Give exactly one of --user and --group.")
    return Grant("user", user) if user is not None else Grant("group", group or "")


def _grants(info: CollectionOut) -> str:
    return ", ".join(f"{g.kind}:{g.principal}" for g in info.grants) or "(admins only)"


@collections_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Lower-case letters, digits, '-' and '_'.")],
    description: Annotated[str, typer.Option(help="What it holds, for whom.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a collection (nobody but admins reads it until it is granted)."""

    def body() -> None:
        with open_container() as container:
            info = CollectionOut.of(
                container.knowledge.collections.create_now(CLI_ADMIN, name, description)
            )
        if as_json:
            output.print_json(info.model_dump(mode="json"))
            return
        console.print(f"Created collection {info.name}.", highlight=False, markup=False)

    run_command(body)


@collections_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """The collections, with their documents and grants."""

    def body() -> None:
        with open_container() as container:
            found = asyncio.run(container.knowledge.collections.list(CLI_ADMIN))
        infos = [CollectionOut.of(c) for c in found]
        if as_json:
            output.print_json({"collections": [i.model_dump(mode="json") for i in infos]})
            return
        if not infos:
            err.print("No collections: every document is in the default collection.")
        for info in infos:
            console.print(
                f"{info.name}\t{info.document_count} documents\t{_grants(info)}"
                + (f"\t{info.description}" if info.description else ""),
                highlight=False,
                markup=False,
            )

    run_command(body)


@collections_app.command("grant")
def grant(
    name: Annotated[str, typer.Argument(help="The collection.")],
    user: UserOpt = None,
    group: GroupOpt = None,
) -> None:
    """Let a user, or every member of a group, read a collection."""
    _change_grant(name, user, group, revoke=False)


@collections_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The collection.")],
    user: UserOpt = None,
    group: GroupOpt = None,
) -> None:
    """Take a grant away; it acts on the reader's next request."""
    _change_grant(name, user, group, revoke=True)


def _change_grant(name: str, user: str | None, group: str | None, *, revoke: bool) -> None:
    """Grant or revoke, then print the collection's grants as they now stand."""

    def body() -> None:
        chosen = _grant(user, group)
        with open_container() as container:
            collections = container.knowledge.collections
            change = collections.revoke_now if revoke else collections.grant_now
            info = CollectionOut.of(change(CLI_ADMIN, name, chosen))
        console.print(f"{info.name}: {_grants(info)}", highlight=False, markup=False)

    run_command(body)


@collections_app.command("delete")
def delete(name: Annotated[str, typer.Argument(help="An empty collection.")]) -> None:
    """Delete a collection that holds no documents."""

    def body() -> None:
        with open_container() as container:
            container.knowledge.collections.delete_now(CLI_ADMIN, name)
        console.print(f"Deleted collection {name}.", highlight=False, markup=False)

    run_command(body)


@collections_app.command("who-can-read")
def who_can_read(
    document: Annotated[int, typer.Argument(help="A document id (`almanac docs list`).")],
    as_json: JsonOpt = False,
) -> None:
    """Who may read a document, and through which grant (admins read everything)."""

    def body() -> None:
        with open_container() as container:
            access = DocumentAccessOut.of(
                container.knowledge.collections.who_can_read(CLI_ADMIN, document)
            )
        if as_json:
            output.print_json(access.model_dump(mode="json"))
            return
        lines = [f"{access.source} (document {access.document_id}): collection {access.collection}"]
        if access.everyone:
            lines.append("every user reads it (the default collection), and every admin")
        else:
            lines.append("admins read every collection")
            for g in access.grants:
                if g.kind == "user":
                    lines.append(f"user {g.principal}: granted")
                else:
                    members = ", ".join(access.group_members.get(g.principal, [])) or "no members"
                    lines.append(f"group {g.principal}: granted ({members})")
            if not access.grants:
                lines.append("no user or group is granted it")
        for line in lines:
            console.print(line, highlight=False, markup=False)

    run_command(body)
