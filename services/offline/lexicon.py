"""A knowledge base's own vocabulary: the words its people use for the words its documents
and tables use. The answerer's code knows English; what one organisation calls things
(its synonyms, abbreviations, the phrases that mean one of its terms, the ways of asking for
one of its table columns) comes from that knowledge base's lexicon file, never from code.

Rules: a lexicon is data (`LEXICON_FILE`, JSON; see `sample_data/lexicon.json` for the bundled
sample's and docs/configuration.md for the format); no lexicon means the answerer uses English
alone (`EMPTY`). The offline model passes its knowledge base's lexicon to the functions that
read it, as an argument; a result cached across turns never depends on it.

Format (every key optional):

    {"synonyms": [["laptop", "computer", "macbook"], ...],       # interchangeable words
     "acronyms": {"DR": "disaster recovery"},                    # as typed, case-sensitive
     "abbreviations": {"ops": "operations"},                     # any case, for table values
     "phrases": [{"pattern": "\\blet\\s+(\\w+)\\s+go\\b", "replace": "fire \\1"}],
     "column_hints": [{"pattern": "\\bwritten\\s+in\\b", "column": "language"}]}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.offline.text import stem


class LexiconError(ValueError):
    """A lexicon file that cannot be read: says the file and what is wrong."""


@dataclass(frozen=True)
class Lexicon:
    synonym_groups: tuple[tuple[str, ...], ...] = ()
    acronyms: Mapping[str, str] = field(default_factory=dict)
    abbreviations: Mapping[str, str] = field(default_factory=dict)
    phrases: tuple[tuple[re.Pattern[str], str], ...] = ()
    column_hints: tuple[tuple[re.Pattern[str], str], ...] = ()
    synonyms: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False)
    acronym_pattern: re.Pattern[str] | None = field(default=None, compare=False)
    abbreviation_pattern: re.Pattern[str] | None = field(default=None, compare=False)

    @classmethod
    def build(
        cls,
        synonym_groups: tuple[tuple[str, ...], ...] = (),
        acronyms: Mapping[str, str] | None = None,
        abbreviations: Mapping[str, str] | None = None,
        phrases: tuple[tuple[re.Pattern[str], str], ...] = (),
        column_hints: tuple[tuple[re.Pattern[str], str], ...] = (),
    ) -> Lexicon:
        table: dict[str, set[str]] = {}
        for group in synonym_groups:
            stems = {stem(w) for w in group}
            for s in stems:
                table.setdefault(s, set()).update(stems - {s})
        acronyms = dict(acronyms or {})
        abbreviations = {k.lower(): v for k, v in (abbreviations or {}).items()}
        return cls(
            synonym_groups=synonym_groups,
            acronyms=acronyms,
            abbreviations=abbreviations,
            phrases=phrases,
            column_hints=column_hints,
            synonyms={s: frozenset(others) for s, others in table.items()},
            acronym_pattern=_words_pattern(acronyms, 0),
            abbreviation_pattern=_words_pattern(abbreviations, re.IGNORECASE),
        )

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """The lexicon in JSON file `path` (see the module docstring)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LexiconError(f"Lexicon {path}: cannot be read ({exc})") from None
        try:
            return cls.from_mapping(data)
        except (TypeError, KeyError, AttributeError, re.error) as exc:
            raise LexiconError(f"Lexicon {path}: {exc}") from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Lexicon:
        unknown = set(data) - {"synonyms", "acronyms", "abbreviations", "phrases", "column_hints"}
        if unknown:
            raise KeyError(f"unknown keys {sorted(unknown)}")
        groups = tuple(tuple(str(w) for w in group) for group in data.get("synonyms", []))  # type: ignore[attr-defined]  # JSON the lexicon file holds: lists
        phrases = tuple(
            (re.compile(item["pattern"], re.IGNORECASE), str(item["replace"]))
            for item in data.get("phrases", [])  # type: ignore[attr-defined]  # JSON the lexicon file holds: lists
        )
        hints = tuple(
            (re.compile(item["pattern"], re.IGNORECASE), str(item["column"]))
            for item in data.get("column_hints", [])  # type: ignore[attr-defined]  # JSON the lexicon file holds: lists
        )
        return cls.build(
            groups,
            dict(data.get("acronyms", {})),  # type: ignore[call-overload]  # JSON the lexicon file holds: objects
            dict(data.get("abbreviations", {})),  # type: ignore[call-overload]  # JSON the lexicon file holds: objects
            phrases,
            hints,
        )

    def synonyms_of(self, term: str) -> frozenset[str]:
        return self.synonyms.get(term, frozenset())

    def rewrite(self, text: str) -> str:
        """`text` with the lexicon's phrases and acronyms written as its documents write them."""
        for pattern, replacement in self.phrases:

            def expand(m: re.Match[str], r: str = replacement) -> str:
                return " ".join(m.expand(r).split())

            text = pattern.sub(expand, text)
        if self.acronym_pattern is not None:
            text = self.acronym_pattern.sub(lambda m: self.acronyms[m.group(0)], text)
        return text

    def expand_abbreviations(self, text: str) -> str:
        if self.abbreviation_pattern is None:
            return text
        return self.abbreviation_pattern.sub(lambda m: self.abbreviations[m.group(0).lower()], text)


def _words_pattern(table: Mapping[str, str], flags: int) -> re.Pattern[str] | None:
    if not table:
        return None
    alternatives = "|".join(re.escape(k) for k in sorted(table, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b", flags)


#: No lexicon: the answerer reads English alone.
EMPTY = Lexicon.build()
