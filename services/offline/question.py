"""Reading the question: the turn from the messages, follow-ups, search queries, entities
and what kind of fact is asked for.

Rules: everything is recomputed from the messages (no state); a short follow-up with a pronoun
borrows the previous question's key terms; the date anchor the agent adds is stripped first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from services.knowledge.fts_query import words
from services.knowledge.spelling import english_words
from services.offline import lexicon
from services.offline.amounts import MONTHS
from services.offline.text import (
    STOP,
    content_stems,
    expand_shorthand,
    stem,
    stem_set,
    strip_pleasantries,
    wordset,
)
from use_cases.chat.prompts import strip_date_anchor
from use_cases.shared.sentences import split_sentences

_PRONOUNS = wordset(
    "it its it's that this they them their those these he she him her his there one"
)

#: A sentence of at most this many words that asks about "it" or "that" asks about what came
#: before, however long the message around it ("how do i remove it?").
SHORT_ASKING_WORDS = 8
_POINTING = wordset("it them that this these those")

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

#: A name with hyphens or underscores: "pg-core", "shipment-api", "kpi_daily".
IDENTIFIER = re.compile(r"\b[^\W_]+(?:[-_][^\W_]+)+\b", re.UNICODE)

_NUMBER_IN = re.compile(r"\d")

INTENT_NUMBER = re.compile(
    r"\b(?:how\s+(?:many|much|often|long|quickly|soon|fast|frequently|old|large|big|far|high|"
    r"low)|minimum|maximum|max|min|limit|lifetime|percentage|rate|threshold|target|cap|"
    r"within|after\s+how|number\s+of|size|length|lag|timeout|ttl|time|duration|period|"
    r"deadline|days|hours|minutes|weeks|months|years)\b",
    re.IGNORECASE,
)

INTENT_FREQUENCY = re.compile(
    r"\bhow\s+(?:often|frequently)\b|\bfrequency\b|\bevery\s+(?:\w+\s+)?"
    r"(?:day|week|month|quarter|year)s?\b",
    re.IGNORECASE,
)

INTENT_WHO = re.compile(r"\b(?:who|whom|whose|whos)\b", re.IGNORECASE)

#: Asking where something is kept on disk: "where does readline read its key bindings from",
#: "where is the config file", "where do the logs go".
INTENT_PATH = re.compile(
    r"\bwhere(?:'s|\s+(?:does|do|is|are|did|will|would|should|can))\b[^?.!]{0,80}?"
    r"\b(?:reads?|stor(?:e|es|ed)|keeps?|kept|sav(?:e|es|ed)|writes?|written|lives?|looks?|"
    r"located|loads?|config|configuration|files?|folders?|director(?:y|ies)|logs?|go|goes)\b",
    re.IGNORECASE,
)

INTENT_WHEN = re.compile(
    r"\b(?:when|(?:which|particular|specific|certain|fixed|set)\s+days?|"
    r"what\s+(?:day|days|date|dates|time))\b",
    re.IGNORECASE,
)

#: What is done with, set or called: "is there a built in decorator for ...", "what
#: setting do I need?".
_MEANS = r"(?:setting|option|flag|parameter|argument|decorator|function|method|hook)s?"

#: A question asking for a way to do something ("how do I stop that", "how can we get the
#: network", "any fix?"), or for the means to do it ("is there anything in the test runner
#: for that?", "is there an option to ...", "which flag should I pass?", "possible?"):
#: answered by a sentence that says what to do.
INTENT_METHOD = re.compile(
    r"\bhow\s+(?:do|can|could|should|would|shall|may)\s+(?:i|we|you|one|u)\b|\bhow\s+to\b"
    r"|\b(?:any|a|the)\s+(?:fix|workaround|way)\b|\bis\s+there\s+(?:a|any)\s+way\b"
    r"|\bwhat\s+(?:should|do|can|must)\s+(?:i|we)\s+(?:do|use|set|change|run)\b"
    rf"|\bis\s+there\s+(?:an?|any)\s+(?:[\w-]+\s+){{0,2}}?{_MEANS}\b|\bis\s+there\s+anything\b"
    rf"|\b(?:what|which)\s+{_MEANS}\s+(?:do|should|can|must|would)\b"
    r"|\bpossible\s*\?",
    re.IGNORECASE,
)


#: Asking whether to do something, or whether it is safe or wise: "should i put
#: AUTOINCREMENT on my id column?", "is it ok to deploy on friday", "is sqlite a good fit?".
INTENT_ADVICE = re.compile(
    r"\b(?:should|shall)\s+(?:i|we|you|u)\b|\bis\s+it\s+(?:ok|okay|safe|wise|advisable|"
    r"recommended|a\s+(?:good|bad)\s+idea|fine|allowed)\b|\b(?:ok|okay|safe|fine)\s+to\b"
    r"|\b(?:a\s+)?(?:good|bad)\s+(?:fit|idea|choice)\b|\bsafe\s*\?",
    re.IGNORECASE,
)

#: Asking how to fix, stop or undo something the message describes ("matches the whole line
#: instead of a single tag, how do i fix it", "how do I stop that", "any fix?").
INTENT_REMEDY = re.compile(
    r"\b(?:fix|fixes|stop|prevent|avoid|get\s+rid\s+of|solve|workaround|work\s+around|"
    r"suppress|silence|undo|revert|get\s+(?:the\s+)?old\s+\w+\s+back)\b",
    re.IGNORECASE,
)


#: A message that reports a problem: an error, a failure, something that does not work
#: ("ValueError: has host bits set", "the errors are useless", "writes have been failing").
PROBLEM_REPORTED = re.compile(
    r"\w*(?:error|exception)s?\b|\b(?:fails?|failing|failed|crash(?:es|ed|ing)?|broken|"
    r"(?:does|do|did|will|wo)n[’']?t\s+work|not\s+working)\b",
    re.IGNORECASE,
)


def asks_remedy(question: str) -> bool:
    """Whether the question asks for a way out of a problem: a way to do something
    (`INTENT_METHOD`, or "any fix?") to fix, stop or undo something (`INTENT_REMEDY`), or
    asked by a message that reports a problem (`PROBLEM_REPORTED`: "ValueError: host bits
    set. how do i get it to just give me the network")."""
    return INTENT_METHOD.search(question) is not None and (
        INTENT_REMEDY.search(question) is not None or PROBLEM_REPORTED.search(question) is not None
    )


def asks_only_how(question: str) -> bool:
    """Whether the question asks for a way to do something and for no number, frequency,
    name or date."""
    return INTENT_METHOD.search(question) is not None and not any(
        intent.search(question)
        for intent in (INTENT_NUMBER, INTENT_FREQUENCY, INTENT_WHO, INTENT_WHEN)
    )


#: A question about how things were, not how they are: every version of a policy may answer.
INTENT_HISTORY = re.compile(
    r"\b(?:when\s+did|used\s+to|previous(?:ly)?|formerly|old(?:er)?\s+(?:policy|policies|"
    r"version|versions|rule|rules)|before\s+(?:the\s+)?(?:change|update|(?:19|20)\d\d)|"
    r"back\s+in\s+(?:19|20)\d\d|history)\b",
    re.IGNORECASE,
)

_MONTH = rf"(?:{'|'.join(sorted(MONTHS, key=len, reverse=True))})\.?"
_YEAR = r"((?:19|20)\d\d)"
#: "before the sept 2025 update", "before 2025": the day before that month or year began.
_BEFORE_DATE = re.compile(
    rf"\b(?:before|prior\s+to|until|till)\s+(?:the\s+)?(?:(\d{{1,2}})\s+)?(?:({_MONTH})\s+)?"
    rf"{_YEAR}\b",
    re.IGNORECASE,
)
#: "back in 2022", "under the original 2022 policy", "the 2023 rules": that year (its end).
_IN_YEAR = re.compile(
    rf"\b(?:in|during|back\s+in|as\s+of|throughout)\s+(?:(?:early|mid|late)[\s-]+)?{_YEAR}\b"
    rf"|\b{_YEAR}\s+(?:[\w-]+\s+){{0,2}}?(?:policy|policies|version|rules?|handbook)\b",
    re.IGNORECASE,
)


def as_of_date(question: str, today: date | None = None) -> date | None:
    """The past date a question asks about ("back in 2022" -> 2022-12-31, "before the sept
    2025 update" -> 2025-08-31), or None: none named, or not before `today`. Search then
    prefers the document versions in force on that date."""
    today = today or date.today()
    found: date | None = None
    before = _BEFORE_DATE.search(question)
    if before is not None:
        day, month, year = before.groups()
        month_number = MONTHS[month.rstrip(".").lower()] if month else 1
        try:
            start = date(int(year), month_number, int(day) if day and month else 1)
        except ValueError:
            return None
        found = start - timedelta(days=1)
    else:
        in_year = _IN_YEAR.search(question)
        if in_year is not None:
            found = date(int(in_year.group(1) or in_year.group(2)), 12, 31)
    return found if found is not None and found < today else None


INTENT_COUNT = re.compile(
    r"\b(?:how\s+many|number\s+of|count\s+of)\b|(?:^|\s)#\s*of\b", re.IGNORECASE
)

#: Units that "how many" counts in a document's rule, never a table's rows: "how many days do
#: we get to fix a critical", "how many times does it retry".
_COUNTED_UNITS = re.compile(
    r"\s+(?:more\s+|extra\s+|working\s+|business\s+|calendar\s+)?(?:seconds?|secs?|minutes?|"
    r"mins?|hours?|hrs?|days?|weeks?|wks?|months?|years?|yrs?|times?|attempts?|tries|retries|"
    r"characters?|chars?|euros?|dollars?|percent|km|kilometers?|kilometres?|requests?)\b",
    re.IGNORECASE,
)


def counts_rows(question: str) -> bool:
    """Whether a "how many / number of" asks for a count of things, not of units ("how many
    people in Lisbon" but not "how many days to fix a critical")."""
    return any(
        not _COUNTED_UNITS.match(question, found.end()) for found in INTENT_COUNT.finditer(question)
    )


#: Asking for a quantity ("how much medical cover", "what's the coverage limit", "what
#: commission %"): only a sentence stating one answers it.
_ASKS_QUANTITY = re.compile(
    r"\bhow\s+(?:much|many)\b|%|\bpercent(?:age)?\b"
    r"|\bwhat(?:'s|’s|\s+is|\s+are|s)?\s+(?:the\s+|our\s+|their\s+)?(?:[\w-]+\s+){0,3}?"
    r"(?:limit|cap|maximum|max|minimum|min|rate|amount|price|cost|fee)s?\b"
    # typed as keywords, one question only: "mileage rate if I drive to Germany?", "max hotel
    # per night in Toronto" (not "min password length? and do I need a symbol?")
    r"|^\W*(?:[\w-]+\s+){0,2}?(?:limit|cap|maximum|max|minimum|min|rate|amount|price|cost|fee)s?"
    r"\b(?!\s+(?:is|are|was|were)\b)(?![^?]*\?\W*\w)",
    re.IGNORECASE,
)
#: Asking for a thing whose value is a number by definition: "what port does the server
#: listen on?", "which year", "what exit code does it return?", "the line number". Not an
#: error code: many are names ("SQLITE_BUSY", "ENOENT").
_ASKS_NUMBERED = re.compile(
    r"\b(?:what|which|whats|what's|what’s)\s+(?!about\b)(?:[\w.-]+\s+){0,3}?(?:ports?|years?|"
    r"(?:version|line|port|exit|status|return)\s+(?:numbers?|codes?))\b",
    re.IGNORECASE,
)


def asks_numbered(question: str) -> bool:
    """Whether the question asks for a thing that is a number (`_ASKS_NUMBERED`): only a
    sentence holding a digit can give it."""
    return _ASKS_NUMBERED.search(question) is not None


#: What states a quantity besides digits: "unlimited", "no limit", "twice", "one".
_QUANTITY_WORDS = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"hundred|thousand|half|double|twice|once|unlimited|none|no|free|nothing)\b",
    re.IGNORECASE,
)


