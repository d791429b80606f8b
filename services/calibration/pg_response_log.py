"""PostgreSQL adapter for the `ResponseLog` port (the same rules as `SqliteResponseLog`).

`response_log` holds one row per logged answer, `response_feedback` at most one verdict per
response (a new one replaces it; `replaced` counts how often), deleted with its response.
Feedback is one `INSERT ... ON CONFLICT DO UPDATE` that also tells whether it replaced an
earlier verdict, so two verdicts at once never both report a first one. `rowid` (an identity
column) keeps SQLite's insertion order as the tie-breaker of equal times.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.postgres import Migration, PgDatabase, apply_migrations
from use_cases.confidence.domain import Feedback, LoggedResponse, ScoredResponse

__all__ = ["MIGRATIONS", "PgResponseLog"]

MIGRATIONS: list[Migration] = [
    Migration(
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
]

_COLUMNS = (
    "r.response_id, r.user_id, r.kind, r.query, r.response_text, r.raw_confidence, "
    "r.confidence, r.confidence_phrase, r.model, r.search_ran, r.latency_ms, r.created_at, "
    "r.calibration_version, r.phrase_version, r.chat_id, r.message_id, "
    "f.outcome, f.notes, f.created_at AS feedback_at"
)
_FROM = "response_log r LEFT JOIN response_feedback f USING (response_id)"


def aware(moment: datetime) -> datetime:
    """A naive time is taken to be UTC (as `stamp` does on SQLite)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class PgResponseLog:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db
        apply_migrations(db, MIGRATIONS)

    def add(self, response: LoggedResponse) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "INSERT INTO response_log (response_id, user_id, kind, query, response_text, "
                "raw_confidence, confidence, confidence_phrase, model, search_ran, latency_ms, "
                "calibration_version, phrase_version, chat_id, message_id, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
                    aware(response.created_at),
                ),
            )

    def get(self, response_id: str) -> LoggedResponse | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM {_FROM} WHERE r.response_id = %s", (response_id,)
            ).fetchone()
        return _response(row) if row else None

    def put_feedback(
        self, response_id: str, outcome: bool, notes: str | None, at: datetime
    ) -> bool:
        """Record (or replace) the verdict; True when it replaced an earlier one."""
        with self._db.connection() as conn:
            row = conn.execute(
                "INSERT INTO response_feedback (response_id, outcome, notes, created_at) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (response_id) DO UPDATE SET "
                "outcome = excluded.outcome, notes = excluded.notes, "
                "created_at = excluded.created_at, replaced = response_feedback.replaced + 1 "
                "RETURNING replaced",
                (response_id, bool(outcome), notes, aware(at)),
            ).fetchone()
        assert row is not None
        return int(row["replaced"]) > 0

    def remove_feedback(self, response_id: str) -> bool:
        with self._db.connection() as conn:
            removed = conn.execute(
                "DELETE FROM response_feedback WHERE response_id = %s", (response_id,)
            ).rowcount
        return removed > 0

    def recent(self, *, limit: int, user_id: str | None = None) -> list[LoggedResponse]:
        where, params = ("WHERE r.user_id = %s", [user_id]) if user_id is not None else ("", [])
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM {_FROM} {where} "
                "ORDER BY r.created_at DESC, r.rowid DESC LIMIT %s",
                (*params, limit),
            ).fetchall()
        return [_response(row) for row in rows]

    def for_chat(self, chat_id: str) -> list[LoggedResponse]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM {_FROM} WHERE r.chat_id = %s "
                "ORDER BY r.created_at, r.rowid",
                (chat_id,),
            ).fetchall()
        return [_response(row) for row in rows]

    def scored(
        self, *, since: datetime | None = None, user_id: str | None = None
    ) -> list[ScoredResponse]:
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append("r.created_at >= %s")
            params.append(aware(since))
        if user_id is not None:
            clauses.append("r.user_id = %s")
            params.append(user_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT r.response_id, r.created_at, r.raw_confidence, r.confidence, f.outcome "
                f"FROM {_FROM} {where} ORDER BY r.created_at, r.rowid",
                params,
            ).fetchall()
        return [
            ScoredResponse(
                response_id=row["response_id"],
                created_at=row["created_at"].astimezone(UTC),
                raw_confidence=float(row["raw_confidence"]),
                confidence=float(row["confidence"]),
                outcome=row["outcome"],
            )
            for row in rows
        ]

    def feedback_count(self) -> int:
        with self._db.connection() as conn:
            row = conn.execute("SELECT count(*) AS n FROM response_feedback").fetchone()
        assert row is not None
        return int(row["n"])

    def forget_user(self, user_id: str) -> int:
        with self._db.connection() as conn:
            cursor = conn.execute("DELETE FROM response_log WHERE user_id = %s", (user_id,))
        return int(cursor.rowcount)

    def close(self) -> None:
        """Nothing to release: the pool is shared and closed by its owner."""


def _response(row: dict[str, Any]) -> LoggedResponse:
    feedback = (
        None
        if row["outcome"] is None
        else Feedback(bool(row["outcome"]), row["notes"], row["feedback_at"].astimezone(UTC))
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
        created_at=row["created_at"].astimezone(UTC),
        calibration_version=row["calibration_version"],
        phrase_version=int(row["phrase_version"]),
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        feedback=feedback,
    )
