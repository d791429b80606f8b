"""Countries the knowledge base never names: for it, "another country".

A policy says "anyone may work temporarily from another country for up to 30 working days";
people ask "can I work from my parents' place in Spain for a few weeks?". Spain is in no
document, so neither the words nor (much) the meaning of the question meet the rule. A country
the knowledge base does not name is marked as such ("Spain (another country)") before the
offline model searches and composes; a country it names (an office's, a listed one) is left as
it is, since the documents say something about that country itself.

Country names come from `pycountry` (ISO 3166, bundled data; names and common names).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection

import pycountry

from services.knowledge.fts_query import words
from services.offline.text import stem

#: What a country the knowledge base does not name is to it.
ELSEWHERE = "another country"

#: Shorter names than this are skipped: too easily an ordinary word or a code.
MIN_NAME_LENGTH = 4


@functools.cache
def _country_pattern() -> re.Pattern[str]:
    names: set[str] = set()
    for country in pycountry.countries:
        for attribute in ("name", "common_name"):
            name = getattr(country, attribute, None)
            if name and "," not in name and len(name) >= MIN_NAME_LENGTH:
                names.add(name)
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(
        rf"(?<![\w-])(?P<place>{_PLACE_PREPOSITIONS}\s+(?:the\s+)?)(?P<name>{alternatives})(?![\w-])",
        re.IGNORECASE,
    )


#: A country is read as a place only after one of these ("from Spain", "to Brazil"): "turkey
#: sandwich" or "Jordan's manager" name no country.
_PLACE_PREPOSITIONS = r"(?:from|in|to|into|at|visiting|visit|across|throughout|inside|within)"


def mark_other_countries(
    question: str, known: Callable[[str], bool] | None, table_words: Collection[str] = ()
) -> str:
    """`question` with each country it names as a place ("from Spain") that neither the
    knowledge base nor the tables (`table_words`, lower case) name followed by "(another
    country)"; unchanged without `known` (the knowledge base's words)."""
    if known is None:
        return question

    exactly = getattr(known, "exactly", known)

    def mark(found: re.Match[str]) -> str:
        name = found.group("name")
        if all(exactly(stem(w)) or w in table_words for w in words(name)):
            return found.group(0)
        return f"{found.group(0)} ({ELSEWHERE})"

    return _country_pattern().sub(mark, question)
