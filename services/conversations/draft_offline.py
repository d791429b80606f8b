"""The offline default's drafting capability: a PydanticAI `FunctionModel` that drafts a
project from a conversation and applies plain instructions to a draft, deterministically,
with no key and no network. It answers only the two draft turns
(`use_cases/conversations/draft_agent.py`); the offline answerer of chat and advice
(`services/offline`) is untouched.

Drafting (the run offers the `write_project_draft` output tool), from the conversation JSON:
- title: the chat's title (its first request) without a leading request phrase ("Help me",
  "I want to"), capitalised; description: the first user message's first two sentences;
- goals: user sentences that say what someone wants or needs ("we need to ...", "I'd like
  to ...", "the goal is to ...", "Goal: ..."), as the clause after the verb, questions never;
- milestones: sentences or list lines with a full date (2027-03-01, March 1 2027, 1 March 2027;
  the date becomes `due` and leaves the title), and ordered steps (numbered lines, "Step 2:",
  "First, / Then / Next, / Finally,"), in conversation order;
- open questions: '?' sentences no later message of the other side followed (a user's
  question whose answer was the can't-find answer counts as unanswered too), and sentences
  flagged as open ("open question: ...", "not sure whether ...", "TBD");
- the can't-find answer (and its clarifying question) contributes nothing;
- sources: each message a part came from (`message_id`), quoting its first sentence used.
Items are de-duplicated (case-folded) and bounded like the domain's limits.

Updating (the run offers the `update_project_draft` tool): the request is split into
instructions (lines, ";", " and then "); each it understands becomes one tool call, all in
the first response (run in order: the tool is sequential). Understood: "add a goal: X", "add
a milestone: X by 2027-03-01", "add an open question: X", "remove|delete goal|milestone|
question N" (N a number, an ordinal word or "last"), "rename the project to X", "set the
title to X", "set the description to X", "change goal|question N to X", "rename milestone N
to X", "move milestone N to 2027-05-01". After the tool's answer it says what changed; after
a refused call, why; for a request it does not understand, which instructions it knows.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Sequence
from datetime import date
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
from pydantic_ai.models.function import AgentInfo, FunctionModel

from use_cases.chat.prompts import NOT_FOUND_ANSWER
from use_cases.conversations.draft_agent import (
    CONVERSATION_MARKER,
    DRAFT_MARKER,
    DRAFT_TOOL,
    REQUEST_MARKER,
    UPDATE_TOOL,
)
from use_cases.conversations.draft_domain import MAX_ITEM_CHARS, MAX_ITEMS, MAX_TITLE_CHARS
from use_cases.shared.sentences import split_sentences

MODEL_NAME = "offline-extractive"
MAX_TITLE_WORDS = 12
QUOTE_CHARS = 200
DESCRIPTION_CHARS = 400

HELP = (
    "I did not find a change to make in that request. I understand, one per line or "
    "separated by ';': add a goal: ...; add a milestone: ... by YYYY-MM-DD; add an open "
    "question: ...; remove goal|milestone|question N; rename the project to ...; set the "
    "description to ...; change goal|question N to ...; rename milestone N to ...; move "
    "milestone N to YYYY-MM-DD."
)

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ISO = r"(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})"
_MDY = rf"(?P<mon2>{_MONTH})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y2>\d{{4}})"
_DMY = rf"(?P<d3>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mon3>{_MONTH})\.?,?\s+(?P<y3>\d{{4}})"
_DATE = re.compile(rf"\b(?:{_ISO}|{_MDY}|{_DMY})\b", re.I)
#: A date with the words that attach it ("by", "on", "due", ...), removed from a title.
_DATED_PHRASE = re.compile(
    rf"\s*,?\s*\(?(?:(?:due|by|on|before|until|no later than|around)\s+)?(?:{_DATE.pattern})\)?",
    re.I,
)
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)]|step\s+\d+\s*[:.)-])\s*", re.I)
_ORDERED = re.compile(
    r"^\s*(?:\d+[.)]|step\s+\d+\s*[:.)-]|(?:first|firstly|second|secondly|then|next|"
    r"after that|afterwards|finally|lastly)\b,?)\s*",
    re.I,
)
_WANT = re.compile(
    r"\b(?:i|we|you|they|the team)\s+(?:really\s+|also\s+|still\s+)?"
    r"(?:want|need|would like|'d like|must|have to|plan|aim|hope|intend|are trying|am trying)"
    r"\s+(?:to\s+)?(?P<what>.+)",
    re.I,
)
_GOAL_IS = re.compile(
    r"\b(?:the|our|my|main|primary)\s+(?:main\s+)?(?:goal|aim|objective|purpose)\s+"
    r"(?:is|are|would be)\s+(?:to\s+)?(?P<what>.+)|^\s*goals?\s*:\s*(?P<what2>.+)",
    re.I,
)
_OPEN_FLAG = re.compile(
    r"^\s*open question\s*:\s*(?P<what>.+)|\b(?:not sure|unsure|undecided|unclear)\s+"
    r"(?:whether|if|how|when|who|what|which)\b|\bTBD\b",
    re.I,
)
_REQUEST_LEAD = re.compile(
    r"^\s*(?:(?:hi|hello|hey)[,!]?\s+)?(?:please\s+)?(?:can|could|would)\s+you\s+"
    r"(?:please\s+)?(?:help\s+(?:me|us)\s+(?:to\s+)?)?|^\s*(?:please\s+)?help\s+(?:me|us)\s+"
    r"(?:to\s+)?|^\s*(?:i|we)\s+(?:want|need|would like|'d like|plan)\s+to\s+|^\s*let'?s\s+",
    re.I,
)


# --- drafting --------------------------------------------------------------------------------


def compose_draft(conversation: dict[str, Any]) -> dict[str, Any]:
    """The draft of `conversation` ({"title", "messages": [{"id", "role", "content"}]}), as
    the output tool's arguments."""
    messages = [m for m in conversation.get("messages") or [] if isinstance(m, dict)]
    used: dict[str, str] = {}  # message id -> the first sentence used from it

    def use(message: dict[str, Any], sentence: str) -> None:
        used.setdefault(str(message.get("id")), sentence)

    goals: list[str] = []
    milestones: list[dict[str, Any]] = []
    questions: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "assistant" and _is_cant_find(message):
            continue  # the can't-find answer and its clarifying question plan nothing
        for sentence in _sentences(str(message.get("content") or "")):
            if role == "user" and (goal := _goal_of(sentence)):
                goals.append(goal)
                use(message, sentence)
            if milestone := _milestone_of(sentence):
                milestones.append(milestone)
                use(message, sentence)
            if (question := _open_question(sentence)) or (
                sentence.rstrip().endswith("?") and _unanswered(messages, index)
            ):
                questions.append(question or _clean(sentence))
                use(message, sentence)
    first = next((m for m in messages if m.get("role") == "user"), messages[0] if messages else {})
    title = _title(str(conversation.get("title") or ""), str(first.get("content") or ""))
    description = _description(str(first.get("content") or ""))
    if first and description:
        use(first, next(iter(_sentences(str(first.get("content")))), description))
    order = [str(m.get("id")) for m in messages]
    sources = [
        {"message_id": mid, "quote": _cut(used[mid], QUOTE_CHARS)}
        for mid in sorted(used, key=order.index)
    ]
    return {
        "title": title,
        "description": description,
        "goals": _unique(goals),
        "milestones": _unique_milestones(milestones),
        "open_questions": _unique(questions),
        "sources": sources[:MAX_ITEMS],
    }


