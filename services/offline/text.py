"""Words: the light stemmer, content stems and the stopword sets every other module shares.

Rules: question and passage text always go through the same `words` (the full-text index's
tokenizer rule, from `services.knowledge.fts_query`) -> `stem` pipeline, so consistency matters more
than linguistic accuracy; `STOP` (stopwords plus words that only say what kind of answer is
wanted) never counts as content.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Set as AbstractSet
from itertools import pairwise

import snowballstemmer

from services.knowledge.fts_query import STOPWORDS, words
from services.knowledge.spelling import english_words
from services.offline import data

#: Words that say what kind of answer is wanted rather than what it is about
#: (`data/answer_kind_words.txt`).
_QUESTION_WORDS = data.words("answer_kind_words")

STOP = STOPWORDS | _QUESTION_WORDS


class _Stemmers(threading.local):
    """One Snowball stemmer per thread: a stemmer keeps its working word in the object, so
    two threads sharing one corrupt each other's state (the offline model runs in a thread pool).
    """

    def __init__(self) -> None:
        self.english = snowballstemmer.stemmer("english")


_STEMMERS = _Stemmers()


#: British spellings the English word list (American) lacks, read as the American word it
#: holds: "behaviour" as "behavior", "organisation" as "organization", "centre" as "center",
#: "analyse" as "analyze", "catalogue" as "catalog". Documents and people spell either way.
_BRITISH = (
    (re.compile(r"our(?=(?:s|ed|ing|ite|ites|able|ably|ful|less)?$)"), "or"),
    (re.compile(r"(?<=\w\w)is(?=(?:e|es|ed|ing|ation|ations|er|ers)$)"), "iz"),
    (re.compile(r"ys(?=(?:e|es|ed|ing)$)"), "yz"),
    (re.compile(r"(?<=[bt])re(?=s?$)"), "er"),
    (re.compile(r"(?<=\w\w\w)ogue(?=s?$)"), "og"),
)


def _american(word: str) -> str:
    """`word` as the American spelling the English word list holds, when it holds the word
    only so (see `_BRITISH`)."""
    known = english_words()
    if word in known:
        return word
    for pattern, american in _BRITISH:
        spelt = pattern.sub(american, word, count=1)
        if spelt != word and spelt in known:
            return spelt
    return word


@functools.lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """The Snowball (Porter 2) English stem, with agent nouns folded into their verb.

    Both sides (question and passage) go through it, so consistency matters more than
    linguistic accuracy ("rotation"/"rotated" -> "rotat", "owner"/"owns" -> "own").
    """
    w = word.lower()
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ses") and len(w) > 5:
        # Snowball takes the "s" of "alias" ("alia") but not of "aliases" ("alias"): the
        # plural of an English word so cut stems as its singular does ("lenses",
        # "canvases"), not that of a word ending in "se" ("responses").
        single = _STEMMERS.english.stemWord(w[:-2])
        if single == w[:-3] and w[:-2] in english_words():
            return single
    w = _STEMMERS.english.stemWord(_american(w))
    if w.endswith("er") and len(w) >= 5:
        w = w[:-2]
    return w


#: Phrases that only say "currently" ("... right now?") and prefixes that only say "former"
#: ("ex-employee" is about an employee): never content, never counted against the evidence.
_FILLER = re.compile(
    r"\b(?:right\s+now|right\s+away|at\s+the\s+moment|as\s+of\s+(?:now|today)|at\s+present)\b"
    r"|\b(?:ex|former)-(?=\w)",
    re.IGNORECASE,
)


#: Chat shorthand that documents spell out ("my pw", "2 wks").
_SHORTHAND = {
    "pw": "password",
    "pwd": "password",
    "passwd": "password",
    "pws": "passwords",
    "wk": "week",
    "wks": "weeks",
    "yr": "year",
    "yrs": "years",
    "msg": "message",
    "msgs": "messages",
    "req": "request",
    "reqs": "requests",
    "w/o": "without",
    "oncall": "on-call",  # not in a name: "#oncall-handover"
}
_SHORTHAND_WORD = re.compile(
    rf"(?<![\w/#-])(\d*)({'|'.join(map(re.escape, _SHORTHAND))})(?![\w/-])", re.IGNORECASE
)


#: "locks me out", "got locked out": the noun documents use.
_LOCKED_OUT = re.compile(
    r"\block(?:s|ed|ing)?\s+(?:(?:me|you|us|them|him|her|people|users?)\s+)?out\b", re.IGNORECASE
)


#: "failing the EU database over": the noun documents use ("failover"), its object kept.
_FAILING_OVER = re.compile(r"\bfail(?:s|ed|ing)?\s+((?:[\w-]+\s+){0,4}?)over\b", re.IGNORECASE)


#: Weekday abbreviations, written out where they clearly mean days: "sat + sun", "mon-fri",
#: "on sat" ("sat" alone is also a verb).
_WEEKDAYS = {
    "mon": "Monday",
    "tue": "Tuesday",
    "tues": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "thur": "Thursday",
    "thurs": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
_DAY_WORD = re.compile(rf"(?<!\w)({'|'.join(_WEEKDAYS)})\.?(?!\w)", re.IGNORECASE)
#: Between two days of a pair or a list: "sat + sun", "mon-fri", "tue, wed or thu".
_BETWEEN_DAYS = re.compile(r"\s*(?:[+/&,-]|and|or|to|through|thru)\s*", re.IGNORECASE)
_ON_DAY = re.compile(r"\b(?:on|this|next|last|every)\s+$", re.IGNORECASE)


def _expand_weekdays(text: str) -> str:
    """ "sat + sun" -> "Saturday + Sunday", "on fri" -> "on Friday" (see `_WEEKDAYS`)."""
    found = list(_DAY_WORD.finditer(text))
    paired: set[int] = set()
    for first, second in pairwise(found):
        if _BETWEEN_DAYS.fullmatch(text, first.end(), second.start()):
            paired |= {first.start(), second.start()}
    return _DAY_WORD.sub(
        lambda m: (
            _WEEKDAYS[m.group(1).lower()]
            if m.start() in paired or _ON_DAY.search(text, 0, m.start())
            else m.group(0)
        ),
        text,
    )


def expand_shorthand(text: str) -> str:
    """`text` with chat shorthand written out (`_SHORTHAND`): "2yr deal" -> "2 year deal",
    "my pw" -> "my password"; "locks me out" -> "lockout", "sat + sun" -> "Saturday +
    Sunday", "failing the database over" -> "failover the database". (A knowledge base's
    own phrases and acronyms are its lexicon's: `lexicon.Lexicon.rewrite`.)"""
    text = _LOCKED_OUT.sub("lockout", text)
    text = _expand_weekdays(text)
    text = _FAILING_OVER.sub(lambda m: f"failover {m.group(1)}".rstrip() + " ", text)
    return _SHORTHAND_WORD.sub(
        lambda m: f"{m.group(1)}{' ' if m.group(1) else ''}{_SHORTHAND[m.group(2).lower()]}", text
    )


