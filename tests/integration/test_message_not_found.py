"""Whether an answer is the can't-find answer is stored with it, on SQLite and PostgreSQL:
written when the answer is stored (the turn's decision, `NewMessage.not_found`), read back
with the message, and, for answers stored before the column existed, marked by the migration
that added it from their text, exactly as the answers API used to read them."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.chat.history_schema import MIGRATIONS, PG_MIGRATIONS
from services.chat.history_store import HistoryStore
from services.postgres.migrations import apply_migrations as apply_pg_migrations
from services.sqlite.connection import connect
from services.sqlite.migrations import apply_migrations
from tests.postgres import BACKENDS
from tests.store_backends import AppDb, open_app_db
from use_cases.chat.domain import NewMessage
from use_cases.chat.prompts import NOT_FOUND_ANSWER
from use_cases.conversations.import_domain import ImportedConversation, ImportedMessage

#: The migration that adds the column, and the ones before it.
ADDED = "history_0005_message_not_found"
BEFORE = [m for m in MIGRATIONS if m.name < ADDED]
PG_BEFORE = [m for m in PG_MIGRATIONS if m.name < "history_pg_0005_message_not_found"]

#: Answers stored before the column: (content, what the API read from the text then).
OLD_ANSWERS = [
    (NOT_FOUND_ANSWER, True),
    (f"  \n{NOT_FOUND_ANSWER} Try the HR handbook.", True),
    ("Visitors park in bay 7 [1].", False),
    (f"Asked before, the reply was: {NOT_FOUND_ANSWER}", False),
]


@pytest.fixture(params=BACKENDS)
def app_db(request: pytest.FixtureRequest, tmp_path: Path):
    yield from open_app_db(str(request.param), tmp_path, request)


def _schema_before_the_column(app_db: AppDb) -> None:
    if app_db.db is not None:
        apply_pg_migrations(app_db.db, PG_BEFORE)
        return
    conn = connect(app_db.path)
    try:
        apply_migrations(conn, BEFORE)
    finally:
        conn.close()


def _old_chat(app_db: AppDb) -> None:
    """A chat written by the previous release: a question, then the old answers."""
    now = "2026-11-01T10:00:00.000000+00:00"
    app_db.raw("INSERT INTO users (id, created_at) VALUES ('ada', ?)", now)
    app_db.raw(
        "INSERT INTO chats (id, user_id, title, created_at, updated_at) "
        "VALUES ('c1', 'ada', 'Parking', ?, ?)",
        now,
        now,
    )
    rows = [("user", NOT_FOUND_ANSWER)] + [("assistant", text) for text, _ in OLD_ANSWERS]
    for seq, (role, content) in enumerate(rows, start=1):
        app_db.raw(
            "INSERT INTO messages (id, chat_id, seq, role, content, created_at) "
            "VALUES (?, 'c1', ?, ?, ?, ?)",
            f"m{seq}",
            seq,
            role,
            content,
            now,
        )


def test_answers_stored_before_the_column_read_as_they_did(app_db: AppDb) -> None:
    _schema_before_the_column(app_db)
    _old_chat(app_db)

    store = app_db.open(HistoryStore)  # applies the new migration, with its backfill
    try:
        messages = store.list_messages("c1")
    finally:
        store.close()

    assert messages[0].role == "user" and messages[0].not_found is False
    assert [(m.content, m.not_found) for m in messages[1:]] == OLD_ANSWERS


def test_an_answer_keeps_the_decision_its_turn_stored(app_db: AppDb) -> None:
    store = app_db.open(HistoryStore)
    try:
        chat = store.get_or_create_chat(None, "ada", "Where do visitors park?")
        store.append_message(chat.id, NewMessage("user", "Where do visitors park?"))
        streaming = store.append_message(chat.id, NewMessage("assistant", "", status="streaming"))
        # The offline model decided: not found, in words no text test would recognise.
        store.finalize_message(
            streaming.id, NewMessage("assistant", "Nothing about visitors.", not_found=True)
        )
        # A found answer that quotes the sentence stays found.
        quoted = store.append_message(
            chat.id, NewMessage("assistant", f"{NOT_FOUND_ANSWER} was the old reply.")
        )
        # A question is never the can't-find answer, whatever it is handed.
        store.append_message(chat.id, NewMessage("user", "And bikes?", not_found=True))

        read = store.list_messages(chat.id)
    finally:
        store.close()

    assert [m.not_found for m in read] == [False, True, False, False]
    assert quoted.not_found is False


def test_an_imported_answer_is_marked_from_its_text_once(app_db: AppDb) -> None:
    store = app_db.open(HistoryStore)
    try:
        outcome = store.import_conversation(
            "ada",
            ImportedConversation(
                source="chatgpt",
                external_id="share-1",
                source_url=None,
                title="Parking",
                messages=(
                    ImportedMessage("user", "Where do visitors park?"),
                    ImportedMessage("assistant", NOT_FOUND_ANSWER),
                    ImportedMessage("assistant", "Bay 7."),
                ),
            ),
        )
        read = store.list_messages(outcome.chat.id)
    finally:
        store.close()

    assert [m.not_found for m in read] == [False, True, False]