def _sentences(text: str) -> Iterator[str]:
    """The text's sentences; each line of a list is a sentence of its own."""
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if _LIST_MARK.match(line):
            yield line
            continue
        yield from split_sentences(line)


def _goal_of(sentence: str) -> str | None:
    if sentence.rstrip().endswith("?"):
        return None
    found = _GOAL_IS.search(sentence) or _WANT.search(sentence)
    if found is None:
        return None
    what = found.groupdict().get("what") or found.groupdict().get("what2") or ""
    what = _DATED_PHRASE.sub("", what)
    what = re.split(r"\s+(?:but|because|so that|although)\s+", what, maxsplit=1)[0]
    return _clean(what) if len(what.split()) >= 2 else None


def _milestone_of(sentence: str) -> dict[str, Any] | None:
    when = _date_in(sentence)
    ordered = _ORDERED.match(sentence)
    if when is None and ordered is None:
        return None
    if sentence.rstrip().endswith("?"):
        return None
    title = _LIST_MARK.sub("", sentence) if ordered is None else sentence[ordered.end() :]
    title = _DATED_PHRASE.sub("", title)
    title = _REQUEST_LEAD.sub("", title)
    title = _clean(title)
    if len(title.split()) < 2 and when is None:
        return None
    return {"title": title or "Milestone", "due": when.isoformat() if when else None}


