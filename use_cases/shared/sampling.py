"""Sampling settings a client may set on a model run: `temperature`, `max_tokens`, `top_p`,
`seed`.

Rules:
- Each is optional; one left unset is not sent, so the provider's own default applies.
- Ranges: temperature 0 to 2, top_p above 0 up to 1, max_tokens 1 to `MAX_TOKENS`, seed 0 to
  2^63-1. Out of range is `InvalidRequest` (the HTTP schemas check the same bounds first, so
  a client gets a 422 naming the field).
- They reach the model as PydanticAI `ModelSettings` for every request of the run (tool
  calls and the final answer alike). A provider that has no such setting ignores it, as
  PydanticAI does (e.g. `seed` on Anthropic). The offline extractive model ignores them all:
  its answer is the same whatever they say. Either way they are recorded with the results
  that are returned or stored (playground results, evaluation runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pydantic_ai.settings import ModelSettings

from use_cases.shared.errors import InvalidRequest

__all__ = ["MAX_SEED", "MAX_TEMPERATURE", "MAX_TOKENS", "NO_SAMPLING", "Sampling"]

MAX_TEMPERATURE = 2.0
MAX_TOKENS = 1_000_000
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Sampling:
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.temperature is not None and not 0 <= self.temperature <= MAX_TEMPERATURE:
            raise InvalidRequest(f"temperature must be between 0 and {MAX_TEMPERATURE:g}.")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise InvalidRequest("top_p must be above 0 and at most 1.")
        if self.max_tokens is not None and not 1 <= self.max_tokens <= MAX_TOKENS:
            raise InvalidRequest(f"max_tokens must be between 1 and {MAX_TOKENS:,}.")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise InvalidRequest("seed must be between 0 and 2^63-1.")

    def model_settings(self) -> ModelSettings | None:
        """The settings that are set, as PydanticAI sends them; None when none is."""
        chosen = {key: value for key, value in asdict(self).items() if value is not None}
        return ModelSettings(**chosen) if chosen else None  # type: ignore[typeddict-item]  # the set fields, named as ModelSettings' keys

    def as_dict(self) -> dict[str, Any]:
        """All four, unset ones as None (how results record them)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Sampling:
        data = data or {}
        return cls(
            temperature=data.get("temperature"),
            max_tokens=data.get("max_tokens"),
            top_p=data.get("top_p"),
            seed=data.get("seed"),
        )


#: No setting chosen: every provider default applies.
NO_SAMPLING = Sampling()
