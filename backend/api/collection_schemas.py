"""HTTP shapes of `/api/collections` (docs/collections.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from use_cases.knowledge.collections import CollectionInfo, DocumentAccess, Grant


class GrantOut(BaseModel):
    kind: Literal["user", "group"] = Field(examples=["group"])
    principal: str = Field(description="The user id or the group name.", examples=["hr"])


class CollectionOut(BaseModel):
    id: int
    name: str = Field(examples=["hr"])
    description: str = Field(examples=["People team: contracts, salaries, reviews"])
    created_at: datetime
    grants: list[GrantOut]
    document_count: int = Field(examples=[12])

    @classmethod
    def of(cls, info: CollectionInfo) -> CollectionOut:
        return cls(
            id=info.id,
            name=info.name,
            description=info.description,
            created_at=info.created_at,
            grants=[GrantOut(kind=g.kind, principal=g.principal) for g in info.grants],
            document_count=info.document_count,
        )


class CollectionListOut(BaseModel):
    collections: list[CollectionOut]


class CollectionIn(BaseModel):
    name: str = Field(min_length=1, max_length=63, examples=["hr"])
    description: str = Field(default="", max_length=500)


class GrantIn(BaseModel):
    """Exactly one of `user` and `group`."""

    user: str | None = Field(default=None, min_length=1, max_length=64, examples=[None])
    group: str | None = Field(default=None, min_length=1, max_length=200, examples=["hr"])

    @model_validator(mode="after")
    def _one(self) -> GrantIn:
        if (self.user is None) == (self.group is None):
            raise ValueError("Give exactly one of `user` and `group`.")
        return self

    def grant(self) -> Grant:
        if self.user is not None:
            return Grant("user", self.user)
        assert self.group is not None
        return Grant("group", self.group)


class DocumentAccessOut(BaseModel):
    document_id: int
    source: str
    collection: str
    everyone: bool = Field(description="True for the default collection: every user reads it.")
    grants: list[GrantOut]
    group_members: dict[str, list[str]]

    @classmethod
    def of(cls, access: DocumentAccess) -> DocumentAccessOut:
        return cls(
            document_id=access.document_id,
            source=access.source,
            collection=access.collection,
            everyone=access.everyone,
            grants=[GrantOut(kind=g.kind, principal=g.principal) for g in access.grants],
            group_members={g: list(m) for g, m in access.users_through_groups.items()},
        )
