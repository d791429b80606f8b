"""SQLite adapter for the `HistoryStore` port: users, chats and their messages.

Concurrency model. The store is called from FastAPI worker threads and by many chat turns at
once, possibly from several processes sharing one file. So:

* every thread gets its own connection (`services/sqlite/thread_connections.py`), because a
  sqlite connection must not run two statements at once;
* the database is in WAL mode, so readers never wait for the writer (connections come from
  `services/sqlite/connection.py`, the policy every store shares);
* every transaction that reads and then writes (next `seq`, get-or-create) starts with
  `BEGIN IMMEDIATE`: it takes the write lock up front, so a concurrent writer waits in the busy
  handler instead of failing with SQLITE_BUSY the moment it tries to upgrade a read lock
  (see docs/PITFALLS.md);
* single-statement reads run in autocommit mode and see one consistent snapshot.

Schema changes are the named `MIGRATIONS` below, applied by `services/sqlite/migrations.py`
and recorded in the app database's shared `schema_migrations` table.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from services.presence import Presence
from services.sqlite.connection import Connection, Row, immediate_transaction
from services.sqlite.migrations import apply_migrations
from services.sqlite.thread_connections import ThreadConnections
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

__all__ = [
    "MIGRATIONS",
    "SqliteHistoryStore",
    "chat_title",
    "check_message",
    "is_valid_id",
    "require_valid_id",
    "to_json",
]

TITLE_MAX_CHARS = 80
RENAME_MAX_CHARS = 200
DEFAULT_TITLE = "New chat"

# Vercel `useChat` and other clients generate their own chat ids; accept anything that is safe
# in a URL path segment and in logs, and refuse the rest before it reaches the database.
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ROLES = frozenset({"user", "assistant"})
_STATUSES = frozenset({"complete", "streaming", "interrupted", "failed"})

# Names are prefixed because the app database is shared with other stores (response log,
# evals), which record their migrations in the same `schema_migrations` table.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "history_0001_users_chats_messages",
        """
        CREATE TABLE users (
            id          TEXT PRIMARY KEY,
            name        TEXT,
            email       TEXT,
            created_at  TEXT NOT NULL
        );
        CREATE TABLE chats (
            id          TEXT PRIMARY KEY,
            user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            title       TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        );
        CREATE INDEX chats_by_user_recent ON chats(user_id, updated_at DESC);
        CREATE TABLE messages (
            id            TEXT PRIMARY KEY,
            chat_id       TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            seq           INTEGER NOT NULL CHECK (seq >= 1),
            role          TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content       TEXT NOT NULL,
            tool_calls    JSON NOT NULL DEFAULT '[]' CHECK (json_valid(tool_calls)),
            sources       JSON NOT NULL DEFAULT '[]' CHECK (json_valid(sources)),
            model         TEXT,
            latency_ms    INTEGER,
            input_tokens  INTEGER,
            output_tokens INTEGER,
            requests      INTEGER,
            status        TEXT NOT NULL DEFAULT 'complete'
                          CHECK (status IN ('complete', 'streaming', 'interrupted', 'failed')),
            created_at    TEXT NOT NULL
        );
        -- Unique: two turns can never share a position. Also serves the FK and seq-order reads.
        CREATE UNIQUE INDEX messages_by_chat_seq ON messages(chat_id, seq);
        """,
    ),
    # The process streaming an answer (services/presence.py): a dead one's answers are
    # interrupted at the next start instead of after the turn time limit.
    (
        "history_0002_message_owner",
        """
        ALTER TABLE messages ADD COLUMN owner TEXT;
        CREATE INDEX messages_streaming ON messages(owner) WHERE status = 'streaming';
        """,
    ),
    # Answers replaced by "Retry" or an edited question, kept as the new answer's previous
    # versions (deleted with it, and with its chat).
    (
        "history_0003_message_versions",
        """
        CREATE TABLE message_versions (
            id          TEXT PRIMARY KEY,
            message_id  TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            seq         INTEGER NOT NULL CHECK (seq >= 1),
            question    TEXT NOT NULL,
            content     TEXT NOT NULL,
            sources     JSON NOT NULL DEFAULT '[]' CHECK (json_valid(sources)),
            model       TEXT,
            status      TEXT NOT NULL,
            created_at  TEXT NOT NULL
        );
        CREATE UNIQUE INDEX message_versions_by_message ON message_versions(message_id, seq);
        """,
    ),
)

_MESSAGE_COLUMNS = (
    "id, chat_id, role, content, tool_calls, sources, model, latency_ms, "
    "input_tokens, output_tokens, requests, status, created_at"
)


def chat_title(first_message: str) -> str:
    """Title for a new chat: the first message on one line, at most 80 characters.

    Whitespace (newlines, tabs, runs of spaces) collapses to single spaces so a pasted
    paragraph reads as a title; a cut title ends with "…" so users can tell it was cut.
    """
    text = " ".join(first_message.split())
    if not text:
        return DEFAULT_TITLE
    if len(text) <= TITLE_MAX_CHARS:
        return text
    return text[: TITLE_MAX_CHARS - 1].rstrip() + "…"


class SqliteHistoryStore:
    """`HistoryStore` on one SQLite file; safe for many threads and processes at once.

    Ids entering the system (`ensure_user`, `get_or_create_chat`) are validated and a bad one
    raises `InvalidRequest`. Lookups by id treat a malformed id as absent (None / NotFound /
    False / []), since no stored row can have it.
    """

    def __init__(self, path: str | Path, *, presence: Presence | None = None) -> None:
        self._connections = ThreadConnections(path, row_factory=Row)
        self._presence = presence
        apply_migrations(self._conn(), MIGRATIONS)

    # -- users -------------------------------------------------------------------------------

    def ensure_user(self, user_id: str, name: str | None = None, email: str | None = None) -> User:
        """Provision `user_id` on first sight and return it; an existing profile is kept.

        Users arrive from an auth header or a client-chosen id, so there is no sign-up step:
        the first request creates the row, later ones just read it.
        """
        require_valid_id(user_id, "user id")
        with self._write() as conn:
            _insert_user_if_new(conn, user_id, name, email)
            row = conn.execute(
                "SELECT id, name, email, created_at FROM users WHERE id = ?", (user_id,)
            ).fetchone()
        return User(
            id=row["id"],
            name=row["name"],
            email=row["email"],
            created_at=_parse_time(row["created_at"]),
        )

    # -- chats -------------------------------------------------------------------------------

    def get_chat(self, chat_id: str) -> Chat | None:
        if not is_valid_id(chat_id):
            return None
        row = self._conn().execute("SELECT * FROM chats WHERE id = ?", (chat_id,)).fetchone()
        return _chat(row) if row else None

    def get_or_create_chat(self, chat_id: str | None, user_id: str, first_message: str) -> Chat:
        """Return `user_id`'s chat `chat_id`, creating it if new (`None` means a fresh id).

        A chat that exists but belongs to someone else raises `NotFound`, the same answer as
        for a missing chat, so ids cannot be probed. The owner is provisioned if unknown,
        because a chat row cannot exist without its user.
        """
        require_valid_id(user_id, "user id")
        if chat_id is None:
            chat_id = uuid.uuid4().hex
        else:
            require_valid_id(chat_id, "chat id")
        with self._write() as conn:
            row = conn.execute("SELECT * FROM chats WHERE id = ?", (chat_id,)).fetchone()
            if row is not None:
                if row["user_id"] != user_id:
                    raise NotFound(f"Chat {chat_id} not found.")
                return _chat(row)
            _insert_user_if_new(conn, user_id)
            now = _now()
            conn.execute(
                "INSERT INTO chats (id, user_id, title, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (chat_id, user_id, chat_title(first_message), now, now),
            )
            row = conn.execute("SELECT * FROM chats WHERE id = ?", (chat_id,)).fetchone()
        return _chat(row)

    def list_chats(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[Chat]:
        """The user's chats, most recently active first."""
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must not be negative.")
        rows = self._conn().execute(
            # rowid breaks ties between chats touched in the same microsecond, newest first.
            "SELECT * FROM chats WHERE user_id = ? ORDER BY updated_at DESC, rowid DESC "
            "LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [_chat(row) for row in rows]

    def search_chats(
        self, user_id: str, terms: Sequence[str], *, limit: int = 50, offset: int = 0
    ) -> list[tuple[Chat, str | None]]:
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must not be negative.")
        folded = [t.casefold() for t in terms if t]
        if not folded:
            return [(chat, None) for chat in self.list_chats(user_id, limit=limit, offset=offset)]
        conn = self._conn()
        conn.create_function("casefold", 1, _casefold, deterministic=True)
        held = (
            "(instr(casefold(c.title), ?) > 0 OR EXISTS (SELECT 1 FROM messages m "
            "WHERE m.chat_id = c.id AND instr(casefold(m.content), ?) > 0))"
        )
        rows = conn.execute(
            f"SELECT c.* FROM chats c WHERE c.user_id = ? AND {' AND '.join([held] * len(folded))} "
            "ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ? OFFSET ?",
            (user_id, *(t for term in folded for t in (term, term)), limit, offset),
        ).fetchall()
        if not rows:
            return []
        # The first message holding a word, of every chat found, in one query.
        any_term = " OR ".join(["instr(casefold(content), ?) > 0"] * len(folded))
        ids = [row["id"] for row in rows]
        firsts = dict(
            conn.execute(
                "SELECT chat_id, content FROM (SELECT chat_id, content, row_number() OVER "
                "(PARTITION BY chat_id ORDER BY seq) AS n FROM messages "
                f"WHERE chat_id IN ({', '.join('?' * len(ids))}) AND ({any_term})) WHERE n = 1",
                (*ids, *folded),
            ).fetchall()
        )
        return [(_chat(row), firsts.get(row["id"])) for row in rows]

    def rename_chat(self, chat_id: str, title: str) -> Chat:
        """Set a user-chosen title (1..200 characters once whitespace is collapsed).

        `updated_at` is left alone: it orders the chat list by conversation activity, and a
        rename should not make an old chat jump to the top.
        """
        clean = " ".join(title.split())
        if not 1 <= len(clean) <= RENAME_MAX_CHARS:
            raise InvalidRequest(f"A chat title must have 1 to {RENAME_MAX_CHARS} characters.")
        if not is_valid_id(chat_id):
            raise NotFound(f"Chat {chat_id} not found.")
        with self._write() as conn:
            conn.execute("UPDATE chats SET title = ? WHERE id = ?", (clean, chat_id))
            row = conn.execute("SELECT * FROM chats WHERE id = ?", (chat_id,)).fetchone()
        if row is None:
            raise NotFound(f"Chat {chat_id} not found.")
        return _chat(row)

    def delete_chat(self, chat_id: str) -> bool:
        """Delete the chat and (by cascade) its messages. False if there was no such chat."""
        if not is_valid_id(chat_id):
            return False
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM chats WHERE id = ?", (chat_id,))
        return cursor.rowcount > 0

    # -- messages ----------------------------------------------------------------------------

    def delete_messages(
        self, chat_id: str, message_ids: Sequence[str], *, versions_of: str | None = None
    ) -> int:
        """Delete these messages of the chat (an exchange answered again); how many were.
        With `versions_of`, their answers are kept as that message's previous versions."""
        if not is_valid_id(chat_id) or not message_ids:
            return 0
        marks = ", ".join("?" * len(message_ids))
        with self._write() as conn:
            if versions_of is not None:
                rows = conn.execute(
                    f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? "
                    f"AND id IN ({marks}) ORDER BY seq",
                    (chat_id, *message_ids),
                ).fetchall()
                _keep_versions(conn, [_message(row) for row in rows], versions_of)
            cursor = conn.execute(
                f"DELETE FROM messages WHERE chat_id = ? AND id IN ({marks})",
                (chat_id, *message_ids),
            )
        return cursor.rowcount

    def list_versions(self, chat_id: str) -> dict[str, list[MessageVersion]]:
        if not is_valid_id(chat_id):
            return {}
        rows = self._conn().execute(
            "SELECT v.* FROM message_versions v JOIN messages m ON m.id = v.message_id "
            "WHERE m.chat_id = ? ORDER BY v.message_id, v.seq",
            (chat_id,),
        )
        versions: dict[str, list[MessageVersion]] = {}
        for row in rows:
            versions.setdefault(row["message_id"], []).append(
                MessageVersion(
                    question=row["question"],
                    content=row["content"],
                    sources=tuple(Source.from_dict(s) for s in json.loads(row["sources"])),
                    model=row["model"],
                    status=row["status"],
                    created_at=_parse_time(row["created_at"]),
                )
            )
        return versions

    def append_message(self, chat_id: str, message: NewMessage) -> Message:
        """Append at the next position of the chat and mark the chat as just active.

        The next `seq` is read and written inside one `BEGIN IMMEDIATE` transaction, so two
        concurrent turns can never take the same position or lose a message.
        """
        check_message(message)
        if not is_valid_id(chat_id):
            raise NotFound(f"Chat {chat_id} not found.")
        message_id = uuid.uuid4().hex
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM chats WHERE id = ?", (chat_id,)).fetchone() is None:
                raise NotFound(f"Chat {chat_id} not found.")
            # Taken under the write lock, so created_at order agrees with seq order.
            now = _now()
            usage = message.usage
            conn.execute(
                "INSERT INTO messages (id, chat_id, seq, role, content, tool_calls, sources, "
                "model, latency_ms, input_tokens, output_tokens, requests, status, created_at) "
                "VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE chat_id = ?),"
                " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message_id,
                    chat_id,
                    chat_id,
                    message.role,
                    message.content,
                    to_json(message.tool_calls, "tool_calls"),
                    to_json(message.sources, "sources"),
                    message.model,
                    message.latency_ms,
                    usage.input_tokens if usage else None,
                    usage.output_tokens if usage else None,
                    usage.requests if usage else None,
                    message.status,
                    now,
                ),
            )
            conn.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (now, chat_id))
            if message.status == "streaming" and self._presence is not None:
                conn.execute(
                    "UPDATE messages SET owner = ? WHERE id = ?", (self._presence.id, message_id)
                )
            row = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
        return _message(row)

    def finalize_message(self, message_id: str, message: NewMessage) -> Message:
        """Overwrite a message's outcome when its streamed turn ends.

        Content, tool calls, sources, model, latency, usage and status are replaced; the role,
        position and creation time are kept. The chat counts as active again, since the
        answer just arrived.
        """
        check_message(message)
        if not is_valid_id(message_id):
            raise NotFound(f"Message {message_id} not found.")
        usage = message.usage
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE messages SET content = ?, tool_calls = ?, sources = ?, model = ?, "
                "latency_ms = ?, input_tokens = ?, output_tokens = ?, requests = ?, status = ? "
                "WHERE id = ?",
                (
                    message.content,
                    to_json(message.tool_calls, "tool_calls"),
                    to_json(message.sources, "sources"),
                    message.model,
                    message.latency_ms,
                    usage.input_tokens if usage else None,
                    usage.output_tokens if usage else None,
                    usage.requests if usage else None,
                    message.status,
                    message_id,
                ),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"Message {message_id} not found.")
            row = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            conn.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (_now(), row["chat_id"]))
        return _message(row)

    def interrupt_abandoned(self, started_before: datetime) -> int:
        """Mark every `streaming` message created before `started_before`, or streamed by a
        process `presence` knows is dead, as `interrupted`: its turn's process died (a crash,
        a `kill -9`) and will never finalise it."""
        cutoff = started_before.astimezone(UTC).isoformat(timespec="microseconds")
        dead = self._dead_owners()
        marks = ",".join("?" * len(dead))
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE messages SET status = 'interrupted' WHERE status = 'streaming' "
                f"AND (created_at < ?{f' OR owner IN ({marks})' if dead else ''})",
                (cutoff, *dead),
            )
        return int(cursor.rowcount)

    def _dead_owners(self) -> list[str]:
        if self._presence is None:
            return []
        owners = {
            row[0]
            for row in self._conn().execute(
                "SELECT DISTINCT owner FROM messages "
                "WHERE status = 'streaming' AND owner IS NOT NULL"
            )
        }
        return sorted(owners - self._presence.alive(owners)) if owners else []

    def list_messages(self, chat_id: str, *, limit: int | None = None) -> list[Message]:
        """Messages in conversation order; with `limit`, the last `limit` of them.

        The last N (not the first N) is what a prompt's history window needs. An unknown chat
        has no messages.
        """
        if limit is not None and limit < 0:
            raise InvalidRequest("limit must not be negative.")
        if not is_valid_id(chat_id):
            return []
        conn = self._conn()
        if limit is None:
            rows = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? ORDER BY seq",
                (chat_id,),
            ).fetchall()
        else:
            rows = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? "
                "ORDER BY seq DESC LIMIT ?",
                (chat_id, limit),
            ).fetchall()
            rows.reverse()
        return [_message(row) for row in rows]

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection this store opened, in any thread (call at shutdown)."""
        self._connections.close()

    # -- internals ---------------------------------------------------------------------------

    def _conn(self) -> Connection:
        """This thread's connection, opened on first use (and again after a fork)."""
        return self._connections.get()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One `BEGIN IMMEDIATE` transaction: commit on success, roll back on any error."""
        with immediate_transaction(self._conn()) as conn:
            yield conn


def _keep_versions(conn: Connection, messages: Sequence[Message], new_id: str) -> None:
    """Move the versions the replaced answers kept, then the answers themselves, to `new_id`."""
    old_ids = [m.id for m in messages if m.role == "assistant"]
    if old_ids:
        conn.execute(
            f"UPDATE message_versions SET message_id = ?, seq = seq + 1000000 "
            f"WHERE message_id IN ({', '.join('?' * len(old_ids))})",
            (new_id, *old_ids),
        )
    rows = conn.execute(
        "SELECT id FROM message_versions WHERE message_id = ? ORDER BY created_at, seq",
        (new_id,),
    ).fetchall()
    for seq, (version_id,) in enumerate(rows, start=1):  # one numbering, oldest first
        conn.execute("UPDATE message_versions SET seq = ? WHERE id = ?", (seq, version_id))
    for seq, (question, answer) in enumerate(replaced_answers(messages), start=len(rows) + 1):
        conn.execute(
            "INSERT INTO message_versions (id, message_id, seq, question, content, sources, "
            "model, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                uuid.uuid4().hex,
                new_id,
                seq,
                question,
                answer.content,
                to_json(answer.sources, "sources"),
                answer.model,
                answer.status,
                answer.created_at.isoformat(timespec="microseconds"),
            ),
        )


def _casefold(text: str | None) -> str:
    return "" if text is None else str(text).casefold()


def _insert_user_if_new(
    conn: Connection, user_id: str, name: str | None = None, email: str | None = None
) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO users (id, name, email, created_at) VALUES (?, ?, ?, ?)",
        (user_id, name, email, _now()),
    )


# -- rows <-> domain -------------------------------------------------------------------------


def _chat(row: Row) -> Chat:
    return Chat(
        id=row["id"],
        user_id=row["user_id"],
        title=row["title"],
        created_at=_parse_time(row["created_at"]),
        updated_at=_parse_time(row["updated_at"]),
    )


def _message(row: Row) -> Message:
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
        tool_calls=tuple(ToolCall.from_dict(call) for call in json.loads(row["tool_calls"])),
        sources=tuple(Source.from_dict(source) for source in json.loads(row["sources"])),
        model=row["model"],
        latency_ms=row["latency_ms"],
        usage=usage,
        status=row["status"],
        created_at=_parse_time(row["created_at"]),
    )


def check_message(message: NewMessage) -> None:
    """Refuse bad roles/statuses with a domain error rather than an opaque IntegrityError."""
    if message.role not in _ROLES:
        raise InvalidRequest(f"Unknown message role {message.role!r}.")
    if message.status not in _STATUSES:
        raise InvalidRequest(f"Unknown message status {message.status!r}.")


def to_json(value: Sequence[ToolCall | Source], field: str) -> str:
    """The stored shape is each item's `as_dict()`, the one JSON shape of tool calls and
    sources (`use_cases/chat/domain.py`); rows written before these types read back the same."""
    try:
        return json.dumps(
            [item.as_dict() for item in value], ensure_ascii=False, separators=(",", ":")
        )
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"Message {field} must be JSON-serialisable: {exc}") from exc


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID_PATTERN.fullmatch(value) is not None


def require_valid_id(value: object, what: str) -> None:
    if not is_valid_id(value):
        raise InvalidRequest(f"Invalid {what}: use 1 to 64 letters, digits, '_' or '-'.")


def _now() -> str:
    """UTC ISO-8601 with a fixed microsecond part, so text order is time order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)
