"""What a question asks: the kind of fact (a number, a name, a date, a way to do something),
the names it holds, the clauses that ask, and the quantities and counts it states.

Rules: read from the words alone (no state, no lexicon); the patterns are English; a version's
number or an enumerated item's number is a name, never a quantity.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta

from services.knowledge.fts_query import words
from services.offline import data
from services.offline.amounts import MONTHS
from services.offline.text import STOP, stem

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
        if word in ASKING_WORDS or word in STOP or word in {"time", "times"}:
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

_REFERRING_WORD = re.compile(r"\b(?:it|they|them|that|this|these|those)\b", re.IGNORECASE)


def with_topic(follow_up: str, borrowed: Sequence[str]) -> str:
    """The follow-up with its first pronoun replaced by the words it borrowed, so that its
    own words can be read alone: "and how long must they be?" + ("passwords",) -> "and how
    long must passwords be?". Unchanged without a pronoun or borrowed words."""
    if not borrowed:
        return follow_up
    return _REFERRING_WORD.sub(" ".join(borrowed), follow_up, count=1)


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


_CLAUSE_BREAK = re.compile(
    r"[,;:!?()]+|\.\s+|\s[-–—/]\s|\s(?:because|since|but|so|as)\s", re.IGNORECASE
)

#: Words that may open an asking clause before its question word: "and do I need to ask?".
_JOINING = data.words("question_joining")

#: Words that open a question: question words, auxiliaries, and negative questions.
ASKING_WORDS = data.words("question_asking")


#: "ok if I paste it in slack?", "fine to use my own laptop?": asking for permission.
_PERMISSION = data.words("question_permission")


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
            tokens[0] in ASKING_WORDS or (tokens[0] in _PERMISSION and tokens[1] in {"if", "to"})
        ):
            asking.append(clause)
    return asking if len(asking) < len(clauses) else []