def asks_quantity(question: str) -> bool:
    """Whether the question asks for a quantity (see `_ASKS_QUANTITY`)."""
    return _ASKS_QUANTITY.search(question) is not None


#: "how many partitions", "how many failed attempts": what is counted.
_COUNTED = re.compile(r"\bhow\s+many\s+([\w-]+(?:\s+[\w-]+)?)", re.IGNORECASE)


def counted_words(question: str) -> list[str]:
    """The words naming what "how many" counts ("how many partitions does X have" ->
    ["partitions"]), without question and stop words; [] when nothing is counted."""
    found = _COUNTED.search(question)
    if found is None:
        return []
    counted = []
    for word in found.group(1).lower().split():
        # "how many does the ceo have": the noun is elsewhere; "how many times do we retry":
        # a number of attempts, whatever the documents call them
        if word in _ASKING or word in STOP or word in {"time", "times"}:
            break
        counted.append(word)
    return counted


#: A count of something: a number (in digits or words, not a version's) and the word after it,
#: "1 column", "two columns", "at least 3 replicas".
_COUNT_OF = re.compile(
    r"(?<![\w.,-])(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"twenty|thirty|forty|fifty|hundred|thousand)\s+([a-z][a-z-]+)\b",
    re.IGNORECASE,
)


def counted_things(question: str) -> frozenset[str]:
    """The stems of what the question states a count of: the noun after one of its numbers
    ("can a simple table have only 1 column?" -> column; "how many" asks for a number of
    anything, `INTENT_NUMBER`, and a count of something else must not rank up). What follows
    the last question mark is an example, not what is asked ("is sorted() stable? like if 2
    records have the same key")."""
    asked = question[: question.rfind("?")] if "?" in question else question
    found = {
        stem(m.group(1).lower())
        for m in _COUNT_OF.finditer(without_versions(asked))
        if m.group(1).lower() not in STOP
    }
    return frozenset(found)


