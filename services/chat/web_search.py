"""Web search providers, by the name WEB_SEARCH_PROVIDER gives.

None ships: Almanac answers from the organisation's own documents, and this machine has no
internet. A provider is a `WebSearch` (see `use_cases/chat/ports.py`) added to `PROVIDERS` under its
name; the search-discipline decision then reports web search as available when a request asks
for it. `none` (the default) turns web search off; any other unknown name is a configuration
error at start-up, so a typo never silently disables what an operator meant to turn on.
"""

from __future__ import annotations

from collections.abc import Callable

from use_cases.chat.ports import WebSearch
from use_cases.shared.errors import ConfigurationError

OFF = "none"

#: name -> factory of the provider. Empty: no provider ships with Almanac.
PROVIDERS: dict[str, Callable[[], WebSearch]] = {}


def build_web_search(name: str) -> WebSearch | None:
    """The provider WEB_SEARCH_PROVIDER names; None for `none` (or empty)."""
    key = name.strip().lower()
    if key in ("", OFF):
        return None
    factory = PROVIDERS.get(key)
    if factory is None:
        known = ", ".join(sorted([OFF, *PROVIDERS]))
        raise ConfigurationError(
            f"WEB_SEARCH_PROVIDER={name!r} names no web search provider; known: {known}. "
            "Almanac ships no web search provider: use 'none' or plug one in "
            "(services/chat/web_search.py)."
        )
    return factory()
