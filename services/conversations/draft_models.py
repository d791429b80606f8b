"""The `DraftModels` port: the model resolver of chat turns, with the offline default's
drafting model (`draft_offline.py`) standing in for its answerer on draft turns."""

from __future__ import annotations

from typing import Any

from services.chat.models import OFFLINE_MODEL
from use_cases.prompts.ports import ModelResolver, ResolvedModel


class OfflineDraftingModels:
    """Resolve as `models` does; the offline default resolves to `offline` (which runs no
    worker pool, so it needs no admission)."""

    def __init__(self, models: ModelResolver, offline: Any) -> None:
        self._models = models
        self._offline = offline

    def resolve(self, requested: str | None) -> ResolvedModel:
        resolved = self._models.resolve(requested)
        if resolved.identifier == OFFLINE_MODEL:
            return ResolvedModel(OFFLINE_MODEL, self._offline)
        return resolved
