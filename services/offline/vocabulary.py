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
hand over the texts that may define them, and the lines that many of its documents repeat
word for word (boilerplate: a footer, a navigation bar), when the store counts them.
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
#: (generation, documents stored, [(line, documents holding it)] for the lines at least the
#: given number of documents hold); `SqlKnowledgeStore.repeated_lines`.
RepeatedSource = Callable[[int], tuple[int, int, Sequence[tuple[str, int]]]]


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
        boilerplate: frozenset[str] = frozenset(),
    ) -> None:
        """`prefixes`: the stems' first `prefix` letters (`ChooseTuning.known_prefix_letters`;
        the default tuning's as it is now, without one). `boilerplate`: the lines (as
        `repeated_lines.line_key` writes them) that many documents repeat."""
        if prefix is None:
            prefix = offline_tuning.DEFAULT_TUNING.choose.known_prefix_letters
        self._stems = stems
        self._prefixes = prefixes
        self._prefix = prefix
        #: The abbreviations the knowledge base defines, stemmed (`abbreviations.stemmed`).
        self.abbreviations = abbreviations
        #: The lines many of its documents repeat word for word (`ChooseTuning.boilerplate_*`).
        self.boilerplate = boilerplate

    def __call__(self, word_stem: str) -> bool:
        if word_stem in self._stems:
            return True
        return len(word_stem) >= self._prefix and word_stem[: self._prefix] in self._prefixes

    def exactly(self, word_stem: str) -> bool:
        return word_stem in self._stems


class KnowledgeVocabulary:
    """`knows(stem)`: whether any document of the knowledge base holds that word (or a word of
    the same family: the same stem or the same first letters,
    `ChooseTuning.known_prefix_letters`); and, with `repeated`, which of its lines are
    boilerplate (`KnownWords.boilerplate`)."""

    def __init__(
        self,
        terms: TermsSource,
        generation: GenerationSource,
        definitions: TextsSource | None = None,
        repeated: RepeatedSource | None = None,
    ) -> None:
        self._terms = terms
        self._generation = generation
        self._definitions = definitions
        self._repeated = repeated
        self._lock = threading.Lock()
        self._cached: tuple[int, KnownWords] | None = None

    def knows(self, word_stem: str) -> bool:
        return self.snapshot()(word_stem)

    def snapshot(self) -> KnownWords:
        """`knows` on the words of now: one generation check for a whole turn's questions."""
        generation = self._generation()
        with self._lock:
            cached = self._cached
        if cached is not None and cached[0] == generation:
            return cached[1]
        loaded_generation, known = self._load()
        with self._lock:
            self._cached = (loaded_generation, known)
        return known

    def _load(self) -> tuple[int, KnownWords]:
        """The words, abbreviations and boilerplate as the store holds them now, read with the
        tuning as it is now."""
        choose = offline_tuning.DEFAULT_TUNING.choose
        loaded_generation, terms = self._terms()
        defined: dict[str, str] = {}
        if self._definitions is not None:
            for text in self._definitions()[1]:
                for short, long in defined_abbreviations(text).items():
                    defined.setdefault(short, long)
        # The index stems with the original Porter algorithm, which turns a final "y" into "i"
        # ("saturday" -> "saturdai"); the composer's Snowball stems keep it.
        stems = frozenset(
            {stem(t) for t in terms} | set(terms) | {f"{t[:-1]}y" for t in terms if t[-1:] == "i"}
        )
        letters = choose.known_prefix_letters
        prefixes = frozenset(s[:letters] for s in stems if len(s) >= letters)
        boilerplate: frozenset[str] = frozenset()
        if self._repeated is not None:
            _, documents, counted = self._repeated(choose.boilerplate_documents)
            least = choose.boilerplate_share * documents
            boilerplate = frozenset(line for line, n in counted if n >= least)
        return loaded_generation, KnownWords(
            stems, prefixes, stemmed(defined), letters, boilerplate
        )
