"""The documents answer: chosen sentences with [n] citations, a **Sources** list and a
confidence; or exactly `NOT_FOUND_ANSWER` plus one clarifying question when evidence is weak.

Rules: at most `MAX_SENTENCES`, never two from one list nor near-duplicates; the best sentence
must reach the evidence needed (more for each question word no retrieved passage holds). The
thresholds are calibrated on the evaluation set's dev split (`almanac eval answers`).
"""

from __future__ import annotations

import contextvars
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from loguru import logger

from services.knowledge.spelling import closest_term, english_words
from services.offline.abbreviations import Abbreviation, defined_abbreviations, stemmed
from services.offline.conflicts import MAX_COMPARED, disagreement, same_subject_by
from services.offline.places import about_other_countries, asked_countries, country_stems
from services.offline.question import (
    INTENT_HISTORY,
    INTENT_METHOD,
    INTENT_WHO,
    as_of_date,
    asking_clauses,
    asks_numbered,
    asks_only_how,
    asks_quantity,
    asks_remedy,
    counted_words,
    states_quantity,
    with_topic,
)
from services.offline.semantic import SentenceSimilarity
from services.offline.sentences import (
    DOING_VERBS,
    Scored,
    Unit,
    asked_codes,
    focus_on,
    match,
    only_other_quarters,
    score_units,
    units_of,
)
from services.offline.text import (
    STOP,
    content_stems,
    has_digit,
    jaccard,
    stem,
    stem_set,
    wordset,
)
from services.offline.typos import is_foreign
from services.offline.versions import family, resolve_versions
from use_cases.chat.prompts import NOT_FOUND_ANSWER

#: The clarifying question after the can't-find answer unless the deployment words its own
#: (`NOT_FOUND_HINT`, set per turn by the model: `asking`).
CLARIFYING_QUESTION = "Could you rephrase the question, or say which document or topic you mean?"

_HINT: contextvars.ContextVar[str] = contextvars.ContextVar(
    "offline_not_found_hint", default=CLARIFYING_QUESTION
)


@contextmanager
def asking(hint: str) -> Iterator[None]:
    """`hint` is the clarifying question of the can't-find answers composed inside."""
    token = _HINT.set(hint)
    try:
        yield
    finally:
        _HINT.reset(token)


#: The best sentence's evidence (coverage and meaning mixed) needed to answer; calibrated on
#: the evaluation set's dev split (`almanac eval answers --split dev`; 226 cases, 2026-11-23:
#: the middle of the widest gap near 0.4 between an answerable case's evidence and a refusal
#: case's, with 3 refusal cases answered and 4 answerable ones refused).
MIN_EVIDENCE = 0.395

#: Evidence needed on top, per question word that no retrieved passage holds (the search
#: ranks any passage holding a rare word highly, so such a word is likely nowhere in the
#: knowledge base: "parental leave"). One such word raises the bar; it never decides alone.
ABSENT_TERM_PENALTY = 0.08

#: Evidence needed on top when a question word that is no English word (a product, a tool,
#: a platform: "pyinstaller", "kubernetes") is named nowhere in the knowledge base: the question
#: is about something the knowledge base does not cover, however much else it shares.
FOREIGN_TERM_PENALTY = 0.25

#: Evidence needed on top when the best sentence lacks a question word that exactly one other
#: candidate sentence holds, in another passage or right next to it ("how accurate is
#: tidecast for *rail*": the sentence after the best one names rail, the best one is about
#: road): the best sentence is likely about a neighbouring topic or the other case.
RARE_TERM_PENALTY = 0.1

#: A word this common in English (pyspellchecker's frequency list: "dark", "parents", "point",
#: "went") says how something is asked, not what about: its absence never raises the bar.
#: Topics a knowledge base may lack are rarer ("dress" 92k, "summer" 70k, "parental" 4k).
COMMON_WORD_FREQUENCY = 100_000

#: Sentences are embedded with their document title and section ("Travel Policy, 3.
#: Accommodation: Toronto — Cap per night: €250"), which a bare table row or list item needs.
EMBED_WITH_LABEL = True

#: Without a sentence embedder: the lexical coverage needed to answer.
MIN_COVERAGE = 0.42

#: Extra sentences must score at least this share of the best sentence.
EXTRA_SENTENCE_RATIO = 0.8

#: ... and have at least this share of the evidence the best sentence needed.
EXTRA_SENTENCE_EVIDENCE = 0.75

MAX_SENTENCES = 3

#: Share of the extra-sentence bar a sentence of the kind asked for needs in the best
#: sentence's own section.
SAME_SECTION_EVIDENCE = 0.75

#: For "who": a sentence naming someone this close to the best one (in sentences, same
#: section) may lead the answer whatever its own evidence.
NEXT_TO_BEST = 2

#: An answer none of whose sentences holds the kind of fact asked for (a number for "how
#: many", a name for "who", a date for "when") never reports more than this: below "high"
#: (0.6 in use_cases.confidence.estimator's default phrase bands).
UNTYPED_CONFIDENCE_CAP = 0.55

#: An answer whose sources disagree on the value asked for (`conflicts.py`) never reports
#: more than this: at most one of the values holds, and which one is not known. Blended with
#: retrieval support (use_cases.confidence.estimator), the figure shown stays "moderate" or below.
CONFLICT_CONFIDENCE_CAP = 0.2


#: A can't-find answer never reports more confidence than this.
NOT_FOUND_CONFIDENCE_CAP = 0.3


@dataclass
class Answer:
    text: str
    confidence: float
    found: bool = True
    coverage: float = 1.0  # of the best sentence (documents only)
    evidence: float = 1.0  # of the best sentence (documents only): coverage and meaning
    from_table: bool = False  # the answer comes from a table lookup
    #: A table answer that only shows the one row the question named, nothing asked about it
    #: ("what happens after notify-service's last retry fails?"): the documents answer first.
    bare_row: bool = False


def not_found(confidence: float) -> Answer:
    return Answer(
        f"{NOT_FOUND_ANSWER} {_HINT.get()}",
        min(confidence, NOT_FOUND_CONFIDENCE_CAP),
        found=False,
        coverage=0.0,
    )


#: An inline code span of Markdown.
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def _quoted(sentence: str) -> str:
    """A document sentence as the answer's Markdown quotes it. Passages arrive with every
    HTML tag opener escaped (`&lt;b>`: Markdown shows it as text, so it is inert); inside a
    code span Markdown shows characters literally, so there the escape would show as
    "&lt;" and the span gets its "<" back (code spans are inert already)."""
    return _CODE_SPAN.sub(
        lambda m: f"{m.group(1)}{m.group(2).replace('&lt;', '<')}{m.group(1)}", sentence
    )


def _with_citation(sentence: str, marker: str) -> str:
    sentence = _quoted(sentence.rstrip())
    if sentence.endswith((".", "!", "?")):
        return f"{sentence[:-1]} {marker}{sentence[-1]}"
    return f"{sentence} {marker}."


def sentence_texts(hit: dict[str, Any]) -> list[str]:
    """The texts a passage's sentences are scored by meaning as (`compose_documents`), to
    embed them ahead (`prepared.py`): the same units, the same labels; and its section's
    heading when that asks a question (`_answered_headings`)."""
    label = _meaning_label(hit)
    units = units_of(str(hit.get("text") or ""), set(), 0, 0)
    asking = _asking_heading(hit)
    return [_as_embedded(label, u.read) for u in units] + ([asking] if asking else [])


#: The trained reader (`services.knowledge.embedders.reader`): (question, candidate texts) ->
#: a score for each (a logit: above 0, the sentence reads as stating the answer).
SentenceReader = Callable[[str, Sequence[str]], Sequence[float]]

#: Candidates the reader reads when it ranks them (`READER_WEIGHT` above 0).
READ_TOP = 16
#: How far the reader's belief moves a candidate's score and evidence: + weight * (p - 0.5),
#: p the reader's probability; a candidate it does not read counts as p = 0. 0: the reader
#: does not rank. Measured on the dev splits it never saw (docs/reader.md), ranking by it
#: answered fewer questions than the hand-made ranking, so it does not rank by default;
#: `bench.reader_fit` tries other weights.
READER_WEIGHT = 0.0
#: The share of that move that reaches the evidence (the refusal bar and the confidence read
#: it); the rest only re-ranks.
READER_EVIDENCE = 1.0
#: The share of an answer's confidence that is the reader's belief that a chosen sentence
#: states the answer (`_with_belief`): 0.6, the best on the dev splits the reader never saw
#: (rst-spec, sqlite-docs; `bench.reader_confidence`). It reads only the chosen sentences.
READER_CONFIDENCE = 0.6


