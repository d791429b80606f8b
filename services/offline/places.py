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
    names = _codes_by_name()  # lower case; the pattern ignores case
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


@functools.cache
def _codes_by_name() -> dict[str, str]:
    codes: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("name", "common_name"):
            name = getattr(country, attribute, None)
            if name and "," not in name and len(name) >= MIN_NAME_LENGTH:
                codes[name.lower()] = country.alpha_2
    return codes


@functools.cache
def country_stems() -> frozenset[str]:
    """The stems of the words of every country's name ("portug", "netherland", "kingdom"):
    a country is a place the question is set in, read by the rules of this module."""
    return frozenset(stem(word) for name in _codes_by_name() for word in words(name))


@functools.cache
def _named_pattern() -> re.Pattern[str]:
    names = sorted(_codes_by_name(), key=len, reverse=True)
    alternatives = "|".join(re.escape(n) for n in names)
    # In documents, a country is a capitalised name or an ISO code in brackets: "(NL)".
    return re.compile(rf"(?<![\w-])(?i:(?P<name>{alternatives}))(?![\w-])|\((?P<code>[A-Z]{{2}})\)")


def asked_countries(question: str) -> frozenset[str]:
    """The ISO codes of the countries the question names as a place ("in Germany")."""
    codes = _codes_by_name()
    return frozenset(
        codes[found.group("name").lower()] for found in _country_pattern().finditer(question)
    )


#: Bracketed codes that are rarely a country in a company's documents: "Road (NA)" is North
#: America, "(IT)" the IT team, "(CI)" continuous integration.
_NOT_COUNTRY_CODES = frozenset({"NA", "IT", "ID", "CI", "CD", "AI", "PR", "PS", "IN", "IS"})


def countries_named(text: str) -> frozenset[str]:
    """The ISO codes of the countries a passage names: by a capitalised name, or by codes in
    brackets when it lists at least two ("€0.23 per km (NL), €0.40 per km (PT)")."""
    codes = _codes_by_name()
    named: set[str] = set()
    bracketed: set[str] = set()
    for found in _named_pattern().finditer(text):
        if found.group("name"):
            if found.group("name")[0].isupper():
                named.add(codes[found.group("name").lower()])
        elif found.group("code") not in _NOT_COUNTRY_CODES and pycountry.countries.get(
            alpha_2=found.group("code")
        ):
            bracketed.add(found.group("code"))
    return frozenset(named | bracketed) if len(bracketed) >= 2 else frozenset(named)


def about_other_countries(text: str, asked: Collection[str]) -> bool:
    """Whether `text` names countries, none of them one asked about: its figures are theirs
    ("€0.23 per km (NL), €0.40 per km (PT)" does not give Germany's rate)."""
    named = countries_named(text)
    return bool(asked) and bool(named) and not named & set(asked)
