"""The offline answerer's word lists, one file each (`words`).

A list file holds one entry a line; a line starting with "#" is its header (what the list is
for and where it came from) and blank lines are skipped. An entry may hold several words (a
group of synonyms, a phrase); `entries` keeps each line whole, `words` splits them.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def entries(name: str) -> tuple[str, ...]:
    """The entries of the list file `name` (`<name>.txt` here), in file order."""
    text = files(__name__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def words(name: str) -> frozenset[str]:
    """The words of the list file `name`, every entry split at its spaces."""
    return frozenset(word for entry in entries(name) for word in entry.split())