def read_candidates(
    reader: SentenceReader, question: str, scored: list[Scored], texts: list[str]
) -> tuple[list[Scored], list[str]]:
    """The candidates re-ranked with the reader's belief mixed into their score and evidence
    (ties keep the hand-made order), and their texts in the same order."""
    logits = reader(question, texts[:READ_TOP])
    beliefs = [1.0 / (1.0 + math.exp(-x)) for x in logits]
    beliefs += [0.0] * (len(scored) - len(beliefs))
    shifts = [READER_WEIGHT * (p - 0.5) for p in beliefs]
    moved = [
        replace(item, evidence=item.evidence + shift * READER_EVIDENCE, total=item.total + shift)
        for item, shift in zip(scored, shifts, strict=True)
    ]
    order = sorted(range(len(moved)), key=lambda i: (-moved[i].total, i))
    return [moved[i] for i in order], [texts[i] for i in order]


def _with_belief(
    confidence: float, reader: SentenceReader, question: str, chosen: Sequence[str | None]
) -> float:
    """The confidence mixed with the reader's belief that a chosen sentence states the answer
    (the most convinced of them): `READER_CONFIDENCE` of it is the reader's."""
    texts = [text for text in chosen if text is not None]
    logits = reader(question, texts) if texts else []
    if not logits:
        return confidence
    belief = 1.0 / (1.0 + math.exp(-max(logits)))
    return round((1.0 - READER_CONFIDENCE) * confidence + READER_CONFIDENCE * belief, 3)


def reader_text(label: str, unit: Unit) -> str:
    """A candidate sentence as the reader reads it: its section's label, then the sentence
    as an answer would quote it."""
    return f"{label}: {unit.shown}"


def reader_question(question: str, borrowed: Sequence[str] = ()) -> str:
    """The question as the reader reads it: a follow-up with the words it borrowed."""
    return f"{question} ({' '.join(borrowed)})" if borrowed else question


def _as_embedded(label: str, text: str) -> str:
    return f"{label}: {text}" if EMBED_WITH_LABEL else text


#: A PDF page's own heading ("Page 12", "Page iv"; `loaders.pdf`): where the text stands,
#: which a citation shows and a sentence's meaning has nothing of.
_PAGE_HEADING = re.compile(r"(?:^| > )Page \S+$")


def _meaning_label(hit: dict[str, Any]) -> str:
    """The label a passage's sentences are embedded with: its section label without a page."""
    return _section_label({**hit, "section": _PAGE_HEADING.sub("", str(hit.get("section") or ""))})


def _heading_parts(hit: dict[str, Any]) -> list[str]:
    """A passage's section path, outermost heading first ("A > B" -> ["A", "B"])."""
    return [p.strip() for p in str(hit.get("section") or "").split(" > ") if p.strip()]


def _section_label(hit: dict[str, Any]) -> str:
    title = str(hit.get("title") or "Untitled")
    parts = _heading_parts(hit)
    if parts and parts[0].casefold() == title.casefold():
        parts = parts[1:]
    return ", ".join([title, " > ".join(parts)] if parts else [title])


#: A section heading that is one name (a setting, an option, a role, a command, a file):
#: "syntax_highlight", "--report", ":acronym:", "\\oldstylenums", "latex209.cfg".
_MARKUP_NAME = re.compile(r"(?:--?|:|\\)[A-Za-z][\w-]*:?")


#: The sections of a Unix manual page (man-pages(7)), headed in capitals: parts of a page,
#: not names of what it describes.
_MANUAL_PAGE_PARTS = wordset(
    "NAME SYNOPSIS DESCRIPTION OPTIONS ARGUMENTS COMMANDS EXAMPLES EXAMPLE FILES ENVIRONMENT "
    "CONFIGURATION NOTES BUGS CAVEATS AUTHOR AUTHORS HISTORY DISCUSSION DETAILS ERRORS "
    "DIAGNOSTICS SECURITY STANDARDS OVERVIEW USAGE"
)

#: A section heading that is one hyphenated name capitalised in every part: an HTTP header
#: ("X-Frame-Options"), a directive ("Pull-Quote"), a named technique.
_CAPITALISED_NAME = re.compile(r"[A-Z][A-Za-z0-9]*(?:-[A-Z][A-Za-z0-9]*)+")


#: A section heading that is one keyword argument with its value: a mode or a setting's
#: entry, "capture=\"fd\"", "atomic=True".
_ASSIGNMENT = re.compile(r"[A-Za-z_]\w*\s?=\s?(?:\"[^\"\s]*\"|'[^'\s]*'|[\w.-]+)")


#: A remark in brackets after a heading's name: " (default)", " (deprecated)".
_REMARK = re.compile(r"\s+\([^()]*\)$")


#: Names a heading lists for one entry: "-l, --line-length", "--fast / --safe".
_NAME_LIST = re.compile(r",\s*|\s+/\s+")


def _section_names(hit: dict[str, Any]) -> list[str]:
    """The names a passage's own section is about, when its heading is one code-like name (an
    option, a call, "X-Frame-Options"), a keyword argument with its value (a mode's entry:
    `capture="fd"`, a remark after it left out) or a list of options (a command-line manual's
    "-l, --line-length"): a manual's entry for a setting or a command, whose sentences describe
    the thing without naming it ("Use this to avoid the 'Pygments not found' warning" under
    `syntax_highlight`; "The default is 88." under "-l, --line-length")."""
    parts = _heading_parts(hit)
    if len(parts) < 2:  # a document's only heading is its title, not an entry
        return []
    assigned = _REMARK.sub("", parts[-1]).strip("`*")  # 'capture="sys" (default)'
    if _ASSIGNMENT.fullmatch(assigned):
        return [assigned]
    heading = parts[-1].strip("`'\"*")
    if not heading:
        return []
    if not any(c.isspace() for c in heading):
        if heading in _MANUAL_PAGE_PARTS:
            return []  # a manual page's "DESCRIPTION": a part of every page, not a name
        named = any(n.fullmatch(heading) for n in (_MARKUP_NAME, _CODE_NAME, _CAPITALISED_NAME))
        return [heading] if named else []
    names = [name.strip("`") for name in _NAME_LIST.split(heading)]
    if len(names) > 1 and all(_MARKUP_NAME.fullmatch(n) and n.startswith("-") for n in names):
        return names
    return []


def _named(sentence: str, hit: dict[str, Any], said: str) -> str:
    """The sentence led by the names of its passage's section (`_section_names`) when neither
    the question nor the answer says one of them: the name is what a reader types next."""
    names = _section_names(hit)
    if not names or any(name.casefold() in said.casefold() for name in names):
        return sentence
    return f"{', '.join(f'`{name}`' for name in names)}: {sentence}"


def _source_line(hit: dict[str, Any]) -> str:
    """`[n] Title, Section (date)`, with the version when there is one: "(2025-09-15; current
    version, supersedes Password Policy of 2023-06-12)". An undated document's line has no
    brackets at all (most manuals carry no date: "(undated)" on every line says nothing)."""
    details = "; ".join(str(d) for d in (hit.get("updated_at"), hit.get("version_note")) if d)
    return f"[{hit['number']}] {_section_label(hit)}" + (f" ({details})" if details else "")


def _source_lines(hits: list[dict[str, Any]]) -> list[str]:
    """The Sources list; a document's version is named once, on its first line."""
    lines, named = [], set()
    for hit in hits:
        if hit.get("document_id") in named:
            hit = {**hit, "version_note": ""}
        named.add(hit.get("document_id"))
        lines.append(_source_line(hit))
    return lines


def _leg_strength(hit: dict[str, Any]) -> tuple[float, float, float]:
    """(lexical, semantic, agreement) evidence of one hit, each 0..1."""
    rank = hit.get("bm25_rank")
    distance = hit.get("vector_distance")
    lexical = 1 / math.sqrt(rank) if isinstance(rank, int) and rank > 0 else 0.0
    semantic = max(0.0, min(1.0, 1.0 - float(distance))) if distance is not None else 0.0
    legs = (rank is not None) + (distance is not None)
    agreement = 1.0 if legs == 2 else 0.5 if legs == 1 else 0.0
    return lexical, semantic, agreement


#: The confidence of a documents answer: a logistic model of how far its best sentence's
#: evidence clears the bar it had to reach (`margin`), of what the chosen sentences read
#: together mean next to the question (`whole`: cosine similarity under the local embedder)
#: and of the share of the question's own words they hold (`covered`), fitted on the union
#: of the dev splits of every corpus but the held-out one, each corpus weighing the same
#: (`python -m bench.confidence_fit`, which also prints how each recorded feature separates
#: right from wrong, and each corpus's figure when the model is fitted without it): AUROC
#: 0.71 on average with each corpus left out (docs/history.md). The caps below still apply.
CONFIDENCE_BIAS = -1.91
CONFIDENCE_WEIGHTS: dict[str, float] = {"margin": 3.16, "whole": 3.09, "covered": 1.45}

