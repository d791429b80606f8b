"""The application family: users, chats and messages, advice threads, API keys, audit log,
prompt versions, model defaults, response log and feedback, calibration state, evaluation
datasets and runs."""

from __future__ import annotations

from dataclasses import dataclass

from backend.config import Settings
from services.admin import pg_api_key_store, pg_audit_log, pg_model_default_store, pg_prompt_store
from services.admin.api_key_store import SqliteApiKeyStore
from services.admin.audit_log import SqliteAuditLog
from services.admin.model_default_store import SqliteModelDefaultStore
from services.admin.pg_api_key_store import PgApiKeyStore
from services.admin.pg_audit_log import PgAuditLog
from services.admin.pg_model_default_store import PgModelDefaultStore
from services.admin.pg_prompt_store import PgPromptStore
from services.admin.prompt_store import SqlitePromptStore
from services.calibration import (
    SqliteCalibrationStore,
    SqliteResponseLog,
    pg_response_log,
    pg_store,
)
from services.calibration.pg_response_log import PgResponseLog
from services.calibration.pg_store import PgCalibrationStore
from services.chat import pg_advice_threads, pg_history_store
from services.chat.advice_threads import SqliteAdviceThreads
from services.chat.history_store import SqliteHistoryStore
from services.chat.pg_advice_threads import PgAdviceThreads
from services.chat.pg_history_store import PgHistoryStore
from services.evaluation import pg_run_store
from services.evaluation.pg_run_store import PgDatasetStore, PgRunStore
from services.evaluation.run_store import SqliteDatasetStore, SqliteRunStore
from services.postgres import Migration, PgDatabase
from services.presence import Presence

HistoryStoreAdapter = SqliteHistoryStore | PgHistoryStore
AdviceThreadsAdapter = SqliteAdviceThreads | PgAdviceThreads
ApiKeyStoreAdapter = SqliteApiKeyStore | PgApiKeyStore
AuditLogAdapter = SqliteAuditLog | PgAuditLog
PromptStoreAdapter = SqlitePromptStore | PgPromptStore
ModelDefaultStoreAdapter = SqliteModelDefaultStore | PgModelDefaultStore
ResponseLogAdapter = SqliteResponseLog | PgResponseLog
CalibrationStoreAdapter = SqliteCalibrationStore | PgCalibrationStore
DatasetStoreAdapter = SqliteDatasetStore | PgDatasetStore
RunStoreAdapter = SqliteRunStore | PgRunStore


@dataclass
class AppStores:
    history: HistoryStoreAdapter
    api_keys: ApiKeyStoreAdapter
    audit_log: AuditLogAdapter
    prompt_store: PromptStoreAdapter
    model_default_store: ModelDefaultStoreAdapter
    response_log: ResponseLogAdapter
    calibration_store: CalibrationStoreAdapter
    dataset_store: DatasetStoreAdapter
    run_store: RunStoreAdapter
    advice_threads: AdviceThreadsAdapter


def build_app_stores(
    settings: Settings, db: PgDatabase | None, presence: Presence | None = None
) -> AppStores:
    """The stores of the app database: tables in the shared PostgreSQL database when `db` is
    given (each store applies its own migrations), else the SQLite file `app.db`."""
    if db is not None:
        return AppStores(
            history=PgHistoryStore(db, presence=presence),
            api_keys=PgApiKeyStore(db),
            audit_log=PgAuditLog(db),
            prompt_store=PgPromptStore(db),
            model_default_store=PgModelDefaultStore(db),
            response_log=PgResponseLog(db),
            calibration_store=PgCalibrationStore(db),
            dataset_store=PgDatasetStore(db),
            run_store=PgRunStore(db),
            advice_threads=PgAdviceThreads(db),
        )
    path = settings.app_db_path
    return AppStores(
        history=SqliteHistoryStore(path, presence=presence),
        api_keys=SqliteApiKeyStore(path),
        audit_log=SqliteAuditLog(path),
        prompt_store=SqlitePromptStore(path),
        model_default_store=SqliteModelDefaultStore(path),
        response_log=SqliteResponseLog(path),
        calibration_store=SqliteCalibrationStore(path),
        dataset_store=SqliteDatasetStore(path),
        run_store=SqliteRunStore(path),
        advice_threads=SqliteAdviceThreads(path),
    )


#: Every PostgreSQL migration of the family, in the order the stores apply them (for
#: `almanac db check|migrate`).
APP_MIGRATIONS: list[Migration] = [
    *pg_history_store.MIGRATIONS,
    *pg_api_key_store.MIGRATIONS,
    *pg_audit_log.MIGRATIONS,
    *pg_prompt_store.MIGRATIONS,
    *pg_model_default_store.MIGRATIONS,
    *pg_response_log.MIGRATIONS,
    *pg_store.MIGRATIONS,
    *pg_run_store.MIGRATIONS,
    *pg_advice_threads.MIGRATIONS,
]
