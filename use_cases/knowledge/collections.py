"""Collections: each team's documents for its own members (use_cases/knowledge/scope.py).

Rules:
- Only admins create, grant, revoke, delete and explain collections; each change is audited
  (`collection.create`, `collection.delete`, `collection.grant`, `collection.revoke`) with
  what it was before and after.
- A name is 1-63 characters of lower-case letters, digits, `-` and `_`, starting with a letter
  or digit; `default` names the default collection and cannot be taken. A taken or malformed
  name, a grant to an unknown user or group, a grant that is already there, a revoke of one
  that is not, and deleting a collection that still holds documents or tables are refused
  (4xx) with nothing changed (a deleted collection's id must never leave a table behind for
  whichever collection is made next).
- A user is known once the server has seen them (an API key made for them, a sign-in); a
  group is known once a user belongs to it (OpenID Connect sign-in, or `set_groups`).
- A reader's scope is resolved from the store on every call (`ResolveReadScope`), never held
  with a key or a session: a revoke acts on the reader's next request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from use_cases.access.audit import RecordAudit
from use_cases.access.domain import CLI_ADMIN, Caller, require_admin
from use_cases.knowledge.scope import (
    DEFAULT_COLLECTION,
    EVERYTHING,
    NAME_PATTERN,
    DocumentFilter,
    ReadScope,
)
from use_cases.shared.clock import Clock
from use_cases.shared.errors import Conflict, InvalidRequest, NotFound

__all__ = [
    "COLLECTION_CREATE",
    "COLLECTION_DELETE",
    "COLLECTION_GRANT",
    "COLLECTION_REVOKE",
    "CollectionInfo",
    "CollectionStore",
    "DocumentAccess",
    "Grant",
    "KnownUsers",
    "ManageCollections",
    "ResolveReadScope",
]

COLLECTION_CREATE = "collection.create"
COLLECTION_DELETE = "collection.delete"
COLLECTION_GRANT = "collection.grant"
COLLECTION_REVOKE = "collection.revoke"
MAX_DESCRIPTION_CHARS = 500
MAX_GROUPS = 200

GrantKind = Literal["user", "group"]


@dataclass(frozen=True)
class Grant:
    kind: GrantKind
    principal: str


@dataclass(frozen=True)
class CollectionInfo:
    id: int
    name: str
    description: str
    created_at: datetime
    grants: tuple[Grant, ...] = ()
    document_count: int = 0


@dataclass(frozen=True)
class DocumentAccess:
    """Who may read one document, and why (`almanac collections who-can-read`)."""

    document_id: int
    source: str
    collection: str
    everyone: bool
    """True for the default collection: every user reads it."""
    grants: tuple[Grant, ...] = ()
    users_through_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """group -> its members, for each granted group."""


class CollectionStore(Protocol):
    """Collections, their grants and users' groups, beside the documents they hold."""

    def list_collections(self) -> list[CollectionInfo]: ...

    def get_collection(self, name: str) -> CollectionInfo | None: ...

    def create_collection(self, name: str, description: str, at: datetime) -> CollectionInfo:
        """Raises `Conflict` when the name is taken."""
        ...

    def delete_collection(self, collection_id: int) -> None:
        """Raises `Conflict` while it holds documents."""
        ...

    def add_grant(self, collection_id: int, grant: Grant, at: datetime) -> bool:
        """False when it was already there."""
        ...

    def remove_grant(self, collection_id: int, grant: Grant) -> bool:
        """False when it was not there."""
        ...

    def readable_by(self, user_id: str) -> frozenset[int]:
        """Ids of the collections granted to the user or to one of their groups."""
        ...

    def set_groups(self, user_id: str, groups: Sequence[str]) -> None: ...

    def groups_of(self, user_id: str) -> tuple[str, ...]: ...

    def members_of(self, group: str) -> tuple[str, ...]: ...

    def document_collection(self, document_id: int) -> tuple[str, int | None] | None:
        """(source, collection id) of a document; None when there is none."""
        ...


class KnownUsers(Protocol):
    """Whether the server has seen a user (the users of the app database)."""

    def has_user(self, user_id: str) -> bool: ...