#: Who is told each answer's confidence features (`observing_confidence`): the fitting bench.
_OBSERVERS: list[Callable[[str, dict[str, float]], None]] = []


@contextmanager
def observing_confidence(callback: Callable[[str, dict[str, float]], None]) -> Iterator[None]:
    """Within the block, `callback(question, features)` hears of every answer composed from
    the documents (not the can't-find ones), with every feature `confidence_features` reads."""
    _OBSERVERS.append(callback)
    try:
        yield
    finally:
        _OBSERVERS.remove(callback)


#: A listener to `observing_candidates`: (question as read, ranked candidates, retrieved
#: passages, each candidate as the reader reads it).
CandidateObserver = Callable[[str, Sequence[Scored], Sequence[str], Sequence[str]], None]

#: Who is told each question's ranked candidate sentences (`observing_candidates`): the
#: bench that finds where the expected fact stood when an answer missed it.
_CANDIDATE_OBSERVERS: list[CandidateObserver] = []


@contextmanager
def observing_candidates(callback: CandidateObserver) -> Iterator[None]:
    """Within the block, `callback(question, scored, passages, texts)` hears of every
    question's candidate sentences as ranked (best first), before the answer is composed or
    refused, with the text of every passage they were taken from and each candidate as the
    reader reads it (`reader_text`); `question` is the question as the reader reads it
    (`reader_question`)."""
    _CANDIDATE_OBSERVERS.append(callback)
    try:
        yield
    finally:
        _CANDIDATE_OBSERVERS.remove(callback)


def confidence_features(
    best: Scored,
    hit: dict[str, Any],
    chosen: Sequence[Scored] = (),
    needed: float = 0.0,
    scored: Sequence[Scored] = (),
    hits: Sequence[dict[str, Any]] = (),
    whole: float | None = None,
    covered: float = 0.0,
) -> dict[str, float]:
    """What an answer's confidence may be read from: its best sentence's `evidence`,
    `coverage` and `meaning`, the margin of its evidence over the bar it had to reach and
    over the runner-up sentence (`gap`), its passage's `lexical`/`semantic` leg strength,
    `agreement` of the two legs, place among the passages retrieved (`passage`: 1 first, 1/2
    second, ...) and fused score over the best one's (`focus`), whether any chosen sentence
    holds the kind of fact asked for (`typed`), how many were chosen; the question's
    similarity to the chosen sentences read together (`whole`; the best sentence's `meaning`
    when not given) and the share of its own words they hold (`covered`, see `_covered`)."""
    lexical, semantic, agreement = _leg_strength(hit)
    runner_up = next((s.evidence for s in scored if s is not best), 0.0)
    top = max((float(h.get("score") or 0.0) for h in hits), default=0.0)
    return {
        "gap": best.evidence - runner_up if scored else 0.0,
        "passage": 1.0 / (1 + best.unit.rank),
        "focus": float(hit.get("score") or 0.0) / top if top > 0 else 0.0,
        "evidence": best.evidence,
        "coverage": best.coverage,
        "meaning": best.meaning,
        "margin": best.evidence - needed,
        "lexical": lexical,
        "semantic": semantic,
        "agreement": agreement,
        "typed": float(any(c.typed for c in chosen or (best,))),
        "sentences": float(len(chosen) or 1),
        "whole": best.meaning if whole is None else whole,
        "covered": covered,
    }


def _confidence(features: dict[str, float]) -> float:
    logit = CONFIDENCE_BIAS + sum(w * features[name] for name, w in CONFIDENCE_WEIGHTS.items())
    return round(1.0 / (1.0 + math.exp(-logit)), 3)


def _covered(terms: Sequence[str], chosen: Sequence[Scored]) -> float:
    """The share of `terms` (the question's own words) that the chosen sentences or their
    headings hold, typos and shared word starts counting in part (`sentences.match`)."""
    if not terms:
        return 1.0
    held: set[str] = set().union(*(c.unit.stems | c.unit.context for c in chosen))
    return sum(match(t, held) for t in terms) / len(terms)


def _choose(
    scored: list[Scored],
    best: Scored,
    min_evidence: float,
    asks_who: bool = False,
    asked: frozenset[str] = frozenset(),
    lead_with_typed: bool = True,
) -> list[Scored]:
    """The best sentence, then (if it lacks the kind of fact asked for) the best one that has
    it (for "who", a name within `NEXT_TO_BEST` sentences of the best one counts whatever its
    evidence), then close runners-up; never two from one list, never near-duplicates.

    `asked`: the words of the clause that asks, in a message that also tells what happened
    ("got a warning that the cert has 20 days left.. isn't it supposed to renew by itself?").
    When the chosen sentences hold none of them, the best sentence that does is added: the
    best sentence may only restate the story. `lead_with_typed=False`: the kind of fact asked
    for is too loosely recognised to lead in place of the best sentence (a way to do
    something: a manual describes its settings in the imperative, "Add syntax highlighting")."""

    def distinct(candidate: Scored, chosen: list[Scored]) -> bool:
        return not any(
            (candidate.unit.group is not None and candidate.unit.group == c.unit.group)
            or jaccard(frozenset(candidate.unit.stems), frozenset(c.unit.stems)) > 0.6
            for c in chosen
        )

    def fits(candidate: Scored, chosen: list[Scored]) -> bool:
        return candidate.evidence >= min_evidence and distinct(candidate, chosen)

    def bar(candidate: Scored) -> float:
        # The kind of fact asked for (a name for "who") may sit in the best sentence's own
        # section in other words ("sign off" / "authorise"): a lower bar there.
        same_section = candidate.unit.hit_index == best.unit.hit_index
        return min_evidence * (SAME_SECTION_EVIDENCE if same_section else 1.0)

    def next_to_best(candidate: Scored) -> bool:
        return (
            asks_who
            and candidate.unit.hit_index == best.unit.hit_index
            and abs(candidate.unit.position - best.unit.position) <= NEXT_TO_BEST
        )

    chosen = [best]
    if not best.typed and lead_with_typed:
        # The name asked for may sit next to the best sentence ("... the EU stack can be
        # moved to eu-central-1." / "Only the Head of Site Reliability can authorise it.").
        typed = next(
            (
                c
                for c in scored[1:]
                if c.typed and (c.evidence >= bar(c) or next_to_best(c)) and distinct(c, chosen)
            ),
            None,
        )
        if typed is not None:
            chosen.insert(0, typed)  # lead with the name, number or time asked for
    for candidate in scored[1:]:
        if len(chosen) >= MAX_SENTENCES or candidate.total < EXTRA_SENTENCE_RATIO * best.total:
            break
        if candidate not in chosen and fits(candidate, chosen):
            chosen.append(candidate)

    def answers_the_ask(candidate: Scored) -> bool:
        return any(match(t, candidate.unit.stems, typos=False) > 0.0 for t in asked)

    if asked and not any(answers_the_ask(c) for c in chosen):
        answering = next(
            (c for c in scored[1:] if answers_the_ask(c) and fits(c, chosen)),
            None,
        )
        if answering is not None:
            chosen = [*chosen[: MAX_SENTENCES - 1], answering]
    return chosen


#: A sentence opening with one of these continues the one before it ("This is because…",
#: "Instead, use…", "Otherwise…", "In effect…"): it completes the statement it follows.
_CONTINUING = re.compile(
    r"^\W*(?:this|that|these|those|it|its|they|such|instead|however|but|so|therefore|thus|"
    r"otherwise|then|rather|hence|consequently|in\s+that\s+case|for\s+(?:this|that)\s+reason|"
    r"in\s+effect|in\s+other\s+words|in\s+short|in\s+fact|as\s+a\s+result)"
    r"\b"
    # "When COMMIT fails in this way, ...": a first clause that points back.
    r"|^\W*(?:when|if|once|whenever)\b[^,.;:]{0,80}?\b(?:in\s+(?:this|that|such\s+a)\s+"
    r"(?:way|case|manner|fashion)|this\s+happens|that\s+happens)\b",
    re.IGNORECASE,
)

#: A sentence whose first words name what the sentence before it was about as "it" or
#: "them" ("You can find it at venv/var/app-instance instead.", "To turn them off, ..."):
#: it goes on with that statement, and often says what was asked.
_GOES_ON_ABOUT_IT = re.compile(r"^(?:\S+\s+){1,3}(?:it|them)\b(?!['’])", re.IGNORECASE)

#: A sentence that tells the reader what to do: it opens with a verb of doing ("Use
#: app_context() in a with block", "Run the command again with --force").
_INSTRUCTION = re.compile(
    rf"^\W*(?:use|{DOING_VERBS}|go|click)\s+(?!(?:of|is|are|was|were)\b)", re.IGNORECASE
)

