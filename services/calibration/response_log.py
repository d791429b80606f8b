"""The `ResponseLog` port in the app DB, on SQLite or PostgreSQL (`services/sql`; tables in
`schema.py`).

`response_log` holds one row per logged answer, `response_feedback` at most one verdict per
response (a new one replaces it; `replaced` counts how often), deleted with its response.

Rules:
* times are stored in UTC (`schema.utc`; a naive time is taken to be UTC): ISO-8601 text of
  one fixed format on SQLite, so text order is time order and the window queries use the
  index; `timestamptz` on PostgreSQL;
* feedback is one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING replaced` in one write
  transaction (`BEGIN IMMEDIATE` on SQLite), which also tells whether it replaced an earlier
  verdict, so two verdicts at once never both report a first one;
* equal times are ordered by insertion: SQLite's `rowid`, which PostgreSQL's identity column
  `rowid` stands in for.

What differs by dialect lies in the schemas only (`MIGRATIONS`, shared with `store.py`, and
`PG_MIGRATIONS`): `REAL`/`INTEGER` 0-1 flags and ISO text on SQLite, `DOUBLE PRECISION`,
`BOOLEAN` and `timestamptz` on PostgreSQL, and the identity column `rowid` there. The
statements are the same on both (flags are bound as Python `bool`, stored as 0/1 on SQLite).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.calibration.schema import CITED_SOURCES_SQL, MIGRATIONS, utc
from services.postgres.migrations import Migration as PgMigration
from services.sql import StoreTarget, sql_db
from use_cases.confidence.domain import (
    Feedback,
    LoggedResponse,
    ScoredResponse,
    sources_json,
    stored_sources,
)

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "ResponseLog"]

PG_MIGRATIONS: list[PgMigration] = [
    PgMigration(
        "calibration_pg_0001_response_log_feedback",
        """
        CREATE TABLE response_log (
            response_id          TEXT PRIMARY KEY,
            user_id              TEXT NOT NULL,
            kind                 TEXT NOT NULL CHECK (kind IN ('chat', 'advice')),
            query                TEXT NOT NULL,
            response_text        TEXT NOT NULL,
            raw_confidence       DOUBLE PRECISION NOT NULL
                                 CHECK (raw_confidence BETWEEN 0 AND 1),
            confidence           DOUBLE PRECISION NOT NULL CHECK (confidence BETWEEN 0 AND 1),
            confidence_phrase    TEXT NOT NULL,
            model                TEXT NOT NULL,
            search_ran           BOOLEAN NOT NULL,
            latency_ms           INTEGER NOT NULL CHECK (latency_ms >= 0),
            calibration_version  INTEGER,
            phrase_version       INTEGER NOT NULL DEFAULT 0,
            chat_id              TEXT,
            message_id           TEXT,
            created_at           TIMESTAMPTZ NOT NULL,
            rowid                BIGINT GENERATED ALWAYS AS IDENTITY
        );
        CREATE INDEX response_log_by_time ON response_log(created_at);
        CREATE INDEX response_log_by_user_time ON response_log(user_id, created_at);
        CREATE INDEX response_log_by_chat ON response_log(chat_id, created_at);
        CREATE TABLE response_feedback (
            response_id  TEXT PRIMARY KEY
                         REFERENCES response_log(response_id) ON DELETE CASCADE,
            outcome      BOOLEAN NOT NULL,
            notes        TEXT,
            replaced     INTEGER NOT NULL DEFAULT 0,
            created_at   TIMESTAMPTZ NOT NULL
        );
        """,
    ),
    PgMigration("calibration_pg_0002_response_log_cited_sources", CITED_SOURCES_SQL),
]

_COLUMNS = (
    "r.response_id, r.user_id, r.kind, r.query, r.response_text, r.raw_confidence, "
    "r.confidence, r.confidence_phrase, r.model, r.search_ran, r.latency_ms, r.created_at, "
    "r.calibration_version, r.phrase_version, r.chat_id, r.message_id, r.cited_sources, "
    "f.outcome, f.notes, f.created_at AS feedback_at"
)
_FROM = "response_log r LEFT JOIN response_feedback f USING (response_id)"


class ResponseLog:
    def __init__(self, target: StoreTarget) -> None:
        self._db = sql_db(target)
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    def add(self, response: LoggedResponse) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO response_log (response_id, user_id, kind, query, response_text, "
                "raw_confidence, confidence, confidence_phrase, model, search_ran, latency_ms, "
                "calibration_version, phrase_version, chat_id, message_id, cited_sources, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    response.response_id,
                    response.user_id,
                    response.kind,
                    response.query,
                    response.response_text,
                    response.raw_confidence,
                    response.confidence,
                    response.confidence_phrase,
                    response.model,
                    bool(response.search_ran),
                    response.latency_ms,
                    response.calibration_version,
                    response.phrase_version,
                    response.chat_id,
                    response.message_id,
                    sources_json(response.sources),
                    self._time(response.created_at),
                ),
            )

    def get(self, response_id: str) -> LoggedResponse | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM {_FROM} WHERE r.response_id = ?", (response_id,)
            ).fetchone()
        return self._response(row) if row else None

    def put_feedback(
        self, response_id: str, outcome: bool, notes: str | None, at: datetime
    ) -> bool:
        """Record (or replace) the verdict; True when it replaced an earlier one."""
        with self._db.write() as conn:
            row = conn.execute(
                "INSERT INTO response_feedback (response_id, outcome, notes, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (response_id) DO UPDATE SET "
                "outcome = excluded.outcome, notes = excluded.notes, "
                "created_at = excluded.created_at, replaced = response_feedback.replaced + 1 "
                "RETURNING replaced",
                (response_id, bool(outcome), notes, self._time(at)),
            ).fetchone()
        assert row is not None
        return int(row["replaced"]) > 0

    def remove_feedback(self, response_id: str) -> bool:
        with self._db.write() as conn:
            removed = conn.execute(
                "DELETE FROM response_feedback WHERE response_id = ?", (response_id,)
            ).rowcount
        return removed > 0

    def recent(self, *, limit: int, user_id: str | None = None) -> list[LoggedResponse]:
        where, params = ("WHERE r.user_id = ?", [user_id]) if user_id is not None else ("", [])
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM {_FROM} {where} "
                "ORDER BY r.created_at DESC, r.rowid DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [self._response(row) for row in rows]

    def delete_for_user(self, user_id: str) -> int:
        """Delete every response given to `user_id` and its feedback; how many there were."""
        with self._db.write() as conn:
            conn.execute(
                "DELETE FROM response_feedback WHERE response_id IN "
                "(SELECT response_id FROM response_log WHERE user_id = ?)",
                (user_id,),
            )
            return conn.execute("DELETE FROM response_log WHERE user_id = ?", (user_id,)).rowcount

    def for_chat(self, chat_id: str) -> list[LoggedResponse]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM {_FROM} WHERE r.chat_id = ? "
                "ORDER BY r.created_at, r.rowid",
                (chat_id,),
            ).fetchall()
        return [self._response(row) for row in rows]

    def scored(
        self, *, since: datetime | None = None, user_id: str | None = None
    ) -> list[ScoredResponse]:
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append("r.created_at >= ?")
            params.append(self._time(since))
        if user_id is not None:
            clauses.append("r.user_id = ?")
            params.append(user_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT r.response_id, r.created_at, r.raw_confidence, r.confidence, f.outcome "
                f"FROM {_FROM} {where} ORDER BY r.created_at, r.rowid",
                params,
            ).fetchall()
        return [
            ScoredResponse(
                response_id=row["response_id"],
                created_at=self._db.get_time(row["created_at"]),
                raw_confidence=float(row["raw_confidence"]),
                confidence=float(row["confidence"]),
                outcome=None if row["outcome"] is None else bool(row["outcome"]),
            )
            for row in rows
        ]

    def feedback_count(self) -> int:
        with self._db.read() as conn:
            row = conn.execute("SELECT count(*) AS n FROM response_feedback").fetchone()
        assert row is not None
        return int(row["n"])

    def forget_user(self, user_id: str) -> int:
        with self._db.write() as conn:
            removed = conn.execute(
                "DELETE FROM response_log WHERE user_id = ?", (user_id,)
            ).rowcount
        return int(removed)

    def close(self) -> None:
        self._db.close()

    def _time(self, moment: datetime) -> Any:
        return self._db.put_time(utc(moment))

    def _response(self, row: Any) -> LoggedResponse:
        time = self._db.get_time
        feedback = (
            None
            if row["outcome"] is None
            else Feedback(bool(row["outcome"]), row["notes"], time(row["feedback_at"]))
        )
        return LoggedResponse(
            response_id=row["response_id"],
            user_id=row["user_id"],
            kind=row["kind"],
            query=row["query"],
            response_text=row["response_text"],
            raw_confidence=float(row["raw_confidence"]),
            confidence=float(row["confidence"]),
            confidence_phrase=row["confidence_phrase"],
            model=row["model"],
            search_ran=bool(row["search_ran"]),
            latency_ms=int(row["latency_ms"]),
            created_at=time(row["created_at"]),
            calibration_version=row["calibration_version"],
            phrase_version=int(row["phrase_version"]),
            chat_id=row["chat_id"],
            message_id=row["message_id"],
            feedback=feedback,
            sources=stored_sources(row["cited_sources"]),
        )
