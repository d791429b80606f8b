"""The sentences an answer takes: the best one, the one holding the kind of fact asked for,
close runners-up, the neighbours that complete them, a remedy; and the checks that refuse an
answer that does not state the quantity or contact asked for.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from loguru import logger

from services.offline.asked import Asked
from services.offline.conflicts import disagreement, same_subject_by
from services.offline.context import DEFAULT_CONTEXT, AnswerContext
from services.offline.lexicon import EMPTY, Lexicon
from services.offline.match import match
from services.offline.places import about_other_countries, asked_countries
from services.offline.question import (
    INTENT_METHOD,
    INTENT_WHO,
    asks_numbered,
    asks_only_how,
    asks_quantity,
    asks_remedy,
    counted_words,
    states_quantity,
)
from services.offline.read import Unit
from services.offline.render import is_question
from services.offline.score import DOING_VERBS, Scored
from services.offline.semantic import SentenceSimilarity
from services.offline.text import has_digit, jaccard, stem, stem_set
from services.offline.tuning import ChooseTuning, ConfidenceTuning, ScoreTuning
from services.offline.versions import family
from use_cases.shared.content_log import content_log


def _choose(
    scored: list[Scored],
    best: Scored,
    min_evidence: float,
    asks_who: bool = False,
    asked: frozenset[str] = frozenset(),
    lead_with_typed: bool = True,
    context: AnswerContext = DEFAULT_CONTEXT,
) -> list[Scored]:
    """The best sentence, then (if it lacks the kind of fact asked for) the best one that has
    it (for "who", a name within `ChooseTuning.next_to_best` sentences of the best one counts
    whatever its evidence), then close runners-up; never two from one list, never near-duplicates.

    `asked`: the words of the clause that asks, in a message that also tells what happened
    ("got a warning that the cert has 20 days left.. isn't it supposed to renew by itself?").
    When the chosen sentences hold none of them, the best sentence that does is added: the
    best sentence may only restate the story. `lead_with_typed=False`: the kind of fact asked
    for is too loosely recognised to lead in place of the best sentence (a way to do
    something: a manual describes its settings in the imperative, "Add syntax highlighting")."""
    t, lexicon, scoring = context.tuning.choose, context.lexicon, context.tuning.score

    def distinct(candidate: Scored, chosen: list[Scored]) -> bool:
        return not any(
            (candidate.unit.group is not None and candidate.unit.group == c.unit.group)
            or jaccard(frozenset(candidate.unit.stems), frozenset(c.unit.stems)) > t.near_duplicate
            for c in chosen
        )

    def fits(candidate: Scored, chosen: list[Scored]) -> bool:
        return candidate.evidence >= min_evidence and distinct(candidate, chosen)

    def bar(candidate: Scored) -> float:
        # The kind of fact asked for (a name for "who") may sit in the best sentence's own
        # section in other words ("sign off" / "authorise"): a lower bar there.
        same_section = candidate.unit.hit_index == best.unit.hit_index
        return min_evidence * (t.same_section_evidence if same_section else 1.0)

    def next_to_best(candidate: Scored) -> bool:
        return (
            asks_who
            and candidate.unit.hit_index == best.unit.hit_index
            and abs(candidate.unit.position - best.unit.position) <= t.next_to_best
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
        if len(chosen) >= t.max_sentences or candidate.total < t.extra_sentence_ratio * best.total:
            break
        if candidate not in chosen and fits(candidate, chosen):
            chosen.append(candidate)

    def answers_the_ask(candidate: Scored) -> bool:
        return any(
            match(w, candidate.unit.stems, typos=False, lexicon=lexicon, tuning=scoring) > 0.0
            for w in asked
        )

    if asked and not any(answers_the_ask(c) for c in chosen):
        answering = next(
            (c for c in scored[1:] if answers_the_ask(c) and fits(c, chosen)),
            None,
        )
        if answering is not None:
            chosen = [*chosen[: t.max_sentences - 1], answering]
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


def _needs_next(item: Scored, terms: set[str], context: AnswerContext) -> bool:
    """Whether the sentence after `item` belongs in the answer with it: `item` asks a
    question, introduces something (ends with ":"), or only restates the question's words
    (`ChooseTuning.echo_novel_stems`)."""
    text = item.unit.text.rstrip()
    novel = {
        s
        for s in item.unit.stems
        if match(s, terms, typos=False, lexicon=context.lexicon, tuning=context.tuning.score) == 0.0
    }
    return (
        is_question(text)
        or text.endswith(":")
        or len(novel) <= context.tuning.choose.echo_novel_stems
    )


def _with_neighbours(
    chosen: list[Scored],
    scored: list[Scored],
    terms: set[str],
    wants_way: bool = False,
    context: AnswerContext = DEFAULT_CONTEXT,
) -> list[Scored]:
    """The chosen sentences, each of the first two followed by the next sentence of its own
    section when that one continues it (`_CONTINUING`), goes on describing the same term
    (`Unit.describes_further`) or when it needs one (`_needs_next`);
    a question is replaced by what follows it; a lead that points back (`_CONTINUING`: "That
    means ...") comes after the sentence before it. Asked for a way (`wants_way`), a sentence
    is followed by the instruction after it ("... you can push a context manually." / "Use
    app_context() in a with block, ..."): that is the way. A carried sentence has the
    evidence of the one it continues (they make one statement). At most
    `ChooseTuning.max_sentences` + 1 in all."""
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
    limit = context.tuning.choose.max_sentences + 1
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
            and not is_question(antecedent.unit.text)
            and id(antecedent.unit) not in taken
        ):
            # "That means that records with equal keys keep their order" leads only with the
            # sentence it points back to ("Sorts are guaranteed to be stable."): one statement,
            # which takes no other sentence's place.
            limit += 1
            taken.add(id(antecedent.unit))
            result.append(_carried(antecedent, item))
        next_item = following.get((item.unit.hit_index, item.unit.position))
        carries = (
            index < context.tuning.choose.carry_next_within
            and next_item is not None
            and id(next_item.unit) not in taken
            and (
                _needs_next(item, terms, context)
                or _CONTINUING.match(next_item.unit.text) is not None
                or _GOES_ON_ABOUT_IT.match(next_item.unit.text) is not None
                or (wants_way and _INSTRUCTION.match(next_item.unit.text) is not None)
                or next_item.unit.describes_further(item.unit)  # one definition, one statement
            )
        )
        if not is_question(item.unit.text) or not carries:
            result.append(item)
            taken.add(id(item.unit))
        if carries and next_item is not None:
            taken.add(id(next_item.unit))
            result.append(_carried(next_item, item))
            then = following.get((next_item.unit.hit_index, next_item.unit.position))
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
    chosen: list[Scored],
    scored: list[Scored],
    terms: set[str],
    bar: float,
    lexicon: Lexicon = EMPTY,
    tuning: ScoreTuning | None = None,
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
    missing = {
        t
        for t in terms
        if match(t, first.stems, lexicon=lexicon, tuning=tuning) == 0.0 and t not in first.context
    }
    if not missing:
        return chosen
    taken = {id(c.unit) for c in chosen}
    for item in scored:  # best first
        unit = item.unit
        if (
            unit.hit_index != first.hit_index
            or abs(unit.position - first.position) != 1
            or id(unit) in taken
            or is_question(unit.text)
            or item.evidence < bar
        ):
            continue
        said = unit.stems | stem_set(unit.code) if unit.code else unit.stems
        held = {t for t in missing if match(t, said, lexicon=lexicon, tuning=tuning) > 0.0}
        if held:
            content_log.debug("The next sentence holds {}: {!r}", sorted(held), unit.text[:80])
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


def _with_remedy(chosen: list[Scored], scored: list[Scored], tuning: ChooseTuning) -> list[Scored]:
    """The chosen sentences and, when none says what to do, the first sentence that does
    (`Scored.typed` for a way to do something) within `ChooseTuning.remedy_reach` sentences
    after them in the same passage: asked how to fix a problem the message describes, the best
    matches restate the problem ("the naive pattern doesn't work because of the greedy nature
    of .*") and the passage goes on to the fix ("the solution is to use the non-greedy
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
        and 0 < s.unit.position - last[s.unit.hit_index] <= tuning.remedy_reach
    ]
    if not remedies:
        return chosen
    remedy = min(remedies, key=lambda s: (s.unit.position - last[s.unit.hit_index], -s.total))
    content_log.debug("The passage's remedy follows: {!r}", remedy.unit.text[:80])
    return [*chosen[: tuning.max_sentences], remedy]


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


def disagreeing_sources(
    chosen: list[Scored],
    scored: list[Scored],
    kept: list[dict[str, Any]],
    needed: float,
    similarity: SentenceSimilarity | None,
    tuning: ConfidenceTuning,
) -> tuple[Scored, Scored, str] | None:
    """Two answering sentences of different current documents that state different values of
    one measure (`conflicts.py`): the chosen one, the other (maybe not chosen yet), and the
    sentence that says so."""
    compared = tuning.compared_sentences + len(chosen)
    candidates = chosen + [s for s in scored[:compared] if s not in chosen]

    lineage = [family(kept[c.unit.hit_index]) for c in candidates]
    texts: dict[Any, list[str]] = {}
    for hit in kept:
        texts.setdefault(family(hit), []).append(str(hit.get("text") or ""))
    found = disagreement(
        [c.unit.text for c in candidates],
        lineage,
        lambda i: candidates[i].evidence >= needed,
        same_subject_by(similarity, tuning),
        {key: " ".join(parts) for key, parts in texts.items()},
    )
    if found is None or found.first >= len(chosen):
        return None
    first, second = candidates[found.first], candidates[found.second]
    a, b = kept[first.unit.hit_index], kept[second.unit.hit_index]
    content_log.debug(
        "Sources disagree on {}: {} / {}", found.unit, found.first_values, found.second_values
    )
    note = (
        f"These sources disagree: {a.get('title')} [{a['number']}] says "
        f"{' / '.join(found.first_values)}, {b.get('title')} [{b['number']}] says "
        f"{' / '.join(found.second_values)}; check which one is in force."
    )
    return first, second, note


def led_by_the_contact_asked(asked: Asked, scored: list[Scored]) -> list[Scored] | None:
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


def answer_sentences(asked: Asked, scored: list[Scored], best: Scored) -> list[Scored]:
    """The best sentence and those that complete it: its neighbours, a complement, a remedy."""
    question, terms, background = asked.question, asked.terms, asked.background
    context, tuning = asked.context, asked.context.tuning.choose
    asks_who = bool(INTENT_WHO.search(question))
    chosen = _choose(
        scored,
        best,
        tuning.extra_sentence_evidence * asked.needed,
        asks_who,
        frozenset(asked.asked - set(background)),
        lead_with_typed=not asks_only_how(question),
        context=context,
    )
    wants_way = bool(INTENT_METHOD.search(question))
    chosen = _with_neighbours(chosen, scored, set(terms), wants_way, context)
    chosen = _with_complement(
        chosen,
        scored,
        set(terms) - background,
        tuning.extra_sentence_evidence * asked.needed,
        context.lexicon,
        context.tuning.score,
    )
    if asks_remedy(question):
        chosen = _with_remedy(chosen, scored, tuning)
    return chosen


def with_the_quantity_asked(asked: Asked, chosen: list[Scored]) -> list[Scored] | None:
    """`chosen`, less what gives other countries' figures; None when a quantity or a number is
    asked and no chosen sentence states the one asked for."""
    question, rare, needed = asked.question, asked.rare, asked.needed
    lexicon, scoring = asked.context.lexicon, asked.context.tuning.score
    quantity = asks_quantity(question)
    if (
        quantity
        and rare is not None
        and not any(
            states_quantity(c.unit.text)
            and match(rare, c.unit.stems, typos=False, lexicon=lexicon, tuning=scoring) == 1.0
            for c in chosen
        )
    ):
        # "the minimum android version the driver app supports": "a minimum 12-month
        # deprecation window" states a quantity, but only the sentence naming Android is
        # about what was asked, and it states none.
        content_log.debug("No sentence stating a quantity holds {!r}", rare)
        return None
    counted = [stem(w) for w in counted_words(question)]
    if counted and not any(
        states_quantity(c.unit.text)
        and any(
            match(w, c.unit.stems | c.unit.context, lexicon=lexicon, tuning=scoring) > 0.0
            for w in counted
        )
        for c in chosen
    ):
        # "how many partitions does the shipment.events topic have": "the event match rate
        # target is 97%" states a number, but not of partitions.
        content_log.debug("No sentence stating a quantity counts {}", counted)
        return None
    places = asked_countries(question) if quantity else frozenset()
    if places and any(about_other_countries(c.unit.text, places) for c in chosen):
        # "the per km rate in Germany": "€0.23 per km (NL), €0.40 per km (PT)" gives other
        # countries' rates, not the one asked for; what is left must answer on its own.
        chosen = [c for c in chosen if not about_other_countries(c.unit.text, places)]
        if not any(states_quantity(c.unit.text) and c.evidence >= needed for c in chosen):
            content_log.debug("The quantities found are other countries' than {}", sorted(places))
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


def from_one_place(chosen: list[Scored]) -> tuple[list[Scored], list[list[Scored]]]:
    """The chosen sentences of one passage, in the order the answer reads them (the fact
    asked for first, a neighbour that completes a sentence next to it), each with the code it
    shows (whole, up to `ReadTuning.block_chars`); and the chosen sentences of each other
    passage (best passage first), which the answer shows apart, each passage on its own, as
    "see also". Two fragments of two sections read as one instruction say what neither says
    ("undo the commit" from one, "reset --hard" from another): an answer quotes one place,
    and points to the other. The place is the passage whose chosen sentences score most
    together (the first chosen's on a tie): a passage two or three chosen sentences come
    from says more of what was asked than one whose single sentence led. The prose is as
    long as the sentences chosen (`ChooseTuning.max_sentences` and the neighbours that
    complete them): nothing chosen is left out."""
    support: dict[int, float] = {}
    for c in chosen:
        support[c.unit.hit_index] = support.get(c.unit.hit_index, 0.0) + c.total
    place = max(support, key=lambda hit: support[hit])  # dicts keep the chosen order
    here = [c for c in chosen if c.unit.hit_index == place]
    others = sorted((hit for hit in support if hit != place), key=lambda hit: -support[hit])
    return here, [[c for c in chosen if c.unit.hit_index == hit] for hit in others]
