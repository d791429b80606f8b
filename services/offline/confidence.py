"""A documents answer's confidence: a logistic model of its features (`confidence_features`),
the trained reader's belief, and the caps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from services.knowledge.repeated_lines import line_key
from services.offline import tuning as offline_tuning
from services.offline.asked import Asked, own_terms
from services.offline.context import AnswerContext
from services.offline.lexicon import EMPTY, Lexicon
from services.offline.match import match
from services.offline.score import Scored
from services.offline.text import stem_set
from services.offline.tuning import ConfidenceTuning, ScoreTuning


def reader_belief(
    context: AnswerContext, question: str, chosen: Sequence[str | None]
) -> float | None:
    """The reader's belief that a chosen sentence states the answer (the most convinced of
    them), or None without a reader."""
    reader = context.reader
    if reader is None:
        return None
    texts = [text for text in chosen if text is not None]
    logits = reader(question, texts) if texts else []
    if not logits:
        return None
    return 1.0 / (1.0 + math.exp(-max(logits)))


def mixed(confidence: float, belief: float | None, tuning: ConfidenceTuning) -> float:
    """`ConfidenceTuning.reader_share` of the confidence is the reader's `belief` (if any)."""
    if belief is None:
        return confidence
    share = tuning.reader_share
    return round((1.0 - share) * confidence + share * belief, 3)


def _leg_strength(hit: dict[str, Any], one_leg: float) -> tuple[float, float, float]:
    """(lexical, semantic, agreement) evidence of one hit, each 0..1."""
    rank = hit.get("bm25_rank")
    distance = hit.get("vector_distance")
    lexical = 1 / math.sqrt(rank) if isinstance(rank, int) and rank > 0 else 0.0
    semantic = max(0.0, min(1.0, 1.0 - float(distance))) if distance is not None else 0.0
    legs = (rank is not None) + (distance is not None)
    agreement = 1.0 if legs == 2 else one_leg if legs == 1 else 0.0
    return lexical, semantic, agreement


#: Who is told each answer's confidence features (`observing_confidence`): the fitting bench.
OBSERVERS: list[Callable[[str, dict[str, float]], None]] = []


@contextmanager
def observing_confidence(callback: Callable[[str, dict[str, float]], None]) -> Iterator[None]:
    """Within the block, `callback(question, features)` hears of every answer composed from
    the documents (not the can't-find ones), with every feature `confidence_features` reads."""
    OBSERVERS.append(callback)
    try:
        yield
    finally:
        OBSERVERS.remove(callback)


def confidence_features(
    best: Scored,
    hit: dict[str, Any],
    chosen: Sequence[Scored] = (),
    needed: float = 0.0,
    scored: Sequence[Scored] = (),
    hits: Sequence[dict[str, Any]] = (),
    whole: float | None = None,
    covered: float = 0.0,
    tuning: ConfidenceTuning | None = None,
) -> dict[str, float]:
    """What an answer's confidence may be read from: its best sentence's `evidence`,
    `coverage` and `meaning`, the margin of its evidence over the bar it had to reach and
    over the runner-up sentence (`gap`), its passage's `lexical`/`semantic` leg strength,
    `agreement` of the two legs, place among the passages retrieved (`passage`: 1 first, 1/2
    second, ...) and fused score over the best one's (`focus`), whether any chosen sentence
    holds the kind of fact asked for (`typed`), how many were chosen; the question's
    similarity to the chosen sentences read together (`whole`; the best sentence's `meaning`
    when not given) and the share of its own words they hold (`covered`, see `covered_share`).
    `tuning`: the answer context's; without one, `tuning.DEFAULT_TUNING`'s as they are now."""
    knobs = offline_tuning.DEFAULT_TUNING.confidence if tuning is None else tuning
    lexical, semantic, agreement = _leg_strength(hit, knobs.one_leg_agreement)
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


