"""The `Cleaners` port: which cleaner a run's model names. `offline-rules` (the offline,
rule-based cleaner) is always there and is the default; a model of the allowed list is cleaned
by a PydanticAI agent when `agent` is given (see `agent_cleaner.py`)."""

from __future__ import annotations

from collections.abc import Callable

from services.cleaning.offline_cleaner import OFFLINE_CLEANER, OfflineCleaner
from use_cases.cleaning.ports import Cleaner
from use_cases.shared.errors import InvalidRequest


class CleanerRegistry:
    def __init__(self, agent: Callable[[str], Cleaner] | None = None) -> None:
        self._offline = OfflineCleaner()
        self._agent = agent

    @property
    def default(self) -> str:
        return OFFLINE_CLEANER

    def get(self, model: str) -> Cleaner:
        if model == OFFLINE_CLEANER:
            return self._offline
        if self._agent is None:
            raise InvalidRequest(f"unknown cleaner {model!r}; use {OFFLINE_CLEANER!r}.")
        return self._agent(model)
