"""SQLite adapter for the `ResponseLog` port, in the app DB (see `schema.py`).

Times are stored as UTC ISO-8601 text of one fixed format, so text order is time order and
the window queries use the index. Feedback is an upsert in one `BEGIN IMMEDIATE` transaction
that also tells whether it replaced an earlier verdict.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.calibration.schema import MIGRATIONS
from services.sqlite.connection import Connection, immediate_transaction
from services.sqlite.migrations import apply_migrations
from services.sqlite.thread_connections import ThreadConnections
from use_cases.confidence.domain import Feedback, LoggedResponse, ScoredResponse

__all__ = ["SqliteResponseLog"]

_COLUMNS = (
    "r.response_id, r.user_id, r.kind, r.query, r.response_text, r.raw_confidence, "
    "r.confidence, r.confidence_phrase, r.model, r.search_ran, r.latency_ms, r.created_at, "
    "r.calibration_version, r.phrase_version, r.chat_id, r.message_id, "
    "f.outcome, f.notes, f.created_at"
)
_FROM = "response_log r LEFT JOIN response_feedback f USING (response_id)"


def stamp(moment: datetime) -> str:
    """A time as stored: UTC, microseconds, `+00:00` (a naive time is taken to be UTC)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


class SqliteResponseLog:
    def __init__(self, path: str | Path) -> None:
        self._connections = ThreadConnections(path)
        apply_migrations(self._connections.get(), MIGRATIONS)

    def add(self, response: LoggedResponse) -> None:
        with immediate_transaction(self._conn()) as conn:
            conn.execute(
                "INSERT INTO response_log (response_id, user_id, kind, query, response_text, "
                "raw_confidence, confidence, confidence_phrase, model, search_ran, latency_ms, "
                "calibration_version, phrase_version, chat_id, message_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    int(response.search_ran),
                    response.latency_ms,
                    response.calibration_version,
                    response.phrase_version,
                    response.chat_id,
                    response.message_id,
                    stamp(response.created_at),
                ),
            )

    def get(self, response_id: str) -> LoggedResponse | None:
        row = (
            self._conn()
            .execute(f"SELECT {_COLUMNS} FROM {_FROM} WHERE r.response_id = ?", (response_id,))
            .fetchone()
        )
        return _response(row) if row else None

    def put_feedback(
        self, response_id: str, outcome: bool, notes: str | None, at: datetime
    ) -> bool:
        with immediate_transaction(self._conn()) as conn:
            replaced = (
                conn.execute(
                    "SELECT 1 FROM response_feedback WHERE response_id = ?", (response_id,)
                ).fetchone()
                is not None
            )
            conn.execute(
                "INSERT INTO response_feedback (response_id, outcome, notes, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (response_id) DO UPDATE SET "
                "outcome = excluded.outcome, notes = excluded.notes, "
                "created_at = excluded.created_at, replaced = replaced + 1",
                (response_id, int(outcome), notes, stamp(at)),
            )
        return replaced

    def remove_feedback(self, response_id: str) -> bool:
        with immediate_transaction(self._conn()) as conn:
            removed = conn.execute(
                "DELETE FROM response_feedback WHERE response_id = ?", (response_id,)
            ).rowcount
        return removed > 0

    def recent(self, *, limit: int, user_id: str | None = None) -> list[LoggedResponse]:
        where, params = ("WHERE r.user_id = ?", [user_id]) if user_id is not None else ("", [])
        rows = (
            self._conn()
            .execute(
                f"SELECT {_COLUMNS} FROM {_FROM} {where} "
                "ORDER BY r.created_at DESC, r.rowid DESC LIMIT ?",
                (*params, limit),
            )
            .fetchall()
        )
        return [_response(row) for row in rows]

    def for_chat(self, chat_id: str) -> list[LoggedResponse]:
        rows = (
            self._conn()
            .execute(
                f"SELECT {_COLUMNS} FROM {_FROM} WHERE r.chat_id = ? "
                "ORDER BY r.created_at, r.rowid",
                (chat_id,),
            )
            .fetchall()
        )
        return [_response(row) for row in rows]

    def scored(
        self, *, since: datetime | None = None, user_id: str | None = None
    ) -> list[ScoredResponse]:
        clauses, params = [], []
        if since is not None:
            clauses.append("r.created_at >= ?")
            params.append(stamp(since))
        if user_id is not None:
            clauses.append("r.user_id = ?")
            params.append(user_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = (
            self._conn()
            .execute(
                "SELECT r.response_id, r.created_at, r.raw_confidence, r.confidence, f.outcome "
                f"FROM {_FROM} {where} ORDER BY r.created_at, r.rowid",
                params,
            )
            .fetchall()
        )
        return [
            ScoredResponse(
                response_id=row[0],
                created_at=datetime.fromisoformat(row[1]),
                raw_confidence=float(row[2]),
                confidence=float(row[3]),
                outcome=None if row[4] is None else bool(row[4]),
            )
            for row in rows
        ]

    def feedback_count(self) -> int:
        (count,) = self._conn().execute("SELECT count(*) FROM response_feedback").fetchone()
        return int(count)

    def forget_user(self, user_id: str) -> int:
        with immediate_transaction(self._conn()) as conn:
            cursor = conn.execute("DELETE FROM response_log WHERE user_id = ?", (user_id,))
        return int(cursor.rowcount)

    def close(self) -> None:
        self._connections.close()

    def _conn(self) -> Connection:
        return self._connections.get()


def _response(row: tuple[Any, ...]) -> LoggedResponse:
    feedback = (
        None
        if row[16] is None
        else Feedback(bool(row[16]), row[17], datetime.fromisoformat(row[18]))
    )
    return LoggedResponse(
        response_id=row[0],
        user_id=row[1],
        kind=row[2],
        query=row[3],
        response_text=row[4],
        raw_confidence=float(row[5]),
        confidence=float(row[6]),
        confidence_phrase=row[7],
        model=row[8],
        search_ran=bool(row[9]),
        latency_ms=int(row[10]),
        created_at=datetime.fromisoformat(row[11]),
        calibration_version=row[12],
        phrase_version=int(row[13]),
        chat_id=row[14],
        message_id=row[15],
        feedback=feedback,
    )