def without_filler(text: str) -> str:
    """`text` without the phrases of `_FILLER`."""
    return _FILLER.sub(" ", text)


#: "every 90 days", "every month": a period, which policies name as "periodic" (rotation,
#: review) or by its own number; the unit alone ("days") says little.
PERIOD_PHRASE = re.compile(
    r"\bevery\s+(?:(\d+|other|two|three|four|six|few)\s+)?(?:day|week|month|quarter|year)s?\b",
    re.IGNORECASE,
)


def as_periodic(text: str) -> str:
    """`text` with "every N days" written as "periodically N" (see `PERIOD_PHRASE`)."""
    return PERIOD_PHRASE.sub(
        lambda m: (
            f"periodically {m.group(1)}" if m.group(1) and m.group(1).isdigit() else "periodically"
        ),
        text,
    )


#: Bounds said in words: "at most eight characters" is a maximum, "at least 14" a minimum.
BOUND_PHRASES = (
    ("maximum", re.compile(r"\b(?:at\s+most|no\s+more\s+than|not\s+more\s+than)\b", re.I)),
    (
        "minimum",
        re.compile(r"\b(?:at\s+least|no\s+(?:fewer|less)\s+than|not\s+less\s+than)\b", re.I),
    ),
)

#: A range of numbers states both bounds: "a number between 2 and 64", "from 1 to 10".
_RANGE = re.compile(r"\b(?:between\s+-?\d[\d.,]*\s+and|from\s+-?\d[\d.,]*\s+to)\s+-?\d", re.I)