def states_count_of(text: str, things: frozenset[str]) -> bool:
    """Whether `text` states a count of one of `things` ("There must be at least two columns
    in the table" for column); a number after the noun ("column 1") names, it does not
    count."""
    return any(
        stem(m.group(1).lower()) in things for m in _COUNT_OF.finditer(without_versions(text))
    )


#: A version or a release named by its number ("New in Docutils 0.17", "version 3.7.0",
#: "before SQLite 3.32.0", "Python 3"): a name, not a quantity of anything.
_VERSION = re.compile(
    r"\b(?:versions?|releases?|v)\s*\d+(?:\.\d+)*\b"
    r"|\b(?-i:[A-Z])[\w+-]*\s+\d+(?:\.\d+)+\b|\bnew\s+in\s+\S+\s+\d+(?:\.\d+)*\b",
    re.IGNORECASE,
)


#: An item's number in an enumeration ("(3) Temporary files are ...", as list items are read):
#: where the item stands, not a quantity it states.
_ENUMERATION = re.compile(r"(?<![\w)])\(\d{1,2}\)(?=\s+\S)")


def without_enumeration(text: str) -> str:
    """`text` without the numbers of its enumerated items."""
    return " ".join(_ENUMERATION.sub(" ", text).split())


def without_versions(text: str) -> str:
    """`text` without the version numbers it names (`_VERSION`) or the numbers of its
    enumerated items (`_ENUMERATION`): names and places, not quantities."""
    return without_enumeration(_VERSION.sub(" ", text))


