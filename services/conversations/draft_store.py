"""The `ProjectDraftStore` port: project drafts and their versions in the app database, on
SQLite or PostgreSQL (`services/sql`).

A draft row per conversation (keyed by the chat id, deleted with the chat by cascade) holds
the active and latest version numbers; each version is one row whose content is the
`ProjectDraftContent` as JSON text. Activations of an older version are rows of their own
(numbered per draft), so the pointer's moves can be read back.

Concurrency: adding versions reads the draft's numbers, then writes, in one write transaction:
`BEGIN IMMEDIATE` on SQLite, the draft row locked (`SELECT ... FOR UPDATE`) on PostgreSQL,
and a racing creator of a new draft waits for the other's commit, then finds its row
(`ON CONFLICT DO NOTHING`). `based_on` is checked under that lock, so of two edits made from
the same active version the second is refused (`Conflict`) rather than silently undoing the
first.

What the dialects say differently: time types, `content` checked by `json_valid` on SQLite
(plain text on PostgreSQL), the row lock (`db.for_update`), and PostgreSQL's refusal of NUL
characters (refused here as `InvalidRequest` on both, so both keep the same texts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from services.chat.history_store import is_valid_id, require_valid_id
from services.postgres.migrations import Migration as PgMigration
from services.sql import StoreTarget, sql_db
from use_cases.confidence.domain import sources_json, stored_sources
from use_cases.conversations.draft_domain import (
    DraftActivation,
    DraftVersion,
    NewDraftVersion,
    ProjectDraft,
    ProjectDraftContent,
)
from use_cases.shared.errors import Conflict, InvalidRequest, NotFound

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "TABLES", "ProjectDrafts"]

#: The tables, parents first (for `almanac db copy`).
TABLES = ("project_drafts", "project_draft_versions", "project_draft_activations")

#: What each version's answers cited (`LoggedSources` as JSON text), for withholding; NULL for
#: the versions made before it was recorded.
DRAFTED_FROM_SQL = "ALTER TABLE project_draft_versions ADD COLUMN drafted_from TEXT;"

MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "project_drafts_0001_versions",
        """
        CREATE TABLE project_drafts (
            chat_id         TEXT PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,
            active_version  INTEGER NOT NULL CHECK (active_version >= 1),
            latest_version  INTEGER NOT NULL CHECK (latest_version >= 1),
            created_at      TEXT NOT NULL,
            updated_at      TEXT NOT NULL
        );
        CREATE TABLE project_draft_versions (
            chat_id     TEXT NOT NULL REFERENCES project_drafts(chat_id) ON DELETE CASCADE,
            number      INTEGER NOT NULL CHECK (number >= 1),
            content     JSON NOT NULL CHECK (json_valid(content)),
            author      TEXT NOT NULL CHECK (author IN ('model', 'user')),
            model       TEXT,
            note        TEXT NOT NULL,
            created_by  TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            PRIMARY KEY (chat_id, number)
        );
        CREATE TABLE project_draft_activations (
            chat_id     TEXT NOT NULL REFERENCES project_drafts(chat_id) ON DELETE CASCADE,
            seq         INTEGER NOT NULL CHECK (seq >= 1),
            version     INTEGER NOT NULL,
            previous    INTEGER,
            by_user     TEXT NOT NULL,
            at          TEXT NOT NULL,
            PRIMARY KEY (chat_id, seq)
        );
        """,
    ),
    ("project_drafts_0002_drafted_from", DRAFTED_FROM_SQL),
)

PG_MIGRATIONS: list[PgMigration] = [
    PgMigration(
        "project_drafts_pg_0001_versions",
        """
        CREATE TABLE project_drafts (
            chat_id         TEXT PRIMARY KEY REFERENCES chats(id) ON DELETE CASCADE,
            active_version  INTEGER NOT NULL CHECK (active_version >= 1),
            latest_version  INTEGER NOT NULL CHECK (latest_version >= 1),
            created_at      TIMESTAMPTZ NOT NULL,
            updated_at      TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE project_draft_versions (
            chat_id     TEXT NOT NULL REFERENCES project_drafts(chat_id) ON DELETE CASCADE,
            number      INTEGER NOT NULL CHECK (number >= 1),
            content     TEXT NOT NULL,
            author      TEXT NOT NULL CHECK (author IN ('model', 'user')),
            model       TEXT,
            note        TEXT NOT NULL,
            created_by  TEXT NOT NULL,
            created_at  TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (chat_id, number)
        );
        CREATE TABLE project_draft_activations (
            chat_id     TEXT NOT NULL REFERENCES project_drafts(chat_id) ON DELETE CASCADE,
            seq         INTEGER NOT NULL CHECK (seq >= 1),
            version     INTEGER NOT NULL,
            previous    INTEGER,
            by_user     TEXT NOT NULL,
            at          TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (chat_id, seq)
        );
        """,
    ),
    PgMigration("project_drafts_pg_0002_drafted_from", DRAFTED_FROM_SQL),
]

_DRAFT_COLUMNS = "chat_id, active_version, latest_version, created_at, updated_at"
_VERSION_COLUMNS = (
    "chat_id, number, content, author, model, note, created_by, created_at, drafted_from"
)


class ProjectDrafts:
    """`ProjectDraftStore` on one database; safe for many threads, processes and replicas."""

    def __init__(self, target: StoreTarget) -> None:
        self._db = sql_db(target)
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    def get_draft(self, chat_id: str) -> ProjectDraft | None:
        if not is_valid_id(chat_id):
            return None
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_DRAFT_COLUMNS} FROM project_drafts WHERE chat_id = ?", (chat_id,)
            ).fetchone()
        return self._draft(row) if row else None

    def get_version(self, chat_id: str, number: int) -> DraftVersion | None:
        if not is_valid_id(chat_id):
            return None
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_VERSION_COLUMNS} FROM project_draft_versions "
                "WHERE chat_id = ? AND number = ?",
                (chat_id, number),
            ).fetchone()
        return self._version(row) if row else None

    def list_versions(
        self, chat_id: str, *, limit: int = 50, offset: int = 0
    ) -> list[DraftVersion]:
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must not be negative.")
        if not is_valid_id(chat_id):
            return []
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_VERSION_COLUMNS} FROM project_draft_versions WHERE chat_id = ? "
                "ORDER BY number DESC LIMIT ? OFFSET ?",
                (chat_id, limit, offset),
            ).fetchall()
        return [self._version(row) for row in rows]

    def add_versions(
        self, chat_id: str, versions: Sequence[NewDraftVersion], *, based_on: int | None
    ) -> list[DraftVersion]:
        require_valid_id(chat_id, "chat id")
        if not versions:
            return []
        for version in versions:
            _refuse_nul(version.note, version.model or "", version.created_by)
        now = datetime.now(UTC)
        stamp = self._db.put_time(now)
        added: list[DraftVersion] = []
        with self._db.write() as conn:
            created = conn.execute(
                "INSERT INTO project_drafts "
                "(chat_id, active_version, latest_version, created_at, updated_at) "
                "VALUES (?, 1, 1, ?, ?) ON CONFLICT (chat_id) DO NOTHING",
                (chat_id, stamp, stamp),
            ).rowcount
            row = conn.execute(
                "SELECT active_version, latest_version FROM project_drafts "
                f"WHERE chat_id = ?{self._db.for_update}",
                (chat_id,),
            ).fetchone()
            latest = 0 if created else int(row["latest_version"])
            active = None if created else int(row["active_version"])
            if based_on is not None and active != based_on:
                raise Conflict(
                    f"The draft changed meanwhile: version {active} is active now, not "
                    f"{based_on}. Read it again and repeat the change."
                )
            for offset, version in enumerate(versions, start=1):
                number = latest + offset
                conn.execute(
                    f"INSERT INTO project_draft_versions ({_VERSION_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        chat_id,
                        number,
                        version.content.model_dump_json(),
                        version.author,
                        version.model,
                        version.note,
                        version.created_by,
                        stamp,
                        sources_json(version.drafted_from),
                    ),
                )
                added.append(
                    DraftVersion(
                        chat_id,
                        number,
                        version.content,
                        version.author,
                        version.model,
                        version.note,
                        version.created_by,
                        now,
                        version.drafted_from,
                    )
                )
            conn.execute(
                "UPDATE project_drafts SET active_version = ?, latest_version = ?, "
                "updated_at = ? WHERE chat_id = ?",
                (added[-1].number, added[-1].number, stamp, chat_id),
            )
        return added

    def activate(self, chat_id: str, number: int, by: str) -> DraftActivation:
        require_valid_id(chat_id, "chat id")
        now = datetime.now(UTC)
        stamp = self._db.put_time(now)
        with self._db.write() as conn:
            row = conn.execute(
                f"SELECT active_version FROM project_drafts WHERE chat_id = ?{self._db.for_update}",
                (chat_id,),
            ).fetchone()
            exists = conn.execute(
                "SELECT 1 FROM project_draft_versions WHERE chat_id = ? AND number = ?",
                (chat_id, number),
            ).fetchone()
            if row is None or exists is None:
                raise NotFound(f"The project draft of chat {chat_id} has no version {number}.")
            previous = int(row["active_version"])
            seq = conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 AS seq FROM project_draft_activations "
                "WHERE chat_id = ?",
                (chat_id,),
            ).fetchone()["seq"]
            conn.execute(
                "INSERT INTO project_draft_activations "
                "(chat_id, seq, version, previous, by_user, at) VALUES (?, ?, ?, ?, ?, ?)",
                (chat_id, seq, number, previous, by, stamp),
            )
            conn.execute(
                "UPDATE project_drafts SET active_version = ?, updated_at = ? WHERE chat_id = ?",
                (number, stamp, chat_id),
            )
        return DraftActivation(chat_id, number, previous, by, now)

    def list_activations(self, chat_id: str) -> list[DraftActivation]:
        if not is_valid_id(chat_id):
            return []
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT chat_id, version, previous, by_user, at FROM project_draft_activations "
                "WHERE chat_id = ? ORDER BY seq",
                (chat_id,),
            ).fetchall()
        return [
            DraftActivation(
                row["chat_id"],
                int(row["version"]),
                None if row["previous"] is None else int(row["previous"]),
                row["by_user"],
                self._db.get_time(row["at"]),
            )
            for row in rows
        ]

    def close(self) -> None:
        self._db.close()

    def _draft(self, row: Any) -> ProjectDraft:
        return ProjectDraft(
            chat_id=row["chat_id"],
            active_version=int(row["active_version"]),
            latest_version=int(row["latest_version"]),
            created_at=self._db.get_time(row["created_at"]),
            updated_at=self._db.get_time(row["updated_at"]),
        )

    def _version(self, row: Any) -> DraftVersion:
        return DraftVersion(
            chat_id=row["chat_id"],
            number=int(row["number"]),
            content=ProjectDraftContent.model_validate_json(row["content"]),
            author=row["author"],
            model=row["model"],
            note=row["note"],
            created_by=row["created_by"],
            created_at=self._db.get_time(row["created_at"]),
            drafted_from=stored_sources(row["drafted_from"]),
        )


def _refuse_nul(*texts: str) -> None:
    # PostgreSQL cannot store NUL in text; refused on both so both keep the same drafts.
    if any("\x00" in text for text in texts):
        raise InvalidRequest("Text must not contain NUL characters.")
