"""The evidence an answer needs (`raise_the_bar`): `ChooseTuning.min_evidence`, raised for
question words no retrieved passage holds, for names the knowledge base never mentions and for
a rare word only another sentence holds.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from services.knowledge.spelling import english_words
from services.offline import data
from services.offline import tuning as offline_tuning
from services.offline.asked import WORD, Asked, own_words
from services.offline.lexicon import EMPTY, Lexicon
from services.offline.match import match
from services.offline.places import country_stems
from services.offline.question import asking_clauses
from services.offline.read import Unit
from services.offline.render import CODE_NAME
from services.offline.score import Scored
from services.offline.text import content_stems, has_digit, stem
from services.offline.tuning import ScoreTuning
from services.offline.typos import is_foreign
from use_cases.shared.content_log import content_log


def _answering(scored: list[Scored], needed: float, within: int) -> Scored | None:
    """The sentence that answers: the best-ranked one when its evidence meets the bar, else
    the first runner-up within `within` (`ChooseTuning.promote_within`) that does. The
    bonuses for the kind of fact asked for order the sentences; the evidence decides whether
    there is an answer ("is it ok to ...?" ranks a sentence saying "should not" first, however
    weakly it matches)."""
    return next((s for s in scored[:within] if s.evidence >= needed), None)


#: A name the question gives to something of its own ("a table called sqlite_users", "a
#: macro named \\foobar"): the user's example, which no document is expected to hold.
_INTRODUCED_NAME = re.compile(
    r"\b(?:called|named|titled|labell?ed)\s+[\"'“‘`]?\\?([\w.-]+)", re.IGNORECASE
)


def _introduced_names(question: str) -> set[str]:
    """The stems of the names `question` introduces as its own (`_INTRODUCED_NAME`): their
    absence from the knowledge base says nothing about its coverage."""
    names = [name.lower().strip(".-") for name in _INTRODUCED_NAME.findall(question)]
    return {stem(name) for name in names} | {s for name in names for s in content_stems(name)}


def _foreign(
    absent: Sequence[str],
    question: str,
    known: Callable[[str], bool] | None = None,
    shortest: int | None = None,
) -> list[str]:
    """The words among `absent` (stems no passage and no part of the knowledge base holds)
    that name something rather than misspell English (`typos.is_foreign`; see
    `ChooseTuning.foreign_term_penalty`)."""
    typed = {stem(w.lower()): w.lower() for w in WORD.findall(question)}
    exactly = getattr(known, "exactly", None)
    return [typed[t] for t in absent if t in typed and is_foreign(typed[t], exactly, shortest)]


#: A word typed with a capital inside a sentence ("set up black in the Zed editor", "hook it
#: into Spyder"): a name, whether or not it is also an English word ("zed", "helix").
_PROPER_NAME = re.compile(r"(?<![.!?:;\s])(?<!^)\s+([A-Z][a-z]+[A-Za-z]*)\b")


def _proper_names(message: str, shortest: int | None = None) -> set[str]:
    """The stems of the names `message` capitalises inside a sentence (`_PROPER_NAME`), not
    after a sentence's end, not "I", and no country's (a place the question is set in, which
    the documents may write as a code: `places.py`). `shortest`: the fewest letters of a name
    (`ChooseTuning.proper_name_min_letters`, the default tuning's without one)."""
    if shortest is None:
        shortest = offline_tuning.DEFAULT_TUNING.choose.proper_name_min_letters
    found = {stem(name.lower()) for name in _PROPER_NAME.findall(message) if len(name) >= shortest}
    return found - country_stems()


#: The endings of files people name in questions: "conf.py", "pyproject.toml", "setup.cfg".
_FILE_ENDINGS = data.words("file_endings")


def _is_file_name(name: str) -> bool:
    stem_part, dot, ending = name.rpartition(".")
    return bool(dot) and "." not in stem_part and ending.lower() in _FILE_ENDINGS


def _unheard_names(
    question: str, hits: Sequence[dict[str, Any]], known: Callable[[str], bool] | None = None
) -> list[str]:
    """The names of code the question types (`CODE_NAME`) that no retrieved passage holds,
    letters and digits compared alone ("SEV-2" holds "sev2", "Python 2" holds "py2"), and,
    for a name of one word, that the knowledge base does not hold either (`known.exactly`):
    the search ranks a passage holding such a name first, so one it did not find is most
    likely in no document, and the question is about something the knowledge base does not
    cover (`ChooseTuning.foreign_term_penalty`)."""
    names = CODE_NAME.findall(question)
    if not names:
        return []
    # "cmd1 | cmd2 | cmd3", "file1 and file2": names numbered in a series are placeholders the
    # asker made up, not things a document should name.
    series = {name: m[1].lower() for name in names if (m := re.fullmatch(r"([A-Za-z]+)\d+", name))}
    in_series = Counter(series[name] for name in set(series))
    names = [name for name in names if in_series[series.get(name, "")] < 2]
    # "logging.WARNING": the documents may name the attribute alone ("WARNING"); a file's
    # name is one name ("conf.py" is not held by "buildhtml.py").
    keys = [
        re.sub(r"[^0-9a-z]", "", (name if _is_file_name(name) else name.rpartition(".")[2]).lower())
        for name in names
    ]
    letters = [c for c in question if c.isalpha()]
    shouting = sum(c.isupper() for c in letters) > 0.5 * len(letters)
    texts = [
        re.sub(
            r"[^0-9a-z]",
            "",
            f"{h.get('title', '')} {h.get('section', '')} {h.get('text', '')}".lower(),
        )
        for h in hits
    ]
    exactly = getattr(known, "exactly", None)

    def held(name: str, key: str) -> bool:
        # "py2" is held by "Python 2": letters that start a word, then the same digits.
        split = re.fullmatch(r"([a-z]+)(\d+)", key)
        pattern = re.compile(f"{split[1]}[a-z]*{split[2]}" if split else re.escape(key))
        if any(pattern.search(text) for text in texts):
            return True
        single = re.fullmatch(r"[A-Za-z0-9]+", name) is not None
        return single and exactly is not None and exactly(stem(name.lower()))

    return [
        name
        for name, key in zip(names, keys, strict=True)
        if key and not (shouting and name.isupper() and name.isalpha()) and not held(name, key)
    ]


def _spelt_stems(question: str, shortest: int | None = None) -> set[str]:
    """Stems of the question's words of `shortest` letters or more
    (`ChooseTuning.spelt_min_letters`, the default tuning's without one) that are English words
    as typed: no typo credit rescues them from being absent ("paternity" is no typo of
    "pattern")."""
    if shortest is None:
        shortest = offline_tuning.DEFAULT_TUNING.choose.spelt_min_letters
    known = english_words()
    return {
        stem(w.lower()) for w in WORD.findall(question) if len(w) >= shortest and w.lower() in known
    }


def _common_stems(question: str, frequency: int) -> set[str]:
    """Stems of the question's words that are very common in English: at least `frequency`
    (`ChooseTuning.common_word_frequency`)."""
    frequencies = english_words()
    return {
        stem(w.lower())
        for w in WORD.findall(question)
        if frequencies.get(w.lower(), 0) >= frequency
    }


#: An inflected verb with its particle, an idiom ("the view blows up", "the build fell over",
#: "it keeps choking up"): the knowledge base says what it means in other words ("an unhandled
#: exception"). Inflected, since the word before "up" in "set meld up" is the verb's object.
_PHRASAL = re.compile(
    r"\b([a-z]+(?:s|ed|ing)|fell|went|broke|blew|threw)\s+(?:up|down|out|off|over|away)\b",
    re.IGNORECASE,
)


def _phrasal_stems(question: str) -> set[str]:
    """Stems of the verbs of the question's phrasal verbs (`_PHRASAL`): a word of an idiom the
    knowledge base lacks says nothing about what it covers."""
    return {stem(verb.lower()) for verb in _PHRASAL.findall(question)}


def _rare_term_elsewhere(
    terms: Sequence[str],
    units: Sequence[Unit],
    best: Scored,
    ignored: set[str],
    asked: set[str],
    lexicon: Lexicon = EMPTY,
    tuning: ScoreTuning | None = None,
) -> str | None:
    """A question word (of the asking clauses, when known) that exactly one candidate sentence
    holds as written but the best sentence and its heading lack (see
    `ChooseTuning.rare_term_penalty`).
    A sentence farther away in the best one's own passage does not count: the passage is about
    that word too ("end your interactive Python session ... get back to your Windows command
    prompt" and, paragraphs earlier, "create such a window ... by searching for cmd"). The
    sentence right before or after the best one does: it covers the other case."""
    for term in terms:
        if has_digit(term) or term in ignored or (asked and term not in asked):
            continue
        holding = [
            u
            for u in units
            if match(term, u.stems, typos=False, lexicon=lexicon, tuning=tuning) == 1.0
        ]
        if (
            len(holding) == 1
            and match(term, best.unit.stems | best.unit.context, lexicon=lexicon, tuning=tuning)
            == 0.0
            and (
                holding[0].hit_index != best.unit.hit_index
                or abs(holding[0].position - best.unit.position) <= 1
            )
        ):
            content_log.debug("Only another sentence holds {!r}", term)
            return term
    return None


def answering_first(scored: list[Scored], asked: Asked) -> list[Scored]:
    """`scored`, led by a runner-up that meets the bar where the best does not (`_answering`)."""
    content_log.debug(
        "Runners-up: {}",
        lambda: [(round(s.evidence, 3), s.unit.text[:70]) for s in scored[1:5]],
        lazy=True,
    )
    answering = _answering(scored, asked.needed, asked.context.tuning.choose.promote_within)
    if answering is None or answering is scored[0]:
        return scored
    content_log.debug("A runner-up meets the bar: {!r}", answering.unit.text[:80])
    return [answering, *(s for s in scored if s is not answering)]


def raise_the_bar(
    asked: Asked,
    units: list[Unit],
    hit_texts: list[set[str]],
    kept: list[dict[str, Any]],
    best: Scored,
    by_meaning: bool,
) -> None:
    """The evidence needed: more for each question word no retrieved passage holds, for a
    name the knowledge base never mentions, and for a rare word only another sentence holds."""
    question, terms, background = asked.question, asked.terms, asked.background
    known, lexicon, tuning = asked.context.known, asked.context.lexicon, asked.context.tuning.choose
    scoring = asked.context.tuning.score
    needed = tuning.min_evidence if by_meaning else tuning.min_coverage
    vocabulary: set[str] = set().union(*hit_texts, *(u.context for u in units))
    spelt = _spelt_stems(question, tuning.spelt_min_letters)
    # A word is no typo of another word the question itself holds ("upsert" of "insert").
    others = vocabulary - set(terms)
    absent = [
        t
        for t in terms
        if not has_digit(t)
        and t not in background
        and t not in vocabulary
        and match(t, others, typos=t not in spelt, lexicon=lexicon, tuning=scoring) == 0.0
        and (known is None or not known(t))
    ]
    asked.asked = {t for clause in asking_clauses(question) for t in content_stems(clause)}
    if asked.asked:  # words outside the asking clauses are context: they never raise the bar
        absent = [t for t in absent if t in asked.asked]
    introduced = _introduced_names(question)
    if absent:
        common = _common_stems(question, tuning.common_word_frequency) | _phrasal_stems(question)
        absent = [t for t in absent if t not in common and t not in introduced]
    needed += tuning.absent_term_penalty * len(absent)
    names = _proper_names(asked.message, tuning.proper_name_min_letters)
    foreign = (
        _foreign(absent, question, known, tuning.foreign_min_letters)
        + [t for t in absent if t in names]
        + [
            name
            for name in _unheard_names(own_words(question, asked.borrowed), kept, known)
            if stem(name.lower()) not in introduced
        ]
    )
    if foreign:
        content_log.debug("Named nowhere in the knowledge base: {}", foreign)
        needed += tuning.foreign_term_penalty
    ignored = set(background) | _common_stems(question, tuning.common_word_frequency)
    asked.rare = _rare_term_elsewhere(terms, units, best, ignored, asked.asked, lexicon, scoring)
    if asked.rare is not None:
        needed += tuning.rare_term_penalty
    asked.needed = needed
    content_log.debug(
        "Best sentence: evidence {:.3f} (coverage {:.3f}), needed {:.3f}, absent {}: {!r}",
        best.evidence,
        best.coverage,
        needed,
        absent,
        best.unit.text[:120],
    )
