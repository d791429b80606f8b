"""HTTP shapes of the admin endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from use_cases.access.domain import ApiKey, AuditEntry, AuditPage


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor_user_id: str = Field(description="Who: the user id (`cli` for the local CLI).")
    actor_key_id: str | None = Field(
        description="The API key used; null for the CLI and for development mode."
    )
    action: str = Field(examples=["document.replace"])
    target: str = Field(examples=["document:12"])
    before: Any = Field(description="Small JSON summary of the state before; null if none.")
    after: Any = Field(description="Small JSON summary of the state after; null if none.")

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(
            id=entry.id,
            at=entry.at,
            actor_user_id=entry.actor_user_id,
            actor_key_id=entry.actor_key_id,
            action=entry.action,
            target=entry.target,
            before=entry.before,
            after=entry.after,
        )


class AuditPageOut(BaseModel):
    entries: list[AuditEntryOut]
    total: int = Field(description="Entries matching the filter, on all pages.")
    limit: int
    offset: int

    @classmethod
    def of(cls, page: AuditPage) -> AuditPageOut:
        return cls(
            entries=[AuditEntryOut.of(entry) for entry in page.entries],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )


class ApiKeyOut(BaseModel):
    """An API key as listed: never the key itself nor its hash."""

    id: str
    name: str | None
    user_id: str
    role: str
    created_at: datetime
    last_used_at: datetime | None = Field(description="Accurate to about a minute.")
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            name=key.name,
            user_id=key.user_id,
            role=key.role,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )
