"""OpenAI's Chat Completions shapes, and what a request means to Almanac.

A request becomes one stateless chat turn (`ChatRequest.conversation`): its messages are the
conversation, the last one (the user's) the question. Rules:

- Roles: `system` and `developer` messages are bounded with the rest but are not part of the
  turn (the server's prompt rules, as for `POST /api/chat`); `user` and `assistant` are the
  conversation; `tool` and `function` messages, an assistant message with `tool_calls`, and
  any other role are a 400 naming the message (Almanac runs its own tools and takes none
  from the client).
- Content: a string or a list of text parts. An image part is a 400 (Almanac's assistants
  read text only), as is any other part type.
- `n` other than 1, `tools`/`functions`, and a `response_format` other than text are a 400
  that says so. `max_completion_tokens` (or the older `max_tokens`), `temperature`, `top_p`
  and `seed` are the turn's sampling; other OpenAI fields are accepted and ignored.
- `user` (the end user's label in OpenAI's API) is accepted and ignored: the key decides
  whose turn it is, so it never acts for another user.
- `store: true` also keeps the conversation and its answer as a new chat of the key's user.
- `model`: `almanac` (the default chat model) or one of the allowed models (`GET /v1/models`);
  any other is a 404 `model_not_found`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.api.answers import turn_data
from backend.api.openai_api.errors import OpenAIError
from use_cases.chat.chat_turns import ChatRequest, ChatResult
from use_cases.chat.domain import ConversationMessage
from use_cases.shared.sampling import MAX_SEED, MAX_TEMPERATURE, MAX_TOKENS, Sampling

#: The model id of Almanac's default chat model (whatever `GET /model` says it is now).
DEFAULT_MODEL_ID = "almanac"
#: Who "owns" Almanac's models in `GET /v1/models`.
OWNER = "almanac"
#: The extension field holding Almanac's answer fields (message, and the stream's last chunk).
EXTENSION = "almanac"

_IGNORED_ROLES = ("system", "developer")
_CONVERSATION_ROLES = ("user", "assistant")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str = Field(max_length=32)
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class ChatCompletionIn(BaseModel):
    """OpenAI's `POST /v1/chat/completions` body, as Almanac reads it (see the module)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=200, examples=["almanac"])
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=MAX_TEMPERATURE)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    n: int | None = None
    tools: list[Any] | None = None
    functions: list[Any] | None = None
    response_format: dict[str, Any] | None = None
    user: str | None = Field(None, max_length=256)
    keep: bool | None = Field(
        False,
        alias="store",
        description="OpenAI's `store`: also keep the conversation as a chat of the key's user.",
    )

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def checked_options(self) -> None:
        """Refuse what OpenAI's API offers and Almanac's turn cannot do."""
        if self.n not in (None, 1):
            raise OpenAIError(400, "n must be 1: Almanac gives one answer.", param="n")
        if self.tools or self.functions:
            raise OpenAIError(
                400,
                "tools are not supported: Almanac runs its own tools (knowledge-base search, "
                "read-only SQL) and takes none from the client.",
                param="tools" if self.tools else "functions",
            )
        kind = (self.response_format or {}).get("type", "text")
        if kind != "text":
            raise OpenAIError(
                400,
                f"response_format {kind!r} is not supported: answers are cited text "
                "(POST /advice gives structured advice).",
                param="response_format",
            )

    def conversation(self) -> list[ConversationMessage]:
        """The messages as text, each checked (see the module's rules)."""
        return [_text_message(index, message) for index, message in enumerate(self.messages)]

    def sampling(self) -> Sampling:
        return Sampling(
            temperature=self.temperature,
            max_tokens=self.max_completion_tokens or self.max_tokens,
            top_p=self.top_p,
            seed=self.seed,
        )

    def to_request(
        self,
        user_id: str,
        model: str | None,
        question: str,
        messages: Sequence[ConversationMessage],
    ) -> ChatRequest:
        """The stateless turn: `question` after the conversation's other user and assistant
        messages (`messages` without its last)."""
        prior = tuple(m for m in messages[:-1] if m.role in _CONVERSATION_ROLES)
        return ChatRequest(
            user_id,
            question,
            model=model,
            sampling=self.sampling(),
            conversation=prior,
            keep=bool(self.keep),
        )


