"""Answers left `streaming` by a process that died are marked `interrupted`, and only those."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from services.chat.history_store import HistoryStore
from services.presence import FilePresence, PgPresence, Presence, wait_until_dead
from tests.store_backends import AppDb, open_app_db
from use_cases.chat.domain import NewMessage
from use_cases.chat.manage_chats import SweepAbandonedTurns


class MovableClock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def today(self) -> date:
        return self.at.date()

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def app_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[AppDb]:
    yield from open_app_db(backend, tmp_path, request)


def test_only_turns_older_than_the_turn_limit_are_marked_interrupted(app_db: AppDb) -> None:
    store = app_db.open(HistoryStore)
    clock = MovableClock()
    sweep = SweepAbandonedTurns(store, clock, turn_limit_s=30, margin_s=10)
    try:
        chat = store.get_or_create_chat(None, "u1", "hello")
        store.append_message(chat.id, NewMessage(role="user", content="hello"))
        abandoned = store.append_message(
            chat.id, NewMessage(role="assistant", content="", status="streaming")
        )
        other = store.get_or_create_chat(None, "u1", "second")
        done = store.append_message(other.id, NewMessage(role="assistant", content="ok"))
        between = datetime.now(UTC)
        live = store.append_message(
            other.id, NewMessage(role="assistant", content="", status="streaming")
        )

        assert asyncio.run(sweep.execute()) == 0  # within the turn limit: they may be alive
        assert store.interrupt_abandoned(between) == 1  # the store's cutoff is exact
        clock.at += timedelta(seconds=41)
        assert asyncio.run(sweep.execute()) == 1  # now the second one is past the limit too
        assert asyncio.run(sweep.execute()) == 0  # idempotent
        statuses = {m.id: m.status for c in (chat, other) for m in store.list_messages(c.id)}
        assert statuses == {
            **{m.id: "complete" for m in store.list_messages(chat.id) if m.role == "user"},
            abandoned.id: "interrupted",
            done.id: "complete",
            live.id: "interrupted",
        }
    finally:
        store.close()


def test_an_answer_whose_process_died_is_interrupted_at_once_not_a_live_ones(
    app_db: AppDb, tmp_path: Path
) -> None:
    def presence() -> Presence:
        if app_db.url is not None:
            return PgPresence(app_db.url)
        return FilePresence(tmp_path / "processes")

    dying, living, starting = presence(), presence(), presence()

    def store_of(owner: Presence) -> HistoryStore:
        return app_db.open(lambda target: HistoryStore(target, presence=owner))

    stores = [store_of(p) for p in (dying, living, starting)]
    try:
        answers = []
        for store in stores[:2]:
            chat = store.get_or_create_chat(None, "u1", "hello")
            answers.append(
                store.append_message(
                    chat.id, NewMessage(role="assistant", content="", status="streaming")
                )
            )
        dying.close()  # killed: its answer will never be finalised
        assert wait_until_dead(starting, dying.id)

        sweep = SweepAbandonedTurns(stores[2], MovableClock(), turn_limit_s=600)
        assert asyncio.run(sweep.execute()) == 1  # at start, long before the turn limit

        statuses = {
            m.id: m.status
            for store in stores[:1]
            for chat in store.list_chats("u1")
            for m in store.list_messages(chat.id)
        }
        assert statuses == {answers[0].id: "interrupted", answers[1].id: "streaming"}
    finally:
        for store in stores:
            store.close()
        for made in (living, starting):
            made.close()
