"""Deterministic perturbations of a question, for the robustness metrics.

`perturb(question, kind, seed=, case_id=)` draws from `random.Random(f"{seed}:{case_id}:{kind}")`,
so a run can be repeated exactly. Protected, never changed: numbers and any word holding a
digit (`99.2%`, `Q2`, `sev1`, `2026-03-01`), codes written in capitals (`EU`, `SLA`, `API`),
quoted text ("..." or '...' or `...`), e-mail addresses, URLs, paths and #channels. A
perturbation never returns an empty question; when nothing can be changed it returns the
question unchanged.

- `typos`: one character edit (swap two neighbouring letters, drop a letter, double a letter,
  or replace one with its keyboard neighbour) in a word of 5+ letters; in questions with four
  or more such words, one or two edits in distinct words. First and last letters are kept.
- `case`: the whole question lower case, upper case, or title case (protected spans kept).
- `filler`: a chatty prefix and/or suffix ("hey, quick one:", "thanks!").
- `word_order`: a trailing clause (", ..." or " for/in/at/from/... ...") moved to the front, or a
  swap of two adjacent content words (not stop words, not protected). Short questions often
  allow neither ("and lisbon?") and stay as they are: about 88% of the bundled questions change.
"""

from __future__ import annotations

import itertools
import random
import re

PERTURBATIONS: tuple[str, ...] = ("typos", "case", "filler", "word_order")

_PROTECTED = re.compile(
    r"""
      "[^"]*"                       # double-quoted text
    | '[^'\s][^']*'(?!\w)           # single-quoted text (not an apostrophe)
    | `[^`]*`                       # backticks
    | \S+@\S+                       # e-mail addresses
    | https?://\S+                  # URLs
    | \#[\w-]+                      # #channels
    | \S*/\S*                       # paths (and a/b)
    | \b\w+(?:[._]\w+)+\b            # identifiers: telemetry.raw, start_date
    | \b\w*\d\w*(?:[.,:%-]\w+)*%?   # numbers and words with digits
    | \b[A-Z]{2,}s?\b               # codes and acronyms
    """,
    re.VERBOSE,
)
_WORD = re.compile(r"[A-Za-z]+")
#: Two typos only in questions with at least this many words of 5+ letters (a typo in two of
#: a question's three words is not how people type).
_TWO_TYPOS_FROM = 4
_PREFIXES = ("hey, quick one:", "hi!", "sorry to bother you, but", "quick question -", "so,")
_SUFFIXES = ("thanks!", "thx", "cheers", "any idea?", "thank you so much")
_STOP = frozenset((
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "by", "with", "and", "or", "but", "is",
    "are", "was", "were", "be", "been", "do", "does", "did", "what", "who", "whom", "when",
    "where", "why", "how", "which", "that", "this", "these", "those", "it", "its", "i", "me",
    "my", "we", "our", "you", "your", "he", "she", "they", "them", "their", "can", "could",
    "should", "would", "will", "shall", "may", "might", "must", "has", "have", "had", "not", "no",
    "if", "then", "than", "there", "here", "from", "as", "into", "about", "per",
))  # fmt: skip
_CLAUSE = re.compile(
    r"^(?P<head>.+?)(?:,\s*|\s+)(?P<tail>(?:for|in|at|from|during|after|before|on|under|when|if)"
    r"\s+[^,]+?)(?P<end>[?.!]*)$",
    re.IGNORECASE,
)
_NEIGHBOURS = {
    "a": "sq", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o",
    "q": "w", "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc",
    "y": "tu", "z": "x",
}  # fmt: skip


def _protected_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _PROTECTED.finditer(text)]


def _free(span: tuple[int, int], protected: list[tuple[int, int]]) -> bool:
    return all(span[1] <= a or span[0] >= b for a, b in protected)


def _words(text: str) -> list[tuple[int, int]]:
    protected = _protected_spans(text)
    return [m.span() for m in _WORD.finditer(text) if _free(m.span(), protected)]