def check_name(name: str) -> str:
    name = name.strip()
    if name == DEFAULT_COLLECTION:
        raise InvalidRequest(
            f"'{DEFAULT_COLLECTION}' names the default collection (documents without one)."
        )
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidRequest(
            "A collection name is 1 to 63 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit."
        )
    return name


def _snapshot(info: CollectionInfo) -> dict[str, object]:
    return {
        "name": info.name,
        "description": info.description,
        "grants": [f"{g.kind}:{g.principal}" for g in info.grants],
    }


class ManageCollections:
    """The collections aggregate: list, create, delete, grant, revoke, explain (admins)."""

    def __init__(
        self,
        store: CollectionStore,
        users: KnownUsers,
        audit: RecordAudit,
        clock: Clock,
        *,
        tables_in: Callable[[int], list[str]] | None = None,
    ) -> None:
        self._tables_in = tables_in
        self._store = store
        self._users = users
        self._audit = audit
        self._clock = clock

    async def list(self, caller: Caller) -> list[CollectionInfo]:
        require_admin(caller, "Listing collections")
        return await asyncio.to_thread(self._store.list_collections)

    async def get(self, caller: Caller, name: str) -> CollectionInfo:
        require_admin(caller, "Reading a collection")
        return await asyncio.to_thread(self._named, name)

    async def create(self, caller: Caller, name: str, description: str = "") -> CollectionInfo:
        return await asyncio.to_thread(self.create_now, caller, name, description)

    def create_now(self, caller: Caller, name: str, description: str = "") -> CollectionInfo:
        """`create`, synchronous (the CLI)."""
        require_admin(caller, "Creating a collection")
        name = check_name(name)
        description = description.strip()
        if len(description) > MAX_DESCRIPTION_CHARS:
            raise InvalidRequest(f"A description is at most {MAX_DESCRIPTION_CHARS} characters.")
        created = self._store.create_collection(name, description, self._clock.now())
        self._audit.record(
            caller, COLLECTION_CREATE, f"collection:{name}", after=_snapshot(created)
        )
        return created

    async def delete(self, caller: Caller, name: str) -> None:
        await asyncio.to_thread(self.delete_now, caller, name)

    def delete_now(self, caller: Caller, name: str) -> None:
        require_admin(caller, "Deleting a collection")
        info = self._named(name)
        tables = self._tables_in(info.id) if self._tables_in is not None else []
        if tables:
            raise Conflict(
                f"The collection still holds {len(tables)} table(s) ({', '.join(tables)}): "
                "drop them or load them into another collection first."
            )
        self._store.delete_collection(info.id)
        self._audit.record(caller, COLLECTION_DELETE, f"collection:{name}", before=_snapshot(info))

    async def grant(self, caller: Caller, name: str, grant: Grant) -> CollectionInfo:
        return await asyncio.to_thread(self.grant_now, caller, name, grant)

    def grant_now(self, caller: Caller, name: str, grant: Grant) -> CollectionInfo:
        require_admin(caller, "Granting a collection")
        info = self._named(name)
        if grant.kind == "user" and not self._users.has_user(grant.principal):
            raise NotFound(f"No user {grant.principal!r}: make them a key or let them sign in.")
        if grant.kind == "group" and not self._store.members_of(grant.principal):
            raise NotFound(
                f"No group {grant.principal!r}: a group is known once a user signs in with it."
            )
        if not self._store.add_grant(info.id, grant, self._clock.now()):
            raise Conflict(f"{grant.kind} {grant.principal!r} already reads {name!r}.")
        after = self._named(name)
        self._audit.record(
            caller,
            COLLECTION_GRANT,
            f"collection:{name}",
            before=_snapshot(info),
            after=_snapshot(after),
        )
        return after

    async def revoke(self, caller: Caller, name: str, grant: Grant) -> CollectionInfo:
        return await asyncio.to_thread(self.revoke_now, caller, name, grant)

    def revoke_now(self, caller: Caller, name: str, grant: Grant) -> CollectionInfo:
        require_admin(caller, "Revoking a collection")
        info = self._named(name)
        if not self._store.remove_grant(info.id, grant):
            raise NotFound(f"{grant.kind} {grant.principal!r} has no grant on {name!r}.")
        after = self._named(name)
        self._audit.record(
            caller,
            COLLECTION_REVOKE,
            f"collection:{name}",
            before=_snapshot(info),
            after=_snapshot(after),
        )
        return after

    def who_can_read(self, caller: Caller, document_id: int) -> DocumentAccess:
        """Who may read a document and through what (synchronous: the CLI)."""
        require_admin(caller, "Explaining a document's access")
        found = self._store.document_collection(document_id)
        if found is None:
            raise NotFound(f"No document with id {document_id}.")
        source, collection_id = found
        if collection_id is None:
            return DocumentAccess(document_id, source, DEFAULT_COLLECTION, everyone=True)
        info = next(c for c in self._store.list_collections() if c.id == collection_id)
        groups = {
            g.principal: self._store.members_of(g.principal)
            for g in info.grants
            if g.kind == "group"
        }
        return DocumentAccess(document_id, source, info.name, False, info.grants, groups)

    def set_groups(self, user_id: str, groups: Sequence[str]) -> None:
        """Record a user's groups as their identity provider states them (sign-in)."""
        clean = sorted({g.strip() for g in groups if isinstance(g, str) and g.strip()})
        self._store.set_groups(user_id, clean[:MAX_GROUPS])

    def _named(self, name: str) -> CollectionInfo:
        info = self._store.get_collection(name.strip())
        if info is None:
            raise NotFound(f"No collection named {name!r}.")
        return info


