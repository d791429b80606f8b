"""`CompatModel`: a PydanticAI model that calls another as its `ModelOptions` say, and reports
every failed call.

It wraps each provider model the resolver builds (`services/chat/models.py`). What it adds:

- **A token limit on every response**: `max_tokens` when the request set none of its own.
- **Tool-call turns with text**: with `tool_call_text="empty"`, an assistant message that only
  calls tools is sent with `content: ""`, not `null`.
- **Bounded tool rounds**: past `tool_rounds` rounds of tool calls since the user's message,
  a request offers no function tool (its output tools stay), so the model answers.
- **Unstreamed calls, streamed on.** The agent always streams. With `stream_tools="never"` a
  request that offers tools is sent without streaming, and its finished response is replayed
  to the agent as a stream (`CompletedStreamedResponse`): the client still gets a stream, in
  one piece. With `"auto"`, a streamed request that offered tools and came back empty, or as a
  server error (5xx), before any part of the answer arrived is asked once more without
  streaming; when that answers, the model's tool requests go unstreamed from then on (logged).
- **Structured output as JSON.** With `structured_output="json_schema"`, a request whose
  output is an output tool (advice's `give_advice`, a draft's, a cleaning's) asks for that
  tool's arguments as JSON constrained by its schema (`response_format` `json_schema`); with
  `"prompted"`, as JSON the instructions describe (`response_format` `json_object`, for
  servers that refuse `json_schema`). Either is asked unstreamed and handed back as that tool's
  call: the agent validates and retries it as before, and
  no server is asked for `tool_choice: "required"`, which some refuse and others ignore. Such
  a request samples at `structured_temperature` (0, greedy, on a compatible server) unless its
  caller set a temperature.
- **Failures in the log and in `/metrics`.** A failed call is logged with the model, the
  provider's HTTP status, error code and message (cut to `MAX_LOGGED_CHARS`, the provider's
  key and anything shaped like a credential redacted), and the
  provider's request id when it sent one; the log line carries Almanac's own request id. Each
  is counted by `on_failure(model, kind)` (`failure_kind`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from typing import Any

from loguru import logger
from pydantic_ai import exceptions as ai_errors
from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    TextPart,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.models import CompletedStreamedResponse, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.output import OutputMode, OutputObjectDefinition
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import RunContext

from services.chat.model_options import ModelOptions
from use_cases.chat.search_discipline import REDACTED, redact_credentials

__all__ = ["CompatModel", "failure_kind"]


MAX_LOGGED_CHARS = 500
OnFailure = Callable[[str, str], None]


def _ignore(model: str, kind: str) -> None:
    return None


class CompatModel(WrapperModel):
    """`wrapped`, called as `options` say (module docstring); `identifier` names it in logs."""

    def __init__(
        self,
        wrapped: Any,
        options: ModelOptions,
        *,
        identifier: str,
        on_failure: OnFailure = _ignore,
        secrets: tuple[str, ...] = (),
    ) -> None:
        super().__init__(wrapped)
        self.options = options
        self.identifier = identifier
        self._on_failure = on_failure
        self._secrets = tuple(secret for secret in secrets if secret)
        self._streams_tools = options.stream_tools != "never"

    # --- requests ------------------------------------------------------------------------

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        params = self._within_tool_rounds(messages, model_request_parameters)
        params, output_tool = self._as_json_text(params)
        settings = self._limited(model_settings)
        if output_tool:
            settings = self._structured(settings)
        try:
            response = await self.wrapped.request(self._sendable(messages), settings, params)
        except Exception as exc:
            self._report(exc)
            raise
        return _as_tool_call(response, output_tool) if output_tool else response

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        params = self._within_tool_rounds(messages, model_request_parameters)
        if self._unstreamed(params):
            yield await self._replayed(messages, model_settings, params)
            return
        async with AsyncExitStack() as stack:
            try:
                stream = await stack.enter_async_context(
                    self.wrapped.request_stream(
                        self._sendable(messages), self._limited(model_settings), params, run_context
                    )
                )
            except Exception as exc:
                if not self._falls_back(exc, params):
                    self._report(exc)
                    raise
                stream = None
            if stream is None:
                replayed = await self._replayed(messages, model_settings, params)
                self._streams_tools = False  # only once the unstreamed request answered
                logger.warning(
                    "Model {} answered unstreamed after a streamed request that may call tools "
                    "failed; its tool calls are asked for without streaming from now on "
                    "(MODEL_OPTIONS stream_tools).",
                    self.identifier,
                )
                yield replayed
                return
            try:
                yield stream
            except Exception as exc:
                self._report(exc)
                raise

    async def _replayed(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        params: ModelRequestParameters,
    ) -> StreamedResponse:
        response = await self.request(messages, model_settings, params)
        return CompletedStreamedResponse(
            response, model_request_parameters=params, replay_events=True
        )

    def _sendable(self, messages: list[ModelMessage]) -> list[ModelMessage]:
        """`messages` as the server takes them: with `tool_call_text="empty"`, a response that
        only calls tools gets an empty text part (sent as `content: ""`)."""
        if self.options.tool_call_text != "empty":
            return messages
        return [_with_text(message) for message in messages]

    def _limited(self, model_settings: ModelSettings | None) -> ModelSettings | None:
        """`model_settings` with the options' token limit unless they set one."""
        limit = self.options.max_tokens
        if not limit or (model_settings or {}).get("max_tokens") is not None:
            return model_settings
        return {**(model_settings or {}), "max_tokens": limit}

    def _structured(self, model_settings: ModelSettings | None) -> ModelSettings | None:
        """`model_settings` with the options' `structured_temperature` unless they set one."""
        temperature = self.options.structured_temperature
        if temperature is None or (model_settings or {}).get("temperature") is not None:
            return model_settings
        return {**(model_settings or {}), "temperature": temperature}

    def _within_tool_rounds(
        self, messages: list[ModelMessage], params: ModelRequestParameters
    ) -> ModelRequestParameters:
        """`params` without function tools once the turn has had `tool_rounds` rounds."""
        limit = self.options.tool_rounds
        if limit is None or not params.function_tools:
            return params
        if tool_rounds_since_prompt(messages) < limit:
            return params
        return replace(params, function_tools=[])

    # --- decisions -----------------------------------------------------------------------

    def _unstreamed(self, params: ModelRequestParameters) -> bool:
        if self._output_as_json(params):
            return True
        return _offers_tools(params) and not self._streams_tools

    def _falls_back(self, exc: Exception, params: ModelRequestParameters) -> bool:
        """Whether a streamed request that failed before its first part is asked again
        unstreamed (and the model's tool requests go unstreamed from now on)."""
        if self.options.stream_tools != "auto" or not _offers_tools(params):
            return False
        empty = isinstance(exc, ai_errors.UnexpectedModelBehavior) and not isinstance(
            exc, ai_errors.ModelAPIError
        )
        server_error = isinstance(exc, ai_errors.ModelHTTPError) and exc.status_code >= 500
        if not (empty or server_error):
            return False
        logger.warning(
            "Model {} could not stream a response that may call tools ({}); asking again "
            "without streaming.",
            self.identifier,
            self._redacted(_described(exc)),
        )
        return True

    def _output_as_json(self, params: ModelRequestParameters) -> bool:
        """Whether this request's output tool is asked for as JSON text instead
        (`structured_output` `json_schema` or `prompted`)."""
        return (
            self.options.structured_output != "tool"
            and params.output_mode == "tool"
            and len(params.output_tools) == 1
            and not params.allow_text_output
        )

    def _as_json_text(
        self, params: ModelRequestParameters
    ) -> tuple[ModelRequestParameters, str | None]:
        """`params` asking for the output tool's arguments as schema-constrained JSON, and
        that tool's name; unchanged (and None) unless the options and the request call for it."""
        if not self._output_as_json(params):
            return params, None
        tool = params.output_tools[0]
        mode: OutputMode = (
            "native" if self.options.structured_output == "json_schema" else "prompted"
        )
        native = replace(
            params,
            output_mode=mode,
            output_object=OutputObjectDefinition(
                json_schema=tool.parameters_json_schema,
                name=tool.name,
                description=tool.description,
                strict=tool.strict,
            ),
            output_tools=[],
            # The JSON arrives as text: a model that may answer is not forced to call a tool.
            allow_text_output=True,
        )
        return native, tool.name

    # --- failures ------------------------------------------------------------------------

    def _redacted(self, text: str) -> str:
        """`text` without the provider's key (some servers repeat the key they were sent in
        their error, whole or its end) nor anything shaped like a credential."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
            if len(secret) >= 16:
                text = text.replace(secret[-12:], REDACTED)
        return redact_credentials(text)

    def _report(self, exc: BaseException) -> None:
        kind = failure_kind(exc)
        if kind is None:
            return
        logger.warning(
            "Model call failed: model {}, {}", self.identifier, self._redacted(_described(exc))
        )
        self._on_failure(self.identifier, kind)


def _with_text(message: ModelMessage) -> ModelMessage:
    if not isinstance(message, ModelResponse):
        return message
    parts = message.parts
    if any(isinstance(part, TextPart) for part in parts) or not any(
        isinstance(part, ToolCallPart) for part in parts
    ):
        return message
    return replace(message, parts=[TextPart(""), *parts])


def tool_rounds_since_prompt(messages: list[ModelMessage]) -> int:
    """How many responses called a tool since the latest user prompt."""
    rounds = 0
    for message in reversed(messages):
        if isinstance(message, ModelResponse):
            rounds += any(isinstance(part, ToolCallPart) for part in message.parts)
        elif any(isinstance(part, UserPromptPart) for part in message.parts):
            break
    return rounds


def _offers_tools(params: ModelRequestParameters) -> bool:
    return bool(params.function_tools or params.output_tools)


def _as_tool_call(response: ModelResponse, tool_name: str) -> ModelResponse:
    """A schema-constrained JSON answer as the output tool's call (`CompatModel`); a response
    that calls a function tool is left as it is."""
    if any(isinstance(part, ToolCallPart) for part in response.parts):
        return response
    text = "".join(part.content for part in response.parts if isinstance(part, TextPart))
    if not text.strip():
        return response
    call = ToolCallPart(tool_name=tool_name, args=text, tool_call_id=f"call_{uuid.uuid4().hex}")
    kept = [part for part in response.parts if not isinstance(part, TextPart)]
    return replace(response, parts=[*kept, call])


def failure_kind(exc: BaseException) -> str | None:
    """How a failed model call is counted: `timeout`, `connection`, `rate_limit`, `http_4xx`,
    `http_5xx`, `provider_error` (the provider said so without a status) or `bad_response`
    (an answer that could not be read); None for what is not a model call's failure (a
    cancelled task, a validation retry)."""
    if isinstance(exc, ai_errors.ModelTimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, ai_errors.ModelConnectionError):
        return "connection"
    if isinstance(exc, ai_errors.ModelRateLimitError | ai_errors.ModelQuotaExceededError):
        return "rate_limit"
    if isinstance(exc, ai_errors.ModelHTTPError):
        return "http_5xx" if exc.status_code >= 500 else "http_4xx"
    if isinstance(exc, ai_errors.ModelAPIError):
        return "provider_error"
    if isinstance(exc, ai_errors.UnexpectedModelBehavior):
        return "bad_response"
    return None


def _described(exc: BaseException) -> str:
    """The provider's status, code, message and request id, for the log."""
    parts: list[str] = []
    status = getattr(exc, "status_code", None)
    if status:
        parts.append(f"HTTP {status}")
    code = getattr(exc, "provider_error_code", None)
    if code:
        parts.append(f"code {code}")
    message = " ".join(str(getattr(exc, "message", None) or exc).split())
    body = getattr(exc, "body", None)
    if body and str(body) not in message:
        message = f"{message} {' '.join(str(body).split())}"
    parts.append(f"{type(exc).__name__}: {message[:MAX_LOGGED_CHARS]}")
    request_id = getattr(exc.__cause__, "request_id", None)
    if request_id:
        parts.append(f"provider request id {request_id}")
    return ", ".join(parts)