def perturb(question: str, kind: str, *, seed: int, case_id: str) -> str:
    """The question perturbed by `kind` (one of PERTURBATIONS), the same for the same inputs."""
    if kind not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {kind!r}; use one of {', '.join(PERTURBATIONS)}")
    rng = random.Random(f"{seed}:{case_id}:{kind}")
    changed = {
        "typos": _typos,
        "case": _case,
        "filler": _filler,
        "word_order": _word_order,
    }[kind](question, rng)
    return changed if changed.strip() else question


def _typos(text: str, rng: random.Random) -> str:
    long_words = [(a, b) for a, b in _words(text) if b - a >= 5]
    if not long_words:
        return text
    edits = rng.choice((1, 2)) if len(long_words) >= _TWO_TYPOS_FROM else 1
    chosen = rng.sample(long_words, edits)
    for start, end in sorted(chosen, reverse=True):  # from the end, so offsets hold
        text = text[:start] + _edit(text[start:end], rng) + text[end:]
    return text


def _edit(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)  # keep the first and last letters
    operation = rng.choice(("swap", "drop", "double", "neighbour"))
    if operation == "swap" and i + 1 < len(word) - 1 and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if operation == "drop":
        return word[:i] + word[i + 1 :]
    if operation == "double":
        return word[:i] + word[i] + word[i:]
    options = _NEIGHBOURS.get(word[i].lower(), "")
    letter = rng.choice(options) if options else word[i]
    letter = letter.upper() if word[i].isupper() else letter
    if letter == word[i]:
        return word[:i] + word[i + 1 :]
    return word[:i] + letter + word[i + 1 :]


def _case(text: str, rng: random.Random) -> str:
    style = rng.choice(("lower", "upper", "title"))
    out = list(text)
    for start, end in _words(text):
        word = text[start:end]
        new = {"lower": word.lower(), "upper": word.upper(), "title": word.capitalize()}[style]
        out[start:end] = new
    result = "".join(out)
    if result == text:  # already in that style: use the next one
        for start, end in _words(text):
            word = text[start:end]
            out[start:end] = word.upper() if style != "upper" else word.lower()
        result = "".join(out)
    return result


def _filler(text: str, rng: random.Random) -> str:
    where = rng.choice(("prefix", "suffix", "both"))
    if where in ("prefix", "both"):
        text = f"{rng.choice(_PREFIXES)} {text}"
    if where in ("suffix", "both"):
        text = f"{text} {rng.choice(_SUFFIXES)}"
    return text


def _word_order(text: str, rng: random.Random) -> str:
    stripped = text.strip()
    clause = _CLAUSE.match(stripped)
    if clause and _movable(stripped, clause) and rng.random() < 0.5:
        return _clause_first(stripped, clause)
    content = [span for span in _words(text) if text[span[0] : span[1]].lower() not in _STOP]
    pairs = [
        (a, b)
        for a, b in itertools.pairwise(content)
        if text[a[1] : b[0]].strip() == ""  # adjacent: only spaces between them
    ]
    if not pairs:
        if clause and _movable(stripped, clause):
            return _clause_first(stripped, clause)
        return text
    (a0, a1), (b0, b1) = rng.choice(pairs)
    return text[:a0] + text[b0:b1] + text[a1:b0] + text[a0:a1] + text[b1:]


def _clause_first(text: str, clause: re.Match[str]) -> str:
    """ "X for Y?" -> "for Y, x?"; the first letter of X is lowered unless it is protected."""
    head, tail, end = clause.group("head"), clause.group("tail"), clause.group("end")
    first = _WORD.match(head)
    if first and _free(first.span(), _protected_spans(text)) and first.group(0) != "I":
        head = head[:1].lower() + head[1:]
    return f"{tail}, {head}{end}"


def _movable(text: str, clause: re.Match[str]) -> bool:
    """A clause may move when it does not start inside protected text (a quotation)."""
    start = clause.start("tail")
    return _free((start, start), _protected_spans(text))
