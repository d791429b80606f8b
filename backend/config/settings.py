"""The root of the settings: `Settings` reads every group's fields from the environment and
`.env` by their flat names (AUTH_ENABLED, RRF_K), routes flat keywords to their groups, and
says which environment name a validation error is about."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from backend.config.auth import AuthSettings
from backend.config.base import SettingsGroup
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
from backend.config.mcp import McpToolSettings
from backend.config.models import ModelSettings, OfflineSettings, ProviderSettings
from backend.config.server import ServerSettings
from backend.config.sources import SourceSyncSettings, WebsiteSourceSettings
from backend.config.storage import StorageSettings


class _FlatNames(PydanticBaseSettingsSource):
    """Each group's fields from a source of environment variables (the environment, or the
    `.env` file) by their flat names: AUTH_ENABLED is `auth.enabled`. The group names
    themselves are never read from it, so an unrelated variable named AUTH or SERVER is
    ignored."""

    def __init__(self, settings_cls: type[BaseSettings], variables: EnvSettingsSource) -> None:
        super().__init__(settings_cls)
        self._variables = variables

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads every group at once

    def __call__(self) -> dict[str, Any]:
        found: dict[str, dict[str, Any]] = {}
        names = self._variables.env_vars
        for name, (group, _) in SETTING_AT.items():
            key = name if not self._variables.case_sensitive else name.upper()
            if key in names:
                found.setdefault(group, {})[name] = names[key]
        return dict(found)


class Settings(BaseSettings):
    """Every setting, one group per feature (see `SettingsGroup`). `Settings(auth_enabled=True)`
    and `Settings(auth=AuthSettings(...))` both work: a keyword named after a setting's
    environment name goes to its group, above what the environment says. A field's own name
    (`enabled`) is no keyword here: it is not unique across groups."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    documents: DocumentSettings = Field(default_factory=DocumentSettings)
    source_sync: SourceSyncSettings = Field(default_factory=SourceSyncSettings)
    knowledge_base: KnowledgeBaseSettings = Field(default_factory=KnowledgeBaseSettings)
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    tables: TableSettings = Field(default_factory=TableSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    mcp_tools: McpToolSettings = Field(default_factory=McpToolSettings)
    offline: OfflineSettings = Field(default_factory=OfflineSettings)
    web: WebAppSettings = Field(default_factory=WebAppSettings)
    chat_files: ChatFileSettings = Field(default_factory=ChatFileSettings)
    conversation_search: ConversationSearchSettings = Field(
        default_factory=ConversationSearchSettings
    )
    drafts: ProjectDraftSettings = Field(default_factory=ProjectDraftSettings)
    conversation_import: ConversationImportSettings = Field(
        default_factory=ConversationImportSettings
    )
    website_sources: WebsiteSourceSettings = Field(default_factory=WebsiteSourceSettings)
    calibration: CalibrationSettings = Field(default_factory=CalibrationSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    cleaning: CleaningSettings = Field(default_factory=CleaningSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keywords, then the environment, then `.env`, each by the fields' flat names."""
        assert isinstance(env_settings, EnvSettingsSource)
        assert isinstance(dotenv_settings, EnvSettingsSource)
        return (
            init_settings,
            _FlatNames(settings_cls, env_settings),
            _FlatNames(settings_cls, dotenv_settings),
        )

    @model_validator(mode="before")
    @classmethod
    def _route_flat_names(cls, data: Any) -> Any:
        """`auth_enabled=...` becomes `auth={"auth_enabled": ...}` (which the group reads into
        its field `enabled`), over the group's other values (a keyword outranks the
        environment)."""
        if not isinstance(data, dict):
            return data
        rest: dict[str, Any] = {}
        routed: dict[str, dict[str, Any]] = {}
        for key, value in data.items():
            group = GROUP_OF.get(key.lower()) if isinstance(key, str) else None
            if group is None:
                rest[key] = value
            else:
                routed.setdefault(group, {})[key.lower()] = value
        for group, values in routed.items():
            current = rest.get(group) or {}
            rest[group] = {**(_values(current) if isinstance(current, BaseModel) else current)}
            rest[group].update(values)
        return rest

    @property
    def chat_files_path(self) -> Path:
        """Where attached files' bytes are kept: CHAT_FILES_DIR, else DATA_DIR/chat_files."""
        return self.chat_files.dir or self.storage.data_dir / "chat_files"

    def updated(self, **values: Any) -> Settings:
        """A copy with `values` (by environment name) changed; each group changed is validated
        again (so paths derived from it, like `storage.app_db_path`, follow)."""
        changed: dict[str, dict[str, Any]] = {}
        for name, value in values.items():
            if name not in GROUP_OF:
                raise TypeError(
                    f"{name.upper()} is no setting (name settings as the environment does)"
                )
            changed.setdefault(GROUP_OF[name], {})[name] = value
        groups = {
            group: type(getattr(self, group)).model_validate(
                {**_values(getattr(self, group)), **new}
            )
            for group, new in changed.items()
        }
        return self.model_copy(update=groups)


def _values(group: BaseModel) -> dict[str, Any]:
    """A group's field values by environment name, as the group is built from them (not what
    its cached properties hold)."""
    assert isinstance(group, SettingsGroup)
    return {env: getattr(group, name) for name, env in type(group).environment_names().items()}


def setting_groups() -> Iterator[tuple[str, type[SettingsGroup]]]:
    """(attribute on `Settings`, group model) of each group, in declaration order."""
    for group, field in Settings.model_fields.items():
        assert isinstance(field.annotation, type) and issubclass(field.annotation, SettingsGroup)
        yield group, field.annotation


#: Where each setting lives, by its environment name (lower-case): (group, field), e.g.
#: `eval_concurrency` -> ("evaluation", "concurrency"). The one map from the environment's
#: names to the code's (tools/rename_settings.py derives its renames from it too).
SETTING_AT: dict[str, tuple[str, str]] = {
    env: (group, name)
    for group, model in setting_groups()
    for name, env in model.environment_names().items()
}
#: The group of each setting, by environment name (lower-case).
GROUP_OF: dict[str, str] = {env: group for env, (group, _) in SETTING_AT.items()}
assert len(SETTING_AT) == sum(len(m.model_fields) for _, m in setting_groups()), (
    "two settings share an environment name"
)
assert not set(GROUP_OF) & set(Settings.model_fields), "a setting is named like a group"


def environment_name(loc: tuple[int | str, ...]) -> str:
    """The environment name of the setting a validation error of `Settings` is about (its
    location is group, then the field's environment name or its own name, whichever the
    input used), or "" for a check across a group's fields (OIDC_CLIENT_ID without its
    secret)."""
    if len(loc) < 2:
        return ""
    group, name = str(loc[0]), str(loc[1])
    model = dict(setting_groups()).get(group)
    names = model.environment_names() if model is not None else {}
    return names.get(name, name).upper()
