"""Domain types of structured advice: the contract, the model's part of it, and the events.

`StructuredAdvice` is what a client gets. The model writes only what it can know, the
`AdviceDraft` (the agent's output type, filled through PydanticAI structured output): the
advice, its reasoning, the alternatives, and which numbered passages it relied on. Almanac
fills the rest: `response_id` (the response log), `sources` (from the turn's citations),
`confidence_score`/`confidence_phrase` (from the evidence, never the model's say-so),
`model_identifier`, `search_decision` and `fallback`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from use_cases.access.domain import Caller
from use_cases.chat.domain import ConversationMessage
from use_cases.knowledge.scope import DocumentFilter
from use_cases.prompts.domain import ADVICE
from use_cases.shared.errors import AlmanacError
from use_cases.shared.sampling import NO_SAMPLING, Sampling

#: What the search policy decided for a turn (the names of the seed's decision engine).
SearchDecision = Literal[
    "MANDATORY",
    "DISALLOWED",
    "USER_OVERRIDE_NO",
    "USER_OVERRIDE_YES",
    "DEFAULT_NO",
    "DEFAULT_YES",
]
#: The decisions under which the knowledge-base search tool is offered to the model.
SEARCH_ALLOWED: frozenset[str] = frozenset({"MANDATORY", "USER_OVERRIDE_YES", "DEFAULT_YES"})


#: The longest each string of the advice the model writes should be, in characters: a
#: `maxLength` in the JSON schema the model is sent (a compatible server such as llama.cpp's
#: turns it into its grammar, so a small model's string ends and the advice is finished within
#: its token limit; a hosted model reads it as guidance). Not checked on validation: the
#: offline model's composed answer may be longer, and an advice is never refused for length.
#: Together (800 + 600 + two alternatives of 200 + 300) they fit the 512 tokens a compatible
#: server's response gets by default (MODEL_OPTIONS `max_tokens`).
ADVICE_MAX_CHARS = {"main_advice": 800, "reasoning": 600, "option": 200, "reason": 300}


def _max_chars(field: str) -> JsonDict:
    return {"maxLength": ADVICE_MAX_CHARS[field]}


class Alternative(BaseModel):
    """Another course of action, and when or why one would take it."""

    model_config = ConfigDict(extra="forbid")

    option: str = Field(
        min_length=1,
        description="The alternative, in one sentence.",
        json_schema_extra=_max_chars("option"),
    )
    reason: str = Field(
        description="When or why it applies, grounded in the passages.",
        json_schema_extra=_max_chars("reason"),
    )


class AdviceSource(BaseModel):
    """A passage (or table lookup) the advice relies on, numbered as its text cites it (1..n
    in the order of first citation, see `use_cases/chat/citations.py`)."""

    n: int = Field(ge=1, description="The passage number, as cited in the text ([n]).")
    document: str = Field(description="Document title, or `table: NAME` for a table lookup.")
    section: str = Field(
        description="Section path inside the document (`A > B`); empty for a table or the "
        "document's opening section."
    )
    date: str | None = Field(description="The document's date (YYYY-MM-DD), if known.")
    document_id: int | None = Field(
        default=None,
        description="The cited document's id; null for a table lookup (and in advice kept "
        "before ids were recorded). A kept advice is withheld once its reader may no longer "
        "read it.",
    )


class WebSearchReport(BaseModel):
    """The web-search status of an advice turn (see `search_discipline.web_search_status`)."""

    requested: bool
    available: bool
    reason: str
    provider: str | None = None


class StructuredAdvice(BaseModel):
    """The advice a client receives: one decision with its grounds and an honest confidence."""

    response_id: str = Field(
        description="`resp_` + a random token: the id to send feedback on.",
        examples=["resp_3q0b9x2ZkT1vJw"],
    )
    main_advice: str = Field(description="The advice itself, citing passages as [n].")
    reasoning: str = Field(description="Why: the evidence the advice follows.")
    confidence_score: float = Field(
        ge=0.0,
        le=1.0,
        description="0..1, from the retrieval evidence (0 for a fallback or a refusal by the "
        "provider).",
    )
    confidence_phrase: str = Field(description="The confidence in words.", examples=["high"])
    alternatives: list[Alternative] = Field(description="Other options; may be empty.")
    sources: list[AdviceSource] = Field(description="The passages the advice cites.")
    model_identifier: str = Field(examples=["offline-extractive"])
    search_decision: SearchDecision = Field(
        description="Whether the knowledge base was searchable for this turn, and why."
    )
    web_search: WebSearchReport | None = Field(
        None,
        description="Only when the request set enable_web_search: whether a web search was "
        "available for this turn, and why not (no provider is configured by default).",
    )
    fallback: bool = Field(
        False,
        description="true when this is the schema-valid stand-in: the model's output never "
        "validated, or the run failed after the stream began (`main_advice` says which).",
    )


class AdviceDraft(BaseModel):
    """The part of the advice the model writes (the advice agent's output type)."""

    model_config = ConfigDict(extra="forbid")

    main_advice: str = Field(
        min_length=1,
        description="The advice: lead with the decision or recommended action, then the key "
        "facts, citing the numbered passages inline like [1]. If nothing relevant was found, "
        "start with the exact can't-find sentence of your instructions.",
        json_schema_extra=_max_chars("main_advice"),
    )
    reasoning: str = Field(
        description="Why this advice: which passages say what (cite them as [n]), and what "
        "is uncertain or missing.",
        json_schema_extra=_max_chars("reasoning"),
    )
    alternatives: list[Alternative] = Field(
        default_factory=list,
        description="Other options the passages support (when to do something else); an "
        "empty list when there are none.",
    )
    cited_passages: list[int] = Field(
        default_factory=list,
        description="The numbers n of the passages the advice relies on (as in [n]); empty "
        "when nothing relevant was found.",
    )


@dataclass(frozen=True)
class AdviceRequest:
    """One advice turn: the conversation so far, ending with the user's question.

    `search_override`: True/False forces the knowledge-base search on/off for this turn (as
    `/search` and `/nosrch` do in a message); None leaves it to the search policy.
    `enable_web_search` is accepted; no web search provider is configured yet. `sampling`:
    temperature, max_tokens, top_p, seed for the model (`use_cases/shared/sampling.py`)."""

    user_id: str
    conversation: tuple[ConversationMessage, ...]
    model: str | None = None
    enable_web_search: bool = False
    search_override: bool | None = None
    sampling: Sampling = NO_SAMPLING
    thread_id: str | None = None
    """Keep this advice in the user's advice thread `thread_id` (created by the first advice
    that names it): the thread's earlier advice is the conversation, so `conversation` holds
    only the new question. None: nothing is stored (the conversation is the request's)."""
    prompt_type: str = ADVICE
    """The prompt type whose prompt in force the turn runs under: `advice` (the default) or
    another (`chat`)."""
    reader: Caller | None = None
    """Whose read rights the turn's searches have (as `ChatRequest.reader`)."""
    filters: DocumentFilter | None = None
    """What the turn's searches are narrowed to (as `ChatRequest.filters`)."""


@dataclass(frozen=True)
class AdviceThread:
    """A user's advice kept on the server: questions and their advice, like a chat."""

    id: str
    user_id: str
    title: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AdviceEntry:
    """One question of a thread and the advice it got, as the client received it."""

    id: str
    thread_id: str
    question: str
    advice: StructuredAdvice
    created_at: datetime


# --- events of a streamed advice turn ------------------------------------------------------


@dataclass(frozen=True)
class AdviceStarted:
    """The turn passed validation and the model run began."""

    model: str


@dataclass(frozen=True)
class AdviceDelta:
    """More of `main_advice`, as the model writes it. The deltas of a turn always join into a
    prefix of the final advice's `main_advice`."""

    text: str


@dataclass(frozen=True)
class AdviceFinished:
    """The final, validated advice. `fallback` marks a schema-valid stand-in (the model's
    output failed validation, or the run failed: then `error` says how; a blocking caller
    raises it, a stream has already begun and sends the fallback instead)."""

    advice: StructuredAdvice
    fallback: bool = False
    error: AlmanacError | None = None


AdviceEvent = AdviceStarted | AdviceDelta | AdviceFinished