def _date_in(text: str) -> date | None:
    for found in _DATE.finditer(text):
        groups = found.groupdict()
        try:
            if groups["y1"]:
                return date(int(groups["y1"]), int(groups["m1"]), int(groups["d1"]))
            if groups["y2"]:
                month = _MONTHS[groups["mon2"].lower()]
                return date(int(groups["y2"]), month, int(groups["d2"]))
            month = _MONTHS[groups["mon3"].lower()]
            return date(int(groups["y3"]), month, int(groups["d3"]))
        except ValueError:  # 2027-02-30: not a date
            continue
    return None


def _open_question(sentence: str) -> str | None:
    found = _OPEN_FLAG.search(sentence)
    if found is None:
        return None
    return _clean(found.group("what") or sentence)


def _unanswered(messages: Sequence[dict[str, Any]], index: int) -> bool:
    """A question of message `index` no later message of the other side followed, or (a
    user's) whose next answer was the can't-find answer."""
    role = messages[index].get("role")
    later = [m for m in messages[index + 1 :] if m.get("role") != role]
    if not later:
        return True
    return role == "user" and _is_cant_find(later[0])


def _is_cant_find(message: dict[str, Any]) -> bool:
    return str(message.get("content") or "").startswith(NOT_FOUND_ANSWER)


def _title(chat_title: str, first: str) -> str:
    # The chat's title is its first message, cut: its first sentence names the project.
    text = next(iter(_sentences(chat_title or first)), "") or "Project"
    text = _REQUEST_LEAD.sub("", text)
    text = re.sub(r"\s+(?:for|with)\s+(?:me|us)\b", "", text, flags=re.I)
    words = _clean(text).rstrip("?!.").split()
    title = " ".join(words[:MAX_TITLE_WORDS]) or "Project"
    return _cut(title, MAX_TITLE_CHARS)


def _description(first: str) -> str:
    sentences = list(_sentences(first))[:2]
    return _cut(" ".join(sentences), DESCRIPTION_CHARS)


_CONNECTOR = re.compile(r"^(?:also|and|but|so|ok|okay|well)\b,?\s*", re.I)


def _clean(text: str) -> str:
    text = _CONNECTOR.sub("", " ".join(text.split()).strip(" ,;:-"))
    text = text.rstrip(".!")
    return _cut(text[:1].upper() + text[1:], MAX_ITEM_CHARS)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for item in items:
        key = item.casefold()
        if item and key not in seen:
            seen.add(key)
            kept.append(item)
    return kept[:MAX_ITEMS]


