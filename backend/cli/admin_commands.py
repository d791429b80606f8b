"""CLI: `almanac keys create|list|revoke` and `almanac audit`.

The CLI runs on the server's machine with access to its data directory, so it acts as the
local admin (`CLI_ADMIN`); what it changes is audited with actor `cli`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from backend.api.admin_schemas import ApiKeyOut, AuditPageOut
from backend.cli import output
from backend.cli.common import JsonOpt, console, err, open_container, run_command
from use_cases.access.domain import CLI_ADMIN

keys_app = typer.Typer(
    help="Create, list and revoke API keys (used when AUTH_ENABLED=true).", no_args_is_help=True
)


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d") if moment else ""


@keys_app.command("create")
def keys_create(
    user: Annotated[str, typer.Option("--user", help="The user the key acts as.")],
    role: Annotated[str, typer.Option("--role", help="`user` or `admin`.")],
    name: Annotated[
        str | None, typer.Option("--name", help="A label, e.g. the client or machine.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key and print it, once: only its hash is stored.

    Only the key goes to stdout (`KEY=$(almanac keys create ...)` captures it); the rest of
    the message goes to stderr."""

    def body() -> None:
        with open_container() as container:
            created = asyncio.run(
                container.access.create_key.execute(CLI_ADMIN, user_id=user, role=role, name=name)
            )
        key = created.key
        if as_json:
            output.print_json({"key": created.secret, **ApiKeyOut.of(key).model_dump(mode="json")})
            return
        typer.echo(created.secret)
        err.print(
            f"Created API key {key.id} for user {key.user_id!r} with the {key.role} role. "
            "This is the only time the key is shown: store it now. Send it as "
            "`Authorization: Bearer KEY` (or `X-API-Key: KEY`).",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )

    run_command(body)


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """Every key, revoked ones included (never the key or its hash)."""

    def body() -> None:
        with open_container() as container:
            keys = asyncio.run(container.access.list_keys.execute(CLI_ADMIN))
        if as_json:
            output.print_json([ApiKeyOut.of(key).model_dump(mode="json") for key in keys])
            return
        table = Table(box=box.SIMPLE_HEAD, show_edge=False)  # fits 80 columns
        table.add_column("id", no_wrap=True)
        table.add_column("name", overflow="fold")
        for column in ("user", "role", "created", "last used", "revoked"):
            table.add_column(column, overflow="fold")
        for key in keys:
            table.add_row(
                key.id,
                output.plain(key.name or ""),
                output.plain(key.user_id),
                key.role,
                _when(key.created_at),
                _when(key.last_used_at),
                _when(key.revoked_at),
            )
        console.print(table)
        console.print(f"{sum(not key.revoked for key in keys)} active, {len(keys)} in all")

    run_command(body)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")]) -> None:
    """Revoke a key for good: its next request gets 401."""

    def body() -> None:
        with open_container() as container:
            revocation = asyncio.run(container.access.revoke_key.execute(CLI_ADMIN, key_id))
        key = revocation.key
        if revocation.already_revoked:
            console.print(
                f"Key {key.id} was already revoked on {_when(key.revoked_at)}.", highlight=False
            )
        else:
            console.print(f"Revoked key {key.id} of user {key.user_id!r}.", highlight=False)

    run_command(body)


def audit(
    limit: Annotated[int, typer.Option(min=1, max=500, help="Entries to show.")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="Skip the newest N.")] = 0,
    action: Annotated[
        str | None, typer.Option(help="An action (key.create) or a family (key).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The audit log of admin actions, newest first."""

    def body() -> None:
        with open_container() as container:
            page = asyncio.run(
                container.access.list_audit.execute(
                    CLI_ADMIN, limit=limit, offset=offset, action=action
                )
            )
        if as_json:
            output.print_json(AuditPageOut.of(page).model_dump(mode="json"))
            return
        for entry in page.entries:
            key = f" (key {entry.actor_key_id})" if entry.actor_key_id else ""
            console.print(
                f"#{entry.id} {entry.at.isoformat(timespec='seconds')} {entry.actor_user_id}"
                f"{key} {entry.action} {entry.target}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
            for label, state in (("before", entry.before), ("after", entry.after)):
                if state is not None:
                    console.print(
                        f"    {label}: {_compact(state)}",
                        highlight=False,
                        markup=False,
                        soft_wrap=True,
                    )
        console.print(f"{len(page.entries)} of {page.total} entries")

    run_command(body)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