#: A sentence naming, within its first words, a thing by "this", "that", "these" or "those"
#: ("The `--fast` flag turns off this check"; "Afterwards, you can pass that file to ..."):
#: group 1 is the thing's noun. Not a demonstrative standing alone ("use this to ...",
#: "those listed here", "this means": `_CONTINUING`'s), one naming the text itself ("this
#: page"), or one a colon follows ("follow this policy: ..." points ahead).
_POINTS_BACK = re.compile(
    r"^(?:\S+\s+){0,8}?(?:this|that|these|those)\s+(?!(?:is|are|was|were|will|would|can|"
    r"could|may|might|must|should|means?|meant|way|document|page|section|chapter|guide|"
    r"tutorial|howto|manual|article|example|one|ones|time|case|the|a|an|you|it|its|we|they|"
    r"he|she|i|there|this|these|those|your|our|their|all|any|some|no|each|every|if|when|only|"
    r"not|to|for|in|on|with|by|as|at|of|from|and|or|but|into|\w+ed)\b)([a-z][\w-]*)[^:]*$",
    re.IGNORECASE,
)


def _points_back_to(sentence: str, antecedent: Unit) -> bool:
    """Whether `sentence` names a thing by a demonstrative (`_POINTS_BACK`) that the sentence
    before names too ("this check" after "... performs an AST safety check ..."; "that file"
    after "... into a file usually called ..."): a noun said again is what "that" stands for,
    where "note that people ..." only joins a clause."""
    found = _POINTS_BACK.match(sentence)
    return found is not None and stem(found.group(1).lower()) in antecedent.stems


#: A sentence holding at most this many words of its own beyond the question's only
#: restates what was asked ("Transactions do not nest."): the next one says what to do.
ECHO_NOVEL_STEMS = 3


#: Candidate sentences scored by meaning at most: each uncached sentence costs one embedding
#: (~3 ms here), and long sections (a manual's chapter, a FAQ page) hold hundreds. Past this,
#: the sentences sharing most of the question's words are kept, with the sentence after each
#: of the best (it may complete them, `_with_neighbours`) and the one before each of the very
#: best (a sentence opening "That means ..." needs it).
MAX_CANDIDATES = 64