def reader_of(user_id: str, reader: Caller | None) -> Caller:
    """The rights a turn answered for `user_id` reads with: the caller's own when they act as
    themselves; a user's otherwise (an admin acting for someone, or a run an admin started
    for a user, reads what that user may)."""
    if reader is not None and reader.user_id == user_id:
        return reader
    return Caller(user_id, "user", None)


async def read_scope(
    scopes: ResolveReadScope | None, caller: Caller | None, filters: DocumentFilter | None
) -> ReadScope:
    """The scope of a read: the caller's (with `filters`), or, without a caller (the CLI, a
    benchmark: the data directory's owner), every collection narrowed by `filters`."""
    if caller is not None:
        if scopes is None:
            raise RuntimeError("A caller's read needs the collections to resolve its scope.")
        return await scopes.execute(caller, filters)
    if scopes is not None and filters is not None and not filters.empty:
        return await scopes.execute(CLI_ADMIN, filters)
    return EVERYTHING if filters is None else EVERYTHING.filtered(filters)


class ResolveReadScope:
    """The scope of a caller's reads, with the filters they asked for: an admin reads every
    collection, a user the default one and those granted to them or their groups. A
    `collection` filter narrows the scope to that collection (one the caller may not read,
    or an unknown one, leaves nothing: the same answer, so a name's existence is not told)."""

    def __init__(self, store: CollectionStore) -> None:
        self._store = store

    async def execute(self, caller: Caller, filters: DocumentFilter | None = None) -> ReadScope:
        return await asyncio.to_thread(self.run, caller, filters)

    def run(self, caller: Caller, filters: DocumentFilter | None = None) -> ReadScope:
        scope = EVERYTHING if caller.is_admin else self._granted(caller.user_id)
        if filters is None or filters.empty:
            return scope
        scope = scope.filtered(filters)
        if filters.collection is not None:
            name = filters.collection.strip()
            if name == DEFAULT_COLLECTION:
                return scope.narrowed_to(None)
            info = self._store.get_collection(name)
            return scope.narrowed_to(info.id if info else None, known=info is not None)
        return scope

    def _granted(self, user_id: str) -> ReadScope:
        return ReadScope(frozenset({None, *self._store.readable_by(user_id)}))

    def collections_of(self, caller: Caller) -> frozenset[int | None] | None:
        """The collections `caller` reads (None: every one, an admin's), `None` among them
        standing for the default collection: what their tables are scoped by."""
        return self.run(caller).collections

    def names(self) -> dict[int, str]:
        """Every collection's id -> its name (to show where a table or document is)."""
        return {info.id: info.name for info in self._store.list_collections()}

    def collection_id(self, name: str) -> int | None:
        """The id of a named collection for a write (None: the default one); an unknown name
        is `InvalidRequest` (the upload or ingest naming it is refused, nothing stored)."""
        if name.strip() == DEFAULT_COLLECTION:
            return None
        info = self._store.get_collection(name.strip())
        if info is None:
            raise InvalidRequest(f"No collection named {name!r}: create it first.")
        return info.id