def states_quantity(text: str) -> bool:
    """Whether `text` states a quantity: a digit (not of a version's number) or a word such as
    "twice" or "unlimited"."""
    text = without_versions(text)
    return any(ch.isdigit() for ch in text) or _QUANTITY_WORDS.search(text) is not None


#: Asking for an amount or a time, which a bare list of rows never answers.
INTENT_AMOUNT = re.compile(
    r"\bhow\s+(?:long|soon|often|much|quickly|fast|frequently)\b|\bwhen\b", re.IGNORECASE
)


@dataclass
class TurnView:
    """What the model needs from the message list: the question and this turn's tool traffic."""

    question: str
    previous_questions: list[str]
    previous_answers: list[str] = field(default_factory=list)  # last text of earlier turns
    calls: list[ToolCallPart] = field(default_factory=list)
    returns: list[ToolReturnPart] = field(default_factory=list)
    retries: int = 0


def _prompt_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    return " ".join(item for item in part.content if isinstance(item, str))


def _plain(message: str) -> str:
    """A user message as the offline model reads it: no date anchor, no pleasantries, chat
    shorthand written out, and the knowledge base's own phrases and acronyms as its documents
    write them (its lexicon)."""
    return lexicon.active().rewrite(
        expand_shorthand(strip_pleasantries(strip_date_anchor(message)))
    )


