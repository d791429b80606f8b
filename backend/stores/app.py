"""The application family: users, chats and messages, API keys, audit log, prompt versions,
model defaults, response log and feedback, calibration state, evaluation datasets and runs."""

from __future__ import annotations

from dataclasses import dataclass

from backend.config import Settings
from backend.stores import not_on_postgres
from services.admin.api_key_store import SqliteApiKeyStore
from services.admin.audit_log import SqliteAuditLog
from services.admin.model_default_store import SqliteModelDefaultStore
from services.admin.prompt_store import SqlitePromptStore
from services.calibration import SqliteCalibrationStore, SqliteResponseLog
from services.chat.history_store import SqliteHistoryStore
from services.evaluation.run_store import SqliteDatasetStore, SqliteRunStore
from services.postgres import PgDatabase

HistoryStoreAdapter = SqliteHistoryStore
ApiKeyStoreAdapter = SqliteApiKeyStore
AuditLogAdapter = SqliteAuditLog
PromptStoreAdapter = SqlitePromptStore
ModelDefaultStoreAdapter = SqliteModelDefaultStore
ResponseLogAdapter = SqliteResponseLog
CalibrationStoreAdapter = SqliteCalibrationStore
DatasetStoreAdapter = SqliteDatasetStore
RunStoreAdapter = SqliteRunStore


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


def build_app_stores(settings: Settings, db: PgDatabase | None) -> AppStores:
    if db is not None:
        raise not_on_postgres("application")
    path = settings.app_db_path
    return AppStores(
        history=SqliteHistoryStore(path),
        api_keys=SqliteApiKeyStore(path),
        audit_log=SqliteAuditLog(path),
        prompt_store=SqlitePromptStore(path),
        model_default_store=SqliteModelDefaultStore(path),
        response_log=SqliteResponseLog(path),
        calibration_store=SqliteCalibrationStore(path),
        dataset_store=SqliteDatasetStore(path),
        run_store=SqliteRunStore(path),
    )
