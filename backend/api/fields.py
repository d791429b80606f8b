"""Request fields shared by several endpoints, with one validation and one description each.

`SearchOverride`: `true` / `false`, or the override as people type it in a message, `/search`
/ `/nosrch` (any case, surrounding spaces ignored); `null` lets the search discipline decide.
Accepted wherever `search_override` is (chat bodies, advice, the playground, the
`/search-discipline` query parameter), so a client can pass on what its user typed.

`SamplingFields`: `temperature`, `max_tokens`, `top_p`, `seed` as top-level fields of a body
(chat, advice, playground), bounded as `use_cases/shared/sampling.py` says; `SamplingIn` is the same
four as an object (an evaluation run's `sampling`, where `seed` already names the
perturbations' seed). `sampling_from_extras` reads them from the useChat body's extra fields.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, WithJsonSchema
from pydantic_core import PydanticCustomError

from use_cases.shared.sampling import MAX_SEED, MAX_TEMPERATURE, MAX_TOKENS, Sampling

__all__ = [
    "SAMPLING_FIELDS",
    "SEARCH_OVERRIDE_HELP",
    "SamplingFields",
    "SamplingIn",
    "SearchOverride",
    "sampling_from_extras",
    "search_override_value",
]

_TYPED = {"/search": True, "/nosrch": False}
_BOOLEAN_WORDS = {"true": True, "false": False, "1": True, "0": False}
SEARCH_OVERRIDE_HELP = (
    'true or "/search" forces a knowledge-base search, false or "/nosrch" forbids it for this '
    "turn (as the markers do in a message); null lets the search discipline decide."
)


def search_override_value(value: Any) -> bool | None:
    """`value` as an override: None, True or False (see the module docstring)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TYPED:
            return _TYPED[word]
        if word in _BOOLEAN_WORDS:
            return _BOOLEAN_WORDS[word]
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise PydanticCustomError(
        "search_override",
        'Input should be true, false, "/search" or "/nosrch" (or null)',
    )


SearchOverride = Annotated[
    bool | None,
    PlainValidator(search_override_value),
    WithJsonSchema(
        {
            "anyOf": [{"type": "boolean"}, {"enum": ["/search", "/nosrch"]}, {"type": "null"}],
            "description": SEARCH_OVERRIDE_HELP,
        }
    ),
]


SAMPLING_FIELDS = ("temperature", "max_tokens", "top_p", "seed")
_OFFLINE_NOTE = " The offline model ignores it (it is still recorded)."


class SamplingFields(BaseModel):
    """The sampling settings as fields of a request body (unset: the provider's default)."""

    temperature: float | None = Field(
        None,
        ge=0,
        le=MAX_TEMPERATURE,
        description=f"0 to {MAX_TEMPERATURE:g}: lower is more deterministic." + _OFFLINE_NOTE,
        examples=[0.2],
    )
    max_tokens: int | None = Field(
        None,
        ge=1,
        le=MAX_TOKENS,
        description="The most tokens one model response may have." + _OFFLINE_NOTE,
    )
    top_p: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Nucleus sampling: above 0, at most 1." + _OFFLINE_NOTE,
    )
    seed: int | None = Field(
        None,
        ge=0,
        le=MAX_SEED,
        description="Asks the provider for repeatable sampling, where it supports one."
        + _OFFLINE_NOTE,
    )

    def sampling(self) -> Sampling:
        return Sampling(
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            top_p=self.top_p,
            seed=self.seed,
        )


class SamplingIn(SamplingFields):
    """The four sampling settings as one object."""

    model_config = ConfigDict(extra="forbid")


def sampling_from_extras(extras: dict[str, Any]) -> Sampling:
    """The sampling settings among a body's extra fields (the useChat body), validated as
    the other bodies' are: a bad one is a 422 naming it."""
    chosen = {key: extras[key] for key in SAMPLING_FIELDS if key in extras}
    try:
        return SamplingIn.model_validate(chosen).sampling()
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None
