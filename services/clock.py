"""The system clock behind the `Clock` port (tests pass a fixed one)."""

from __future__ import annotations

from datetime import UTC, date, datetime


class SystemClock:
    def today(self) -> date:
        return datetime.now(UTC).date()

    def now(self) -> datetime:
        return datetime.now(UTC)
