"""The `HistoryStore` port in the app database, on SQLite or PostgreSQL (`services/sql`):
users, chats and their messages.

Concurrency model. The store is called from FastAPI worker threads and by many chat turns at
once, possibly from several processes sharing one SQLite file, or from several replicas
sharing one PostgreSQL database. So:

* on SQLite every thread gets its own connection (`services/sqlite/thread_connections.py`,
  through `SqliteSqlDb`), because a sqlite connection must not run two statements at once;
  the database is in WAL mode, so readers never wait for the writer (connections come from
  `services/sqlite/connection.py`, the policy every store shares); on PostgreSQL each call
  borrows a connection from the shared pool;
* every transaction that reads and then writes (next `seq`, get-or-create) is a
  `db.write()`: on SQLite that starts with `BEGIN IMMEDIATE`, which takes the write lock up
  front, so a concurrent writer waits in the busy handler instead of failing with
  SQLITE_BUSY the moment it tries to upgrade a read lock;
* appending locks the chat row first (`SELECT ... FOR UPDATE` on PostgreSQL; on SQLite the
  write lock is already held), then reads the next `seq`, so two turns on one chat queue up
  instead of racing for a position; the unique `(chat_id, seq)` index would refuse a
  duplicate anyway;
* get-or-create inserts with `ON CONFLICT DO NOTHING` and then reads, so racing creators of
  one new chat id all get the one row (on SQLite they are serialised by the write lock too);
* single-statement reads run in autocommit mode and see one consistent snapshot.

Stored formats (unchanged): times are ISO-8601 text in UTC with microseconds on SQLite, so
text order is time order, and `timestamptz` on PostgreSQL; `tool_calls` and `sources` are
the compact JSON text of `to_json` on both, in `JSON` columns (not JSONB on PostgreSQL: they
are shown back as stored, and JSONB would re-order a tool call's arguments). Column names are
the same on both; PostgreSQL's `chats.rowid` (an identity column) stands in for SQLite's
implicit rowid, the tie-breaker of chats touched in the same microsecond.

What differs by dialect, chosen with `db.dialect` where it happens:

* PostgreSQL text cannot hold a NUL character: it is refused with `InvalidRequest` before
  any SQL (`_refuse_nul`); SQLite stores it;
* search folds case with Python's `casefold` on SQLite (a function registered on the
  connection) and with PostgreSQL's `lower()`, which folds a few letters differently (ß);
* the schemas (types, the identity column) are two lists of migrations in
  `history_schema.py`: `MIGRATIONS` for SQLite, `PG_MIGRATIONS` for PostgreSQL, both named
  with a `history` prefix because the app database is shared with other stores, which
  record theirs in the same `schema_migrations`.

`messages.not_found` holds the turn's decision that an answer is the can't-find answer
(`NewMessage.not_found`); an imported answer's is read from its text once, when imported, as
the migration that added the column did for the answers already stored.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from services.chat.cited_answers import read_cited_answers
from services.chat.history_schema import MIGRATIONS, PG_MIGRATIONS
from services.presence import Presence
from services.sql import Session, StoreTarget, sql_db
from use_cases.access.domain import User
from use_cases.chat.domain import (
    MAX_POSITION,
    Chat,
    CitedAnswer,
    Message,
    MessagePage,
    MessageVersion,
    NewMessage,
    Source,
    TokenUsage,
    ToolCall,
    replaced_answers,
)
from use_cases.chat.prompts import reads_as_not_found
from use_cases.conversations.import_domain import (
    ImportedConversation,
    ImportOutcome,
    clean_title,
)
from use_cases.shared.errors import InvalidRequest, NotFound

__all__ = [
    "MIGRATIONS",
    "PG_MIGRATIONS",
    "HistoryStore",
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
#: Messages per INSERT when a conversation is imported (7 values each: far below the limits).
_IMPORT_BATCH = 200
_ROLES = frozenset({"user", "assistant"})
_STATUSES = frozenset({"complete", "streaming", "interrupted", "failed"})

_CHAT_COLUMNS = "id, user_id, title, created_at, updated_at, source, source_url, external_id"
_MESSAGE_COLUMNS = (
    "id, chat_id, role, content, tool_calls, sources, model, latency_ms, "
    "input_tokens, output_tokens, requests, status, created_at, not_found"
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


class HistoryStore:
    """`HistoryStore` on the app database; safe for many threads, processes and replicas.

    Ids entering the system (`ensure_user`, `get_or_create_chat`) are validated and a bad one
    raises `InvalidRequest`. Lookups by id treat a malformed id as absent (None / NotFound /
    False / []), since no stored row can have it.
    """

    def __init__(self, target: StoreTarget, *, presence: Presence | None = None) -> None:
        self._db = sql_db(target)
        self._presence = presence
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    # -- users -------------------------------------------------------------------------------

    def ensure_user(self, user_id: str, name: str | None = None, email: str | None = None) -> User:
        """Provision `user_id` on first sight and return it; an existing profile is kept.

        Users arrive from an auth header or a client-chosen id, so there is no sign-up step:
        the first request creates the row, later ones just read it.
        """
        require_valid_id(user_id, "user id")
        self._refuse_nul(name, email)
        with self._db.write() as conn:
            self._insert_user_if_new(conn, user_id, name, email)
            row = conn.execute(
                "SELECT id, name, email, created_at FROM users WHERE id = ?", (user_id,)
            ).fetchone()
        return User(
            id=row["id"],
            name=row["name"],
            email=row["email"],
            created_at=self._db.get_time(row["created_at"]),
        )

    def has_user(self, user_id: str) -> bool:
        """Whether the user has been seen (a key made for them, a sign-in, a request)."""
        with self._db.read() as conn:
            row = conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone()
        return row is not None

    # -- chats -------------------------------------------------------------------------------

    def get_chat(self, chat_id: str) -> Chat | None:
        if not is_valid_id(chat_id):
            return None
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = ?", (chat_id,)
            ).fetchone()
        return self._chat(row) if row else None

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
        title = chat_title(first_message)
        self._refuse_nul(title)
        with self._db.write() as conn:
            row = conn.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = ?", (chat_id,)
            ).fetchone()
            if row is None:
                self._insert_user_if_new(conn, user_id)
                now = self._now()
                # On PostgreSQL a racing creator of the same id makes this wait for its
                # commit, then skip; on SQLite the write lock already keeps it out.
                conn.execute(
                    "INSERT INTO chats (id, user_id, title, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    (chat_id, user_id, title, now, now),
                )
                row = conn.execute(
                    f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = ?", (chat_id,)
                ).fetchone()
            if row["user_id"] != user_id:
                raise NotFound(f"Chat {chat_id} not found.")
        return self._chat(row)

    def list_chats(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[Chat]:
        """The user's chats, most recently active first."""
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must not be negative.")
        with self._db.read() as conn:
            rows = conn.execute(
                # rowid breaks ties between chats touched in the same microsecond, newest first.
                f"SELECT {_CHAT_COLUMNS} FROM chats WHERE user_id = ? "
                "ORDER BY updated_at DESC, rowid DESC LIMIT ? OFFSET ?",
                (user_id, limit, offset),
            ).fetchall()
        return [self._chat(row) for row in rows]

    def search_chats(
        self,
        user_id: str,
        terms: Sequence[str],
        *,
        limit: int = 50,
        offset: int = 0,
        withheld: frozenset[str] = frozenset(),
    ) -> list[tuple[Chat, str | None]]:
        """The user's chats holding every term (case-folded, as part of a word) in the title
        or a message, most recently active first, each with the first message holding one;
        the `withheld` messages are not read (their reader may not be shown them)."""
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must not be negative.")
        folded = [t.casefold() for t in terms if t]
        if not folded:
            return [(chat, None) for chat in self.list_chats(user_id, limit=limit, offset=offset)]
        contains = self._contains
        hidden = sorted(withheld)
        shown = f" AND m.id NOT IN ({', '.join('?' * len(hidden))})" if hidden else ""
        held = (
            f"({contains('c.title')} OR EXISTS (SELECT 1 FROM messages m "
            f"WHERE m.chat_id = c.id AND {contains('m.content')}{shown}))"
        )
        columns = ", ".join(f"c.{c.strip()}" for c in _CHAT_COLUMNS.split(","))
        with self._db.read() as conn:
            if self._db.dialect == "sqlite":
                _register_casefold(conn)
            rows = conn.execute(
                f"SELECT {columns} FROM chats c WHERE c.user_id = ? AND "
                f"{' AND '.join([held] * len(folded))} "
                "ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ? OFFSET ?",
                (user_id, *(t for term in folded for t in (term, term, *hidden)), limit, offset),
            ).fetchall()
            if not rows:
                return []
            # The first message holding a word, of every chat found, in one query.
            any_term = " OR ".join([contains("m.content")] * len(folded))
            ids = [row["id"] for row in rows]
            firsts = {
                first["chat_id"]: first["content"]
                for first in conn.execute(
                    "SELECT chat_id, content FROM (SELECT m.chat_id, m.content, row_number() "
                    "OVER (PARTITION BY m.chat_id ORDER BY m.seq) AS n FROM messages m "
                    f"WHERE m.chat_id IN ({', '.join('?' * len(ids))}) AND ({any_term}){shown}) "
                    "AS firsts WHERE n = 1",
                    (*ids, *folded, *hidden),
                ).fetchall()
            }
        return [(self._chat(row), firsts.get(row["id"])) for row in rows]

    def cited_answers(self, user_id: str, chat_id: str | None = None) -> list[CitedAnswer]:
        """The user's answers that cite a source (of `chat_id` only, when given), then their
        earlier versions that do: their ids and sources, never their text."""
        return read_cited_answers(self._db, user_id, chat_id)

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
        self._refuse_nul(clean)
        with self._db.write() as conn:
            row = conn.execute(
                f"UPDATE chats SET title = ? WHERE id = ? RETURNING {_CHAT_COLUMNS}",
                (clean, chat_id),
            ).fetchone()
        if row is None:
            raise NotFound(f"Chat {chat_id} not found.")
        return self._chat(row)

    def delete_chat(self, chat_id: str) -> bool:
        """Delete the chat and (by cascade) its messages. False if there was no such chat."""
        if not is_valid_id(chat_id):
            return False
        with self._db.write() as conn:
            cursor = conn.execute("DELETE FROM chats WHERE id = ?", (chat_id,))
        return cursor.rowcount > 0

    def delete_user(self, user_id: str) -> bool:
        """Delete the user's profile and (by cascade) every chat left of theirs, with all that
        hangs on a chat. False if there was no such user."""
        if not is_valid_id(user_id):
            return False
        with self._db.write() as conn:
            cursor = conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
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
        with self._db.write() as conn:
            if versions_of is not None:
                rows = conn.execute(
                    f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? "
                    f"AND id IN ({marks}) ORDER BY seq",
                    (chat_id, *message_ids),
                ).fetchall()
                self._keep_versions(conn, [self._message(row) for row in rows], versions_of)
            cursor = conn.execute(
                f"DELETE FROM messages WHERE chat_id = ? AND id IN ({marks})",
                (chat_id, *message_ids),
            )
        return cursor.rowcount

    def list_versions(
        self, chat_id: str, message_ids: Sequence[str] | None = None
    ) -> dict[str, list[MessageVersion]]:
        if not is_valid_id(chat_id) or (message_ids is not None and not message_ids):
            return {}
        with self._db.read() as conn:
            if message_ids is None:
                rows = conn.execute(
                    "SELECT v.* FROM message_versions v JOIN messages m ON m.id = v.message_id "
                    "WHERE m.chat_id = ? ORDER BY v.message_id, v.seq",
                    (chat_id,),
                ).fetchall()
            else:  # a page's, by the versions' own index: never a walk of the chat's messages
                marks = ", ".join("?" * len(message_ids))
                rows = conn.execute(
                    f"SELECT * FROM message_versions WHERE message_id IN ({marks}) "
                    "ORDER BY message_id, seq",
                    tuple(message_ids),
                ).fetchall()
        versions: dict[str, list[MessageVersion]] = {}
        for row in rows:
            versions.setdefault(row["message_id"], []).append(
                MessageVersion(
                    question=row["question"],
                    content=row["content"],
                    sources=tuple(Source.from_dict(s) for s in self._db.get_json(row["sources"])),
                    model=row["model"],
                    status=row["status"],
                    created_at=self._db.get_time(row["created_at"]),
                )
            )
        return versions

    def append_message(self, chat_id: str, message: NewMessage) -> Message:
        """Append at the next position of the chat and mark the chat as just active.

        The chat row is locked first (`FOR UPDATE` on PostgreSQL, the `BEGIN IMMEDIATE` write
        lock on SQLite) and the next `seq` read and written in the same transaction, so
        concurrent appends to one chat take turns: none can take the same position or lose a
        message, and `created_at` order agrees with `seq` order.
        """
        check_message(message)
        if not is_valid_id(chat_id):
            raise NotFound(f"Chat {chat_id} not found.")
        values = self._message_values(message)
        message_id = uuid.uuid4().hex
        owner = (
            self._presence.id
            if message.status == "streaming" and self._presence is not None
            else None
        )
        with self._db.write() as conn:
            locked = conn.execute(
                f"SELECT 1 FROM chats WHERE id = ?{self._db.for_update}", (chat_id,)
            ).fetchone()
            if locked is None:
                raise NotFound(f"Chat {chat_id} not found.")
            now = self._now()  # taken under the lock, so created_at order agrees with seq
            row = conn.execute(
                "INSERT INTO messages (id, chat_id, seq, role, content, tool_calls, sources, "
                "model, latency_ms, input_tokens, output_tokens, requests, status, not_found, "
                "created_at, owner) VALUES (?, ?, "
                "(SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE chat_id = ?), "
                "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                f"RETURNING {_MESSAGE_COLUMNS}",
                (message_id, chat_id, chat_id, message.role, *values, now, owner),
            ).fetchone()
            conn.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (now, chat_id))
        return self._message(row)

    def finalize_message(self, message_id: str, message: NewMessage) -> Message:
        """Overwrite a message's outcome when its streamed turn ends.

        Content, tool calls, sources, model, latency, usage, status and `not_found` are
        replaced; the role, position and creation time are kept. The chat counts as active
        again, since the answer just arrived.
        """
        check_message(message)
        if not is_valid_id(message_id):
            raise NotFound(f"Message {message_id} not found.")
        values = self._message_values(message)
        with self._db.write() as conn:
            row = conn.execute(
                "UPDATE messages SET content = ?, tool_calls = ?, sources = ?, model = ?, "
                "latency_ms = ?, input_tokens = ?, output_tokens = ?, requests = ?, status = ?, "
                f"not_found = ? WHERE id = ? RETURNING {_MESSAGE_COLUMNS}",
                (*values, message_id),
            ).fetchone()
            if row is None:
                raise NotFound(f"Message {message_id} not found.")
            conn.execute(
                "UPDATE chats SET updated_at = ? WHERE id = ?", (self._now(), row["chat_id"])
            )
        return self._message(row)

    def interrupt_abandoned(self, started_before: datetime) -> int:
        """Mark every `streaming` message created before `started_before`, or streamed by a
        process `presence` knows is dead, as `interrupted`: its turn's process died (a crash,
        a `kill -9`) and will never finalise it."""
        cutoff = self._db.put_time(started_before.astimezone(UTC))
        dead = self._dead_owners()
        marks = ", ".join("?" * len(dead))
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE messages SET status = 'interrupted' WHERE status = 'streaming' "
                f"AND (created_at < ?{f' OR owner IN ({marks})' if dead else ''})",
                (cutoff, *dead),
            )
        return int(cursor.rowcount)

    def list_messages(self, chat_id: str, *, limit: int | None = None) -> list[Message]:
        """Messages in conversation order; with `limit`, the last `limit` of them.

        The last N (not the first N) is what a prompt's history window needs. An unknown chat
        has no messages.
        """
        if limit is not None and limit < 0:
            raise InvalidRequest("limit must not be negative.")
        if not is_valid_id(chat_id):
            return []
        with self._db.read() as conn:
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
        return [self._message(row) for row in rows]

    def count_messages(self, chat_id: str) -> int:
        """The chat's messages, counted on the `(chat_id, seq)` index (none read)."""
        if not is_valid_id(chat_id):
            return 0
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT COUNT(*) AS n FROM messages WHERE chat_id = ?", (chat_id,)
            ).fetchone()
        return int(row["n"])

    def page_messages(
        self, chat_id: str, *, limit: int, before: int | None = None, after: int | None = None
    ) -> MessagePage:
        """At most `limit` messages, oldest first, by position (`seq`): the first after
        `after`, the last before `before`, or the chat's last. Every read is a range of the
        unique `(chat_id, seq)` index (the page, then one row each side for the cursors), so
        a page of a 500,000-message chat costs what a page of a short one does."""
        if limit < 0 or not all(0 <= c <= MAX_POSITION for c in (before, after) if c is not None):
            raise InvalidRequest(
                f"limit must not be negative; before and after: 0 to {MAX_POSITION}."
            )
        if before is not None and after is not None:
            raise InvalidRequest("Give before or after, not both.")
        if not is_valid_id(chat_id) or limit == 0:
            return MessagePage([], None, None)
        with self._db.read() as conn:
            if after is not None:
                rows = conn.execute(
                    f"SELECT {_MESSAGE_COLUMNS}, seq FROM messages WHERE chat_id = ? "
                    "AND seq > ? ORDER BY seq LIMIT ?",
                    (chat_id, after, limit),
                ).fetchall()
            else:
                below = "" if before is None else " AND seq < ?"
                rows = conn.execute(
                    f"SELECT {_MESSAGE_COLUMNS}, seq FROM messages WHERE chat_id = ?{below} "
                    "ORDER BY seq DESC LIMIT ?",
                    (chat_id, *(() if before is None else (before,)), limit),
                ).fetchall()
                rows.reverse()
            if not rows:  # no edge to step from: a cursor made up from the request's could
                return MessagePage([], None, None)  # point outside what the API accepts
            first, last = rows[0]["seq"], rows[-1]["seq"]
            earlier = first if self._any(conn, chat_id, "<", first) else None
            later = last if self._any(conn, chat_id, ">", last) else None
        return MessagePage([self._message(row) for row in rows], earlier, later)

    @staticmethod
    def _any(conn: Session, chat_id: str, op: str, seq: int) -> bool:
        """Whether the chat has a message at a position `op` (< or >) `seq`."""
        return (
            conn.execute(
                f"SELECT 1 FROM messages WHERE chat_id = ? AND seq {op} ? LIMIT 1", (chat_id, seq)
            ).fetchone()
            is not None
        )

    # -- imported conversations --------------------------------------------------------------

    def import_conversation(
        self, user_id: str, conversation: ImportedConversation
    ) -> ImportOutcome:
        """Store an imported conversation as a chat of `user_id`: the chat and its messages in
        one transaction, or nothing. If the user already has the chat of its
        `(source, external_id)`, that chat is returned (`created=False`) and nothing written.

        The chat keeps the conversation's creation time and each message its own (or the
        conversation's, or now); `updated_at` is now, so the chat is at the top of the list.
        """
        require_valid_id(user_id, "user id")
        title = clean_title(conversation.title, conversation.messages)
        texts = [m.text for m in conversation.messages]
        self._refuse_nul(title, conversation.source_url, conversation.external_id, *texts)
        for message in conversation.messages:
            if message.role not in _ROLES:
                raise InvalidRequest(f"Unknown message role {message.role!r}.")
        key = (user_id, conversation.source, conversation.external_id)
        with self._db.write() as conn:
            row = conn.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats "
                "WHERE user_id = ? AND source = ? AND external_id = ?",
                key,
            ).fetchone()
            if row is not None:
                count = conn.execute(
                    "SELECT COUNT(*) AS n FROM messages WHERE chat_id = ?", (row["id"],)
                ).fetchone()
                return ImportOutcome(self._chat(row), created=False, messages=int(count["n"]))
            self._insert_user_if_new(conn, user_id)
            now = datetime.now(UTC)
            started = conversation.created_at or now
            chat_id = uuid.uuid4().hex
            row = conn.execute(
                "INSERT INTO chats (id, user_id, title, created_at, updated_at, source, "
                f"source_url, external_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                f"RETURNING {_CHAT_COLUMNS}",
                (
                    chat_id,
                    user_id,
                    title,
                    self._db.put_time(started.astimezone(UTC)),
                    self._db.put_time(now),
                    conversation.source,
                    conversation.source_url,
                    conversation.external_id,
                ),
            ).fetchone()
            rows = [
                (
                    uuid.uuid4().hex,
                    chat_id,
                    seq,
                    message.role,
                    message.text,
                    self._db.put_time((message.created_at or started).astimezone(UTC)),
                    message.role == "assistant" and reads_as_not_found(message.text),
                )
                for seq, message in enumerate(conversation.messages, start=1)
            ]
            for start in range(0, len(rows), _IMPORT_BATCH):
                batch = rows[start : start + _IMPORT_BATCH]
                conn.execute(
                    "INSERT INTO messages (id, chat_id, seq, role, content, created_at, "
                    "not_found) VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(batch)),
                    tuple(value for values in batch for value in values),
                )
        return ImportOutcome(self._chat(row), created=True, messages=len(rows))

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close every SQLite connection this store opened, in any thread (call at shutdown);
        on PostgreSQL nothing: the pool is shared and closed by its owner."""
        self._db.close()

    # -- internals ---------------------------------------------------------------------------

    def _dead_owners(self) -> list[str]:
        if self._presence is None:
            return []
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT owner FROM messages "
                "WHERE status = 'streaming' AND owner IS NOT NULL"
            ).fetchall()
        owners = {row["owner"] for row in rows}
        return sorted(owners - self._presence.alive(owners)) if owners else []

    def _keep_versions(self, conn: Session, messages: Sequence[Message], new_id: str) -> None:
        """Move the versions the replaced answers kept, then the answers themselves, to
        `new_id`."""
        old_ids = [m.id for m in messages if m.role == "assistant"]
        if old_ids:
            conn.execute(
                "UPDATE message_versions SET message_id = ?, seq = seq + 1000000 "
                f"WHERE message_id IN ({', '.join('?' * len(old_ids))})",
                (new_id, *old_ids),
            )
        rows = conn.execute(
            "SELECT id FROM message_versions WHERE message_id = ? ORDER BY created_at, seq",
            (new_id,),
        ).fetchall()
        for seq, row in enumerate(rows, start=1):  # one numbering, oldest first
            conn.execute("UPDATE message_versions SET seq = ? WHERE id = ?", (seq, row["id"]))
        for seq, (question, answer) in enumerate(replaced_answers(messages), start=len(rows) + 1):
            self._refuse_nul(question, answer.content)
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
                    self._db.put_time(answer.created_at),
                ),
            )

    def _insert_user_if_new(
        self, conn: Session, user_id: str, name: str | None = None, email: str | None = None
    ) -> None:
        conn.execute(
            "INSERT INTO users (id, name, email, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO NOTHING",
            (user_id, name, email, self._now()),
        )

    def _message_values(self, message: NewMessage) -> tuple[Any, ...]:
        """content .. not_found, in the column order both writes use; checked before any SQL."""
        tool_calls = to_json(message.tool_calls, "tool_calls")
        sources = to_json(message.sources, "sources")
        self._refuse_nul(message.content, message.model)
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
            message.role == "assistant" and message.not_found,
        )

    def _refuse_nul(self, *texts: str | None) -> None:
        """PostgreSQL text cannot hold a NUL character: refuse it with a domain error instead
        of a database one (the JSON columns hold it escaped). SQLite stores it as given."""
        if self._db.dialect != "postgresql":
            return
        for text in texts:
            if text is not None and "\x00" in text:
                raise InvalidRequest("Text must not contain NUL characters.")

    def _contains(self, column: str) -> str:
        """SQL: the case-folded `column` holds the (already case-folded) parameter."""
        if self._db.dialect == "sqlite":
            return f"instr(casefold({column}), ?) > 0"
        return f"strpos(lower({column}), lower(?)) > 0"

    def _now(self) -> Any:
        """Now in UTC, as stored: on SQLite ISO-8601 text with a fixed microsecond part, so
        text order is time order."""
        return self._db.put_time(datetime.now(UTC))

    # -- rows <-> domain ---------------------------------------------------------------------

    def _chat(self, row: Any) -> Chat:
        time = self._db.get_time
        return Chat(
            id=row["id"],
            user_id=row["user_id"],
            title=row["title"],
            created_at=time(row["created_at"]),
            updated_at=time(row["updated_at"]),
            source=row["source"],
            source_url=row["source_url"],
            external_id=row["external_id"],
        )

    def _message(self, row: Any) -> Message:
        counts = (row["input_tokens"], row["output_tokens"], row["requests"])
        input_tokens, output_tokens, requests = counts
        usage = (
            None
            if all(count is None for count in counts)
            else TokenUsage(input_tokens or 0, output_tokens or 0, requests or 0)
        )
        json_value = self._db.get_json
        return Message(
            id=row["id"],
            chat_id=row["chat_id"],
            role=row["role"],
            content=row["content"],
            tool_calls=tuple(ToolCall.from_dict(call) for call in json_value(row["tool_calls"])),
            sources=tuple(Source.from_dict(source) for source in json_value(row["sources"])),
            model=row["model"],
            latency_ms=row["latency_ms"],
            usage=usage,
            status=row["status"],
            created_at=self._db.get_time(row["created_at"]),
            not_found=bool(row["not_found"]),
        )


def _register_casefold(conn: Any) -> None:
    """Python's `casefold` as the SQL function `casefold` of this SQLite connection."""
    conn.create_function("casefold", 1, _casefold, deterministic=True)


def _casefold(text: str | None) -> str:
    return "" if text is None else str(text).casefold()


def check_message(message: NewMessage) -> None:
    """Refuse bad roles/statuses with a domain error rather than an opaque IntegrityError."""
    if message.role not in _ROLES:
        raise InvalidRequest(f"Unknown message role {message.role!r}.")
    if message.status not in _STATUSES:
        raise InvalidRequest(f"Unknown message status {message.status!r}.")


def to_json(value: Sequence[ToolCall | Source], field: str) -> str:
    """The stored shape is each item's `as_dict()`, the one JSON shape of tool calls and
    sources (`use_cases/chat/domain.py`); rows written before these types read back the same.
    Compact (no spaces), on both databases."""
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