def _unique_milestones(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    kept = []
    for item in items:
        key = item["title"].casefold()
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept[:MAX_ITEMS]


# --- updating --------------------------------------------------------------------------------

_SPLIT = re.compile(r"\n+|;\s*|\s+and then\s+", re.I)
_POLITE = re.compile(r"^\s*(?:(?:please|ok|okay|now|also|and)\s*,?\s+)+|[.!]+\s*$", re.I)
_KIND = r"(?P<kind>goal|milestone|(?:open\s+)?question)"
_NUMBER = r"(?:number\s+|no\.?\s*|#)?(?P<n>\d+|[a-z]+)"
_ORDINALS = {
    "one": 1, "first": 1, "two": 2, "second": 2, "three": 3, "third": 3, "four": 4,
    "fourth": 4, "five": 5, "fifth": 5, "six": 6, "sixth": 6, "seven": 7, "seventh": 7,
    "eight": 8, "eighth": 8, "nine": 9, "ninth": 9, "ten": 10, "tenth": 10,
}  # fmt: skip
_INSTRUCTIONS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.I))
    for name, pattern in (
        ("add", rf"^(?:add|new|create)\s+(?:a\s+|an\s+|another\s+|one\s+more\s+)?{_KIND}s?"
                r"\s*(?::|-|—)?\s*(?P<text>.+)$"),
        ("remove", rf"^(?:remove|delete|drop)\s+(?:the\s+)?{_KIND}\s+{_NUMBER}$"),
        ("remove", rf"^(?:remove|delete|drop)\s+the\s+(?P<n>[a-z]+)\s+{_KIND}$"),
        ("move", rf"^(?:move|reschedule|set)\s+(?:the\s+)?(?:due\s+date\s+of\s+)?milestone\s+"
                 rf"{_NUMBER}(?:\s+due(?:\s+date)?)?\s+(?:to|for|on)\s+(?P<text>.+)$"),
        ("edit", rf"^(?:change|edit|rename|reword|replace)\s+(?:the\s+)?{_KIND}\s+{_NUMBER}"
                 r"\s+(?:to|with)\s*:?\s+(?P<text>.+)$"),
        ("title", r"^(?:rename|retitle)\s+(?:the\s+)?(?:project|draft|it)?\s*(?:to|as)\s*:?\s+"
                  r"(?P<text>.+)$"),
        ("title", r"^(?:set|change|make)\s+(?:the\s+)?(?:title|name)\s+(?:to|:)\s*(?P<text>.+)$"),
        ("title", r"^call\s+(?:it|the\s+project)\s+(?P<text>.+)$"),
        ("description", r"^(?:set|change|update|make)\s+(?:the\s+)?description\s+(?:to|:)\s*"
                        r"(?P<text>.+)$"),
        ("description", r"^describe\s+(?:it|the\s+project)\s+as\s+(?P<text>.+)$"),
    )
)  # fmt: skip


