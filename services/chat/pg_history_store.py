"""PostgreSQL adapter for the `HistoryStore` port: users, chats and their messages.

The same rules as `SqliteHistoryStore` (ids, titles, ordering, ownership, errors), on the
shared PostgreSQL pool. Concurrency, across threads and replicas:

* appending locks the chat row (`SELECT ... FOR UPDATE`) before it reads the next `seq`, so
  two turns on one chat queue up instead of racing for a position; the unique
  `(chat_id, seq)` index would refuse a duplicate anyway;
* get-or-create inserts with `ON CONFLICT DO NOTHING` and then reads, so racing creators of
  one new chat id all get the one row;
* single-statement reads run in autocommit mode.

Column names are those of the SQLite schema. `tool_calls` and `sources` are `JSON`, not
JSONB: they are shown back as stored, and JSONB would re-order a tool call's arguments.
`chats.rowid` (an identity column) stands in for SQLite's implicit rowid, the tie-breaker of
chats touched in the same microsecond.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from services.chat.history_store import (
    chat_title,
    check_message,
    is_valid_id,
    require_valid_id,
    to_json,
)
from services.postgres import Migration, PgDatabase, apply_migrations
from services.postgres.database import Connection
from services.presence import Presence
from use_cases.access.domain import User
from use_cases.chat.domain import (
    Chat,
    Message,
    MessageVersion,
    NewMessage,
    Source,
    TokenUsage,
    ToolCall,
    replaced_answers,
)
from use_cases.shared.errors import InvalidRequest, NotFound

__all__ = ["MIGRATIONS", "PgHistoryStore"]

RENAME_MAX_CHARS = 200

MIGRATIONS: list[Migration] = [
    Migration(
        "history_pg_0001_users_chats_messages",
        """
        CREATE TABLE users (
            id          TEXT PRIMARY KEY,
            name        TEXT,
            email       TEXT,
            created_at  TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE chats (
            id          TEXT PRIMARY KEY,
            user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            title       TEXT NOT NULL,
            created_at  TIMESTAMPTZ NOT NULL,
            updated_at  TIMESTAMPTZ NOT NULL,
            rowid       BIGINT GENERATED ALWAYS AS IDENTITY
        );
        CREATE INDEX chats_by_user_recent ON chats(user_id, updated_at DESC, rowid DESC);
        CREATE TABLE messages (
            id            TEXT PRIMARY KEY,
            chat_id       TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            seq           INTEGER NOT NULL CHECK (seq >= 1),
            role          TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content       TEXT NOT NULL,
            tool_calls    JSON NOT NULL DEFAULT '[]',
            sources       JSON NOT NULL DEFAULT '[]',
            model         TEXT,
            latency_ms    INTEGER,
            input_tokens  INTEGER,
            output_tokens INTEGER,
            requests      INTEGER,
            status        TEXT NOT NULL DEFAULT 'complete'
                          CHECK (status IN ('complete', 'streaming', 'interrupted', 'failed')),
            created_at    TIMESTAMPTZ NOT NULL
        );
        -- Unique: two turns can never share a position. Also serves the FK and seq-order reads.
        CREATE UNIQUE INDEX messages_by_chat_seq ON messages(chat_id, seq);
        """,
    ),
    Migration(
        "history_pg_0002_message_owner",
        """
        ALTER TABLE messages ADD COLUMN owner TEXT;
        CREATE INDEX messages_streaming ON messages(owner) WHERE status = 'streaming';
        """,
    ),
    Migration(
        "history_pg_0003_message_versions",
        """
        CREATE TABLE message_versions (
            id          TEXT PRIMARY KEY,
            message_id  TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            seq         INTEGER NOT NULL CHECK (seq >= 1),
            question    TEXT NOT NULL,
            content     TEXT NOT NULL,
            sources     JSON NOT NULL DEFAULT '[]',
            model       TEXT,
            status      TEXT NOT NULL,
            created_at  TIMESTAMPTZ NOT NULL
        );
        CREATE UNIQUE INDEX message_versions_by_message ON message_versions(message_id, seq);
        """,
    ),
]

_CHAT_COLUMNS = "id, user_id, title, created_at, updated_at"
_MESSAGE_COLUMNS = (
    "id, chat_id, role, content, tool_calls, sources, model, latency_ms, "
    "input_tokens, output_tokens, requests, status, created_at"
)


class PgHistoryStore:
    """`HistoryStore` on PostgreSQL; safe for many threads and replicas at once."""

    def __init__(self, db: PgDatabase, *, presence: Presence | None = None) -> None:
        self._db = db
        self._presence = presence
        apply_migrations(db, MIGRATIONS)

    # -- users -------------------------------------------------------------------------------

    def ensure_user(self, user_id: str, name: str | None = None, email: str | None = None) -> User:
        require_valid_id(user_id, "user id")
        _refuse_nul(name, email)
        with self._db.transaction() as conn:
            _insert_user_if_new(conn, user_id, name, email)
            row = conn.execute(
                "SELECT id, name, email, created_at FROM users WHERE id = %s", (user_id,)
            ).fetchone()
        assert row is not None
        return User(
            id=row["id"], name=row["name"], email=row["email"], created_at=_utc(row["created_at"])
        )

    # -- chats -------------------------------------------------------------------------------

    def get_chat(self, chat_id: str) -> Chat | None:
        if not is_valid_id(chat_id):
            return None
        with self._db.connection() as conn:
            row = conn.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = %s", (chat_id,)
            ).fetchone()
        return _chat(row) if row else None

    def get_or_create_chat(self, chat_id: str | None, user_id: str, first_message: str) -> Chat:
        """Return `user_id`'s chat `chat_id`, creating it if new (`None` means a fresh id);
        another user's chat raises `NotFound`, as a missing one would."""
        require_valid_id(user_id, "user id")
        if chat_id is None:
            chat_id = uuid.uuid4().hex
        else:
            require_valid_id(chat_id, "chat id")
        title = chat_title(first_message)
        _refuse_nul(title)
        with self._db.transaction() as conn:
            row = conn.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = %s", (chat_id,)
            ).fetchone()
            if row is None:
                _insert_user_if_new(conn, user_id)
                now = _now()
                # A racing creator of the same id makes this wait for its commit, then skip.
                conn.execute(
                    "INSERT INTO chats (id, user_id, title, created_at, updated_at) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                    (chat_id, user_id, title, now, now),
                )
                row = conn.execute(
                    f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = %s", (chat_id,)
                ).fetchone()
            assert row is not None
            if row["user_id"] != user_id:
                raise NotFound(f"Chat {chat_id} not found.")
        return _chat(row)

    def list_chats(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[Chat]:
        """The user's chats, most recently active first."""
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must not be negative.")
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats WHERE user_id = %s "
                "ORDER BY updated_at DESC, rowid DESC LIMIT %s OFFSET %s",
                (user_id, limit, offset),
            ).fetchall()
        return [_chat(row) for row in rows]

    def search_chats(
        self, user_id: str, terms: Sequence[str], *, limit: int = 50, offset: int = 0
    ) -> list[tuple[Chat, str | None]]:
        """As `SqliteHistoryStore.search_chats` (PostgreSQL's lower() folds the case)."""
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must not be negative.")
        folded = [t.casefold() for t in terms if t]
        if not folded:
            return [(chat, None) for chat in self.list_chats(user_id, limit=limit, offset=offset)]
        held = (
            "(strpos(lower(c.title), lower(%s)) > 0 OR EXISTS (SELECT 1 FROM messages m "
            "WHERE m.chat_id = c.id AND strpos(lower(m.content), lower(%s)) > 0))"
        )
        columns = ", ".join(f"c.{c.strip()}" for c in _CHAT_COLUMNS.split(","))
        any_term = " OR ".join(["strpos(lower(content), lower(%s)) > 0"] * len(folded))
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {columns} FROM chats c WHERE c.user_id = %s AND "
                f"{' AND '.join([held] * len(folded))} "
                "ORDER BY c.updated_at DESC, c.rowid DESC LIMIT %s OFFSET %s",
                (user_id, *(t for term in folded for t in (term, term)), limit, offset),
            ).fetchall()
            if not rows:
                return []
            # The first message holding a word, of every chat found, in one query.
            firsts = {
                first["chat_id"]: first["content"]
                for first in conn.execute(
                    "SELECT DISTINCT ON (chat_id) chat_id, content FROM messages "
                    f"WHERE chat_id = ANY(%s) AND ({any_term}) ORDER BY chat_id, seq",
                    ([row["id"] for row in rows], *folded),
                ).fetchall()
            }
        return [(_chat(row), firsts.get(row["id"])) for row in rows]

    def rename_chat(self, chat_id: str, title: str) -> Chat:
        """Set a user-chosen title; `updated_at` is left alone (see `SqliteHistoryStore`)."""
        clean = " ".join(title.split())
        if not 1 <= len(clean) <= RENAME_MAX_CHARS:
            raise InvalidRequest(f"A chat title must have 1 to {RENAME_MAX_CHARS} characters.")
        if not is_valid_id(chat_id):
            raise NotFound(f"Chat {chat_id} not found.")
        _refuse_nul(clean)
        with self._db.connection() as conn:
            row = conn.execute(
                f"UPDATE chats SET title = %s WHERE id = %s RETURNING {_CHAT_COLUMNS}",
                (clean, chat_id),
            ).fetchone()
        if row is None:
            raise NotFound(f"Chat {chat_id} not found.")
        return _chat(row)

    def delete_chat(self, chat_id: str) -> bool:
        """Delete the chat and (by cascade) its messages. False if there was no such chat."""
        if not is_valid_id(chat_id):
            return False
        with self._db.connection() as conn:
            cursor = conn.execute("DELETE FROM chats WHERE id = %s", (chat_id,))
        return cursor.rowcount > 0

    # -- messages ----------------------------------------------------------------------------

    def delete_messages(
        self, chat_id: str, message_ids: Sequence[str], *, versions_of: str | None = None
    ) -> int:
        """Delete these messages of the chat (an exchange answered again); how many were.
        With `versions_of`, their answers are kept as that message's previous versions."""
        if not is_valid_id(chat_id) or not message_ids:
            return 0
        with self._db.transaction() as conn:
            if versions_of is not None:
                rows = conn.execute(
                    f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE chat_id = %s "
                    "AND id = ANY(%s) ORDER BY seq",
                    (chat_id, list(message_ids)),
                ).fetchall()
                _keep_versions(conn, [_message(row) for row in rows], versions_of)
            cursor = conn.execute(
                "DELETE FROM messages WHERE chat_id = %s AND id = ANY(%s)",
                (chat_id, list(message_ids)),
            )
        return cursor.rowcount

    def list_versions(self, chat_id: str) -> dict[str, list[MessageVersion]]:
        if not is_valid_id(chat_id):
            return {}
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT v.* FROM message_versions v JOIN messages m ON m.id = v.message_id "
                "WHERE m.chat_id = %s ORDER BY v.message_id, v.seq",
                (chat_id,),
            ).fetchall()
        versions: dict[str, list[MessageVersion]] = {}
        for row in rows:
            versions.setdefault(row["message_id"], []).append(
                MessageVersion(
                    question=row["question"],
                    content=row["content"],
                    sources=tuple(Source.from_dict(s) for s in _json(row["sources"])),
                    model=row["model"],
                    status=row["status"],
                    created_at=_utc(row["created_at"]),
                )
            )
        return versions

    def append_message(self, chat_id: str, message: NewMessage) -> Message:
        """Append at the next position of the chat and mark the chat as just active.

        The chat row is locked first, so concurrent appends to one chat take turns: each
        reads the `seq` its predecessor committed, and `created_at` order agrees with it.
        """
        check_message(message)
        if not is_valid_id(chat_id):
            raise NotFound(f"Chat {chat_id} not found.")
        values = _message_values(message)
        message_id = uuid.uuid4().hex
        streaming = message.status == "streaming" and self._presence is not None
        owner = self._presence.id if streaming and self._presence is not None else None
        with self._db.transaction() as conn:
            locked = conn.execute(
                "SELECT 1 FROM chats WHERE id = %s FOR UPDATE", (chat_id,)
            ).fetchone()
            if locked is None:
                raise NotFound(f"Chat {chat_id} not found.")
            now = _now()  # taken under the chat's lock
            row = conn.execute(
                "INSERT INTO messages (id, chat_id, seq, role, content, tool_calls, sources, "
                "model, latency_ms, input_tokens, output_tokens, requests, status, created_at, "
                "owner) VALUES (%s, %s, "
                "(SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE chat_id = %s), "
                "%s, %s, %s::json, %s::json, %s, %s, %s, %s, %s, %s, %s, %s) "
                f"RETURNING {_MESSAGE_COLUMNS}",
                (message_id, chat_id, chat_id, message.role, *values, now, owner),
            ).fetchone()
            conn.execute("UPDATE chats SET updated_at = %s WHERE id = %s", (now, chat_id))
        assert row is not None
        return _message(row)

    def finalize_message(self, message_id: str, message: NewMessage) -> Message:
        """Overwrite a message's outcome when its streamed turn ends; role, position and
        creation time are kept, and the chat counts as active again."""
        check_message(message)
        if not is_valid_id(message_id):
            raise NotFound(f"Message {message_id} not found.")
        values = _message_values(message)
        with self._db.transaction() as conn:
            row = conn.execute(
                "UPDATE messages SET content = %s, tool_calls = %s::json, "
                "sources = %s::json, model = %s, latency_ms = %s, input_tokens = %s, "
                "output_tokens = %s, requests = %s, status = %s "
                f"WHERE id = %s RETURNING {_MESSAGE_COLUMNS}",
                (*values, message_id),
            ).fetchone()
            if row is None:
                raise NotFound(f"Message {message_id} not found.")
            conn.execute("UPDATE chats SET updated_at = %s WHERE id = %s", (_now(), row["chat_id"]))
        return _message(row)

    def interrupt_abandoned(self, started_before: datetime) -> int:
        """Mark every `streaming` message created before `started_before`, or streamed by a
        process `presence` knows is dead, as `interrupted`: its turn's process died (a crash,
        a `kill -9`) and will never finalise it."""
        dead = self._dead_owners()
        with self._db.connection() as conn:
            cursor = conn.execute(
                "UPDATE messages SET status = 'interrupted' "
                "WHERE status = 'streaming' AND (created_at < %s OR owner = ANY(%s))",
                (_utc(started_before), dead),
            )
        return int(cursor.rowcount)

    def _dead_owners(self) -> list[str]:
        if self._presence is None:
            return []
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT owner FROM messages "
                "WHERE status = 'streaming' AND owner IS NOT NULL"
            ).fetchall()
        owners = {row["owner"] for row in rows}
        return sorted(owners - self._presence.alive(owners)) if owners else []

    def list_messages(self, chat_id: str, *, limit: int | None = None) -> list[Message]:
        """Messages in conversation order; with `limit`, the last `limit` of them."""
        if limit is not None and limit < 0:
            raise InvalidRequest("limit must not be negative.")
        if not is_valid_id(chat_id):
            return []
        with self._db.connection() as conn:
            if limit is None:
                rows = conn.execute(
                    f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE chat_id = %s ORDER BY seq",
                    (chat_id,),
                ).fetchall()
            else:
                rows = conn.execute(
                    f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE chat_id = %s "
                    "ORDER BY seq DESC LIMIT %s",
                    (chat_id, limit),
                ).fetchall()
                rows.reverse()
        return [_message(row) for row in rows]

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Nothing to release: the pool is shared and closed by its owner."""


def _keep_versions(conn: Connection, messages: Sequence[Message], new_id: str) -> None:
    """Move the versions the replaced answers kept, then the answers themselves, to `new_id`
    (as `services/chat/history_store._keep_versions`, in this dialect)."""
    old_ids = [m.id for m in messages if m.role == "assistant"]
    if old_ids:
        conn.execute(
            "UPDATE message_versions SET message_id = %s, seq = seq + 1000000 "
            "WHERE message_id = ANY(%s)",
            (new_id, old_ids),
        )
    rows = conn.execute(
        "SELECT id FROM message_versions WHERE message_id = %s ORDER BY created_at, seq",
        (new_id,),
    ).fetchall()
    for seq, row in enumerate(rows, start=1):  # one numbering, oldest first
        conn.execute("UPDATE message_versions SET seq = %s WHERE id = %s", (seq, row["id"]))
    for seq, (question, answer) in enumerate(replaced_answers(messages), start=len(rows) + 1):
        _refuse_nul(question, answer.content)
        conn.execute(
            "INSERT INTO message_versions (id, message_id, seq, question, content, sources, "
            "model, status, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                uuid.uuid4().hex,
                new_id,
                seq,
                question,
                answer.content,
                to_json(answer.sources, "sources"),
                answer.model,
                answer.status,
                answer.created_at,
            ),
        )


def _insert_user_if_new(
    conn: Connection, user_id: str, name: str | None = None, email: str | None = None
) -> None:
    conn.execute(
        "INSERT INTO users (id, name, email, created_at) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (id) DO NOTHING",
        (user_id, name, email, _now()),
    )


def _message_values(message: NewMessage) -> tuple[Any, ...]:
    """content .. status, in the column order both writes use; checked before any SQL."""
    tool_calls = to_json(message.tool_calls, "tool_calls")
    sources = to_json(message.sources, "sources")
    _refuse_nul(message.content, message.model)
    usage = message.usage
    return (
        message.content,
        tool_calls,
        sources,
        message.model,
        message.latency_ms,
        usage.input_tokens if usage else None,
        usage.output_tokens if usage else None,
        usage.requests if usage else None,
        message.status,
    )


def _refuse_nul(*texts: str | None) -> None:
    """PostgreSQL text cannot hold a NUL character: refuse it with a domain error instead of
    a database one (the JSON columns hold it escaped, as on SQLite)."""
    for text in texts:
        if text is not None and "\x00" in text:
            raise InvalidRequest("Text must not contain NUL characters.")


def _chat(row: dict[str, Any]) -> Chat:
    return Chat(
        id=row["id"],
        user_id=row["user_id"],
        title=row["title"],
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
    )


def _message(row: dict[str, Any]) -> Message:
    counts = (row["input_tokens"], row["output_tokens"], row["requests"])
    usage = (
        None
        if all(count is None for count in counts)
        else TokenUsage(*(count or 0 for count in counts))
    )
    return Message(
        id=row["id"],
        chat_id=row["chat_id"],
        role=row["role"],
        content=row["content"],
        tool_calls=tuple(ToolCall.from_dict(call) for call in _json(row["tool_calls"])),
        sources=tuple(Source.from_dict(source) for source in _json(row["sources"])),
        model=row["model"],
        latency_ms=row["latency_ms"],
        usage=usage,
        status=row["status"],
        created_at=_utc(row["created_at"]),
    )


def _json(value: Any) -> Any:
    """JSONB comes back parsed; text (a cast elsewhere) is parsed here."""
    return json.loads(value) if isinstance(value, str) else value


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
