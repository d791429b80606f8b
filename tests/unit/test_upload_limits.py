"""`UserUploadLimits`: one user's attachments in turn and within a byte cap; a waiting one that
goes away frees its place (use_cases/conversations/upload_limits.py)."""

from __future__ import annotations

import asyncio

import pytest

from use_cases.conversations.upload_limits import UserUploadLimits
from use_cases.shared.errors import TooMuchInFlight


async def test_a_user_waits_their_turn_and_a_cancelled_wait_frees_its_bytes() -> None:
    limits = UserUploadLimits(concurrent=1, max_bytes=100)
    running = asyncio.Event()
    done = asyncio.Event()

    async def first() -> None:
        async with limits.admit("ann", 60):
            running.set()
            await done.wait()

    holder = asyncio.create_task(first())
    await running.wait()
    entered: list[str] = []

    async def second() -> None:
        async with limits.admit("ann", 30):
            entered.append("ann")

    waiting = asyncio.create_task(second())
    async with limits.admit("bob", 90):  # another user's goes straight in
        entered.append("bob")
    await asyncio.sleep(0)
    assert entered == ["bob"] and limits.in_flight("ann") == (2, 90)
    with pytest.raises(TooMuchInFlight, match="CHAT_FILE_USER_IN_FLIGHT_BYTES"):
        async with limits.admit("ann", 20):
            pass
    waiting.cancel()  # the client went away
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert limits.in_flight("ann") == (1, 60)
    done.set()
    await holder
    assert limits.in_flight("ann") == (0, 0)


async def test_one_file_alone_is_admitted_whatever_its_size() -> None:
    limits = UserUploadLimits(concurrent=1, max_bytes=10)
    async with limits.admit("ann", 1000):
        assert limits.in_flight("ann") == (1, 1000)