def logistic_confidence(features: dict[str, float], tuning: ConfidenceTuning) -> float:
    """The logistic model's confidence (`ConfidenceTuning.bias` and `weights`)."""
    logit = tuning.bias + sum(w * features[name] for name, w in tuning.weights.items())
    return round(1.0 / (1.0 + math.exp(-logit)), 3)


def covered_share(
    terms: Sequence[str],
    chosen: Sequence[Scored],
    lexicon: Lexicon = EMPTY,
    tuning: ScoreTuning | None = None,
) -> float:
    """The share of `terms` (the question's own words) that the chosen sentences or their
    headings hold, typos and shared word starts counting in part (`match.match`)."""
    if not terms:
        return 1.0
    held: set[str] = set().union(*(c.unit.stems | c.unit.context for c in chosen))
    return sum(match(t, held, lexicon=lexicon, tuning=tuning) for t in terms) / len(terms)


def said_share(
    terms: Sequence[str],
    chosen: Sequence[Scored],
    lexicon: Lexicon = EMPTY,
    tuning: ScoreTuning | None = None,
) -> float:
    """The share of `terms` that the chosen sentences say themselves, or the code they show:
    not their headings (a section about the topic whose sentence is about something else)."""
    if not terms:
        return 1.0
    held: set[str] = set()
    for c in chosen:
        held |= c.unit.stems | (stem_set(c.unit.code) if c.unit.code else set())
    return sum(match(t, held, lexicon=lexicon, tuning=tuning) for t in terms) / len(terms)


#: The action a how-to question asks for: the word after "how do I", "how can we", "how to"
#: ("how do I *undo* the last commit"), unless it is a word of no action ("how do I get",
#: "how to make": `_NO_ACTION`).
_ASKED_ACTION = re.compile(
    r"\bhow\s+(?:do|can|could|should|would|shall|may)\s+(?:i|we|you|one)\s+([a-z][a-z-]+)"
    r"|\bhow\s+to\s+([a-z][a-z-]+)",
    re.IGNORECASE,
)
_NO_ACTION = frozenset({"be", "get", "go", "have", "make", "do", "use", "tell", "know", "find"})


def asked_action(question: str) -> str | None:
    """The stem of the action a how-to question asks for, or None (no such question, or a
    verb that says no action: "how do I get ...")."""
    found = _ASKED_ACTION.search(question)
    if found is None:
        return None
    verb = (found.group(1) or found.group(2)).lower()
    return None if verb in _NO_ACTION else next(iter(stem_set(verb)), None)


def action_held(
    question: str,
    chosen: Sequence[Scored],
    lexicon: Lexicon = EMPTY,
    tuning: ScoreTuning | None = None,
) -> float:
    """Whether the chosen sentences, their headings or the code they show hold the action a
    how-to question asks for ("undo" for "how do I undo the last commit"): 1 when they do
    (or nothing is asked to be done), 0 when they do not: a passage about the topic that
    never names the action likely answers another question about it. Matched as question
    words are (`match.match`: a synonym or a shared start counts in part)."""
    action = asked_action(question)
    if action is None:
        return 1.0
    held: set[str] = set()
    for c in chosen:
        held |= c.unit.stems | c.unit.context | (stem_set(c.unit.code) if c.unit.code else set())
    return match(action, held, lexicon=lexicon, tuning=tuning)


def _vector_place(hit: dict[str, Any], hits: Sequence[dict[str, Any]]) -> float:
    """1/(1 + the hit's place among the retrieved passages by meaning), 0 when the meaning
    leg did not find it: with `lexical`, whether the passage is first in both legs."""
    distance = hit.get("vector_distance")
    if distance is None:
        return 0.0
    closer = sum(
        1
        for h in hits
        if h.get("vector_distance") is not None and float(h["vector_distance"]) < float(distance)
    )
    return 1.0 / (1 + closer)