def as_bounds(text: str) -> str:
    """`text` with bounds said in words written as "maximum" or "minimum" (`BOUND_PHRASES`)."""
    for word, pattern in BOUND_PHRASES:
        text = pattern.sub(word, text)
    return text


def bound_stems(text: str) -> set[str]:
    """The stems of the bounds `text` states in words ({"maximum"} for "at most 8", both for
    "between 2 and 64")."""
    if _RANGE.search(text):
        return {stem("maximum"), stem("minimum")}
    return {stem(word) for word, pattern in BOUND_PHRASES if pattern.search(text)}


#: A word typed as a name: a command-line option ("--fast", "-q") or code in backquotes
#: ("`fast`").
_TYPED_AS_NAME = re.compile(r"(?<![\w-])--?([A-Za-z][\w-]*)|`([^`\s]+)`")


#: A letter typed as a key or an answer: quoted ("what does 'q' do"), or after a verb of
#: keying ("answering l at the prompt", "press x", "hit n"). "a" and "i" are left out: "press
#: a key" and "type i" are English. Letters standing alone are found first (most questions
#: hold none, or only the "t" of "don't"), then what is around each is looked at.
_LONE_LETTER = re.compile(r"\b[b-hj-zB-HJ-Z]\b")
_KEYING = re.compile(
    r"\b(?:answer(?:s|ed|ing)?|press(?:es|ed|ing)?|hit(?:s|ting)?|typ(?:e|es|ed|ing)|"
    r"enter(?:s|ed|ing)?|key)\s+$"
)
_OPENING_QUOTES = "'‘\"“"
_CLOSING_QUOTES = "'’\"”"
#: What makes a keyed-looking letter the start of a word instead: "x-ray", "e.g", "n'roll".
_WORD_GOES_ON = re.compile(r"[-'’.]\w")


def _keyed_letters(text: str) -> set[str]:
    """The letters `text` types as keys or answers (see `_LONE_LETTER`)."""
    keyed = set()
    padded = "  " + text
    for found in _LONE_LETTER.finditer(text):
        start, end = found.span()
        before, after = padded[start : start + 2], text[end : end + 2]  # two characters each
        quoted = (
            before[1] in _OPENING_QUOTES
            and not (before[0].isalnum() or before[0] in _OPENING_QUOTES)
            and after[:1] in _CLOSING_QUOTES
            and not (after[1:2].isalnum() or after[1:2] in _CLOSING_QUOTES)
        )
        keying = _KEYING.search(text, max(0, start - 16), start) is not None
        if quoted or (keying and not _WORD_GOES_ON.match(after)):
            keyed.add(found.group().lower())
    return keyed


def named_words(text: str) -> set[str]:
    """The words `text` types as names (`_TYPED_AS_NAME`): "--fast" names an option, it does
    not ask how fast."""
    if "-" not in text and "`" not in text:
        return set()  # no name can be typed as one
    return {w for found in _TYPED_AS_NAME.findall(text) for w in words(" ".join(found))}


def content_stems(text: str) -> list[str]:
    """Stems of the words that carry meaning, in order, without repeats ("every 90 days"
    counts as "periodically 90", "at least 14" as "minimum 14"). A word typed as a name
    (`named_words`: "--fast") carries meaning even when it is a stop or question word, and
    so does a letter typed as a key or an answer (`_keyed_letters`: "press q"). Sentences
    keep every letter but "a" and "i" (`sentences.units_of`), so the item "q Quit; ..." holds
    the q a question types."""
    seen: dict[str, None] = {}
    named = named_words(text) | _keyed_letters(text)
    for word in words(as_bounds(as_periodic(without_filler(text)))):
        if word not in named and (word in STOP or (len(word) < 2 and not word.isdigit())):
            continue  # "-u" names an option however short, "--all" however common
        seen.setdefault(stem(word), None)
    return list(seen)


