"""What `almanac db copy` copies, in which order, and what it leaves out."""

from __future__ import annotations

import re
from collections.abc import Callable

from services.admin import prompt_library_store
from services.conversations import draft_chat_store, draft_store
from services.conversations import file_store as chat_file_store
from services.sources import store as source_store

#: knowledge.db tables copied row for row, parents first (a document's collection before it).
KNOWLEDGE_TABLES = (
    "collections",
    "documents",
    "document_lines",
    "sections",
    "chunks",
    "collection_grants",
    "user_groups",
)
#: app.db tables copied row for row, parents first (foreign keys hold at every step).
APP_TABLES = (
    "users",
    "chats",
    "messages",
    "message_versions",
    "api_keys",
    "audit_log",
    "prompt_versions",
    "active_prompts",
    "model_defaults",
    "response_log",
    "response_feedback",
    "confidence_phrase_versions",
    "confidence_calibrations",
    "eval_datasets",
    "eval_runs",
    "eval_run_rows",
    "advice_threads",
    "advice_entries",
    *prompt_library_store.TABLES,
    "cleaning_tasks",
    "cleaning_runs",
    "cleaning_results",
    *draft_store.TABLES,
    *draft_chat_store.TABLES,
    *chat_file_store.TABLES,
    "conversation_summaries",
    *source_store.TABLES,
)
#: Rows a migration of the target stores itself (the prompt library's default project, use
#: cases and built-in prompts): they do not make the target "not empty", and they make way
#: for the source's own copies of them (children first).
SEEDED = prompt_library_store.SEEDED_ROWS
#: SQLite tables that are not data to move: per process, transient, or derived (the chat
#: search's vectors are made again by the next searches).
NOT_DATA = re.compile(
    r"^(sqlite_.*|schema_migrations|meta|chunk_tombstones|section_tombstones|staged_sections"
    r"|staged_chunks|jobs|job_blobs|schedules"
    r"|web_sessions|conversation_search_vectors"
    r"|chunks_fts.*|sections_fts.*|chunk_vectors.*|_almanac_.*)$",
    re.IGNORECASE,
)
VECTOR_TABLE = "chunk_vectors"
#: Target columns triggers derive from the row (the sections' full-text vector and its length;
#: the BM25 statistics tables are kept by triggers too).
DERIVED = {("sections", "fts"), ("sections", "fts_length")}
#: Rows per progress line.
PROGRESS_EVERY = 10_000

Progress = Callable[[str, int], None]
