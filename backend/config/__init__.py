"""Settings, declared once: read from the environment and `.env`, passed down from here.

The settings are grouped by feature (`settings.auth.enabled`, `settings.retrieval.rrf_k`): a
group is a model of its own, in a module of this package by feature (`auth.py`,
`evaluation.py`, ...), and a feature's `build()` is given the groups it reads. A field's name
leaves out the prefix that repeats its group's (`evaluation.concurrency`), but each setting
keeps its flat environment name (EVAL_CONCURRENCY, RRF_K; case-insensitive, from the
environment or `.env`; see `SettingsGroup`), so a group's name never appears in the
environment, and keywords (`Settings(eval_concurrency=2)`, `settings.updated(...)`) use it.
Each field's description, and each group's title and docstring, feed `.env.example` and
docs/configuration.md (a test keeps the three in step). `settings.py` holds the root,
`Settings`, and the flat-name machinery. The core never reads the environment itself.

Every public name is re-exported here: import from `backend.config`, not from its modules.
"""

from __future__ import annotations

from backend.config.auth import LOOPBACK_HOSTS, AuthSettings
from backend.config.base import PROJECT_ROOT, SettingsGroup
from backend.config.chat import ChatFileSettings, ChatSettings, WebAppSettings
from backend.config.cleaning import CleaningSettings
from backend.config.conversations import (
    ConversationImportSettings,
    ConversationSearchSettings,
    ProjectDraftSettings,
)
from backend.config.documents import DocumentSettings
from backend.config.evaluation import CalibrationSettings, EvaluationSettings
from backend.config.http import HttpSettings
from backend.config.jobs import JobSettings
from backend.config.knowledge import (
    ChunkingSettings,
    EmbeddingSettings,
    KnowledgeBaseSettings,
    RetrievalSettings,
    TableSettings,
)
from backend.config.mcp import MCP_SERVER_NAME, McpServerConfig, McpToolSettings
from backend.config.models import ModelSettings, OfflineSettings, ProviderSettings
from backend.config.server import ServerSettings
from backend.config.settings import (
    GROUP_OF,
    SETTING_AT,
    Settings,
    environment_name,
    setting_groups,
)
from backend.config.sources import SourceSyncSettings, WebsiteSourceSettings
from backend.config.storage import DATABASE_URL_FORM, REDIS_SCHEMES, StorageSettings

__all__ = [
    "DATABASE_URL_FORM",
    "GROUP_OF",
    "LOOPBACK_HOSTS",
    "MCP_SERVER_NAME",
    "PROJECT_ROOT",
    "REDIS_SCHEMES",
    "SETTING_AT",
    "AuthSettings",
    "CalibrationSettings",
    "ChatFileSettings",
    "ChatSettings",
    "ChunkingSettings",
    "CleaningSettings",
    "ConversationImportSettings",
    "ConversationSearchSettings",
    "DocumentSettings",
    "EmbeddingSettings",
    "EvaluationSettings",
    "HttpSettings",
    "JobSettings",
    "KnowledgeBaseSettings",
    "McpServerConfig",
    "McpToolSettings",
    "ModelSettings",
    "OfflineSettings",
    "ProjectDraftSettings",
    "ProviderSettings",
    "RetrievalSettings",
    "ServerSettings",
    "Settings",
    "SettingsGroup",
    "SourceSyncSettings",
    "StorageSettings",
    "TableSettings",
    "WebAppSettings",
    "WebsiteSourceSettings",
    "environment_name",
    "setting_groups",
]
