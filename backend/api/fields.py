"""Request fields shared by several endpoints, with one validation and one description each.

`SearchOverride`: `true` / `false`, or the override as people type it in a message, `/search`
/ `/nosrch` (any case, surrounding spaces ignored); `null` lets the search discipline decide.
Accepted wherever `search_override` is (chat bodies, advice, the playground, the
`/search-discipline` query parameter), so a client can pass on what its user typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = ["SEARCH_OVERRIDE_HELP", "SearchOverride", "search_override_value"]

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