def _text_message(index: int, message: ChatMessageIn) -> ConversationMessage:
    role = message.role
    where = f"messages[{index}]"
    if role in ("tool", "function") or getattr(message, "tool_calls", None):
        raise OpenAIError(
            400,
            f"{where} is a tool {'call' if role == 'assistant' else 'message'}: Almanac runs "
            "its own tools and takes no tool messages from the client.",
            param=f"{where}.role",
        )
    if role not in (*_IGNORED_ROLES, *_CONVERSATION_ROLES):
        raise OpenAIError(
            400,
            f"{where} has role {role!r}; roles are 'system', 'developer', 'user' and 'assistant'.",
            param=f"{where}.role",
        )
    kept = "system" if role in _IGNORED_ROLES else role  # bounded, then left out of the turn
    return ConversationMessage(kept, _text(where, message.content))


def _text(where: str, content: str | list[dict[str, Any]] | None) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for number, part in enumerate(content):
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind in ("image_url", "input_image"):
            raise OpenAIError(
                400,
                f"{where}.content[{number}] is an image: Almanac's models read text only "
                "(no vision model is configured).",
                param=f"{where}.content",
            )
        else:
            raise OpenAIError(
                400,
                f"{where}.content[{number}] has type {kind!r}; only 'text' parts are read.",
                param=f"{where}.content",
            )
    return "\n".join(texts)


# --- answers ---------------------------------------------------------------------------------


def answer_fields(result: ChatResult, document_link: str) -> dict[str, Any]:
    """Almanac's fields of an answer (`turn_data`, as `POST /chat` answers them), each
    document source with its `link`: a synced web page's own URL (its citation link, as
    `POST /chat` gives it), else `document_link` with `{id}`; `chat_id` is null for an answer
    that was not stored."""
    data = turn_data(result)
    data["chat_id"] = result.chat_id or None
    data["sources"] = [
        {**source, "link": source.get("link") or _link(document_link, source.get("document_id"))}
        for source in data["sources"]
    ]
    return data


def _link(template: str, document_id: Any) -> str | None:
    # replace, not format: the template holds the request's host, which may hold braces
    return template.replace("{id}", str(document_id)) if document_id else None


def completion_id(result_or_message_id: str) -> str:
    return f"chatcmpl-{result_or_message_id}"


def finish_reason(result: ChatResult) -> Literal["stop", "content_filter"]:
    """A provider's content-filter refusal is OpenAI's `content_filter`; any answer else
    (the can't-find answer too) is `stop`."""
    return "content_filter" if result.refused else "stop"


def usage(result: ChatResult) -> dict[str, int] | None:
    """The tokens as the model reported them; null when it reported none (unknown, not 0)."""
    if not result.usage.reported:
        return None
    prompt, completion = result.usage.input_tokens, result.usage.output_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def completion(
    result: ChatResult, model_id: str, created: int, document_link: str
) -> dict[str, Any]:
    """A finished turn as OpenAI's `chat.completion` object."""
    return {
        "id": completion_id(result.message_id),
        "object": "chat.completion",
        "created": created,
        "model": model_id,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": result.answer,
                    "refusal": None,
                    EXTENSION: answer_fields(result, document_link),
                },
                "logprobs": None,
                "finish_reason": finish_reason(result),
            }
        ],
        "usage": usage(result),
    }


def model_object(model_id: str, created: int) -> dict[str, Any]:
    """One of Almanac's models as OpenAI's `model` object."""
    return {"id": model_id, "object": "model", "created": created, "owned_by": OWNER}
