"""The application family: users, chats and messages, advice threads, API keys, audit log,
prompt versions, model defaults, response log and feedback, calibration state, evaluation
datasets and runs, conversations' project drafts."""

from __future__ import annotations

from dataclasses import dataclass

from backend.config import Settings
from services.admin import (
    api_key_store,
    audit_log,
    model_default_store,
    prompt_library_store,
    prompt_store,
)
from services.admin.api_key_store import ApiKeyStore
from services.admin.audit_log import AuditLog
from services.admin.model_default_store import ModelDefaultStore
from services.admin.prompt_library_store import PromptLibraryStore
from services.admin.prompt_store import PromptStore
from services.calibration import CalibrationStore, ResponseLog
from services.calibration import response_log as calibration_response_log
from services.calibration import store as calibration_store
from services.chat import advice_threads, history_store
from services.chat.advice_threads import AdviceThreads
from services.chat.history_store import HistoryStore
from services.cleaning import store as cleaning_store
from services.cleaning.store import CleaningStore
from services.conversations import draft_chat_store, draft_store
from services.conversations import file_store as chat_file_store
from services.conversations import summary_store as conversation_summary_store
from services.conversations.draft_chat_store import DraftChats
from services.conversations.draft_store import ProjectDrafts
from services.conversations.file_store import SqlChatFileStore
from services.conversations.summary_store import SqlSummaryStore
from services.evaluation import run_store
from services.evaluation.run_store import DatasetStore, RunStore
from services.postgres import Migration, PgDatabase
from services.presence import Presence
from services.sql import StoreTarget


@dataclass
class AppStores:
    history: HistoryStore
    api_keys: ApiKeyStore
    audit_log: AuditLog
    prompt_store: PromptStore
    model_default_store: ModelDefaultStore
    response_log: ResponseLog
    calibration_store: CalibrationStore
    dataset_store: DatasetStore
    run_store: RunStore
    advice_threads: AdviceThreads
    prompt_library: PromptLibraryStore
    cleaning: CleaningStore
    project_drafts: ProjectDrafts
    draft_chats: DraftChats
    chat_files: SqlChatFileStore
    conversation_summaries: SqlSummaryStore


def build_app_stores(
    settings: Settings, db: PgDatabase | None, presence: Presence | None = None
) -> AppStores:
    """The stores of the app database: tables in the shared PostgreSQL database when `db` is
    given (each store applies its own migrations), else the SQLite file `app.db`. Each store
    is written once for both (`services/sql`)."""
    target: StoreTarget = db if db is not None else settings.storage.app_db_path
    return AppStores(
        history=HistoryStore(target, presence=presence),
        api_keys=ApiKeyStore(target),
        audit_log=AuditLog(target),
        prompt_store=PromptStore(target),
        model_default_store=ModelDefaultStore(target),
        response_log=ResponseLog(target),
        calibration_store=CalibrationStore(target),
        dataset_store=DatasetStore(target),
        run_store=RunStore(target),
        advice_threads=AdviceThreads(target),
        prompt_library=PromptLibraryStore(target),
        cleaning=CleaningStore(target),
        project_drafts=ProjectDrafts(target),
        draft_chats=DraftChats(target),  # after the history store: it references chats
        chat_files=SqlChatFileStore(target),  # after the history store: it references chats
        conversation_summaries=SqlSummaryStore(target),  # after history: rows go with chats
    )


#: Every PostgreSQL migration of the family, in the order the stores apply them (for
#: `almanac db check|migrate`).
APP_MIGRATIONS: list[Migration] = [
    *history_store.PG_MIGRATIONS,
    *api_key_store.PG_MIGRATIONS,
    *audit_log.PG_MIGRATIONS,
    *prompt_store.PG_MIGRATIONS,
    *model_default_store.PG_MIGRATIONS,
    *calibration_response_log.PG_MIGRATIONS,
    *calibration_store.PG_MIGRATIONS,
    *run_store.PG_MIGRATIONS,
    *advice_threads.PG_MIGRATIONS,
    *prompt_library_store.PG_MIGRATIONS,
    *cleaning_store.PG_MIGRATIONS,
    *draft_store.PG_MIGRATIONS,
    *draft_chat_store.PG_MIGRATIONS,
    *chat_file_store.PG_MIGRATIONS,
    *conversation_summary_store.PG_MIGRATIONS,
]
