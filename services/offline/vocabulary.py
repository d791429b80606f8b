"""Which words the knowledge base holds at all, to tell "no passage has this word" from "the
search ranked the passages holding it lower".

A question word that no *retrieved* passage holds raises the bar of an answer
(`ChooseTuning.absent_term_penalty`): it is often the topic the knowledge base lacks ("parental
leave"). But a word the knowledge base does hold elsewhere ("jobs" in "what time do the
nightly kpi jobs run", where the answering passage says "dbt models") says nothing about a
missing topic: the search saw it and found better passages without it. Only words that are
nowhere in the knowledge base count as absent.

The terms are the full-text index's (Porter stems), folded through the composer's own `stem`,
and cached until the store's generation changes (any write). So are the abbreviations the
knowledge base defines in its text (`abbreviations.defined_abbreviations`), when the store can
hand over the texts that may define them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from services.offline import tuning as offline_tuning
from services.offline.abbreviations import Abbreviation, defined_abbreviations, stemmed
from services.offline.text import stem

#: (generation, every indexed term) of the knowledge base; see `SqliteKnowledgeStore.vocabulary`.
TermsSource = Callable[[], tuple[int, Sequence[str]]]
#: (generation, the texts that may define abbreviations); `SqliteKnowledgeStore.defining_texts`.
TextsSource = Callable[[], tuple[int, Sequence[str]]]
#: The store's current generation, cheap to read on every turn.
GenerationSource = Callable[[], int]


class KnownWords:
    """The knowledge base's words at one moment. Calling it asks whether a stem's family is
    known (the same stem or the same first `prefix` letters, `ChooseTuning.known_prefix_letters`);
    `exactly` asks for the stem itself,
    which is what decides whether a word may be a typo ("christmaas" shares "chris" with
    "christmas" but is no word of the knowledge base)."""

    def __init__(
        self,
        stems: frozenset[str],
        prefixes: frozenset[str],
        abbreviations: tuple[Abbreviation, ...] = (),
        prefix: int | None = None,
    ) -> None:
        """`prefixes`: the stems' first `prefix` letters (`ChooseTuning.known_prefix_letters`;
        the default tuning's as it is now, without one)."""
        if prefix is None:
            prefix = offline_tuning.DEFAULT_TUNING.choose.known_prefix_letters
        self._stems = stems
        self._prefixes = prefixes
        self._prefix = prefix
        #: The abbreviations the knowledge base defines, stemmed (`abbreviations.stemmed`).
        self.abbreviations = abbreviations

    def __call__(self, word_stem: str) -> bool:
        if word_stem in self._stems:
            return True
        return len(word_stem) >= self._prefix and word_stem[: self._prefix] in self._prefixes

    def exactly(self, word_stem: str) -> bool:
        return word_stem in self._stems


class KnowledgeVocabulary:
    """`knows(stem)`: whether any document of the knowledge base holds that word (or a word of
    the same family: the same stem or the same first letters,
    `ChooseTuning.known_prefix_letters`)."""

    def __init__(
        self,
        terms: TermsSource,
        generation: GenerationSource,
        definitions: TextsSource | None = None,
    ) -> None:
        self._terms = terms
        self._generation = generation
        self._definitions = definitions
        self._lock = threading.Lock()
        self._cached_generation: int | None = None
        self._stems: frozenset[str] = frozenset()
        self._prefixes: frozenset[str] = frozenset()
        self._abbreviations: tuple[Abbreviation, ...] = ()
        self._prefix = 0  # the prefixes' letters: read from the tuning when they are built

    def knows(self, word_stem: str) -> bool:
        return self.snapshot()(word_stem)

    def snapshot(self) -> KnownWords:
        """`knows` on the words of now: one generation check for a whole turn's questions."""
        return KnownWords(*self._current())

    def _current(self) -> tuple[frozenset[str], frozenset[str], tuple[Abbreviation, ...], int]:
        generation = self._generation()
        with self._lock:
            if generation == self._cached_generation:
                return self._stems, self._prefixes, self._abbreviations, self._prefix
        loaded_generation, terms = self._terms()
        defined: dict[str, str] = {}
        if self._definitions is not None:
            for text in self._definitions()[1]:
                for short, long in defined_abbreviations(text).items():
                    defined.setdefault(short, long)
        abbreviations = stemmed(defined)
        # The index stems with the original Porter algorithm, which turns a final "y" into "i"
        # ("saturday" -> "saturdai"); the composer's Snowball stems keep it.
        stems = frozenset(
            {stem(t) for t in terms} | set(terms) | {f"{t[:-1]}y" for t in terms if t[-1:] == "i"}
        )
        letters = offline_tuning.DEFAULT_TUNING.choose.known_prefix_letters
        prefixes = frozenset(s[:letters] for s in stems if len(s) >= letters)
        with self._lock:
            self._cached_generation = loaded_generation
            self._stems, self._prefixes, self._prefix = stems, prefixes, letters
            self._abbreviations = abbreviations
        return stems, prefixes, abbreviations, letters
