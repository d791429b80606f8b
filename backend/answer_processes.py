"""The recipe a planning process builds the offline model's planner from
(`services/offline/processes.py`): the same stores as the server, opened read-only where the
backend allows, the local embedder when it is the one configured, the same lexicon, the same
sentence vectors file.

A module-level function of the settings, so it can be sent to a spawned process."""

from __future__ import annotations

import functools

from backend.components import (
    build_embedder,
    build_reader,
    build_sentence_vectors,
    load_lexicon,
)
from backend.config import Settings
from backend.logging import configure_logging
from services.offline.model import build_planner
from services.offline.processes import PlanningProcesses, Stepper
from services.offline.vocabulary import KnowledgeVocabulary
from services.postgres import PgDatabase


def worker_planner(settings: Settings) -> Stepper:
    """Run in a planning process, once, before its first step."""
    configure_logging(settings.server.log_level, content=settings.server.log_request_content)
    encoder = build_embedder(settings) if settings.embeddings.provider == "local" else None
    if settings.storage.database_backend == "postgresql":
        from services.knowledge.pg_store import PgKnowledgeStore
        from services.tables.pg_sql_sandbox import PgSqlRunner

        database = PgDatabase(
            settings.storage.postgres_url,
            max_size=2,
            prepared=not settings.storage.database_pooled,
        )
        pg_store = PgKnowledgeStore(database)
        pg_sql = PgSqlRunner(
            database, timeout_s=settings.tables.sql_timeout, max_rows=settings.tables.sql_max_rows
        )
        vocabulary = KnowledgeVocabulary(
            pg_store.vocabulary,
            lambda: pg_store.state().generation,
            pg_store.defining_texts,
            pg_store.repeated_lines,
        )
        schemas = pg_sql.schemas
    else:
        from services.knowledge.store import SqliteKnowledgeStore
        from services.tables.sql_sandbox import SqliteSqlRunner

        store = SqliteKnowledgeStore(settings.storage.knowledge_db_path, readonly=True)
        sql = SqliteSqlRunner(
            settings.storage.tables_db_path,
            timeout_s=settings.tables.sql_timeout,
            max_rows=settings.tables.sql_max_rows,
        )
        vocabulary = KnowledgeVocabulary(
            store.vocabulary,
            lambda: store.state().generation,
            store.defining_texts,
            store.repeated_lines,
        )
        schemas = sql.schemas
    return build_planner(
        schemas,
        encoder,
        vocabulary,
        load_lexicon(settings),
        settings.offline.not_found_hint,
        sentence_vectors=build_sentence_vectors(settings, encoder) if encoder else None,
        reader=build_reader(settings) if encoder else None,
    )


def build_planning_processes(settings: Settings) -> PlanningProcesses | None:
    """One planning process per answer worker, when `ANSWER_PROCESSES` is on (a server enables
    them in `prepare_to_serve`)."""
    if not settings.offline.answer_processes:
        return None
    return PlanningProcesses(
        settings.offline.answer_workers, functools.partial(worker_planner, settings)
    )