def read_turn(messages: Sequence[ModelMessage]) -> TurnView:
    latest = -1
    for index, message in enumerate(messages):
        if isinstance(message, ModelRequest) and any(
            isinstance(p, UserPromptPart) for p in message.parts
        ):
            latest = index
    previous: list[str] = []
    answers: list[str] = []
    for message in messages[: max(latest, 0)]:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart):
                    previous.append(_plain(_prompt_text(part)))
        elif isinstance(message, ModelResponse):
            texts = [p.content for p in message.parts if isinstance(p, TextPart) and p.content]
            if texts:
                answers.append(" ".join(texts))
    question = ""
    if latest >= 0:
        request = messages[latest]
        assert isinstance(request, ModelRequest)
        texts = [_prompt_text(p) for p in request.parts if isinstance(p, UserPromptPart)]
        question = _plain("\n".join(texts))
    view = TurnView(
        question=question,
        previous_questions=[q for q in previous if q],
        previous_answers=answers,
    )
    for message in messages[latest + 1 :]:
        if isinstance(message, ModelResponse):
            view.calls.extend(p for p in message.parts if isinstance(p, ToolCallPart))
        elif isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, ToolReturnPart):
                    if part.outcome == "success":
                        view.returns.append(part)
                    else:
                        view.retries += 1
                elif isinstance(part, RetryPromptPart):
                    view.retries += 1
    return view


#: Words acknowledging the previous answer before a follow-up: "ok and what happens then?".
_ACKNOWLEDGING = re.compile(
    r"^(?:(?:ok(?:ay)?|k|so|right|cool|great|thanks|thank\s+you|thx|got\s+it|hm+|oh|ah|"
    r"alright|sure|nice|perfect|understood|makes\s+sense)\b[\s,.!]*)+",
    re.IGNORECASE,
)