def instruction_patches(request: str, draft: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool calls' arguments for the instructions of `request` it understands, in order
    (counting "last" against `draft`, the current draft)."""
    counts = {
        "goal": len(draft.get("goals") or []),
        "milestone": len(draft.get("milestones") or []),
        "question": len(draft.get("open_questions") or []),
    }
    patches = []
    for piece in _SPLIT.split(request):
        piece = _POLITE.sub("", piece.strip().strip('"'))
        patch = _patch_of(piece, counts)
        if patch is not None:
            patches.append(patch)
    return patches


def _patch_of(text: str, counts: dict[str, int]) -> dict[str, Any] | None:
    for name, pattern in _INSTRUCTIONS:
        found = pattern.match(text)
        if found is None:
            continue
        groups = found.groupdict()
        kind = _kind(groups.get("kind") or "milestone")
        value = (groups.get("text") or "").strip().strip('"').strip()
        number = _number(groups.get("n"), counts.get(kind, 0))
        if name == "add":
            return _added(kind, value, text)
        if name in ("remove", "edit", "move") and number is None:
            return None
        if name == "remove":
            key = {"goal": "remove_goals", "milestone": "remove_milestones"}.get(
                kind, "remove_open_questions"
            )
            return {key: [number], "note": f"Removed {_label(kind)} {number}."}
        if name == "move":
            when = _date_in(value)
            if when is None:
                return None
            edit = {"number": number, "due": when.isoformat()}
            return {"edit_milestones": [edit], "note": f"Moved milestone {number} to {when}."}
        if name == "edit":
            return _edited(kind, number, value)  # type: ignore[arg-type]  # a numbered edit has its number
        if name == "title" and value:
            title = _cut(value.rstrip("."), MAX_TITLE_CHARS)
            return {"set_title": title, "note": f"Renamed the project to {title!r}."}
        if name == "description" and value:
            return {"set_description": value, "note": "Set the description."}
    return None


def _added(kind: str, value: str, text: str) -> dict[str, Any] | None:
    if not value:
        return None
    if kind == "milestone":
        when = _date_in(value)
        title = _clean(_DATED_PHRASE.sub("", value)) or "Milestone"
        milestone = {"title": title, "due": when.isoformat() if when else None}
        due = f" (due {when})" if when else ""
        return {"add_milestones": [milestone], "note": f"Added milestone {title!r}{due}."}
    item = _clean(value) if kind == "goal" else _cut(" ".join(value.split()), MAX_ITEM_CHARS)
    key = "add_goals" if kind == "goal" else "add_open_questions"
    return {key: [item], "note": f"Added {_label(kind)} {item!r}."}


def _edited(kind: str, number: int, value: str) -> dict[str, Any] | None:
    if not value:
        return None
    if kind == "milestone":
        when = _date_in(value)
        edit: dict[str, Any] = {"number": number, "title": _clean(_DATED_PHRASE.sub("", value))}
        if when:
            edit["due"] = when.isoformat()
        return {"edit_milestones": [edit], "note": f"Changed milestone {number}."}
    key = "edit_goals" if kind == "goal" else "edit_open_questions"
    text = _clean(value) if kind == "goal" else _cut(" ".join(value.split()), MAX_ITEM_CHARS)
    return {key: [{"number": number, "text": text}], "note": f"Changed {_label(kind)} {number}."}


def _kind(word: str) -> str:
    word = word.lower()
    return (
        "goal"
        if word.startswith("goal")
        else "milestone"
        if word.startswith("mile")
        else ("question")
    )


def _label(kind: str) -> str:
    return "open question" if kind == "question" else kind


def _number(word: str | None, count: int) -> int | None:
    if word is None:
        return None
    word = word.lower()
    if word.isdigit():
        return int(word)
    if word == "last":
        return count or None
    return _ORDINALS.get(word)


# --- the model -------------------------------------------------------------------------------


def _prompt(messages: Sequence[ModelMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    return ""


def _after(marker: str, text: str, end: str | None = None) -> str:
    _, _, rest = text.partition(marker)
    if end is not None:
        rest = rest.partition(end)[0]
    return rest.strip()


def _call(tool: str, args: dict[str, Any]) -> ToolCallPart:
    return ToolCallPart(
        tool_name=tool,
        args=json.dumps(args, ensure_ascii=False),
        tool_call_id=f"offline_draft_{uuid.uuid4().hex[:12]}",
    )


def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """One step of a draft turn (see the module docstring)."""
    prompt = _prompt(messages)
    if any(tool.name == DRAFT_TOOL for tool in info.output_tools):
        conversation = json.loads(_after(CONVERSATION_MARKER, prompt) or "{}")
        return ModelResponse(parts=[_call(DRAFT_TOOL, compose_draft(conversation))])
    latest = messages[-1] if messages else None
    answered = [
        p for p in getattr(latest, "parts", []) if isinstance(p, ToolReturnPart | RetryPromptPart)
    ]
    if answered:
        return ModelResponse(parts=[TextPart(_reply(answered))])
    if not any(tool.name == UPDATE_TOOL for tool in info.function_tools):
        return ModelResponse(parts=[TextPart(HELP)])
    draft = json.loads(_after(DRAFT_MARKER, prompt, REQUEST_MARKER) or "{}")
    patches = instruction_patches(_after(REQUEST_MARKER, prompt), draft)
    if not patches:
        return ModelResponse(parts=[TextPart(HELP)])
    return ModelResponse(parts=[_call(UPDATE_TOOL, patch) for patch in patches])


def _reply(answered: Sequence[ToolReturnPart | RetryPromptPart]) -> str:
    done = []
    refused = []
    for part in answered:
        # A refused call comes back as a retry: a `RetryPromptPart`, or (PydanticAI 2) a
        # tool return whose outcome is "retried".
        if isinstance(part, ToolReturnPart) and getattr(part, "outcome", None) != "retried":
            found = re.match(r"Applied \((.*?)\)\. The draft is now", str(part.content), re.S)
            done.append(found.group(1) if found else "changed")
        else:
            content = part.content
            refused.append(content if isinstance(content, str) else "the change was not valid")
    lines = []
    if done:
        lines.append("Done: " + " ".join(d if d.endswith(".") else d + "." for d in done))
    if refused:
        lines.append(
            "I could not apply "
            + ("one change" if len(refused) == 1 else "some changes")
            + ": "
            + " ".join(refused)
        )
    return " ".join(lines)


def build_offline_draft_model() -> FunctionModel:
    """The offline model of the draft turns (named like the offline default it stands in
    for)."""
    return FunctionModel(respond, model_name=MODEL_NAME)
