"""The lines of a document, as the knowledge base counts them across documents to recognise
boilerplate: a footer, a navigation bar, a "Part of the ... suite" line that many pages of one
corpus repeat word for word.

Rules:
- Each document's distinct lines are recorded when it is written (`document_lines`, the
  `document_lines` table of both databases), and removed with it (a cascade; replacing a
  document replaces its lines): the count of documents holding a line is always current.
- A line is compared as `line_key` writes it: Markdown's marks (heading hashes, list bullets,
  quote marks, table bars, emphasis) dropped, spaces collapsed, lower case. A line of fewer
  than `MIN_WORDS` words, or longer than `MAX_CHARS` characters, is never boilerplate (a code
  fence, a one-word label, a paragraph) and is not recorded.
- Which lines are boilerplate is decided when answering, from the counts (the offline
  answerer's `ChooseTuning.boilerplate_share` of the documents, `boilerplate_documents` at
  least): the recording names no corpus's words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: A line of fewer words than this is never counted (a fence, a one-word label).
MIN_WORDS = 2
#: A longer line is prose: never counted.
MAX_CHARS = 200

_MARKS = re.compile(r"^[\s#>*+|-]+|[\s|]+$|[*_`]+")
_WORD = re.compile(r"[^\W\d_]{2,}")


def normalized(text: str) -> str:
    """`text` as lines are compared: Markdown's marks dropped, spaces collapsed, lower case."""
    return " ".join(_MARKS.sub(" ", text).split()).lower()


def line_key(line: str) -> str | None:
    """The line as documents are compared by it, or None when it is never counted."""
    key = normalized(line)
    if len(key) > MAX_CHARS or len(_WORD.findall(key)) < MIN_WORDS:
        return None
    return key


def document_lines(texts: Iterable[str]) -> set[str]:
    """The distinct counted lines (`line_key`) of a document's section texts."""
    return {key for text in texts for line in text.splitlines() if (key := line_key(line))}
