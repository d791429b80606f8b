"""The calibration tables of the app DB, their SQLite migrations (shared by both stores:
`response_log.py`, `store.py`; on PostgreSQL each store keeps its own list, `PG_MIGRATIONS`),
and the stored time format.

- `response_log`: one row per logged answer (`response_id` = `resp_` + random hex), with
  what it cited (`cited_sources`, JSON text; NULL when logged before that was recorded).
- `response_feedback`: at most one row per response (a new verdict replaces the old one;
  `replaced` counts how often), deleted with its response.
- `confidence_phrase_versions`: phrase thresholds, versions 1, 2, ...; the newest is in force.
- `confidence_calibrations`: recalibration maps, versions 1, 2, ...; the newest active one
  is in force.
Versions are never changed or deleted (triggers refuse it).
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.sqlite.migrations import Migration

#: What each logged answer cited (`LoggedSources` as JSON text: `{"documents": [ids],
#: "tables": [names]}`), so that an entry kept in no chat can be withheld once its reader
#: may no longer read a source; NULL for the entries logged before it was recorded.
CITED_SOURCES_SQL = "ALTER TABLE response_log ADD COLUMN cited_sources TEXT;"

MIGRATIONS = (
    Migration(
        "calibration_0001_response_log_feedback_versions",
        """
        CREATE TABLE response_log (
            response_id          TEXT PRIMARY KEY,
            user_id              TEXT NOT NULL,
            kind                 TEXT NOT NULL CHECK (kind IN ('chat', 'advice')),
            query                TEXT NOT NULL,
            response_text        TEXT NOT NULL,
            raw_confidence       REAL NOT NULL CHECK (raw_confidence BETWEEN 0 AND 1),
            confidence           REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1),
            confidence_phrase    TEXT NOT NULL,
            model                TEXT NOT NULL,
            search_ran           INTEGER NOT NULL CHECK (search_ran IN (0, 1)),
            latency_ms           INTEGER NOT NULL CHECK (latency_ms >= 0),
            calibration_version  INTEGER,
            phrase_version       INTEGER NOT NULL DEFAULT 0,
            chat_id              TEXT,
            message_id           TEXT,
            created_at           TEXT NOT NULL
        );
        CREATE INDEX response_log_by_time ON response_log(created_at);
        CREATE INDEX response_log_by_user_time ON response_log(user_id, created_at);
        CREATE TABLE response_feedback (
            response_id  TEXT PRIMARY KEY
                         REFERENCES response_log(response_id) ON DELETE CASCADE,
            outcome      INTEGER NOT NULL CHECK (outcome IN (0, 1)),
            notes        TEXT,
            replaced     INTEGER NOT NULL DEFAULT 0,
            created_at   TEXT NOT NULL
        );
        CREATE TABLE confidence_phrase_versions (
            version     INTEGER PRIMARY KEY CHECK (version >= 1),
            thresholds  JSON NOT NULL CHECK (json_valid(thresholds)),
            source      TEXT NOT NULL,
            author      TEXT NOT NULL,
            created_at  TEXT NOT NULL
        );
        CREATE TABLE confidence_calibrations (
            version     INTEGER PRIMARY KEY CHECK (version >= 1),
            method      TEXT NOT NULL CHECK (method IN ('isotonic', 'platt')),
            fit         JSON NOT NULL CHECK (json_valid(fit)),
            active      INTEGER NOT NULL CHECK (active IN (0, 1)),
            author      TEXT NOT NULL,
            created_at  TEXT NOT NULL
        );
        CREATE TRIGGER confidence_phrase_versions_kept BEFORE UPDATE ON confidence_phrase_versions
        BEGIN
            SELECT RAISE(ABORT, 'phrase threshold versions are never changed: add a version');
        END;
        CREATE TRIGGER confidence_phrase_versions_no_delete
        BEFORE DELETE ON confidence_phrase_versions
        BEGIN
            SELECT RAISE(ABORT, 'phrase threshold versions are kept');
        END;
        CREATE TRIGGER confidence_calibrations_kept BEFORE UPDATE ON confidence_calibrations
        BEGIN
            SELECT RAISE(ABORT, 'recalibration versions are never changed: add a version');
        END;
        CREATE TRIGGER confidence_calibrations_no_delete BEFORE DELETE ON confidence_calibrations
        BEGIN
            SELECT RAISE(ABORT, 'recalibration versions are kept');
        END;
        """,
    ),
    Migration(
        "calibration_0002_response_log_by_chat",
        "CREATE INDEX response_log_by_chat ON response_log(chat_id, created_at);",
    ),
    Migration("calibration_0003_response_log_cited_sources", CITED_SOURCES_SQL),
)


def utc(moment: datetime) -> datetime:
    """A time as stored, in UTC (a naive time is taken to be UTC). `db.put_time` then writes
    it as ISO-8601 text of one fixed format on SQLite (microseconds, `+00:00`), so text order
    is time order and the window queries use the index; as `timestamptz` on PostgreSQL."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