def _is_follow_up(question: str) -> bool:
    lowered = question.lower().strip()
    if _ACKNOWLEDGING.sub("", lowered).startswith(_FOLLOW_UP_OPENERS):
        return True
    tokens = words(lowered)
    if len(tokens) <= 12 and any(w in _PRONOUNS for w in tokens):
        return True
    # A longer message that asks in a short sentence about "it": "done with it now. how do i
    # remove it? it's got some untracked junk files in it".
    return any(
        2 < len(asked) <= SHORT_ASKING_WORDS
        and asked[0] in _ASKING
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


def follow_up_query(question: str, previous_questions: Sequence[str]) -> SearchQuery:
    """The standalone search query for an elliptical follow-up, from the previous question.

    The follow-up's own words replace the previous question's words they stand in for: the
    words after the same preposition ("max hotel per night in rotterdam" + "and in toronto?"
    -> "max hotel night toronto"), or a word of the same shape ("sev1 ack time" + "what about
    sev3" -> "ack time sev3"); the other words of the previous question are kept.
    """
    question = " ".join(question.split())
    if not previous_questions or not _is_follow_up(question):
        return SearchQuery(question)
    whole = standalone_question(previous_questions[-1], previous_questions[:-1])
    previous = [w for w in words(whole) if w]
    own_words = [w for w in words(question) if w not in STOP]
    own = set(content_stems(question))
    dropped = _replaced_words(words(question), previous, own_words)
    rewritten = rewritten_follow_up(question, previous_questions)
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
    borrowed = borrowed[:8]
    if not borrowed:
        return SearchQuery(question, whole=rewritten)
    return SearchQuery(f"{' '.join(borrowed)} {question}".strip(), tuple(borrowed), whole=rewritten)


_PERSONAL_PRONOUN = re.compile(
    r"\b(?:(?P<possessive>their|his|her|hers)|they|them|he|she|him)\b", re.IGNORECASE
)

_NAME = re.compile(r"\b[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)+\b")


def resolve_person(
    question: str,
    previous_questions: Sequence[str],
    previous_answers: Sequence[str],
    known_names: Sequence[str] = (),
) -> str:
    """The question with a personal pronoun replaced by the person a recent answer named.

    Walking back over the last three turns while they were about a person (a "who"
    question, or one with a personal pronoun), the latest answer that names someone its
    question did not: a person from `known_names` (a table's names; "when did they start" ->
    "The start date of Mateus Oliveira is ..." + "who do they report to"), or any
    capitalised name in the answer to a "who" question ("who is Chen Wei's manager?" ->
    "... is Mateus Oliveira" + "what's their email" -> "what's Mateus Oliveira's email").
    Otherwise the question is returned unchanged.
    """
    if not _PERSONAL_PRONOUN.search(question):
        return question
    pairs = list(zip(previous_questions, previous_answers, strict=False))[-3:]
    for previous_question, previous_answer in reversed(pairs):
        about_person = INTENT_WHO.search(previous_question) or _PERSONAL_PRONOUN.search(
            previous_question
        )
        if not about_person:
            break  # the conversation moved on to something other than a person
        name = _person_named(previous_question, previous_answer, known_names)
        if name is not None:

            def replace(match: re.Match[str], name: str = name) -> str:
                return f"{name}'s" if match.group("possessive") else name

            return _PERSONAL_PRONOUN.sub(replace, question, count=1)
    return question


def _answer_body(answer: str) -> str:
    """An earlier answer without its Sources list and its [n] / [table: t] markers."""
    return re.sub(r"\[[^\]]*\]", " ", answer.split("**Sources**")[0])


_DEMONSTRATIVE = re.compile(
    r"\b(?:that|this|the\s+same)\s+(?P<noun>team|office|service|department|group|location|"
    r"city|system|kpi|metric)\b",
    re.IGNORECASE,
)

#: Nouns that stand for a column of another name ("that office": a location).
_NOUN_COLUMNS = {"office": "location", "city": "location"}


def resolve_reference(
    question: str, previous_answers: Sequence[str], values: Sequence[tuple[str, str]]
) -> str:
    """The question with "that team" (this office, the same service, ...) replaced by the
    value of that kind the latest of the last two answers named: "which other services does
    that team own?" after "The owner team of shipment-api is Tracking Core" -> "... does
    Tracking Core own?". `values`: (value, "table.column") of the tables; a value is of the
    kind when the noun is a word of its column ("owner_team") or names its table
    ("service": services.name). Otherwise the question is returned unchanged."""
    found = _DEMONSTRATIVE.search(question)
    if found is None:
        return question
    noun = found.group("noun").lower()
    wanted = {stem(noun), stem(_NOUN_COLUMNS.get(noun, noun))}

    def of_kind(column: str) -> bool:
        table, _, name = column.partition(".")
        return bool(wanted & {stem(w) for w in re.split(r"[_\W]+", name.lower()) if w}) or (
            stem(table.lower()) in wanted
        )

    for answer in reversed(previous_answers[-2:]):
        body = _answer_body(answer)
        named = [
            (at.start(), value)
            for value, column in values
            if of_kind(column)
            and (at := re.search(rf"(?<!\w){re.escape(value)}(?!\w)", body)) is not None
        ]
        if named:
            value = min(named)[1]
            return question[: found.start()] + value + question[found.end() :]
    return question


def _person_named(question: str, answer: str, known_names: Sequence[str]) -> str | None:
    body = _answer_body(answer)
    asked = question.lower()
    known = sorted((n for n in known_names if n.lower() not in asked and n in body), key=body.index)
    if known:
        return known[0]
    if not INTENT_WHO.search(question):
        return None
    names = [
        m.group(0)
        for m in _NAME.finditer(body)
        if m.group(0).lower() not in asked and m.group(0).split()[0].lower() not in STOP
    ]
    return names[0] if names else None


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
    return _standalone(question, previous_questions, values)[0]


def rewritten_follow_up(
    question: str, previous_questions: Sequence[str], values: Sequence[tuple[str, str]] = ()
) -> str | None:
    """The whole question an elliptical follow-up stands for when its words took the place
    of words of the previous question ("and for IntFlag?" -> "what's the default boundary
    for IntFlag"); None when it is no follow-up or only adds to the previous question."""
    text, rewritten = _standalone(question, previous_questions, values)
    return text if rewritten else None


def _standalone(
    question: str, previous_questions: Sequence[str], values: Sequence[tuple[str, str]]
) -> tuple[str, bool]:
    """`standalone_question`, and whether the follow-up's words replaced earlier ones."""
    question = " ".join(question.split())
    if not previous_questions or not (_is_follow_up(question) or _is_fragment(question)):
        return question, False
    whole = standalone_question(previous_questions[-1], previous_questions[:-1], values)
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
_COMMON_ENDINGS = wordset(
    "ing ings ion ions tion tions ed er ers est ly ness ment ments able ible al als ity ies "
    "ive ous ful less ism ist ize ise ance ence ant ent ure"
)


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


#: Cosine similarity (under the local embedder) a previous question's word needs with a
#: follow-up's one word to be the word it stands in for ("latex" for "html": 0.53, "acronym"
#: for "abbreviation": 0.83, "contractors" for "employees": 0.53), and its lead over the next.
KIN_BY_MEANING = 0.4
KIN_MARGIN = 0.05


def substituted_by_meaning(
    query: SearchQuery,
    question: str,
    previous_questions: Sequence[str],
    similarities: Callable[[str, Sequence[str]], list[float]],
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
    whole = standalone_question(previous_questions[-1], previous_questions[:-1]).rstrip(" ?")
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
    if best < KIN_BY_MEANING or best - runner_up < KIN_MARGIN:
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


_PREPOSITIONS = frozenset({"in", "for", "at", "on", "to", "from", "with", "of", "about"})


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


_AUXILIARIES = wordset(
    "is are was were be been being am s do does did can could must should shall will would "
    "may might has have had"
)

_QUESTION_WORDS = wordset("what when where who whom whose which why how")

_REFERRING = wordset("it its they them their that this these those he she him her his")

_SUBJECTS = wordset("i we you they he she")

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


_REFERRING_WORD = re.compile(r"\b(?:it|they|them|that|this|these|those)\b", re.IGNORECASE)


def with_topic(follow_up: str, borrowed: Sequence[str]) -> str:
    """The follow-up with its first pronoun replaced by the words it borrowed, so that its
    own words can be read alone: "and how long must they be?" + ("passwords",) -> "and how
    long must passwords be?". Unchanged without a pronoun or borrowed words."""
    if not borrowed:
        return follow_up
    return _REFERRING_WORD.sub(" ".join(borrowed), follow_up, count=1)


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


def entities_in(question: str) -> list[str]:
    """Names and identifiers in the question: capitalised runs and hyphen/underscore words."""
    found: list[str] = []
    tokens = re.findall(r"[\w'’.&-]+", question)
    run: list[str] = []
    run_start = [0]

    def close() -> None:
        while run and run[0].lower() in STOP:
            run.pop(0)
        # A lone capitalised first word is just the start of the sentence ("List ...", "Show
        # ..."), unless it looks like an acronym or code ("SEV1 ...", "KPI ...").
        lone_first = len(run) == 1 and run_start[0] == 0
        if run and not (lone_first and not (run[0].isupper() or _NUMBER_IN.search(run[0]))):
            found.append(" ".join(run))
        run.clear()

    for index, raw in enumerate(tokens):
        token = re.sub(r"(?:'s|’s)$", "", raw.strip(".'’-"))
        capitalised = bool(token) and (token[0].isupper() or (token[0].isdigit() and run))
        if capitalised and not (index == 0 and token.lower() in STOP):
            if not run:
                run_start[0] = index
            run.append(token)
            if raw.endswith(("'s", "’s")):
                close()
        else:
            close()
    close()
    found.extend(m.group(0) for m in IDENTIFIER.finditer(question))
    unique: dict[str, None] = {}
    for entity in found:
        unique.setdefault(entity.lower(), None)
    return list(unique)


def narrowed_query(query: str, hits: Sequence[dict[str, Any]]) -> str | None:
    """The query without words found in most retrieved passages (they did not discriminate:
    a company name, say), or None when no such word exists or fewer than two would be left."""
    if len(hits) < 3:
        return None
    texts = [stem_set(f"{h.get('title', '')} {h.get('text', '')}") for h in hits]
    kept: list[str] = []
    dropped = False
    for word in dict.fromkeys(w for w in words(query) if w not in STOP and len(w) > 1):
        share = sum(1 for t in texts if stem(word) in t) / len(texts)
        if share >= 0.5:
            dropped = True
        else:
            kept.append(word)
    return " ".join(kept) if dropped and len(kept) >= 2 else None


_CLAUSE_BREAK = re.compile(
    r"[,;:!?()]+|\.\s+|\s[-–—/]\s|\s(?:because|since|but|so|as)\s", re.IGNORECASE
)

#: Words that may open an asking clause before its question word: "and do I need to ask?".
_JOINING = wordset("and also but or so then")

_ASKING = wordset(
    "what when where who whom whose which why how can could do does did is are was were "
    "should shall must may might will would have has am whats wheres whos hows "
    # negative questions, typed with or without the apostrophe: "isn't that automatic?"
    "isnt isn arent aren dont don doesnt doesn didnt didn cant wont won shouldnt shouldn "
    "wasnt wasn werent weren hasnt hasn havent haven wouldnt wouldn couldnt couldn"
)


#: "ok if I paste it in slack?", "fine to use my own laptop?": asking for permission.
_PERMISSION = wordset("ok okay fine alright allowed safe")


def asking_clauses(question: str) -> list[str]:
    """The clauses that ask, when the message has other clauses too: "my laptop won't boot,
    who do i contact" -> ["who do i contact"]; [] for a single-clause question."""
    clauses = [c.strip() for c in _CLAUSE_BREAK.split(question) if c and c.strip()]
    if len(clauses) < 2:
        return []
    asking = []
    for clause in clauses:
        tokens = words(clause)
        if tokens and tokens[0] in _JOINING:
            tokens = tokens[1:]
        if len(tokens) >= 3 and (
            tokens[0] in _ASKING or (tokens[0] in _PERMISSION and tokens[1] in {"if", "to"})
        ):
            asking.append(clause)
    return asking if len(asking) < len(clauses) else []
