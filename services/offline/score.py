"""Candidate sentences scored against the question (`score_units`).

A unit's coverage is the IDF-weighted share of the question's content stems it holds
(heading/table-header words count half), plus small bonuses for phrases kept together and for
holding the kind of fact asked for; its evidence mixes coverage with meaning.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.knowledge.fts_query import words
from services.offline import tuning as offline_tuning
from services.offline.amounts import (
    Amount,
    amounts,
    days_of_year,
    holds_asked_amount,
    holds_asked_day,
)
from services.offline.lexicon import EMPTY, Lexicon
from services.offline.match import match
from services.offline.question import (
    IDENTIFIER,
    INTENT_ADVICE,
    INTENT_FREQUENCY,
    INTENT_METHOD,
    INTENT_NUMBER,
    INTENT_PATH,
    INTENT_WHEN,
    INTENT_WHO,
    counted_things,
    states_count_of,
    without_enumeration,
    without_versions,
)
from services.offline.read import Unit
from services.offline.read_lines import FIELD
from services.offline.text import STOP, has_digit, is_code, stem
from services.offline.tuning import ScoreTuning

#: A quarter ("Q2", "Q2 2025", "Q2/2025", "2025 Q2").
_QUARTER = re.compile(r"\b(?:((?:19|20)\d\d)[\s/-]?)?Q([1-4])(?:[\s/-]?((?:19|20)\d\d))?\b", re.I)


def quarters(text: str) -> set[tuple[str, str | None]]:
    """The quarters `text` names, as (quarter, year or None)."""
    return {(m.group(2), m.group(1) or m.group(3)) for m in _QUARTER.finditer(text)}


def only_other_quarters(question: str, texts: Sequence[str]) -> bool:
    """Whether the question asks about a quarter that none of `texts` names while some name
    other quarters: "ETA accuracy in Q2 2025" against figures for Q4 2024 and Q1 2025. A year
    given on both sides must agree."""
    asked = quarters(question)
    if not asked:
        return False
    named = set().union(*(quarters(t) for t in texts))
    return bool(named) and not any(
        q == aq and (y is None or ay is None or y == ay) for q, y in named for aq, ay in asked
    )


#: A number in its own right (not the digit of a code such as "P1" or "SEV2").
_NUMBER = re.compile(r"(?<![A-Za-z])\d")


#: A person, or a role that answers "who" as well as a name does ("VP Sales", "the CFO",
#: "Head of Customer Support").
_PERSON = re.compile(
    r"\b[A-Z][a-zà-ÿ'’-]+\s+[A-Z][a-zà-ÿ'’-]+\b"
    r"|\b(?:S?VP|EVP|CEO|CFO|CTO|CISO|COO|CPO|DPO)\b|\b(?:Head\s+of|Chief)\s+[A-Z]"
)


_DATEISH = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|"
    r"april|may|june|july|august|september|october|november|december|daily|weekly|monthly|"
    r"quarterly|annually|yearly|\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2})\b",
    re.IGNORECASE,
)


#: A sentence that advises for or against something: "should be avoided if not strictly
#: needed", "it is safe to copy ... as long as", "a client/server database is recommended".
_ADVICE = re.compile(
    r"\b(?:should(?:\s+not|n't)?|recommend(?:ed|s)?|avoid(?:ed)?|(?:not|never)\s+(?:strictly\s+)?"
    r"(?:needed|necessary|required)|unnecessary|(?:un)?safe(?:ly)?|prefer(?:red|able)?|"
    r"discouraged|must\s+not|(?:a\s+)?(?:good|bad|poor|better)\s+(?:fit|idea|choice))\b",
    re.IGNORECASE,
)


#: A sentence that says what to do: an instruction ("Use ...", "To start afresh, pass ...",
#: "... and then run ..."; not the noun: "and use of ..."), a way offered ("you can ...",
#: "can be passed", "this is done by", "the solution is", "remains available as ...", "to
#: fully revert ..., there is ..."), or the code it announces (`Unit.code`).
#: Verbs of doing an instruction opens with ("Pass ...", "Run ...", "Set ..."), besides "use".
DOING_VERBS = (
    "pass|set|specify|call|add|run|change|enable|disable|configure|install|put|write|replace|"
    "remove|turn|switch|invoke|type|press|choose|select|create|open|edit|apply"
)


_METHOD = re.compile(
    rf"(?:^|[,:;]\s+|\b(?:then|and|or|just|simply)\s+)(?:use(?!\s+of\b)|{DOING_VERBS}|escape|"
    r"avoid|declare|define|hold|try|make|give|include|load|import|wrap|prefix|quote|double)\b"
    r"|\b(?:you|we|one)\s+(?:can|could|should|must|may|need\s+to|have\s+to)\b"
    r"|\b(?:can|could|should|must|may)\s+(?:also\s+)?be\s+(?:used|passed|set|specified|given|"
    r"added|called|enabled|disabled|escaped|changed|turned|switched|replaced|written)\b"
    r"|\b(?:is|are|can\s+be)\s+(?:achieved|done|accomplished)\s+(?:by|with)\b"
    r"|\bsolution\b|\binstead\b(?!\s+of\b)|\bworkaround\b"
    r"|\b(?:is|are|remains?)\s+(?:still\s+|also\s+)?available\s+(?:as|via|through|with|by)\b"
    r"|\bto\s+(?:fully\s+)?(?:revert|restore|undo|avoid|prevent|disable|suppress|override)\b",
    re.IGNORECASE,
)


#: A place on disk: a path ("~/.inputrc", "/etc/inputrc", "venv/var/app-instance",
#: "conf.d/app.conf") or a variable naming one ("$HOME"); not "and/or" or "read/write".
_PATH = re.compile(
    r"(?<![\w<])(?:~|\.{1,2})?/[\w.-]+|\b[\w.-]+(?:/[\w.-]+){2,}|\b[\w.-]+/[\w-]*\.\w+"
    r"|\$[A-Z_]{3,}\b"
)


_FREQUENCY = re.compile(
    r"\b(?:every|each|per|periodic|periodically|daily|weekly|monthly|quarterly|annually|"
    r"yearly|once|twice|rotation|expiry|only)\b",
    re.IGNORECASE,
)


#: "how long must they be?" asks for a length, not a time: the noun of the measure asked
#: for when the question ends with "be" (see `ScoreTuning.measure_bonus`).
_MEASURE_ASKED = re.compile(
    r"\bhow\s+(long|short|big|large|small|old|tall|far|wide|heavy)\b(?:\s+\w+){0,4}?\s+be\W*$",
    re.IGNORECASE,
)


_MEASURES = {
    "long": "length",
    "short": "length",
    "big": "size",
    "large": "size",
    "small": "size",
    "old": "age",
    "tall": "height",
    "far": "distance",
    "wide": "width",
    "heavy": "weight",
}


def measure_asked(question: str) -> list[str]:
    """The stem of the measure a "how long/big/old ... be?" question asks for ("length")."""
    found = _MEASURE_ASKED.search(question)
    return [stem(_MEASURES[found.group(1).lower()])] if found else []


@dataclass
class Scored:
    unit: Unit
    coverage: float
    total: float
    typed: bool  # holds the kind of fact asked for (a number, a frequency, a name, a date)
    meaning: float = 0.0  # cosine similarity to the question (coverage when not available)
    evidence: float = 0.0  # coverage and meaning mixed: what the refusal decision reads


def _near(a: str, b: str, sequence: Sequence[str], window: int) -> bool:
    positions_a = [i for i, s in enumerate(sequence) if s == a]
    positions_b = [i for i, s in enumerate(sequence) if s == b]
    return any(abs(i - j) <= window for i in positions_a for j in positions_b)


def score_units(
    question: str,
    terms: Sequence[str],
    units: list[Unit],
    hit_texts: Sequence[set[str]] = (),
    semantic: Sequence[float] | None = None,
    background: set[str] | frozenset[str] = frozenset(),
    lexicon: Lexicon = EMPTY,
    tuning: ScoreTuning | None = None,
) -> list[Scored]:
    """Rank candidate sentences by lexical coverage and meaning.

    `coverage` (0..1) is the IDF-weighted share of the question's terms the sentence holds
    (half credit for its heading/table-header context; typos and shared word starts get
    partial credit), plus a small bonus for question phrases kept together. Numbers in the
    question count when matched but are never required ("a receipt for a €15 lunch" is
    answered by the rule for amounts over €25). Terms in no retrieved passage weigh half the
    least term: the passages may say it in other words, and meaning decides that. Terms found
    in most sections (a company name) weigh half: they do not tell passages apart.
    `semantic`: the question's cosine similarity to each unit (same order), when available;
    `total` mixes the two and adds small bonuses for rank and for the kind of fact asked for.
    `background`: terms a follow-up borrowed from the previous question; they weigh
    `ScoreTuning.background_weight` of a term of the follow-up's own. `lexicon`: the knowledge
    base's synonyms (`match.match`). `tuning`: the answer context's knobs (without one,
    `tuning.DEFAULT_TUNING`'s as they are now).
    """
    if not units:
        return []
    tuning = offline_tuning.DEFAULT_TUNING.score if tuning is None else tuning
    optional = {t for t in terms if has_digit(t) and not is_code(t)}
    required = [t for t in terms if t not in optional]
    weights, total_weight = _term_weights(
        terms, required, units, hit_texts, background, lexicon, tuning
    )
    intents = _Intents.of(question)
    asking = _Asking(
        question=question,
        named=_named_identifiers(question, units),
        own_terms={t for t in required if t not in background},
        measured=measure_asked(question),
        asked_amounts=amounts(question),
        asks_day=bool(days_of_year(question)),
        counted=counted_things(question),
        asked_terms=frozenset(required),  # a follow-up asks what its question asked
        lexicon=lexicon,
        tuning=tuning,
    )
    pairs = list(itertools.pairwise(required))
    scored = []
    for index, unit in enumerate(units):
        got, own_words = _credit(unit, terms, weights, asking, background)
        phrases = min(
            sum(1 for a, b in pairs if _near(a, b, unit.sequence, tuning.phrase_window)),
            tuning.max_phrases,
        )
        coverage = (
            min(1.0, got / total_weight + tuning.phrase_bonus * phrases) if total_weight else 0.0
        )
        typed = intents.typed(unit)
        meaning = semantic[index] if semantic is not None else coverage
        evidence = tuning.lexical_weight * coverage + (1 - tuning.lexical_weight) * meaning
        bonus = tuning.rank_bonus / (1 + unit.rank) + (
            intents.bonus(tuning) if typed and intents.wanted else 0.0
        )
        bonus, evidence = asking.adjusted(unit, own_words, bonus, evidence)
        scored.append(Scored(unit, coverage, evidence + bonus, typed, meaning, evidence))
    _prefer_plain_labels(scored, set(terms), tuning.qualified_label_penalty)
    scored.sort(key=lambda s: (-s.total, s.unit.rank, s.unit.hit_index, s.unit.position))
    return scored


def _term_weights(
    terms: Sequence[str],
    required: list[str],
    units: list[Unit],
    hit_texts: Sequence[set[str]],
    background: set[str] | frozenset[str],
    lexicon: Lexicon,
    tuning: ScoreTuning,
) -> tuple[dict[str, float], float]:
    """Each question term's weight (`score_units`), and the required terms' total."""
    n = len(units)
    weights: dict[str, float] = {}
    absent: list[str] = []
    shared = tuning.shared_term_share
    for term in required:
        df = sum(
            1
            for u in units
            if match(term, u.stems, lexicon=lexicon, tuning=tuning)
            or match(term, u.context, lexicon=lexicon, tuning=tuning)
        )
        if df == 0:
            absent.append(term)
            continue
        weights[term] = math.log(1 + n / (1 + df))
        if (
            len(hit_texts) >= tuning.shared_term_min_passages
            and sum(term in t for t in hit_texts) / len(hit_texts) >= shared
        ):
            weights[term] *= tuning.shared_term_weight
    for term in background:
        if term in weights:
            weights[term] *= tuning.background_weight
    floor = min(weights.values()) if weights else 1.0
    for term in absent:
        weights[term] = tuning.absent_term_weight * math.log(1 + n)
    total_weight = sum(weights.values())
    for term in terms:
        if term not in required:
            weights[term] = floor
    return weights, total_weight


def _credit(
    unit: Unit,
    terms: Sequence[str],
    weights: dict[str, float],
    asking: _Asking,
    background: set[str] | frozenset[str],
) -> tuple[float, bool]:
    """The weight of the question terms a sentence holds (its heading's count less), and
    whether it holds one of a follow-up's own terms."""
    got, own_terms, lexicon, knobs = 0.0, asking.own_terms, asking.lexicon, asking.tuning
    own_words = not own_terms  # a follow-up of question words only: the topic suffices
    for term in terms:
        m = match(term, unit.stems, lexicon=lexicon, tuning=knobs)
        own_words |= m > 0.0 and term in own_terms
        if m == 0.0 and term in background:
            # the topic, named by the heading too
            m = match(term, unit.context, lexicon=lexicon, tuning=knobs)
        elif m == 0.0 and match(term, unit.context, lexicon=lexicon, tuning=knobs) > 0:
            m = asking.tuning.context_credit
        got += weights[term] * m
    return got, own_words


@dataclass(frozen=True)
class _Intents:
    """The kinds of fact a question asks for, and whether a sentence holds one."""

    number: bool
    frequency: bool
    person: bool
    path: bool
    date: bool
    method: bool
    advice: bool

    @classmethod
    def of(cls, question: str) -> _Intents:
        return cls(
            number=bool(INTENT_NUMBER.search(question)),
            frequency=bool(INTENT_FREQUENCY.search(question)),
            person=bool(INTENT_WHO.search(question)),
            path=bool(INTENT_PATH.search(question)),
            date=bool(INTENT_WHEN.search(question)),
            method=bool(INTENT_METHOD.search(question)),
            advice=bool(INTENT_ADVICE.search(question)),
        )

    @property
    def other(self) -> bool:
        return self.frequency or self.number or self.person or self.date or self.advice or self.path

    @property
    def wanted(self) -> bool:
        return self.method or self.other

    def bonus(self, tuning: ScoreTuning) -> float:
        """The bonus of a sentence holding the kind of fact asked for."""
        return tuning.method_bonus if self.method and not self.other else tuning.intent_bonus

    def typed(self, unit: Unit) -> bool:
        """Whether the sentence holds a fact of a kind asked for (always, when none is)."""
        typed = not self.wanted
        if self.frequency:
            typed |= bool(_FREQUENCY.search(unit.text))
        elif self.number:
            typed |= bool(_NUMBER.search(without_versions(unit.text)))
        if self.person:
            typed |= bool(_PERSON.search(unit.text))
        if self.date:
            # "New in version 3.7" says when; an item's number "(3)" does not
            typed |= bool(
                _DATEISH.search(unit.text) or _NUMBER.search(without_enumeration(unit.text))
            )
        if self.method:
            typed |= bool(unit.code or _METHOD.search(unit.text))
        if self.advice:
            typed |= bool(_ADVICE.search(unit.text))
        if self.path:
            typed |= bool(_PATH.search(unit.text))  # "~/.inputrc", "$XDG_CONFIG_HOME/app"
        return typed


@dataclass(frozen=True)
class _Asking:
    """What a question names, measures and counts: the bonuses and penalties it gives."""

    question: str
    named: list[frozenset[str]]
    own_terms: set[str]
    measured: list[str]
    asked_amounts: list[Amount]
    asks_day: bool
    counted: frozenset[str]
    asked_terms: frozenset[str]
    lexicon: Lexicon
    tuning: ScoreTuning

    def adjusted(
        self, unit: Unit, own_words: bool, bonus: float, evidence: float
    ) -> tuple[float, float]:
        """A sentence's ranking bonus and evidence, with what the question gives it added."""
        t, held = self.tuning, unit.stems | unit.context
        if self.measured and any(
            match(m, held, lexicon=self.lexicon, tuning=self.tuning) for m in self.measured
        ):
            bonus += t.measure_bonus  # "Minimum length: 14 characters" for "how long ... be?"
        if (self.asked_amounts and holds_asked_amount(self.asked_amounts, unit.text)) or (
            self.asks_day and holds_asked_day(self.question, unit.text)
        ):
            bonus += t.range_bonus  # the row whose range holds the question's amount
            evidence += t.range_evidence
        if self.counted and states_count_of(unit.text, self.counted):
            bonus += t.count_bonus  # "at least two columns" for "only 1 column?"
        if not own_words:
            bonus -= t.heading_only_penalty  # on topic only through its heading
        named = self.named
        if named and not any(parts <= unit.stems | unit.context for parts in named):
            bonus -= t.missing_identifier_penalty  # about another system than the one named
        elif named and all(parts <= unit.stems for parts in named):
            evidence += t.identifier_evidence  # the sentence itself names what was asked about
        length = len(unit.stems)
        if _defines(unit.text, self.own_terms):
            evidence += t.identifier_evidence  # "alias — Same as ..." for "what's alias for?"
        if _points_elsewhere(unit.text, t.pointer_words):
            bonus -= t.pointer_penalty  # "X is described in Y": where the answer is, not it
        if _answers_field(unit.text, self.asked_terms, t, self.lexicon):
            bonus += t.field_bonus  # "Default: "brackets"." for "the default ... style?"
        elif length < t.short_sentence_stems:
            bonus -= t.short_sentence_penalty
        elif length > t.long_sentence_stems:
            bonus -= t.long_sentence_penalty
        return bonus, evidence


#: "The POSIX mode is described in POSIX Mode", "See Redirections.", "For details, see the
#: guide": a cross-reference, which states nothing the question asked.
_POINTER = re.compile(
    r"^(?:\(?see\b|for\s+(?:more\s+|further\s+|full\s+)?(?:details|information)\b[^.]*\bsee\b)"
    r"|\b(?:is|are)\s+(?:also\s+|further\s+|fully\s+)?(?:described|explained|documented|"
    r"discussed|covered|detailed)\s+(?:in|under|below|above|later|elsewhere)\b",
    re.IGNORECASE,
)


def _points_elsewhere(sentence: str, most_words: int) -> bool:
    """Whether `sentence` is only a cross-reference (`_POINTER`): short (under `most_words`
    words, `ScoreTuning.pointer_words`), and saying where."""
    return len(sentence.split()) < most_words and _POINTER.search(sentence) is not None


_CODE_WORD = re.compile(r"\b[A-Z]{4,}\b")


def asked_codes(question: str) -> list[str]:
    """The identifiers ("pg-core", "shipment-api") and codes ("STALLED", "EXPIRED") the
    question names as typed: a word in capitals is a code unless the whole message shouts."""
    letters = [c for c in question if c.isalpha()]
    shouting = sum(c.isupper() for c in letters) > 0.5 * len(letters)
    return [*IDENTIFIER.findall(question), *([] if shouting else _CODE_WORD.findall(question))]


#: Where a list inside a sentence splits: a comma or semicolon outside parentheses.
_LIST_SPLIT = re.compile(r"[,;]\s+(?![^()]*\))")


def focus_on(text: str, codes: Sequence[str]) -> str | None:
    """The part of a listing sentence about the code asked for, with the sentence's lead:
    "Types: `LATE`, `STALLED` (no movement for 45 minutes outside a stop), ..." ->
    "Types: `STALLED` (no movement for 45 minutes outside a stop)"; None when the sentence is
    no list or names none of `codes`."""
    parts = _LIST_SPLIT.split(text)
    if len(parts) < 3:
        return None
    lead = ""
    colon = parts[0].find(":")
    if 0 < colon < 40:
        lead, parts[0] = parts[0][: colon + 1], parts[0][colon + 1 :].strip()
    for part in parts:
        if any(re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", part, re.I) for code in codes):
            return f"{lead} {part}".strip()
    return None


def _named_identifiers(question: str, units: Sequence[Unit]) -> list[frozenset[str]]:
    """The stems of each identifier the question names ("pg-core", "shipment-api") that some
    candidate sentence or its heading holds (one nobody holds tells no sentence apart)."""
    named = []
    for identifier in asked_codes(question):
        parts = frozenset(stem(w) for w in words(identifier))
        if parts and any(parts <= u.stems | u.context for u in units):
            named.append(parts)
    return named


_LABEL = re.compile(r"^\W*([^:—–\n]{1,40}?)\s*(?::|\s[—–]\s)")


def _label_stems(text: str) -> frozenset[str]:
    """The stems of a "Label: value" or "Label — value" sentence's label (up to four words)."""
    found = _LABEL.match(text)
    if found is None or len(words(found.group(1))) > 4:
        return frozenset()
    return frozenset(stem(w) for w in words(found.group(1)) if w not in STOP)


#: A definition's first sentence, "term — description" (a definition list's item), not a
#: table's row ("EU — Primary region: eu-west-1; ...").
_DEFINED = re.compile(r"^\\?([^\W\d_][\w.@*/-]{0,30}) — (?![^.;:]{1,40}:\s)\S")


def _defines(text: str, terms: set[str]) -> bool:
    """Whether `text` defines a one-word term that is one of `terms` (the question's own)."""
    found = _DEFINED.match(text)
    return found is not None and any(stem(w) in terms for w in words(found.group(1))[:1])


def _answers_field(
    text: str, terms: frozenset[str], tuning: ScoreTuning, lexicon: Lexicon = EMPTY
) -> bool:
    """Whether `text` is a "Label: value" field whose label's words (at most three) are all
    words of the question (each matched with this credit at least,
    `ScoreTuning.field_label_credit`): the field gives the value of what the question asks
    about."""
    found = FIELD.match(text)
    if found is None or not terms:
        return False
    label = [stem(w) for w in words(found.group(1)) if w not in STOP]
    return 0 < len(label) <= tuning.field_label_words and all(
        match(t, terms, typos=False, lexicon=lexicon, tuning=tuning) >= tuning.field_label_credit
        for t in label
    )


def _prefer_plain_labels(scored: list[Scored], terms: set[str], penalty: float) -> None:
    """ "Owner: ..." answers "who is the owner", not "Deputy owner: ...": of two sentences
    whose labels hold the question's word, the one whose label only adds words the question
    did not ask for ranks `penalty` lower (`ScoreTuning.qualified_label_penalty`)."""
    labelled = [(s, _label_stems(s.unit.text)) for s in scored]
    labelled = [(s, stems) for s, stems in labelled if stems & terms]
    for item, stems in labelled:
        if any(other < stems and not (stems - other) & terms for _, other in labelled):
            item.total -= penalty
