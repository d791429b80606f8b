"""Follow-ups and the search query: whether a message goes on from the previous question,
the whole question it stands for, and the standalone query to search with.

Rules: everything is recomputed from the questions (no state); a short follow-up with a
pronoun borrows the previous question's key terms; a follow-up's own words replace the words
of the previous question they stand in for (the same preposition's object, a word of the same
shape, a name of the same kind).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.knowledge.fts_query import words
from services.knowledge.spelling import english_words
from services.offline import data
from services.offline.question import ASKING_WORDS, IDENTIFIER, entities_in
from services.offline.text import STOP, content_stems, stem, stem_set
from services.offline.tuning_question import DEFAULT_QUESTION_TUNING, QuestionTuning
from use_cases.shared.sentences import split_sentences

#: Pronouns: a short message with one goes on from the previous question.
_PRONOUNS = data.words("question_pronouns")

#: Pronouns that point at what came before: "how do i remove it?".
_POINTING = data.words("question_pointing")

#: How a message that goes on from the previous one opens: "and in lisbon?", "what about
#: sev3?", "what if i'm fully remote?" (the case changed, the topic kept), "same amount in
#: canada?" (the same thing asked of another case).
_FOLLOW_UP_OPENERS = (
    "and ",
    "what about",
    "how about",
    "what if ",
    "also ",
    "same ",
    "and what",
)

#: Words acknowledging the previous answer before a follow-up: "ok and what happens then?".
_ACKNOWLEDGING = re.compile(
    r"^(?:(?:ok(?:ay)?|k|so|right|cool|great|thanks|thank\s+you|thx|got\s+it|hm+|oh|ah|"
    r"alright|sure|nice|perfect|understood|makes\s+sense)\b[\s,.!]*)+",
    re.IGNORECASE,
)


def _is_follow_up(question: str, tuning: QuestionTuning) -> bool:
    """Whether the message goes on from the previous question: it opens like a follow-up,
    or is short with a pronoun, or asks about "it" in a short sentence."""
    lowered = question.lower().strip()
    if _ACKNOWLEDGING.sub("", lowered).startswith(_FOLLOW_UP_OPENERS):
        return True
    tokens = words(lowered)
    if len(tokens) <= tuning.follow_up_words and any(w in _PRONOUNS for w in tokens):
        return True
    # A longer message that asks in a short sentence about "it": "done with it now. how do i
    # remove it? it's got some untracked junk files in it".
    return any(
        2 < len(asked) <= tuning.short_asking_words
        and asked[0] in ASKING_WORDS
        and any(w in _POINTING for w in asked[1:])
        for asked in map(words, split_sentences(lowered, typed=True))
    )


@dataclass(frozen=True)
class SearchQuery:
    """The standalone query, and the words it borrowed from the previous question (context:
    they say what the follow-up is about, the follow-up's own words say what it asks)."""

    text: str
    borrowed: tuple[str, ...] = ()
    #: The whole question the follow-up stands for when its words replaced earlier ones
    #: (`rewritten_follow_up`): what it means, read alone.
    whole: str | None = None


def search_query_for(question: str, previous_questions: Sequence[str]) -> str:
    """The standalone search query for an elliptical follow-up (see `follow_up_query`)."""
    return follow_up_query(question, previous_questions).text


def follow_up_query(
    question: str,
    previous_questions: Sequence[str],
    tuning: QuestionTuning = DEFAULT_QUESTION_TUNING,
) -> SearchQuery:
    """The standalone search query for an elliptical follow-up, from the previous question.

    The follow-up's own words replace the previous question's words they stand in for: the
    words after the same preposition ("max hotel per night in rotterdam" + "and in toronto?"
    -> "max hotel night toronto"), or a word of the same shape ("sev1 ack time" + "what about
    sev3" -> "ack time sev3"); the other words of the previous question are kept.
    """
    question = " ".join(question.split())
    if not previous_questions or not _is_follow_up(question, tuning):
        return SearchQuery(question)
    whole = standalone_question(previous_questions[-1], previous_questions[:-1], tuning=tuning)
    previous = [w for w in words(whole) if w]
    own_words = [w for w in words(question) if w not in STOP]
    own = set(content_stems(question))
    dropped = _replaced_words(words(question), previous, own_words)
    rewritten = rewritten_follow_up(question, previous_questions, tuning=tuning)
    swapped = substituted(whole.rstrip(" ?"), _OPENER.sub("", question).rstrip(" ?"))
    if swapped is not None:  # "and \\Huge?" after "how big is \\footnotesize ...?"
        dropped.update(words(" ".join(swapped[1])))
    if asks_its_own_question(question):
        asking = _asking_words(previous)
        if any(w not in STOP and w not in asking for w in previous):  # a topic is left
            dropped |= asking
    borrowed: list[str] = []
    for word in previous:
        if word in STOP or stem(word) in own or word in borrowed or word in dropped:
            continue
        if len(word) < 2 and not word.isdigit():  # the "s" of "what's"
            continue
        borrowed.append(word)
    borrowed = borrowed[: tuning.borrowed_words]
    if not borrowed:
        return SearchQuery(question, whole=rewritten)
    return SearchQuery(f"{' '.join(borrowed)} {question}".strip(), tuple(borrowed), whole=rewritten)


_OPENER = re.compile(
    r"^(?:and|also|what\s+about|how\s+about|same\s+for|and\s+what\s+about)\b[\s,]*",
    re.IGNORECASE,
)


def _is_fragment(question: str) -> bool:
    """Up to three words, one of them content, with no name of their own ("what tier?",
    "why?"; not "who owns billing?"): for a table
    lookup these only make sense with the previous question's row."""
    tokens = words(question)
    return (
        0 < len(tokens) <= 3
        and len(content_stems(question)) <= 1
        and not IDENTIFIER.search(question)
        and not entities_in(question)
    )


#: A word numbered by a number that follows it: "tier 2", "SEV2", "Q3", "level 4".
_NUMBERED = re.compile(r"\b([^\W\d_]+)\s?(\d+)\b")


def standalone_question(
    question: str,
    previous_questions: Sequence[str],
    values: Sequence[tuple[str, str]] = (),
    tuning: QuestionTuning = DEFAULT_QUESTION_TUNING,
) -> str:
    """An elliptical follow-up as the whole question it stands for, for a table lookup.

    "how many people are based in toronto?" + "and in lisbon?" -> "how many people are based
    in lisbon"; "who owns shipment-api?" + "what about notify-service?" -> "who owns
    notify-service" (an identifier, or a value of the same table column as the one it
    replaces: `values` are (value, column) pairs); otherwise the follow-up gets the names the
    previous question held ("what's the target for ETA accuracy?" + "and how often is it
    measured?" -> "how often is it measured, ETA accuracy"), or failing that, the whole
    previous question. The previous question is itself made whole first (chains of
    follow-ups: "who owns shipment-api" / "what language is it in" / "what tier?").
    """
    return _standalone(question, previous_questions, values, tuning)[0]


def rewritten_follow_up(
    question: str,
    previous_questions: Sequence[str],
    values: Sequence[tuple[str, str]] = (),
    tuning: QuestionTuning = DEFAULT_QUESTION_TUNING,
) -> str | None:
    """The whole question an elliptical follow-up stands for when its words took the place
    of words of the previous question ("and for IntFlag?" -> "what's the default boundary
    for IntFlag"); None when it is no follow-up or only adds to the previous question."""
    text, rewritten = _standalone(question, previous_questions, values, tuning)
    return text if rewritten else None


def _standalone(
    question: str,
    previous_questions: Sequence[str],
    values: Sequence[tuple[str, str]],
    tuning: QuestionTuning,
) -> tuple[str, bool]:
    """`standalone_question`, and whether the follow-up's words replaced earlier ones."""
    question = " ".join(question.split())
    if not previous_questions or not (_is_follow_up(question, tuning) or _is_fragment(question)):
        return question, False
    whole = standalone_question(previous_questions[-1], previous_questions[:-1], values, tuning)
    previous = whole.rstrip(" ?")
    own = _OPENER.sub("", question).rstrip(" ?")
    if not own:
        return previous, False
    if _asks_about_its_own_name(own, values):
        # "and what is Ana Lima's job title?" after "who is the manager of Bo Chen?": the
        # follow-up names its row and asks its own question (a title, not the manager): the
        # earlier question's asking words must not come back.
        return own, False
    lead = own.split()[0].lower()
    if lead in _PREPOSITIONS:
        at = previous.lower().rfind(f" {lead} ")
        if at >= 0:
            return f"{previous[:at]} {own}", True
    replacements = [
        (old, new)
        for new in IDENTIFIER.findall(own)
        for old in IDENTIFIER.findall(previous)
        if old.lower() != new.lower()
    ]
    lowered_own, lowered_previous = own.lower(), previous.lower()
    for numbered in _NUMBERED.finditer(own):  # "tier 2" for "tier 1", "SEV2" for "SEV1"
        replacements += [
            (old.group(0), numbered.group(0))
            for old in _NUMBERED.finditer(previous)
            if old.group(1).lower() == numbered.group(1).lower()
            and old.group(2) != numbered.group(2)
        ]
    columns_of_own = {
        column: value for value, column in values if _holds(lowered_own, value.lower())
    }
    replacements += [
        (value, columns_of_own[column])
        for value, column in values
        if column in columns_of_own
        and value.lower() != columns_of_own[column].lower()
        and _holds(lowered_previous, value.lower())
    ]
    for old, new in replacements:
        start = lowered_previous.find(old.lower())
        return f"{previous[:start]}{new}{previous[start + len(old) :]}", True
    swapped = substituted(previous, own)
    if swapped is not None:
        return swapped[0], True
    own_names = _names_in(own, values)
    previous_names = [n for n in _names_in(previous, values) if n.lower() not in lowered_own]
    if previous_names and not own_names:
        return f"{own}, {', '.join(previous_names)}", False
    return f"{previous}, {own}", False


#: A token as written: letters, digits and the marks that make names of code ("\\Huge",
#: "color.cfg", "logging.WARNING", "IntFlag").
_TOKEN = re.compile(r"\\?[^\W_][\w.+#-]*", re.UNICODE)

#: Endings English words share by inflection or derivation, not by naming one kind of thing.
_COMMON_ENDINGS = data.words("question_common_endings")


def _kin(old: str, new: str) -> bool:
    """Whether token `new` names the same kind of thing as `old`, by their shape alone: two
    commands ("\\footnotesize", "\\Huge"), two files of one type ("graphics.cfg",
    "color.cfg"), two capitalised constants ("WARNING", "DEBUG"), one name ending in the other
    ("Flag", "IntFlag") or both ending alike beyond inflection ("smallint", "bigint")."""
    if old.lower() == new.lower():
        return False
    if old.startswith("\\") or new.startswith("\\"):
        return old.startswith("\\") and new.startswith("\\")
    old_ext, new_ext = old.rpartition(".")[2], new.rpartition(".")[2]
    if "." in old and "." in new and old_ext.lower() == new_ext.lower() and old_ext.isalpha():
        return True
    if len(old) >= 3 and len(new) >= 3 and old.isupper() and new.isupper() and old.isalpha():
        return new.isalpha()
    a, b = old.lower(), new.lower()
    if not (a.isalpha() and b.isalpha()) or min(len(a), len(b)) < 3:
        return False
    if a.endswith(b) or b.endswith(a):
        return True
    english = english_words()
    if a in english and b in english:  # "report" and "support" are not two of a kind
        return False
    shared = 0
    while shared < min(len(a), len(b)) and a[-1 - shared] == b[-1 - shared]:
        shared += 1
    return shared >= 3 and a[-shared:] not in _COMMON_ENDINGS and shared < min(len(a), len(b))


def substituted(previous: str, own: str) -> tuple[str, list[str]] | None:
    """The previous question with the follow-up's words in place of the ones they stand for,
    and the words replaced; None when nothing in the previous question is of their kind.

    Two rules, both read from the words alone: a name of the follow-up replaces a name of the
    same shape (`_kin`: "how big is \\footnotesize in the article class?" + "and \\Huge?" ->
    "how big is \\Huge in the article class"); a follow-up ending in a noun the previous
    question holds replaces the word before that noun ("what's the default report level?" +
    "and the halt level?" -> "what's the default halt level")."""
    asking = _QUESTION_WORDS | _AUXILIARIES | (_REFERRING - {"one", "ones"})
    if any(w in asking for w in words(own)):
        return None  # a question of its own ("and how long must they be?"), not a fragment
    own_tokens = [t.rstrip(".") for t in _TOKEN.findall(own)]
    own_tokens = [t for t in own_tokens if t and t.lower() not in STOP]
    previous_tokens = [(m.start(), m.group(0).rstrip(".")) for m in _TOKEN.finditer(previous)]
    for new in own_tokens:
        for start, old in previous_tokens:
            parts = [(start, old)]
            if "." in old and not old.startswith("\\"):  # "logging.WARNING": its last name
                head = old.rpartition(".")[2]
                parts.append((start + len(old) - len(head), head))
            for at, part in parts:
                if part.lower() not in STOP and _kin(part, new):
                    return f"{previous[:at]}{new}{previous[at + len(part) :]}", [part]
    own_words = [w for w in words(own) if w not in STOP]
    if len(own_words) < 2:
        return None
    head, modifiers = own_words[-1], own_words[:-1]
    previous_words = [(m.start(), m.group(0)) for m in re.finditer(r"[^\W_]+", previous)]
    lowered = [w.lower() for _, w in previous_words]
    if stem(head) not in {stem(w) for w in lowered} or all(m in lowered for m in modifiers):
        return None
    at = next(i for i, w in enumerate(lowered) if stem(w) == stem(head))
    before = at - 1
    if before < 0 or lowered[before] in STOP or lowered[before] in modifiers:
        return None
    start, old = previous_words[before]
    new = " ".join(m for m in modifiers if m not in lowered)
    return f"{previous[:start]}{new}{previous[start + len(old) :]}", [old]


def substituted_by_meaning(
    query: SearchQuery,
    question: str,
    previous_questions: Sequence[str],
    similarities: Callable[[str, Sequence[str]], list[float]],
    tuning: QuestionTuning = DEFAULT_QUESTION_TUNING,
) -> SearchQuery:
    """`query` for a follow-up of one word ("what about latex?") whose kind no shape tells
    (`substituted`): the previous question's word closest in meaning takes its place when it
    is clearly the closest ("default footnote reference style in html output?" -> "... in
    latex output"); that word leaves the search query. Unchanged otherwise."""
    if query.whole is not None or not query.borrowed or not previous_questions:
        return query
    own = _OPENER.sub("", " ".join(question.split())).rstrip(" ?")
    own_words = [w for w in words(own) if w not in STOP]
    asking = _QUESTION_WORDS | _AUXILIARIES | _REFERRING
    if len(own_words) != 1 or any(w in asking for w in words(own)):
        return query
    earlier = standalone_question(previous_questions[-1], previous_questions[:-1], tuning=tuning)
    whole = earlier.rstrip(" ?")
    own_stem = stem(own_words[0])
    candidates = [
        m
        for m in re.finditer(r"[^\W_]+", whole)
        if m.group(0).lower() not in STOP
        and m.group(0).lower() not in _QUESTION_WORDS
        and stem(m.group(0).lower()) != own_stem
    ]
    if len(candidates) < 2:
        return query
    scores = similarities(own_words[0], [m.group(0) for m in candidates])
    ranked = sorted(zip(scores, range(len(candidates)), strict=True), reverse=True)
    (best, at), (runner_up, _) = ranked[0], ranked[1]
    if best < tuning.kin_by_meaning or best - runner_up < tuning.kin_margin:
        return query
    replaced = candidates[at]
    rewritten = f"{whole[: replaced.start()]}{own}{whole[replaced.end() :]}"
    borrowed = tuple(w for w in query.borrowed if w != replaced.group(0).lower())
    text = f"{' '.join(borrowed)} {' '.join(question.split())}".strip()
    return SearchQuery(text, borrowed, whole=rewritten)


def _asks_about_its_own_name(own: str, values: Sequence[tuple[str, str]]) -> bool:
    """Whether a follow-up is a whole question of its own: it opens with a question word,
    names a row (a table value or an identifier) and asks for something besides the name."""
    tokens = words(own)
    if not tokens or tokens[0] not in _QUESTION_WORDS:
        return False
    names = [n for n in _names_in(own, values) if n.lower() in {v.lower() for v, _ in values}]
    names += IDENTIFIER.findall(own)
    if not names:
        return False
    rest = own
    for name in names:
        rest = re.sub(re.escape(name), " ", rest, flags=re.IGNORECASE)
    return bool(content_stems(re.sub(r"['’]s\b", " ", rest)))


def _names_in(text: str, values: Sequence[tuple[str, str]]) -> list[str]:
    """Table values, identifiers and capitalised names the text holds, longest first."""
    lowered = text.lower()
    found = [v for v, _ in values if len(v) >= 3 and _holds(lowered, v.lower())]
    found += IDENTIFIER.findall(text)
    for entity in entities_in(text):  # lower-cased: take the words as written
        at = lowered.find(entity)
        if len(entity) >= 3 and at >= 0:
            found.append(text[at : at + len(entity)])
    unique: list[str] = []
    for name in sorted(found, key=len, reverse=True):
        if not any(name.lower() in kept.lower() for kept in unique):
            unique.append(name)
    return unique


def _holds(text: str, phrase: str) -> bool:
    """Whether `text` holds `phrase` as whole words. The substring test first: it is exact as
    a necessary condition and rules out nearly every table value at C speed (the pattern, one
    per value, would not even stay in `re`'s cache of compiled patterns)."""
    return phrase in text and re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


#: Prepositions: "and in toronto?" replaces what followed "in" in the previous question.
_PREPOSITIONS = data.words("question_prepositions")


def _shape(word: str) -> str:
    return re.sub(r"\d+", "9", word)


def _replaced_words(follow_up: list[str], previous: list[str], own: list[str]) -> set[str]:
    """Words of the previous question that the follow-up's own words stand in for."""
    dropped: set[str] = set()
    lead = [w for w in follow_up if w not in ("and", "what", "how", "about", "also", "same")]
    if lead and lead[0] in _PREPOSITIONS and lead[0] in previous:
        at = len(previous) - 1 - previous[::-1].index(lead[0])
        dropped.update(w for w in previous[at + 1 :] if w not in STOP)
    for word in own:
        if any(ch.isdigit() for ch in word):
            dropped.update(
                p
                for p in previous
                if p != word
                and _shape(p) == _shape(word)
                and (p[:1] == word[:1] or p.isdigit())  # "sev3" for "sev1", "2" for "1"
            )
    return dropped


_AUXILIARIES = data.words("question_auxiliaries")

_QUESTION_WORDS = data.words("question_wh_words")

_REFERRING = data.words("question_referring")

_SUBJECTS = data.words("question_subjects")

#: A past participle ("rotated", "retained", "stored"; not "need" or "speed"), or a common
#: irregular one: in a question, the verb of its predicate ("must passwords be rotated").
_PARTICIPLE = re.compile(
    r"^(?:[a-z]{2,}[^e\W]ed|kept|held|paid|sent|made|done|given|taken|shown|written|"
    r"spent|left|built|bought|run|set)$"
)


def asks_its_own_question(follow_up: str) -> bool:
    """Whether a follow-up is a whole short question of its own, with a question word (or
    an auxiliary) that asks, a verb and a pronoun standing for the earlier topic ("and how
    long must they be?", "when is it due?", "what tier is it"), rather than a fragment that
    keeps the earlier question's predicate ("and how many days?", "what about contractors?").
    """
    tokens = [w for w in words(follow_up) if w not in ("and", "also", "so", "but", "ok", "okay")]
    if not tokens or not any(w in _REFERRING for w in tokens):
        return False
    if tokens[0] in _AUXILIARIES:  # "can they ...", "is it ..."
        return True
    return tokens[0] in _QUESTION_WORDS and any(w in _AUXILIARIES for w in tokens[1:])


def _asking_words(previous: list[str]) -> set[str]:
    """The words of a question that ask rather than name its topic: the thing a question
    word asks for ("which team", "how many people") and the verbs of its predicate ("must
    passwords be rotated", "do we keep", "who owns"). A follow-up that asks its own question
    replaces these; the rest (the topic its pronoun stands for) it borrows."""
    asking: set[str] = set()
    for index, word in enumerate(previous):
        if word in STOP:
            continue
        before = previous[index - 1] if index else ""
        two_before = previous[index - 2] if index >= 2 else ""
        asked_for = before in ("which", "what", "whose") or (
            two_before == "how" and before in ("many", "much")
        )
        verb_after_subject = before in _SUBJECTS and two_before in _AUXILIARIES  # "do we keep"
        verb_after_asker = (
            index >= 1
            and word.endswith("s")
            and (before == "who" or (two_before in ("which", "what") and before in asking))
        )  # "who owns", "which team owns"
        if asked_for or verb_after_subject or verb_after_asker or _PARTICIPLE.match(word):
            asking.add(word)
    return asking


def narrowed_query(
    query: str, hits: Sequence[dict[str, Any]], tuning: QuestionTuning = DEFAULT_QUESTION_TUNING
) -> str | None:
    """The query without the words `narrow_share` of the retrieved passages or more hold
    (they did not discriminate: a company name, say), or None when no such word exists, fewer
    than `narrow_words` would be left or fewer than `narrow_hits` passages tell."""
    if len(hits) < tuning.narrow_hits:
        return None
    texts = [stem_set(f"{h.get('title', '')} {h.get('text', '')}") for h in hits]
    kept: list[str] = []
    dropped = False
    for word in dict.fromkeys(w for w in words(query) if w not in STOP and len(w) > 1):
        share = sum(1 for t in texts if stem(word) in t) / len(texts)
        if share >= tuning.narrow_share:
            dropped = True
        else:
            kept.append(word)
    return " ".join(kept) if dropped and len(kept) >= tuning.narrow_words else None
