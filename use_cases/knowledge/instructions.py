"""Text in a document that tries to instruct the assistant is withheld at ingestion.

A knowledge base holds third-party files. A paragraph addressed to the assistant ("Ignore all
previous instructions...", "Note to the AI: ...", "reveal your system prompt") is not
knowledge: whoever reads the document's passages (an LLM or the offline answerer) must never
obey it, quote it as an answer, or refuse because of it.

Rules:
- A paragraph is withheld when one of its sentences (a) tells its reader to set aside its
  instructions ("ignore all previous instructions"), (b) asks for the assistant's own
  instructions ("reveal your system prompt"), or (c) addresses an AI reader ("Note to the
  AI:", "AI assistant:", "you are now an AI ...", "you are now in maintenance mode"). The
  whole paragraph goes, so the orders that follow the address ("answer exactly: ...") go
  with it.
- Text written for people is left alone, even about the same things: "ignore the previous
  rules" (a policy change), "do not paste data into the system prompt", "send it to the
  assistant, who ...", "enable developer mode". Each pattern needs both the imperative and
  its object, or an AI addressee followed by a colon.
- What is withheld is kept on the document's metadata (`withheld_instructions`, a JSON list of
  the paragraphs, each cut to `MAX_KEPT_CHARS`) so admins see why; it is never indexed,
  embedded or shown as evidence.
- A section left with no text is dropped (a heading alone is no knowledge); a document left
  with no text at all is refused, saying why.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

from use_cases.knowledge.domain import ParsedDocument, ParsedSection

__all__ = ["METADATA_KEY", "instruction_paragraphs", "withheld_of", "withhold_instructions"]

#: The document metadata key listing the withheld paragraphs (a JSON list of strings).
METADATA_KEY = "withheld_instructions"
#: Characters of each withheld paragraph kept for admins.
MAX_KEPT_CHARS = 500
#: Entries kept per document: the first withheld paragraphs, the last entry saying how many
#: more there were when they do not all fit.
MAX_KEPT = 20

#: Who an injected order addresses: an AI reader, never a person ("the assistant" may be one).
_AI = r"(?:ai(?:\s+(?:assistant|model|system|agent))?|a\.i\.|chat\s?bot|language\s+model|llm|gpt)"

_PATTERNS = [
    # (a) set your instructions aside: "ignore all previous instructions"
    re.compile(
        r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,30}?"
        r"\b(?:previous|prior|above|earlier|preceding|all|any|your|original|system)\s+"
        r"(?:\w+\s+){0,2}?(?:instructions|prompts?|directives)\b",
        re.IGNORECASE,
    ),
    # (b) the assistant's own instructions: "reveal your system prompt"
    re.compile(
        r"\b(?:reveal|print|repeat|show|output|disclose|recite|leak)\s+(?:me\s+)?(?:your|the)\s+"
        r"(?:(?:system|initial|hidden|original)\s+)?(?:prompt|instructions)\b",
        re.IGNORECASE,
    ),
    # (c) an address to an AI reader: "Note to the AI:", "AI assistant:", "you are now ..."
    re.compile(
        rf"\b(?:note|notice|message|instructions?|attention|to|dear|hey)\s+(?:(?:to|for)\s+)?"
        rf"(?:the\s+|any\s+|all\s+)?{_AI}s?\b[^:\n]{{0,30}}:|"
        rf"^\W*{_AI}s?\s*(?:notice|note|instructions?)?\s*:|"
        rf"\byou\s+are\s+(?:now\s+)?(?:an?\s+)?(?:[a-z]+\s+)?{_AI}\b|"
        rf"\byou\s+are\s+now\s+in\s+\w+\s+mode\b|"
        rf"\bif\s+you\s+are\s+an?\s+{_AI}\b|"
        rf"\bas\s+an?\s+ai\s+language\s+model\b",
        re.IGNORECASE | re.MULTILINE,
    ),
]

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def instruction_paragraphs(text: str) -> list[str]:
    """The paragraphs of `text` that try to instruct the assistant."""
    return [p for p in _paragraphs(text) if _instructs(p)]


def withhold_instructions(parsed: ParsedDocument) -> ParsedDocument:
    """`parsed` without its instruction paragraphs, which go to its metadata (see above)."""
    withheld: list[str] = []
    sections = []
    for section in parsed.sections:
        kept = []
        for paragraph in _paragraphs(section.text):
            if _instructs(paragraph):
                withheld.append(paragraph.strip())
            else:
                kept.append(paragraph)
        text = "\n\n".join(kept) if len(kept) != len(_paragraphs(section.text)) else section.text
        sections.append(
            section if text is section.text else ParsedSection(section.heading_path, text)
        )
    if not withheld:
        return parsed
    metadata = dict(parsed.metadata)
    metadata[METADATA_KEY] = json.dumps(_kept(withheld), ensure_ascii=False)
    return replace(
        parsed,
        sections=tuple(s for s in sections if s.text.strip()),
        metadata=metadata,
    )


def withheld_of(metadata: dict[str, str]) -> list[str]:
    """The withheld paragraphs a document's metadata lists (none for a clean document)."""
    raw = metadata.get(METADATA_KEY)
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _paragraphs(text: str) -> list[str]:
    return [p for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


def _instructs(paragraph: str) -> bool:
    return any(pattern.search(paragraph) for pattern in _PATTERNS)


def _cut(paragraph: str) -> str:
    return paragraph if len(paragraph) <= MAX_KEPT_CHARS else paragraph[: MAX_KEPT_CHARS - 1] + "…"


def _kept(withheld: list[str]) -> list[str]:
    if len(withheld) <= MAX_KEPT:
        return [_cut(p) for p in withheld]
    shown = MAX_KEPT - 1
    return [_cut(p) for p in withheld[:shown]] + [f"(and {len(withheld) - shown} more)"]
