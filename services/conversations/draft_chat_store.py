"""The `DraftChatStore` port: a conversation's draft chat (its stored turns) and its tracked
project (the conversation's lock), in the app database, on SQLite or PostgreSQL
(`services/sql`).

Both tables are keyed by the chat id and go with the chat (`ON DELETE CASCADE`). A turn's
messages are numbered after the chat's last one in one write transaction (`BEGIN IMMEDIATE`
on SQLite; on PostgreSQL the chat's row is locked first, so racing turns take turns). A
conversation has at most one project (its primary key): a second is a `Conflict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from services.chat.history_store import is_valid_id, require_valid_id
from services.postgres.migrations import Migration as PgMigration
from services.sql import StoreTarget, sql_db
from use_cases.conversations.draft_domain import (
    DraftChatMessage,
    NewDraftChatMessage,
    TrackedProject,
)
from use_cases.shared.errors import Conflict, InvalidRequest

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "TABLES", "DraftChats"]

#: The tables, parents first (for `almanac db copy`).
TABLES = ("project_draft_messages", "conversation_projects")

_TABLES_SQL = """
CREATE TABLE project_draft_messages (
    chat_id     TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    role        TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content     TEXT NOT NULL,
    sent_by     TEXT NOT NULL,
    model       TEXT,
    created_at  {time} NOT NULL,
    PRIMARY KEY (chat_id, seq)
);
CREATE TABLE conversation_projects (
    chat_id        TEXT PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,
    tracker_id     TEXT NOT NULL,
    url            TEXT NOT NULL,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL,
    draft_version  INTEGER NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     {time} NOT NULL
);
"""

MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("draft_chat_0001_messages_projects", _TABLES_SQL.format(time="TEXT")),
)
PG_MIGRATIONS: list[PgMigration] = [
    PgMigration("draft_chat_pg_0001_messages_projects", _TABLES_SQL.format(time="TIMESTAMPTZ")),
]

_MESSAGE_COLUMNS = "chat_id, seq, role, content, sent_by, model, created_at"
_PROJECT_COLUMNS = (
    "chat_id, tracker_id, url, title, description, draft_version, created_by, created_at"
)


class DraftChats:
    """`DraftChatStore` on one database; safe for many threads, processes and replicas."""

    def __init__(self, target: StoreTarget) -> None:
        self._db = sql_db(target)
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    def list_messages(self, chat_id: str) -> list[DraftChatMessage]:
        if not is_valid_id(chat_id):
            return []
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM project_draft_messages WHERE chat_id = ? "
                "ORDER BY seq",
                (chat_id,),
            ).fetchall()
        return [self._message(row) for row in rows]

    def add_messages(
        self, chat_id: str, messages: Sequence[NewDraftChatMessage]
    ) -> list[DraftChatMessage]:
        require_valid_id(chat_id, "chat id")
        _refuse_nul(*(m.content for m in messages))
        now = datetime.now(UTC)
        stamp = self._db.put_time(now)
        added: list[DraftChatMessage] = []
        with self._db.write() as conn:
            conn.execute(f"SELECT id FROM chats WHERE id = ?{self._db.for_update}", (chat_id,))
            last = conn.execute(
                "SELECT coalesce(max(seq), 0) AS seq FROM project_draft_messages WHERE chat_id = ?",
                (chat_id,),
            ).fetchone()["seq"]
            for seq, message in enumerate(messages, start=int(last) + 1):
                conn.execute(
                    f"INSERT INTO project_draft_messages ({_MESSAGE_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        chat_id,
                        seq,
                        message.role,
                        message.content,
                        message.sent_by,
                        message.model,
                        stamp,
                    ),
                )
                added.append(
                    DraftChatMessage(
                        chat_id,
                        seq,
                        message.role,
                        message.content,
                        message.sent_by,
                        message.model,
                        now,
                    )
                )
        return added

    def get_project(self, chat_id: str) -> TrackedProject | None:
        if not is_valid_id(chat_id):
            return None
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_PROJECT_COLUMNS} FROM conversation_projects WHERE chat_id = ?",
                (chat_id,),
            ).fetchone()
        return self._project(row) if row else None

    def add_project(self, project: TrackedProject) -> TrackedProject:
        require_valid_id(project.chat_id, "chat id")
        _refuse_nul(project.title, project.description, project.url, project.tracker_id)
        with self._db.write() as conn:
            added = conn.execute(
                f"INSERT INTO conversation_projects ({_PROJECT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id) DO NOTHING",
                (
                    project.chat_id,
                    project.tracker_id,
                    project.url,
                    project.title,
                    project.description,
                    project.draft_version,
                    project.created_by,
                    self._db.put_time(project.created_at),
                ),
            ).rowcount
        if not added:
            raise Conflict(f"Chat {project.chat_id} has a project already.")
        return project

    def close(self) -> None:
        self._db.close()

    def _message(self, row: Any) -> DraftChatMessage:
        return DraftChatMessage(
            chat_id=row["chat_id"],
            seq=int(row["seq"]),
            role=row["role"],
            content=row["content"],
            sent_by=row["sent_by"],
            model=row["model"],
            created_at=self._db.get_time(row["created_at"]),
        )

    def _project(self, row: Any) -> TrackedProject:
        return TrackedProject(
            chat_id=row["chat_id"],
            tracker_id=row["tracker_id"],
            url=row["url"],
            title=row["title"],
            description=row["description"],
            draft_version=int(row["draft_version"]),
            created_by=row["created_by"],
            created_at=self._db.get_time(row["created_at"]),
        )


def _refuse_nul(*texts: str) -> None:
    # PostgreSQL cannot store NUL in text; refused on both so both keep the same texts.
    if any("\x00" in text for text in texts):
        raise InvalidRequest("Text must not contain NUL characters.")
