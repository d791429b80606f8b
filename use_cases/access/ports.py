"""Ports of access: users, API keys and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from use_cases.access.domain import ApiKey, AuditEntry, AuditRecord, StoredApiKey, User, WebSession


class UserDirectory(Protocol):
    """Provisions a user on first sight (the history store's users)."""

    def ensure_user(
        self, user_id: str, name: str | None = None, email: str | None = None
    ) -> User: ...


class GroupMemberships(Protocol):
    """Which groups a user belongs to, as their identity provider states them."""

    def set_groups(self, user_id: str, groups: Sequence[str]) -> None: ...


class ApiKeyStore(Protocol):
    """API keys, found by the SHA-256 hex digest of the key (the key itself is never stored)."""

    def add(self, stored: StoredApiKey) -> ApiKey: ...

    def find_by_hash(self, key_hash: str) -> StoredApiKey | None: ...

    def get(self, key_id: str) -> ApiKey | None: ...

    def list_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        ...

    def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        """Mark the key revoked (a revoked key keeps its first revocation time); None if
        there is no such key."""
        ...

    def touch(self, key_id: str, at: datetime) -> None:
        """Record that the key was just used."""
        ...

    def add_session(self, session: WebSession) -> None: ...

    def find_session(self, id_hash: str) -> WebSession | None: ...

    def end_session(self, id_hash: str, at: datetime) -> bool:
        """End the session (sign-out); True if it was open."""
        ...

    def remove_expired_sessions(self, now: datetime) -> int:
        """Delete the sessions expired by `now`; how many were."""
        ...


class AuditLog(Protocol):
    """Append-only record of admin actions."""

    def append(self, record: AuditRecord) -> AuditEntry: ...

    def list_entries(
        self, *, limit: int, offset: int, action: str | None = None, family: str | None = None
    ) -> tuple[list[AuditEntry], int]:
        """Newest first, with the total count of matching entries. `action` keeps only that
        action; `family` only actions named `family.<anything>`."""
        ...
