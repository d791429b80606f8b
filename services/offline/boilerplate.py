"""What of a retrieved passage is no content: never an answer's sentence, nor evidence for one.

Two kinds, both recognised by their shape, never by their words:
- a line that many of the knowledge base's documents repeat word for word (a footer, a
  navigation bar, "Part of the ... suite"), counted when the documents were written
  (services/knowledge/repeated_lines.py) and judged boilerplate by `ChooseTuning.boilerplate_*`
  (`AnswerContext.boilerplate`): a sentence read from such a line;
- a list of names and nothing else ("borg-init(1), borg-create(1), borg-prune(1)", a manual
  page's "see also"): at least three items, each one name (one word, maybe with a manual
  section), no sentence around them. A list a sentence introduces ("Formats: json, yaml, toml")
  is that sentence's, and stays.

The passage stays searchable as it is: only the answerer's candidate sentences drop them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.knowledge.repeated_lines import line_key, normalized
from services.offline.read import Unit

#: One name: a word of letters, digits and the marks names hold, maybe with a manual section.
_NAME = r"[^\W\d][\w.:/+@-]*(?:\(\d\w*\))?"
_NAME_LIST = re.compile(rf"^\s*{_NAME}(?:\s*,\s*{_NAME}){{2,}}\s*[.;]?\s*$")


def is_name_list(text: str) -> bool:
    """Whether `text` is only a list of three names or more."""
    return _NAME_LIST.match(text) is not None


def content_units(units: Sequence[Unit], passage: str, boilerplate: frozenset[str]) -> list[Unit]:
    """The passage's `units` less those read from a boilerplate line of it and the bare lists
    of names."""
    repeated = [key for line in passage.splitlines() if (key := line_key(line)) in boilerplate]
    kept = []
    for unit in units:
        text = normalized(unit.text)
        if is_name_list(unit.text) or (text and any(text in line for line in repeated)):
            continue
        kept.append(unit)
    return kept
