"""The system clock behind the `Clock` port (tests pass a fixed one), plus a monotonic reading
for measuring intervals that must not jump with the wall clock (rate limits)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime


class SystemClock:
    def today(self) -> date:
        return datetime.now(UTC).date()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()
