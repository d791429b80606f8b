"""Structured advice from the offline model: the composer's answer, given through the output
tool PydanticAI offers when a run's output is structured (`AgentInfo.output_tools`).

Rules:
- `main_advice` is the composer's answer without its **Sources** list (sources are Almanac's
  to fill in); `cited_passages` are the [n] it cites.
- `reasoning` names the evidence: the cited passages (title, section, date) and how much of
  the question the best sentence covers; for the can't-find answer, how many passages were
  retrieved and that none held enough, citing nothing.
- A declined turn (`TurnDecisions.declined`, given to the model bound to the turn) advises
  the decline and says why nothing was looked up (`declined_advice_call`).
- `alternatives`: other documents among the best-ranked hits of the turn (rank within its own
  search below `AdviceTuning.alternative_max_rank`, found by both the words and the meaning
  search, not superseded, not cited), at most `AdviceTuning.max_alternatives`, each with the
  sentence of it that shares most words with the question, which must hold at least
  `AdviceTuning.alternative_min_share` of them. None for the can't-find answer.
- The arguments are written as one JSON object, `main_advice` first, so a stream of them
  shows the advice first.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic_ai.messages import ToolCallPart

from services.offline.read import units_of
from services.offline.render import Answer
from services.offline.text import content_stems
from services.offline.tuning import AdviceTuning
from use_cases.chat.citations import citation_markers

_SOURCES = re.compile(r"\n+\*\*Sources\*\*\n.*\Z", re.S)


def advice_call(
    answer: Answer, question: str, hits: list[dict[str, Any]], tool: str, tuning: AdviceTuning
) -> ToolCallPart:
    """The output tool call carrying the advice for `answer` (`tuning`: the answer
    context's)."""
    return ToolCallPart(
        tool_name=tool,
        args=json.dumps(advice_args(answer, question, hits, tuning), ensure_ascii=False),
    )


DECLINED_REASONING = "Almanac declines this kind of request, so no search or table lookup was made."


def declined_advice_call(text: str, tool: str) -> ToolCallPart:
    """The output tool call of a declined turn: the decline as the advice, nothing cited."""
    args = {
        "main_advice": text,
        "reasoning": DECLINED_REASONING,
        "alternatives": [],
        "cited_passages": [],
    }
    return ToolCallPart(
        tool_name=tool,
        args=json.dumps(args, ensure_ascii=False),
    )


def advice_args(
    answer: Answer, question: str, hits: list[dict[str, Any]], tuning: AdviceTuning
) -> dict[str, Any]:
    main_advice = _SOURCES.sub("", answer.text).strip()
    if not answer.found:
        return {
            "main_advice": main_advice,
            "reasoning": _refusal_reasoning(hits),
            "alternatives": [],
            "cited_passages": [],
        }
    cited = sorted(citation_markers([main_advice])[0])
    by_number = {h.get("number"): h for h in hits}
    return {
        "main_advice": main_advice,
        "reasoning": _reasoning([by_number[n] for n in cited if n in by_number]),
        "alternatives": _alternatives(question, hits, set(cited), tuning),
        "cited_passages": cited,
    }


def _label(hit: dict[str, Any]) -> str:
    title = str(hit.get("title") or "Untitled")
    section = str(hit.get("section") or "").split(" > ")[-1].strip()
    return f"{title}, {section}" if section and section.casefold() != title.casefold() else title


def _dated(hit: dict[str, Any]) -> str:
    """ " (updated 2025-09-15; current version ...)", or nothing for an undated document."""
    details = [f"updated {hit['updated_at']}"] if hit.get("updated_at") else []
    details += [hit["version_note"]] if hit.get("version_note") else []
    return f" ({'; '.join(details)})" if details else ""


def _reasoning(cited: list[dict[str, Any]]) -> str:
    if not cited:  # a table lookup: the rows are the evidence
        return "This follows the rows of the table lookup cited in the advice."
    # For people: which passages the advice rests on and how current they are, not the
    # scorer's figures (those are in the confidence).
    named = "; ".join(f"{_label(h)} [{h['number']}]{_dated(h)}" for h in cited)
    return (
        f"This follows {named}, the passage{'s' if len(cited) > 1 else ''} of the knowledge "
        f"base that best match{'' if len(cited) > 1 else 'es'} the question."
    )


def _refusal_reasoning(hits: list[dict[str, Any]]) -> str:
    if not hits:
        return "The knowledge base search returned no passages for this question."
    return (
        f"The search returned {len(hits)} passage{'s' if len(hits) != 1 else ''}, but none "
        "held enough evidence to advise on this question, so no advice is given."
    )


def _alternatives(
    question: str, hits: list[dict[str, Any]], cited: set[int], tuning: AdviceTuning
) -> list[dict[str, str]]:
    cited_documents = {h.get("document_id") for h in hits if h.get("number") in cited}
    found: list[dict[str, str]] = []
    seen: set[Any] = set(cited_documents)
    for hit in hits:
        document = hit.get("document_id")
        if (
            hit.get("number") in cited
            or document in seen
            or hit.get("superseded_by")
            or int(hit.get("_rank", 99)) >= tuning.alternative_max_rank
            or hit.get("bm25_rank") is None
            or hit.get("vector_distance") is None
        ):
            continue
        sentence = _best_sentence(question, hit, tuning)
        if sentence is None:
            continue
        seen.add(document)
        found.append(
            {
                "option": f"Consult {_label(hit)} [{hit['number']}] if it fits your case better.",
                "reason": f"It was also retrieved for this question: {sentence}",
            }
        )
        if len(found) >= tuning.max_alternatives:
            break
    return found


def _best_sentence(question: str, hit: dict[str, Any], tuning: AdviceTuning) -> str | None:
    """The sentence of a passage sharing most content words with the question (None if it
    shares too few)."""
    terms = set(content_stems(question))
    units = units_of(str(hit.get("text") or ""), set(), 0, 0)
    scored = [(len(terms & u.stems), -u.position, u.text) for u in units]
    best = max(scored, default=None)
    if best is None or best[0] == 0 or best[0] < tuning.alternative_min_share * len(terms):
        return None
    text, cut = best[2].strip(), tuning.reason_chars
    return text if len(text) <= cut else text[: cut - 1] + "…"