def stem_set(text: str) -> set[str]:
    return {stem(w) for w in words(text) if w not in STOPWORDS}


def jaccard(a: AbstractSet[str], b: AbstractSet[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def is_code(term: str) -> bool:
    """A name made of letters then digits ("sev2", "kpi20", "p1"): it tells passages apart
    like a word does, unlike an amount ("15", "40k")."""
    return term[:1].isalpha() and any(ch.isdigit() for ch in term)


def has_digit(term: str) -> bool:
    """Numbers and amounts ("15", "40k", "q2"): matched when present, never required."""
    return any(ch.isdigit() for ch in term)


# --- pleasantries -------------------------------------------------------------------------------

_OPENERS = (
    r"(?:hi|hello|hey|hiya|yo|heya|howdy)(?:\s+(?:there|team|all|almanac|bot))?",
    r"good\s+(?:morning|afternoon|evening)",
    r"(?:a\s+)?quick\s+(?:question|one|q|check)(?:\s+for\s+you)?",
    r"(?:one\s+more|another)\s+(?:thing|question|one)",
    r"sorry(?:\s+to\s+(?:bother|bug|trouble)(?:\s+you)?|\s+for\s+(?:bothering|the\s+bother))?",
    r"excuse\s+me",
    r"(?:i\s+)?(?:have|got)\s+a\s+(?:quick\s+)?question",
    r"(?:i\s+was|i'?m|just)\s+wondering",
    r"just\s+(?:checking|curious|a\s+quick\s+(?:question|check))",
    r"(?:by\s+the\s+way|btw|fyi)",
    r"(?:please|pls|plz)",
    r"(?:ok(?:ay)?|so|well|right|alright|um+|uh+|hmm+|erm)(?=\s*[,:;.!\-–—](?:\s|$))",
)
_ASKING = (
    r"(?:can|could|would)\s+you\s+(?:please\s+)?(?:tell|remind|show)\s+me",
    r"(?:do|does)\s+(?:you|anyone|anybody)\s+know",
    r"(?:any|got\s+an?)\s+idea",
)
_CLOSERS = (
    r"thanks?(?:\s+(?:a\s+lot|so\s+much|very\s+much|in\s+advance|again))?",
    r"thank\s+(?:you|u)(?:\s+(?:so\s+much|very\s+much|in\s+advance|again))?",
    r"thx|tx|ty|tia|ta|cheers|much\s+appreciated|appreciated|please|pls|plz",
    r"any\s+ideas?|anyone\??|(?:do\s+)?you\s+know|if\s+you\s+know",
)
_LEADING = re.compile(
    rf"^\s*(?:{'|'.join(_OPENERS)})(?:\s*[,:;.!?\-–—]+\s*|\s+)(?:but\s+)?",
    re.IGNORECASE,
)
_LEADING_ASK = re.compile(rf"^\s*(?:{'|'.join(_ASKING)})\s*[,:;\-–—]?\s+", re.IGNORECASE)
_TRAILING = re.compile(
    rf"(?:[\s,;.!?\-–—]+|^)(?:{'|'.join(_CLOSERS)})[\s!?.:)]*$",
    re.IGNORECASE,
)


def strip_pleasantries(text: str) -> str:
    """`text` without the greetings, apologies and thanks people wrap a question in ("hey,
    quick one:", "sorry to bother you, but", "any idea?", "thx"): they carry no meaning and
    must not change what is searched or how much evidence is needed. A question mark the
    closer carried is kept; a text that is nothing but pleasantries is returned as it is."""
    original = text.strip()
    current = original
    while True:
        before = current
        current = _LEADING.sub("", current, count=1)
        current = _LEADING_ASK.sub("", current, count=1)
        trailing = _TRAILING.search(current)
        if trailing and trailing.start() > 0:
            asked = "?" in trailing.group(0)
            current = current[: trailing.start()].rstrip(" ,;-–—")
            if asked and not current.endswith("?"):
                current += "?"
        if current == before:
            break
    return current if any(ch.isalnum() for ch in current) else original
