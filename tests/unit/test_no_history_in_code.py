"""Code comments say why, not what was tried when: tuning history ("Round 20 on the dev
splits...", a changelog above a constant) lives in docs/notes/history.md."""

from __future__ import annotations

import io
import re
import tokenize

from backend.config import PROJECT_ROOT

PACKAGES = ("backend", "use_cases", "services")
#: "round 20", "rounds 11-14": a tuning round named in a comment or docstring (a tool-call
#: round, "the first round's tool calls", is no history).
ROUND = re.compile(r"\brounds? \d+\b", flags=re.IGNORECASE)


def _comments_and_docstrings(source: str) -> list[tuple[int, str]]:
    """(first line, text) of each run of comment lines and of each triple-quoted string,
    with the lines joined, so that a phrase broken over two lines is found."""
    found: list[tuple[int, str]] = []
    last_comment_line = -1
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        line = token.start[0]
        if token.type == tokenize.COMMENT:
            text = token.string.lstrip("#:").strip()
            if found and line == last_comment_line + 1:
                found[-1] = (found[-1][0], f"{found[-1][1]} {text}")
            else:
                found.append((line, text))
            last_comment_line = line
        elif token.type == tokenize.STRING and token.string.lstrip("rbuRBU").startswith('"""'):
            found.append((line, " ".join(token.string.split())))
    return found


def _told(source: str) -> list[int]:
    return [line for line, text in _comments_and_docstrings(source) if ROUND.search(text)]


def test_tuning_rounds_are_found_and_rounding_is_not() -> None:
    assert _told("# Round 20 on the dev splits: 0.7 to 0.8 make the same answers.\nX = 1\n")
    assert _told("#: Fitted (`bench.check_ablation`, round\n#: 18): 0.2 -> 0.1.\nX = 1\n")
    assert _told('def f():\n    """Measured in rounds 11-14."""\n')
    assert not _told('def f():\n    """The first round\'s tool calls, or the answer."""\n')
    assert not _told("x = round(y, 2)  # round half to even, a round trip\n")


def test_no_comment_or_docstring_tells_a_tuning_round() -> None:
    told = [
        f"{path.relative_to(PROJECT_ROOT)}:{line}"
        for package in PACKAGES
        for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
        for line in _told(path.read_text(encoding="utf-8"))
    ]
    assert not told, f"move the history to docs/notes/history.md: {told}"
