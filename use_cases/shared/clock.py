"""The clock port and the one rule for moments: every stored or compared time is aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol


class Clock(Protocol):
    def today(self) -> date: ...

    def now(self) -> datetime: ...


def utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive time (a test clock's) is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