def _boilerplate_share(text: str, boilerplate: frozenset[str]) -> float:
    """The share of a passage's lines that the knowledge base's documents repeat."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not boilerplate:
        return 0.0
    return sum(line_key(line) in boilerplate for line in lines) / len(lines)


def passage_features(
    asked: Asked,
    hit: dict[str, Any],
    hits: Sequence[dict[str, Any]],
    chosen: Sequence[Scored],
) -> dict[str, float]:
    """What the passage an answer quotes says of whether it answers the question asked rather
    than a neighbouring one: its place by meaning (`vector_place`; `lexical` is its place by
    words), how far its fused score leads the next passage's (`lead`), how short it is
    (`short`: 1 for an empty one, 0 from 1,000 characters), the share of its lines that are
    boilerplate (`boiler`) and the share of the question's own words in the chosen
    sentences' headings (`heading`). Recorded for the fitting bench (`bench.confidence_fit`):
    the model reads only the names in `ConfidenceTuning.weights`."""
    context = asked.context
    scores = sorted((float(h.get("score") or 0.0) for h in hits), reverse=True)
    top = scores[0] if scores else 0.0
    lead = (top - scores[1]) / top if len(scores) > 1 and top > 0 else 1.0
    text = str(hit.get("text") or hit.get("chunk") or "")
    terms = own_terms(asked)
    headings: set[str] = set().union(*(c.unit.context for c in chosen))
    heading = (
        sum(match(t, headings, lexicon=context.lexicon, tuning=context.tuning.score) for t in terms)
        / len(terms)
        if terms
        else 1.0
    )
    return {
        "vector_place": _vector_place(hit, hits),
        "lead": lead,
        "short": max(0.0, 1.0 - len(text) / 1000),
        "boiler": _boilerplate_share(text, context.boilerplate),
        "heading": heading,
    }


def refused_confidence(
    asked: Asked,
    best: Scored,
    best_hit: dict[str, Any],
    scored: list[Scored],
    kept: list[dict[str, Any]],
) -> float:
    """The confidence an answer of the best sentence alone would have had."""
    covered = covered_share(
        own_terms(asked), [best], asked.context.lexicon, asked.context.tuning.score
    )
    features = confidence_features(
        best,
        best_hit,
        (best,),
        asked.needed,
        scored,
        kept,
        covered=covered,
        tuning=asked.context.tuning.confidence,
    )
    return logistic_confidence(features, asked.context.tuning.confidence)


def conservative(confidence: float, passage: float, tuning: ConfidenceTuning) -> float:
    """The confidence less for a passage the search ranked lower (`passage`: 1 for the first,
    1/2 for the second, ...; `ConfidenceTuning.passage_weight`), under the default
    `ceiling` that feedback calibrates away."""
    scaled = confidence * (1.0 - tuning.passage_weight * (1.0 - passage)) * tuning.ceiling
    return round(scaled, 3)


def capped(confidence: float, typed: bool, conflict: bool, tuning: ConfidenceTuning) -> float:
    """At most `ConfidenceTuning.conflict_cap` when sources disagree, and at most
    `untyped_cap` when no chosen sentence holds the kind of fact asked for (not `typed`)."""
    if conflict:
        confidence = min(confidence, tuning.conflict_cap)
    if not typed:
        # "how many ...?" answered by sentences holding no number, "who ...?" by none naming
        # anyone: whatever the words shared, the fact asked for is not shown to be there.
        confidence = min(confidence, tuning.untyped_cap)
    return confidence


def shown_confidence(features: dict[str, float], tuning: ConfidenceTuning) -> float:
    """The confidence a documents answer reports, from its `features` alone (so that the
    fitting bench scores what people are shown): the logistic model, mixed with the reader's
    `belief` when there is one (absent or negative: none), less for a lower-ranked
    `passage`, under the ceiling and the caps (`typed`, `conflict`)."""
    confidence = logistic_confidence(features, tuning)
    belief = features.get("belief", -1.0)
    if belief >= 0:
        confidence = mixed(confidence, belief, tuning)
    confidence = conservative(confidence, features["passage"], tuning)
    return capped(confidence, bool(features["typed"]), bool(features.get("conflict")), tuning)