def _shortlist(
    units: list[Unit], labels: list[str], terms: Sequence[str]
) -> tuple[list[Unit], list[str]]:
    """The `MAX_CANDIDATES` sentences most worth scoring, in their original order."""

    def overlap(unit: Unit) -> float:
        return sum(max(match(t, unit.stems), 0.5 * match(t, unit.context)) for t in terms)

    order = sorted(
        range(len(units)),
        key=lambda i: (-overlap(units[i]), units[i].rank, units[i].hit_index, units[i].position),
    )
    keep = set(order[: MAX_CANDIDATES * 5 // 8])
    for rank, i in enumerate(order[: MAX_CANDIDATES // 4]):
        # `units` runs hit by hit in reading order: the next sentence is the next unit, and
        # the one before the best what a sentence opening "That means ..." points back to
        if i + 1 < len(units) and units[i + 1].hit_index == units[i].hit_index:
            keep.add(i + 1)
        if rank < MAX_CANDIDATES // 8 and i > 0 and units[i - 1].hit_index == units[i].hit_index:
            keep.add(i - 1)
    for i in order:
        if len(keep) >= MAX_CANDIDATES:
            break
        keep.add(i)
    kept = sorted(keep)
    return [units[i] for i in kept], [labels[i] for i in kept]


def _is_question(text: str) -> bool:
    """A sentence that asks (a FAQ's question, a heading kept in the text): it never answers
    itself; the sentences after it do."""
    return text.rstrip(" )]*_`'\"”’").endswith("?")


def _needs_next(item: Scored, terms: set[str]) -> bool:
    """Whether the sentence after `item` belongs in the answer with it: `item` asks a
    question, introduces something (ends with ":"), or only restates the question's words."""
    text = item.unit.text.rstrip()
    novel = {s for s in item.unit.stems if match(s, terms, typos=False) == 0.0}
    return _is_question(text) or text.endswith(":") or len(novel) <= ECHO_NOVEL_STEMS


def _with_neighbours(
    chosen: list[Scored], scored: list[Scored], terms: set[str], wants_way: bool = False
) -> list[Scored]:
    """The chosen sentences, each of the first two followed by the next sentence of its own
    section when that one continues it (`_CONTINUING`), goes on describing the same term
    (`Unit.describes_further`) or when it needs one (`_needs_next`);
    a question is replaced by what follows it; a lead that points back (`_CONTINUING`: "That
    means ...") comes after the sentence before it. Asked for a way (`wants_way`), a sentence
    is followed by the instruction after it ("... you can push a context manually." / "Use
    app_context() in a with block, ..."): that is the way. A carried sentence has the
    evidence of the one it continues (they make one statement). At most `MAX_SENTENCES` + 1
    in all."""
    following: dict[tuple[int, int], Scored] = {}
    preceding: dict[tuple[int, int], Scored] = {}
    by_hit: dict[int, list[Scored]] = {}
    for item in scored:
        by_hit.setdefault(item.unit.hit_index, []).append(item)
    for items in by_hit.values():
        items.sort(key=lambda i: i.unit.position)
        for before, after in itertools.pairwise(items):
            following[(before.unit.hit_index, before.unit.position)] = after
            if after.unit.position == before.unit.position + 1:
                preceding[(after.unit.hit_index, after.unit.position)] = before
    result: list[Scored] = []
    taken: set[int] = set()
    limit = MAX_SENTENCES + 1
    for index, item in enumerate(chosen):
        if id(item.unit) in taken:
            continue
        antecedent = preceding.get((item.unit.hit_index, item.unit.position))
        if (
            index == 0
            and antecedent is not None
            and (
                _CONTINUING.match(item.unit.text) is not None
                or _points_back_to(item.unit.text, antecedent.unit)
            )
            and not _is_question(antecedent.unit.text)
            and id(antecedent.unit) not in taken
        ):
            # "That means that records with equal keys keep their order" leads only with the
            # sentence it points back to ("Sorts are guaranteed to be stable."): one statement,
            # which takes no other sentence's place.
            limit += 1
            taken.add(id(antecedent.unit))
            result.append(_carried(antecedent, item))
        after = following.get((item.unit.hit_index, item.unit.position))
        carries = (
            index < 2
            and after is not None
            and id(after.unit) not in taken
            and (
                _needs_next(item, terms)
                or _CONTINUING.match(after.unit.text) is not None
                or _GOES_ON_ABOUT_IT.match(after.unit.text) is not None
                or (wants_way and _INSTRUCTION.match(after.unit.text) is not None)
                or after.unit.describes_further(item.unit)  # one definition, one statement
            )
        )
        if not _is_question(item.unit.text) or not carries:
            result.append(item)
            taken.add(id(item.unit))
        if carries and after is not None:
            taken.add(id(after.unit))
            result.append(_carried(after, item))
            then = following.get((after.unit.hit_index, after.unit.position))
            if (
                wants_way
                and then is not None
                and id(then.unit) not in taken
                and _INSTRUCTION.match(then.unit.text) is not None
            ):
                # "... you can push a context manually." carried, then "Use app_context() ..."
                taken.add(id(then.unit))
                result.append(_carried(then, item))
    return result[:limit] if result else chosen


def _with_complement(
    chosen: list[Scored], scored: list[Scored], terms: set[str], bar: float
) -> list[Scored]:
    """The chosen sentences with the sentence next to the first one (before or after it, in
    its own section) when that one holds question words the first lacks, and its heading
    does not hold either (the topic: "Passwords are ..." adds nothing to "Minimum length
    ..." under "Password Policy"), and has evidence of at least `bar`: the two make one
    statement ("By default urllib identifies itself as
    Python-urllib/x.y" before "The way a browser identifies itself is through the User-Agent
    header", for "what User-Agent does urllib send by default?"). The code a sentence
    announces is part of what it says ("..., by changing the call to:" and
    `logging.basicConfig(filemode='w')`). It takes no other sentence's place; a question
    is no complement."""
    if not chosen:
        return chosen
    first = chosen[0].unit
    missing = {t for t in terms if match(t, first.stems) == 0.0 and t not in first.context}
    if not missing:
        return chosen
    taken = {id(c.unit) for c in chosen}
    for item in scored:  # best first
        unit = item.unit
        if (
            unit.hit_index != first.hit_index
            or abs(unit.position - first.position) != 1
            or id(unit) in taken
            or _is_question(unit.text)
            or item.evidence < bar
        ):
            continue
        said = unit.stems | stem_set(unit.code) if unit.code else unit.stems
        held = {t for t in missing if match(t, said) > 0.0}
        if held:
            logger.debug("The next sentence holds {}: {!r}", sorted(held), unit.text[:80])
            at = 0 if unit.position < first.position else 1
            return [*chosen[:at], _carried(item, chosen[0]), *chosen[at:]]
    return chosen


def _carried(neighbour: Scored, item: Scored) -> Scored:
    """`neighbour` as part of `item`'s statement: with the better of their coverage and
    evidence (a sentence carried with another is as well founded as it)."""
    return Scored(
        neighbour.unit,
        max(neighbour.coverage, item.coverage),
        neighbour.total,
        neighbour.typed,
        neighbour.meaning,
        max(neighbour.evidence, item.evidence),
    )


#: When the best-ranked sentence falls short of the bar, the runners-up (ranked below it by
#: the bonuses for the kind of fact asked for) that may answer in its place: up to this rank.
PROMOTE_WITHIN = 3


def _answering(scored: list[Scored], needed: float) -> Scored | None:
    """The sentence that answers: the best-ranked one when its evidence meets the bar, else
    the first runner-up within `PROMOTE_WITHIN` that does. The bonuses for the kind of fact
    asked for order the sentences; the evidence decides whether there is an answer ("is it ok
    to ...?" ranks a sentence saying "should not" first, however weakly it matches)."""
    return next((s for s in scored[:PROMOTE_WITHIN] if s.evidence >= needed), None)


#: How far after the chosen sentences of a passage its remedy may come, in sentences.
REMEDY_REACH = 4


def _with_remedy(chosen: list[Scored], scored: list[Scored]) -> list[Scored]:
    """The chosen sentences and, when none says what to do, the first sentence that does
    (`Scored.typed` for a way to do something) within `REMEDY_REACH` sentences after them in
    the same passage: asked how to fix a problem the message describes, the best matches
    restate the problem ("the naive pattern doesn't work because of the greedy nature of .*")
    and the passage goes on to the fix ("the solution is to use the non-greedy
    quantifiers")."""
    if any(c.typed for c in chosen):
        return chosen
    last: dict[int, int] = {}
    for c in chosen:
        last[c.unit.hit_index] = max(last.get(c.unit.hit_index, -1), c.unit.position)
    taken = {id(c.unit) for c in chosen}
    remedies = [
        s
        for s in scored
        if s.typed
        and id(s.unit) not in taken
        and s.unit.hit_index in last
        and 0 < s.unit.position - last[s.unit.hit_index] <= REMEDY_REACH
    ]
    if not remedies:
        return chosen
    remedy = min(remedies, key=lambda s: (s.unit.position - last[s.unit.hit_index], -s.total))
    logger.debug("The passage's remedy follows: {!r}", remedy.unit.text[:80])
    return [*chosen[:MAX_SENTENCES], remedy]


_WORD = re.compile(r"[^\W\d_]+")


def _spelled_for_meaning(
    question: str, hits: list[dict[str, Any]], known: Callable[[str], bool] | None
) -> str:
    """The question with its typos corrected against the retrieved passages' own words, for
    every rule below and above all the sentence embedder: "min pasword lenght" -> "min
    password length" (applied once, at the start of `compose_documents`). Word matching
    tolerates typos already (`sentences.match`); the embedder does not (a misspelt word
    becomes unrelated word pieces). Like the search's own correction, only a word the
    knowledge base does not know is corrected ("start" never becomes "starts"), so nothing is
    corrected without `known`."""
    if known is None:
        return question
    counts = Counter(
        w.lower()
        for hit in hits
        for w in _WORD.findall(
            f"{hit.get('title', '')} {hit.get('section', '')} {hit.get('text', '')}"
        )
    )

    def fix(found: re.Match[str]) -> str:
        word = found.group(0)
        exactly = getattr(known, "exactly", known)
        if word.lower() in counts or word.lower() in STOP or exactly(stem(word.lower())):
            return word  # known, or a question word typed without its apostrophe ("hasnt")
        return closest_term(word.lower(), counts.items()) or word

    return _WORD.sub(fix, question)


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
    absent: Sequence[str], question: str, known: Callable[[str], bool] | None = None
) -> list[str]:
    """The words among `absent` (stems no passage and no part of the knowledge base holds)
    that name something rather than misspell English (`typos.is_foreign`; see
    FOREIGN_TERM_PENALTY)."""
    typed = {stem(w.lower()): w.lower() for w in _WORD.findall(question)}
    exactly = getattr(known, "exactly", None)
    return [typed[t] for t in absent if t in typed and is_foreign(typed[t], exactly)]


#: A word typed with a capital inside a sentence ("set up black in the Zed editor", "hook it
#: into Spyder"): a name, whether or not it is also an English word ("zed", "helix").
_PROPER_NAME = re.compile(r"(?<![.!?:;\s])(?<!^)\s+([A-Z][a-z]+[A-Za-z]*)\b")


def _proper_names(message: str) -> set[str]:
    """The stems of the names `message` capitalises inside a sentence (`_PROPER_NAME`), not
    after a sentence's end, not "I", and no country's (a place the question is set in, which
    the documents may write as a code: `places.py`)."""
    found = {stem(name.lower()) for name in _PROPER_NAME.findall(message) if len(name) >= 3}
    return found - country_stems()


#: A name of code as people type it: with "_" or "." inside ("isolation_level",
#: "logging.DEBUG"), three letters or more with digits ("FTS5", "sqlite3"; "py2" and "v2"
#: are people's shorthand), a call ("ROW_NUMBER()") or a word
#: in capitals ("PARTITION"). Hyphenated words are left out: people hyphenate English
#: ("auto-abort", "non-urgent") and write a documented name in other ways.
_CODE_NAME = re.compile(
    r"(?<![\w.-])(?:[A-Za-z]\w*_\w+|[A-Za-z]\w+(?:\.[A-Za-z]\w*)+|[A-Za-z]{3,}\d+[A-Za-z0-9]*"
    r"|[A-Za-z_]\w*(?=\(\))|[A-Z]{4,})(?![\w-])"
)


#: The endings of files people name in questions: "conf.py", "pyproject.toml", "setup.cfg".
_FILE_ENDINGS = wordset(
    "py pyi txt toml cfg ini conf json yaml yml md rst html htm xml csv tsv sh bat ps1 js ts "
    "c h cpp db sql sqlite tex sty cls bib css log lock env zip gz tar whl"
)


def _is_file_name(name: str) -> bool:
    stem_part, dot, ending = name.rpartition(".")
    return bool(dot) and "." not in stem_part and ending.lower() in _FILE_ENDINGS


def _unheard_names(
    question: str, hits: Sequence[dict[str, Any]], known: Callable[[str], bool] | None = None
) -> list[str]:
    """The names of code the question types (`_CODE_NAME`) that no retrieved passage holds,
    letters and digits compared alone ("SEV-2" holds "sev2", "Python 2" holds "py2"), and,
    for a name of one word, that the knowledge base does not hold either (`known.exactly`):
    the search ranks a passage holding such a name first, so one it did not find is most
    likely in no document, and the question is about something the knowledge base does not
    cover (FOREIGN_TERM_PENALTY)."""
    names = _CODE_NAME.findall(question)
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


def _spelt_stems(question: str) -> set[str]:
    """Stems of the question's words of five letters or more that are English words as typed:
    no typo credit rescues them from being absent ("paternity" is no typo of "pattern")."""
    known = english_words()
    return {stem(w.lower()) for w in _WORD.findall(question) if len(w) >= 5 and w.lower() in known}


def _common_stems(question: str) -> set[str]:
    """Stems of the question's words that are very common in English (`COMMON_WORD_FREQUENCY`)."""
    frequencies = english_words()
    return {
        stem(w.lower())
        for w in _WORD.findall(question)
        if frequencies.get(w.lower(), 0) >= COMMON_WORD_FREQUENCY
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


#: What a question sets aside ("as an html report instead of the terminal table?", "rather
#: than a plugin"): group 2, the thing it does not want, up to the clause's end; group 1, the
#: clause before it, which names what it wants instead.
_SET_ASIDE = re.compile(
    r"([^,.;:?!]*?)\b(?:instead\s+of|rather\s+than)\s+([^,.;:?!]+)", re.IGNORECASE
)

#: Verbs that ask for a replacement without naming one: "what do I use instead of X?" is
#: about X.
_REPLACING = frozenset(map(stem, wordset("use do get make pick choose try take put need want")))


def _set_aside(question: str) -> set[str]:
    """Stems of what the question sets aside (`_SET_ASIDE`) after naming what it wants: they
    are not what it asks, so they neither pick the answering sentence nor raise the bar by
    being absent or held elsewhere. "What do I use instead of assume-unchanged?" names
    nothing it wants: it is about assume-unchanged."""
    aside: set[str] = set()
    for wanted, rejected in _SET_ASIDE.findall(question):
        if set(content_stems(wanted)) - _REPLACING:
            aside |= set(content_stems(rejected))
    return aside


#: Words that ask for a value, up to a few words before it ("what's the actual phone number").
_ASKING_FOR = r"\b(?:what|whats|which|where|give|need|know|find|is\s+there)\b[^.?!]{0,30}?\b"

#: A question asking for a phone number is answered only by a sentence holding one: "by phone
#: to the IT on-call number in the handbook footer" names the number without giving it. One
#: asking for an email address is answered first by a sentence holding one.
_CONTACTS = (
    (
        re.compile(
            rf"{_ASKING_FOR}(?:phone|telephone|mobile|cell)\s*(?:number|no\.|#)(?!s)"
            rf"|{_ASKING_FOR}number\s+to\s+(?:call|ring|dial)\b",
            re.IGNORECASE,
        ),
        re.compile(r"\+?\d[\d ()./-]{6,}\d"),
        True,
    ),
    (
        re.compile(rf"{_ASKING_FOR}e-?mail(?:\s+address)?(?!s)\b", re.IGNORECASE),
        re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
        False,
    ),
)


def _contact_asked(question: str) -> tuple[re.Pattern[str], bool] | None:
    """The pattern of the phone number or email address the question asks for, if any, and
    whether a sentence without one cannot answer (a phone number: the documents' only other
    answer is where to find it; an email address: a directory lookup may still follow)."""
    return next(
        ((value, required) for asked, value, required in _CONTACTS if asked.search(question)),
        None,
    )


def _rare_term_elsewhere(
    terms: Sequence[str],
    units: Sequence[Unit],
    best: Scored,
    ignored: set[str],
    asked: set[str],
) -> str | None:
    """A question word (of the asking clauses, when known) that exactly one candidate sentence
    holds as written but the best sentence and its heading lack (see `RARE_TERM_PENALTY`).
    A sentence farther away in the best one's own passage does not count: the passage is about
    that word too ("end your interactive Python session ... get back to your Windows command
    prompt" and, paragraphs earlier, "create such a window ... by searching for cmd"). The
    sentence right before or after the best one does: it covers the other case."""
    for term in terms:
        if has_digit(term) or term in ignored or (asked and term not in asked):
            continue
        holding = [u for u in units if match(term, u.stems, typos=False) == 1.0]
        if (
            len(holding) == 1
            and match(term, best.unit.stems | best.unit.context) == 0.0
            and (
                holding[0].hit_index != best.unit.hit_index
                or abs(holding[0].position - best.unit.position) <= 1
            )
        ):
            logger.debug("Only another sentence holds {!r}", term)
            return term
    return None


def _disagreement(
    chosen: list[Scored],
    scored: list[Scored],
    kept: list[dict[str, Any]],
    needed: float,
    similarity: SentenceSimilarity | None,
) -> tuple[Scored, Scored, str] | None:
    """Two answering sentences of different current documents that state different values of
    one measure (`conflicts.py`): the chosen one, the other (maybe not chosen yet), and the
    sentence that says so."""
    candidates = chosen + [s for s in scored[: MAX_COMPARED + len(chosen)] if s not in chosen]

    lineage = [family(kept[c.unit.hit_index]) for c in candidates]
    texts: dict[Any, list[str]] = {}
    for hit in kept:
        texts.setdefault(family(hit), []).append(str(hit.get("text") or ""))
    found = disagreement(
        [c.unit.text for c in candidates],
        lineage,
        lambda i: candidates[i].evidence >= needed,
        same_subject_by(similarity),
        {key: " ".join(parts) for key, parts in texts.items()},
    )
    if found is None or found.first >= len(chosen):
        return None
    first, second = candidates[found.first], candidates[found.second]
    a, b = kept[first.unit.hit_index], kept[second.unit.hit_index]
    logger.debug(
        "Sources disagree on {}: {} / {}", found.unit, found.first_values, found.second_values
    )
    note = (
        f"These sources disagree: {a.get('title')} [{a['number']}] says "
        f"{' / '.join(found.first_values)}, {b.get('title')} [{b['number']}] says "
        f"{' / '.join(found.second_values)}; check which one is in force."
    )
    return first, second, note


def _read_abbreviations(
    units: Sequence[Unit], kept: Sequence[dict[str, Any]], known: Sequence[Abbreviation]
) -> None:
    """A sentence holding an abbreviation the knowledge base (`known`) or a retrieved passage
    defines holds its long form too, and the other way round: "To convert to WAL mode, use
    the following pragma" answers "switch to write-ahead logging" where a document says
    "Write-Ahead Log (WAL)" (`abbreviations.defined_abbreviations`)."""
    defined: dict[str, str] = {}
    for hit in kept:
        defined.update(defined_abbreviations(str(hit.get("text") or "")))
    pairs = {*known, *stemmed(defined)}
    for unit in units:
        for short, long in pairs:
            if short in unit.stems:
                unit.stems.update(long)
            elif long and long <= unit.stems:
                unit.stems.add(short)


#: Similarity of the question to a section heading that itself asks a question (a FAQ's
#: entry: "How do I make a Python script executable on Unix?") from which on the section's
#: first sentence, which answers the heading, means what the question asks as much as the
#: heading does. On the dev splits, 0.7 to 0.8 make the same answers.
ASKING_HEADING_MATCH = 0.8


def _asking_heading(hit: dict[str, Any]) -> str | None:
    """The heading of a passage's own section when it asks a question, else None."""
    parts = _heading_parts(hit)
    return parts[-1] if parts and _is_question(parts[-1]) else None


def _answered_headings(
    question: str,
    hits: Sequence[dict[str, Any]],
    units: Sequence[Unit],
    similarity: SentenceSimilarity,
) -> dict[int, float]:
    """{unit index: the question's similarity to its heading} for the first sentence of each
    section whose heading asks what the question asks (`ASKING_HEADING_MATCH`): a FAQ answers
    its question there, in words that often share little with it ("You need to do two
    things: the script file's mode must be executable and ...")."""
    asking = {i: h for i, hit in enumerate(hits) if (h := _asking_heading(hit)) is not None}
    firsts = [i for i, u in enumerate(units) if u.position == 0 and u.hit_index in asking]
    if not firsts:
        return {}
    indexes = sorted({units[i].hit_index for i in firsts})
    values = similarity.similarities(question, [asking[i] for i in indexes])
    alike = dict(zip(indexes, values, strict=True))
    answered = {i: alike[units[i].hit_index] for i in firsts}
    answered = {i: value for i, value in answered.items() if value >= ASKING_HEADING_MATCH}
    if answered:
        logger.debug(
            "Headings asking this: {}",
            {asking[units[i].hit_index]: round(v, 3) for i, v in answered.items()},
        )
    return answered


def _own(question: str, borrowed: Sequence[str]) -> str:
    """The follow-up's own words: the query after the words it borrowed."""
    prefix = " ".join(borrowed)
    return question[len(prefix) :] if borrowed and question.startswith(prefix) else question


@dataclass
class _Asked:
    """The question as `compose_documents` reads it, and what the answer must meet."""

    message: str  # as typed
    question: str  # spelled for meaning
    terms: list[str]
    background: set[str]  # words a follow-up borrowed, not its own
    borrowed: Sequence[str]
    asked: set[str] = field(default_factory=set)  # the asking clauses' words
    needed: float = 0.0
    rare: str | None = None


def compose_documents(
    question: str,
    hits: list[dict[str, Any]],
    similarity: SentenceSimilarity | None = None,
    borrowed: Sequence[str] = (),
    known: Callable[[str], bool] | None = None,
    whole: str | None = None,
    abbreviations: Sequence[Abbreviation] = (),
    reader: SentenceReader | None = None,
) -> Answer:
    """The cited extractive answer, or the can't-find answer when the evidence is weak.

    Evidence is the best sentence's mix of lexical coverage and meaning (cosine similarity to
    the question under the local embedder); below `MIN_EVIDENCE` the question is not answered.
    `borrowed`: words a follow-up took from the previous question; they weigh less than the
    follow-up's own words and never raise the bar. `known(stem)`: whether the knowledge base
    holds the word anywhere (`vocabulary.KnowledgeVocabulary`); a question word no retrieved
    passage holds raises the bar only if it is unknown (without `known`: always). `whole`:
    the whole question an elliptical follow-up stands for ("what's the default boundary for
    IntFlag" for "and for IntFlag?"); a sentence means the follow-up at least as much as it
    means that question. `abbreviations`: those the knowledge base defines (see
    `_read_abbreviations`). `reader`: the trained reader; its belief in the chosen sentences
    is `READER_CONFIDENCE` of the confidence (`_with_belief`), and with `READER_WEIGHT` above
    0 it also re-ranks the best candidates and moves their evidence (`read_candidates`).
    """
    if not hits:
        return not_found(0.0)
    kept, replaced = resolve_versions(
        hits, keep_history=bool(INTENT_HISTORY.search(question)), as_of=as_of_date(question)
    )
    asked = _asked(question, kept, borrowed, known)
    question = asked.question
    units, labels, hit_texts = _candidates(kept, abbreviations, asked.terms)
    semantic = _meanings(asked, units, labels, kept, similarity, whole)
    scored = score_units(question, asked.terms, units, hit_texts, semantic, asked.background)
    asked_as, read_as = "", {}
    if reader is not None or _CANDIDATE_OBSERVERS:  # the candidates as the reader reads them
        asked_as = reader_question(whole or question, borrowed)
        scored, read_as = _as_read(reader, asked_as, scored, units, labels, kept)
    if not scored:
        return not_found(0.0)
    if only_other_quarters(question, [u.text for u in units]):
        logger.debug("The quarter asked for is in no retrieved passage; others are")
        return not_found(0.0)
    _raise_the_bar(asked, units, hit_texts, kept, scored[0], known, semantic is not None)
    scored = _answering_first(scored, asked.needed)
    best, best_hit = scored[0], kept[scored[0].unit.hit_index]
    if best.evidence < asked.needed:
        return _too_weak(asked, best, best_hit, scored, kept)
    led = _led_by_the_contact_asked(asked, scored)
    if led is None:
        return not_found(_refused_confidence(asked, best, best_hit, scored, kept))
    scored = led
    best = scored[0]
    chosen = _answer_sentences(asked, scored, best)
    chosen = _with_the_quantity_asked(asked, chosen)
    if chosen is None:
        return not_found(_refused_confidence(asked, best, best_hit, scored, kept))
    conflict = _disagreement(chosen, scored, kept, asked.needed, similarity)
    if conflict is not None:
        chosen = [*chosen, conflict[1]] if conflict[1] not in chosen else chosen
    body = _cited_body(question, chosen, kept, replaced, conflict)
    own = _own_terms(asked)
    read_whole = None
    if similarity is not None:
        read_whole = similarity.read_once(question, " ".join(c.unit.read for c in chosen))
    features = confidence_features(
        best, best_hit, chosen, asked.needed, scored, kept, read_whole, _covered(own, chosen)
    )
    confidence = _confidence(features)
    if reader is not None and READER_CONFIDENCE > 0:
        confidence = _with_belief(
            confidence, reader, asked_as, [read_as.get(id(c.unit)) for c in chosen]
        )
    for observer in _OBSERVERS:
        observer(asked.message, features)
    confidence = _capped(confidence, chosen, conflict is not None)
    return Answer(body, confidence, coverage=best.coverage, evidence=best.evidence)


def _answering_first(scored: list[Scored], needed: float) -> list[Scored]:
    """`scored`, led by a runner-up that meets the bar where the best does not (`_answering`)."""
    logger.opt(lazy=True).debug(
        "Runners-up: {}",
        lambda: [(round(s.evidence, 3), s.unit.text[:70]) for s in scored[1:5]],
    )
    answering = _answering(scored, needed)
    if answering is None or answering is scored[0]:
        return scored
    logger.debug("A runner-up meets the bar: {!r}", answering.unit.text[:80])
    return [answering, *(s for s in scored if s is not answering)]


def _too_weak(
    asked: _Asked,
    best: Scored,
    best_hit: dict[str, Any],
    scored: list[Scored],
    kept: list[dict[str, Any]],
) -> Answer:
    """The can't-find answer when the best sentence's evidence is below the bar."""
    answer = not_found(_refused_confidence(asked, best, best_hit, scored, kept))
    answer.coverage = best.coverage
    answer.evidence = best.evidence
    return answer


def _led_by_the_contact_asked(asked: _Asked, scored: list[Scored]) -> list[Scored] | None:
    """`scored` led by the sentences giving the contact detail asked for (a phone number, a
    mail address); None when one is required and no answering sentence gives it."""
    contact = _contact_asked(asked.question)
    if contact is None:
        return scored
    value, required = contact
    holding = [s for s in scored if value.search(s.unit.text) and s.evidence >= asked.needed]
    if holding:  # lead with the sentence giving the value asked for
        return holding + [s for s in scored if s not in holding]
    if required:
        logger.debug("No sentence holds the phone number asked for")
        return None
    return scored


def _asked(
    message: str,
    kept: list[dict[str, Any]],
    borrowed: Sequence[str],
    known: Callable[[str], bool] | None,
) -> _Asked:
    """The question's words: its own, those it sets aside, and those a follow-up borrowed."""
    question = _spelled_for_meaning(message, kept, known)
    terms = content_stems(question)
    aside = _set_aside(question)  # "... instead of the terminal table": not what it asks
    terms = [t for t in terms if t not in aside] or terms
    background = set(content_stems(" ".join(borrowed))) - set(
        content_stems(_own(question, borrowed))
    )
    return _Asked(message, question, terms, background, borrowed)


def _own_terms(asked: _Asked) -> list[str]:
    return [t for t in asked.terms if t not in asked.background]


def _candidates(
    kept: list[dict[str, Any]], abbreviations: Sequence[Abbreviation], terms: list[str]
) -> tuple[list[Unit], list[str], list[set[str]]]:
    """The passages' candidate sentences, each one's meaning label, and each passage's words."""
    units: list[Unit] = []
    labels: list[str] = []
    for index, hit in enumerate(kept):
        context = stem_set(f"{hit.get('title', '')} {hit.get('section', '')}")
        rank = int(hit.get("_rank", index))
        found = units_of(str(hit.get("text") or ""), context, index, rank)
        units.extend(found)
        labels.extend([_meaning_label(hit)] * len(found))
    _read_abbreviations(units, kept, abbreviations)
    hit_texts = [stem_set(f"{h.get('title', '')} {h.get('text', '')}") for h in kept]
    if len(units) > MAX_CANDIDATES:
        units, labels = _shortlist(units, labels, terms)
    return units, labels, hit_texts


def _meanings(
    asked: _Asked,
    units: list[Unit],
    labels: list[str],
    kept: list[dict[str, Any]],
    similarity: SentenceSimilarity | None,
    whole: str | None,
) -> list[float] | None:
    """How close each candidate is in meaning to what is asked, read several ways (None
    without a sentence embedder)."""
    if similarity is None or not units:
        return None
    question, borrowed = asked.question, asked.borrowed
    texts = [_as_embedded(label, u.read) for label, u in zip(labels, units, strict=True)]
    semantic = similarity.similarities(question, texts)  # spelled for meaning above
    for clause in asking_clauses(question):
        # "what time do the kpi jobs run, my dashboard looks stale": the asking clause
        # alone may be closer in meaning to the answer than the whole chatty message.
        closer = similarity.similarities(clause, texts)
        semantic = [max(a, b) for a, b in zip(semantic, closer, strict=True)]
    codes = asked_codes(question)
    focused = [(i, f) for i, u in enumerate(units) if codes and (f := focus_on(u.text, codes))]
    if focused:
        # A code's entry in a long list means what the question asks, the list does not.
        closer = similarity.similarities(question, [_as_embedded(labels[i], f) for i, f in focused])
        for (i, _), value in zip(focused, closer, strict=True):
            semantic[i] = max(semantic[i], value)
    if asked.background:
        # A follow-up means its own words most: "and shipment records?" after raw pings.
        # Its pronoun stands for the borrowed topic: "how long must passwords be?".
        own = with_topic(_own(question, borrowed), borrowed)
        own_meaning = similarity.similarities(own, texts)
        semantic = [(a + b) / 2 for a, b in zip(semantic, own_meaning, strict=True)]
    if whole:
        meant = similarity.similarities(whole, texts)
        semantic = [max(a, b) for a, b in zip(semantic, meant, strict=True)]
    for i, value in _answered_headings(question, kept, units, similarity).items():
        semantic[i] = max(semantic[i], value)  # the heading asks what the question asks
    return semantic


def _as_read(
    reader: SentenceReader | None,
    asked_as: str,
    scored: list[Scored],
    units: list[Unit],
    labels: list[str],
    kept: list[dict[str, Any]],
) -> tuple[list[Scored], dict[int, str]]:
    """The candidates re-ranked by the reader (with `READER_WEIGHT` above 0), and each one's
    text as the reader reads it; the candidate observers see them."""
    label_of = {id(u): label for u, label in zip(units, labels, strict=True)}
    texts = [reader_text(label_of[id(s.unit)], s.unit) for s in scored]
    if reader is not None and scored and READER_WEIGHT > 0:
        scored, texts = read_candidates(reader, asked_as, scored, texts)
    if _CANDIDATE_OBSERVERS:
        passages = [str(hit.get("text") or "") for hit in kept]
        for observer in _CANDIDATE_OBSERVERS:
            observer(asked_as, scored, passages, texts)
    return scored, dict(zip([id(s.unit) for s in scored], texts, strict=True))


def _raise_the_bar(
    asked: _Asked,
    units: list[Unit],
    hit_texts: list[set[str]],
    kept: list[dict[str, Any]],
    best: Scored,
    known: Callable[[str], bool] | None,
    by_meaning: bool,
) -> None:
    """The evidence needed: more for each question word no retrieved passage holds, for a
    name the knowledge base never mentions, and for a rare word only another sentence holds."""
    question, terms, background = asked.question, asked.terms, asked.background
    needed = MIN_EVIDENCE if by_meaning else MIN_COVERAGE
    vocabulary: set[str] = set().union(*hit_texts, *(u.context for u in units))
    spelt = _spelt_stems(question)
    # A word is no typo of another word the question itself holds ("upsert" of "insert").
    others = vocabulary - set(terms)
    absent = [
        t
        for t in terms
        if not has_digit(t)
        and t not in background
        and t not in vocabulary
        and match(t, others, typos=t not in spelt) == 0.0
        and (known is None or not known(t))
    ]
    asked.asked = {t for clause in asking_clauses(question) for t in content_stems(clause)}
    if asked.asked:  # words outside the asking clauses are context: they never raise the bar
        absent = [t for t in absent if t in asked.asked]
    introduced = _introduced_names(question)
    if absent:
        common = _common_stems(question) | _phrasal_stems(question)
        absent = [t for t in absent if t not in common and t not in introduced]
    needed += ABSENT_TERM_PENALTY * len(absent)
    names = _proper_names(asked.message)
    foreign = (
        _foreign(absent, question, known)
        + [t for t in absent if t in names]
        + [
            name
            for name in _unheard_names(_own(question, asked.borrowed), kept, known)
            if stem(name.lower()) not in introduced
        ]
    )
    if foreign:
        logger.debug("Named nowhere in the knowledge base: {}", foreign)
        needed += FOREIGN_TERM_PENALTY
    asked.rare = _rare_term_elsewhere(
        terms, units, best, set(background) | _common_stems(question), asked.asked
    )
    if asked.rare is not None:
        needed += RARE_TERM_PENALTY
    asked.needed = needed
    logger.debug(
        "Best sentence: evidence {:.3f} (coverage {:.3f}), needed {:.3f}, absent {}: {!r}",
        best.evidence,
        best.coverage,
        needed,
        absent,
        best.unit.text[:120],
    )


def _refused_confidence(
    asked: _Asked,
    best: Scored,
    best_hit: dict[str, Any],
    scored: list[Scored],
    kept: list[dict[str, Any]],
) -> float:
    """The confidence an answer of the best sentence alone would have had."""
    covered = _covered(_own_terms(asked), [best])
    features = confidence_features(
        best, best_hit, (best,), asked.needed, scored, kept, covered=covered
    )
    return _confidence(features)


def _answer_sentences(asked: _Asked, scored: list[Scored], best: Scored) -> list[Scored]:
    """The best sentence and those that complete it: its neighbours, a complement, a remedy."""
    question, terms, background = asked.question, asked.terms, asked.background
    asks_who = bool(INTENT_WHO.search(question))
    chosen = _choose(
        scored,
        best,
        EXTRA_SENTENCE_EVIDENCE * asked.needed,
        asks_who,
        frozenset(asked.asked - set(background)),
        lead_with_typed=not asks_only_how(question),
    )
    chosen = _with_neighbours(chosen, scored, set(terms), bool(INTENT_METHOD.search(question)))
    chosen = _with_complement(
        chosen, scored, set(terms) - background, EXTRA_SENTENCE_EVIDENCE * asked.needed
    )
    if asks_remedy(question):
        chosen = _with_remedy(chosen, scored)
    return chosen


def _with_the_quantity_asked(asked: _Asked, chosen: list[Scored]) -> list[Scored] | None:
    """`chosen`, less what gives other countries' figures; None when a quantity or a number is
    asked and no chosen sentence states the one asked for."""
    question, rare, needed = asked.question, asked.rare, asked.needed
    quantity = asks_quantity(question)
    if (
        quantity
        and rare is not None
        and not any(
            states_quantity(c.unit.text) and match(rare, c.unit.stems, typos=False) == 1.0
            for c in chosen
        )
    ):
        # "the minimum android version the driver app supports": "a minimum 12-month
        # deprecation window" states a quantity, but only the sentence naming Android is
        # about what was asked, and it states none.
        logger.debug("No sentence stating a quantity holds {!r}", rare)
        return None
    counted = [stem(w) for w in counted_words(question)]
    if counted and not any(
        states_quantity(c.unit.text)
        and any(match(w, c.unit.stems | c.unit.context) > 0.0 for w in counted)
        for c in chosen
    ):
        # "how many partitions does the shipment.events topic have": "the event match rate
        # target is 97%" states a number, but not of partitions.
        logger.debug("No sentence stating a quantity counts {}", counted)
        return None
    places = asked_countries(question) if quantity else frozenset()
    if places and any(about_other_countries(c.unit.text, places) for c in chosen):
        # "the per km rate in Germany": "€0.23 per km (NL), €0.40 per km (PT)" gives other
        # countries' rates, not the one asked for; what is left must answer on its own.
        chosen = [c for c in chosen if not about_other_countries(c.unit.text, places)]
        if not any(states_quantity(c.unit.text) and c.evidence >= needed for c in chosen):
            logger.debug("The quantities found are other countries' than {}", sorted(places))
            return None
    if quantity and not any(states_quantity(c.unit.text) and c.evidence >= needed for c in chosen):
        # "how much medical cover does the travel insurance give": the passage about the
        # insurance, without any amount, does not answer it; nor does a related sentence too
        # weak to answer alone ("book at least 14 days in advance").
        logger.debug("A quantity is asked and no chosen sentence states one")
        return None
    if asks_numbered(question) and not any(has_digit(c.unit.text) for c in chosen):
        # "what port does blackd listen on by default?": "You can start the server on the
        # default port" names the port but does not give it.
        logger.debug("A number is asked for and no chosen sentence holds a digit")
        return None
    return chosen


def _cited_body(
    question: str,
    chosen: list[Scored],
    kept: list[dict[str, Any]],
    replaced: dict[Any, list[dict[str, Any]]],
    conflict: tuple[Any, Scored, str] | None,
) -> str:
    """The answer's text, each sentence with its [n], then the **Sources** it cites."""
    sentences = []
    cited: list[dict[str, Any]] = []
    previous = [None, *(c.unit for c in chosen)]
    shown = [c.unit.shown_after(p) for p, c in zip(previous, chosen, strict=False)]
    said = " ".join([question, *shown])
    for item, text in zip(chosen, shown, strict=True):
        hit = kept[item.unit.hit_index]
        sentence = _with_citation(text, f"[{hit['number']}]")
        if hit not in cited:
            sentence = _named(sentence, hit, said)
            cited.append(hit)
        sentences.append(sentence)
    superseded = _superseded_note(cited, replaced)
    if superseded is not None:
        sentences.append(superseded)
    if conflict is not None:  # said first: which value holds is the first thing to know
        sentences.insert(0, conflict[2])
    sources = "\n".join(_source_lines(sorted(cited, key=lambda h: h["number"])))
    return f"{' '.join(sentences)}\n\n**Sources**\n{sources}"


def _superseded_note(
    cited: list[dict[str, Any]], replaced: dict[Any, list[dict[str, Any]]]
) -> str | None:
    """The first cited document with older versions: which version the answer follows."""
    for hit in cited:
        older = replaced.get(hit.get("document_id"))
        if older:
            dates = sorted({str(h.get("updated_at") or "undated") for h in older})
            return _with_citation(
                f"This follows the current version of {hit.get('title')} "
                f"({hit.get('updated_at') or 'undated'}); the older "
                f"{'version' if len(dates) == 1 else 'versions'} ({', '.join(dates)}) "
                f"{'is' if len(dates) == 1 else 'are'} superseded.",
                f"[{hit['number']}]",
            )
    return None


def _capped(confidence: float, chosen: list[Scored], conflict: bool) -> float:
    """At most `CONFLICT_CONFIDENCE_CAP` when sources disagree, and at most
    `UNTYPED_CONFIDENCE_CAP` when no chosen sentence holds the kind of fact asked for."""
    if conflict:
        confidence = min(confidence, CONFLICT_CONFIDENCE_CAP)
    if not any(c.typed for c in chosen):
        # "how many ...?" answered by sentences holding no number, "who ...?" by none naming
        # anyone: whatever the words shared, the fact asked for is not shown to be there.
        confidence = min(confidence, UNTYPED_CONFIDENCE_CAP)
    return confidence
