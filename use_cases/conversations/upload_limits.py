"""Per-user caps on the files being attached at once (a 3 MB attachment cost 257 s
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
- Where the counts live: `UserUploadLimits` keeps them in this process (one server);
  `SharedUploadLimits` in a ledger every replica shares (PostgreSQL), so the caps hold in
  total across the replicas. There a waiting attachment asks again every `poll_s` for its
  turn; the attachments of a process that died stop counting once it is known dead.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from use_cases.shared.errors import TooMuchInFlight

__all__ = ["SharedUploadLimits", "UploadLedger", "UploadLimits", "UserUploadLimits"]


class UploadLimits(Protocol):
    def admit(self, user_id: str, size: int) -> AbstractAsyncContextManager[None]:
        """Hold one of the user's slots while the body runs (rules above)."""
        ...


class UploadLedger(Protocol):
    """The attachments in flight of every replica, each under a ticket (blocking calls)."""

    def enter(self, ticket: str, user_id: str, size: int, max_bytes: int) -> tuple[int, int] | None:
        """Record the ticket as waiting (None), unless the user has others in flight and
        `size` more bytes would pass `max_bytes`: then record nothing and answer the user's
        (attachments, bytes) in flight."""
        ...

    def start(self, ticket: str, user_id: str, concurrent: int) -> bool:
        """Mark the ticket running if it is the user's oldest waiting one and fewer than
        `concurrent` of theirs run; whether it runs now."""
        ...

    def leave(self, ticket: str) -> None: ...

    def in_flight(self, user_id: str) -> tuple[int, int]: ...


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


class SharedUploadLimits:
    """The same caps as `UserUploadLimits`, counted in a ledger every replica shares."""

    def __init__(
        self,
        ledger: UploadLedger,
        *,
        concurrent: int,
        max_bytes: int,
        retry_after_s: int = 30,
        bytes_setting: str = "CHAT_FILE_USER_IN_FLIGHT_BYTES",
        poll_s: float = 0.2,
    ) -> None:
        if concurrent < 1 or max_bytes < 1:
            raise ValueError("a user needs at least one upload and one byte in flight")
        self.concurrent = concurrent
        self.max_bytes = max_bytes
        self._ledger = ledger
        self._retry_after_s = retry_after_s
        self._bytes_setting = bytes_setting
        self._poll_s = poll_s

    def in_flight(self, user_id: str) -> tuple[int, int]:
        return self._ledger.in_flight(user_id)

    @asynccontextmanager
    async def admit(self, user_id: str, size: int) -> AsyncIterator[None]:
        ticket = uuid.uuid4().hex
        refused = await asyncio.to_thread(self._ledger.enter, ticket, user_id, size, self.max_bytes)
        if refused is not None:
            uploads, held = refused
            raise TooMuchInFlight(
                f"You already have {uploads} attached file(s) of {held:,} bytes being read "
                f"(on any server); at most {self.max_bytes:,} bytes of one user's files may "
                f"be in flight ({self._bytes_setting}), and this one has {size:,}: try again "
                "when one has finished.",
                retry_after_s=self._retry_after_s,
            )
        try:
            # Polled: the attachment ending may be another replica's, which no event reaches.
            while not await asyncio.to_thread(  # noqa: ASYNC110
                self._ledger.start, ticket, user_id, self.concurrent
            ):
                await asyncio.sleep(self._poll_s)
            yield
        finally:
            await asyncio.shield(asyncio.to_thread(self._ledger.leave, ticket))
