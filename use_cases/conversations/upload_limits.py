"""Per-user caps on the files being attached at once (issue 74: a 3 MB attachment cost 257 s
of CPU to embed, and nothing kept one user from sending several at a time).

Rules:
- At most `concurrent` of one user's attachments are read (checked, parsed, described,
  embedded) at once; the user's others wait their turn, in the order they came: a user who
  drops five files into a chat expects the five attached, one after another, not some
  refused. Other users' attachments never wait for them.
- At most `max_bytes` of one user's attachments are in flight (read or waiting); one more
  that would pass it is refused at once with `TooMuchInFlight` (429, `Retry-After`), whose
  detail names the cap; nothing is written. A user with nothing in flight is always admitted
  (how large one file may be is the per-file limit's to say).
- A waiting attachment whose request goes away (the client disconnected) leaves the queue
  and frees its bytes; so does a finished or failed one.
- The bookkeeping lives in this process: with several server replicas each counts only the
  requests it serves, so a user may have up to that many times the caps in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from use_cases.shared.errors import TooMuchInFlight

__all__ = ["UserUploadLimits"]


@dataclass
class _UserWork:
    slots: asyncio.Semaphore
    bytes: int = 0
    uploads: int = 0


class UserUploadLimits:
    """`async with limits.admit(user_id, size):` around reading one attachment (rules above);
    `bytes_setting` names the setting of the byte cap in the refusal."""

    def __init__(
        self,
        *,
        concurrent: int,
        max_bytes: int,
        retry_after_s: int = 30,
        bytes_setting: str = "CHAT_FILE_USER_IN_FLIGHT_BYTES",
    ) -> None:
        if concurrent < 1 or max_bytes < 1:
            raise ValueError("a user needs at least one upload and one byte in flight")
        self.concurrent = concurrent
        self.max_bytes = max_bytes
        self._retry_after_s = retry_after_s
        self._bytes_setting = bytes_setting
        self._users: dict[str, _UserWork] = {}

    def in_flight(self, user_id: str) -> tuple[int, int]:
        """(attachments, bytes) of `user_id`'s in flight now."""
        work = self._users.get(user_id)
        return (work.uploads, work.bytes) if work is not None else (0, 0)

    @asynccontextmanager
    async def admit(self, user_id: str, size: int) -> AsyncIterator[None]:
        """Hold one of the user's slots while the body runs (waiting for one first), or
        refuse at once when `size` more bytes would pass the user's cap."""
        work = self._users.get(user_id)
        if work is None:
            work = self._users[user_id] = _UserWork(asyncio.Semaphore(self.concurrent))
        if work.uploads and work.bytes + size > self.max_bytes:
            raise TooMuchInFlight(
                f"You already have {work.uploads} attached file(s) of {work.bytes:,} bytes "
                f"being read; at most {self.max_bytes:,} bytes of one user's files may be in "
                f"flight ({self._bytes_setting}), and this one has {size:,}: try again when "
                "one has finished.",
                retry_after_s=self._retry_after_s,
            )
        work.bytes += size
        work.uploads += 1
        try:
            async with work.slots:
                yield
        finally:
            work.bytes -= size
            work.uploads -= 1
            if not work.uploads:
                self._users.pop(user_id, None)
