"""Domain types of users, authentication, authorisation and the audit log.

Who may do what:

- `user`: chat, ask, search, list and read documents, and manage only their own chats;
- `admin`: everything a user may, plus ingest, replace and delete documents, load tables,
  read the audit log and act for another user (each such act is audited).

The identity of a request comes from its API key (or, with authentication off, from the one
local user), never from anything else the caller sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from use_cases.shared.errors import Forbidden


@dataclass(frozen=True)
class User:
    id: str
    name: str | None
    email: str | None
    created_at: datetime


Role = Literal["user", "admin"]


ROLES: tuple[Role, ...] = ("user", "admin")


@dataclass(frozen=True)
class Caller:
    """Who is making a request: a user id, a role and the key used (`None` without a key:
    the local user of development mode, or the CLI)."""

    user_id: str
    role: Role
    key_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


#: The CLI runs on the server's machine with access to its data directory, so its admin
#: commands act as this local admin; the audit log names it as actor `cli`.
CLI_ADMIN = Caller(user_id="cli", role="admin", key_id=None)


@dataclass(frozen=True)
class ApiKey:
    """An API key as listed: never the key itself nor its hash."""

    id: str
    name: str | None
    user_id: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class StoredApiKey:
    """A key record with the SHA-256 hex digest it is found by (the key is never stored)."""

    key: ApiKey
    key_hash: str


@dataclass(frozen=True)
class WebSession:
    """A browser's sign-in, made with a key: found by the SHA-256 digest of its secret (the
    cookie's value, never stored), valid until `expires_at` unless ended (signed out)."""

    id_hash: str
    key_id: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True)
class NewApiKey:
    """A freshly created key: `secret` is shown once, then only its hash exists."""

    secret: str
    key: ApiKey


@dataclass(frozen=True)
class AuditRecord:
    """An entry to append: `before`/`after` are small JSON-able snapshots (None if none)."""

    at: datetime
    actor_user_id: str
    actor_key_id: str | None
    action: str
    target: str
    before: Any = None
    after: Any = None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor_user_id: str
    actor_key_id: str | None
    action: str
    target: str
    before: Any
    after: Any


@dataclass(frozen=True)
class AuditPage:
    entries: tuple[AuditEntry, ...]
    total: int
    limit: int
    offset: int


def require_admin(caller: Caller, what: str = "This") -> None:
    """Raise `Forbidden` unless the caller has the admin role."""
    if not caller.is_admin:
        raise Forbidden(
            f"{what} needs the admin role; the API key of {caller.user_id!r} has the "
            f"{caller.role} role."
        )
