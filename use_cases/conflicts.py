"""Documents that contradict each other, listed for admins (`GET /api/documents/conflicts`).

Two current documents (neither supersedes the other) conflict when a sentence of each says the
same thing with a different value ("Passwords must have a minimum length of 4 characters" /
"Minimum length — Requirement: 14 characters"). Answers already say so when they meet such a
pair; this report finds them before anyone asks.

Rules:
- Admins only: the report quotes documents' sentences side by side.
- Bounded work: the finder checks at most `max_sections` sections per call and says whether
  it checked them all (`complete`); each pair of documents is reported once per unit.
- The finder (a port) decides what "the same thing" and "a value" are; the offline answerer's
  own rules implement it (`services/offline/conflicts.py`), so the report and the answers agree.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from use_cases.auth_domain import Caller, require_admin
from use_cases.errors import InvalidRequest

#: Sections one report checks at most (each costs one search and its comparisons: the
#: sample handbook's 150 take ~9 s on a 2-core machine).
MAX_SECTIONS = 300


@dataclass(frozen=True)
class ConflictSide:
    document_id: int
    title: str
    source: str
    sentence: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class DocumentConflict:
    unit: str
    first: ConflictSide
    second: ConflictSide


@dataclass(frozen=True)
class ConflictReport:
    conflicts: tuple[DocumentConflict, ...]
    sections_checked: int
    complete: bool


class ConflictFinder(Protocol):
    def find(self, limit: int, max_sections: int) -> ConflictReport:
        """Up to `limit` conflicts among current documents, checking at most `max_sections`
        sections."""
        ...


class ListConflicts:
    def __init__(self, finder: ConflictFinder) -> None:
        self._finder = finder

    async def execute(self, caller: Caller, limit: int = 50) -> ConflictReport:
        require_admin(caller, "Listing conflicting documents")
        if not 1 <= limit <= 500:
            raise InvalidRequest("limit must be between 1 and 500.")
        return await asyncio.to_thread(self._finder.find, limit, MAX_SECTIONS)
