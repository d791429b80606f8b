"""How Almanac talks to one model: `ModelOptions`, per model, from the `MODEL_OPTIONS` setting.

OpenAI's API and the servers that imitate it (llama.cpp's `llama-server`, llama-cpp-python's
server, Ollama, vLLM) differ where it hurts: which field carries the token limit, whether tool
calls can be streamed, whether `tool_choice: "required"` is honoured, refused or ignored, and how
fast they are. The options say, per model, what Almanac does about each:

| option              | values                                | hosted     | compatible server |
|---------------------|---------------------------------------|------------|-------------------|
| `max_tokens`        | tokens per model response             | (provider) | 512               |
| `max_tokens_field`  | `max_completion_tokens`, `max_tokens` | the first  | `max_tokens`      |
| `stream_tools`      | `auto`, `always`, `never`             | `always`   | `auto`            |
| `structured_output` | `tool`, `json_schema`, `prompted`     | `tool`     | `json_schema`     |
| `search_first`      | `model`, `almanac`                    | `model`    | `almanac`         |
| `tool_rounds`       | tool-call rounds per turn, then none  | unbounded  | 2                 |
| `tool_call_text`    | `null`, `empty`                       | `null`     | `empty`           |
| `structured_temperature` | temperature of structured requests, or `null` | `null` | 0   |
| `request_timeout_s` | seconds one model request may take    | (settings) | 300               |
| `turn_timeout_s`    | seconds one whole turn may take       | (settings) | 300               |

("(settings)": PROVIDER_TIMEOUT and AGENT_TIMEOUT; "(provider)": none sent, the provider's own
default, as a reasoning model's limit counts its reasoning too.)

A *compatible server* is an `openai:` model while `OPENAI_BASE_URL` is set; every other model
(OpenAI itself, Anthropic, Google, ...) is *hosted*.

- `max_tokens`: sent with every request whose caller set no limit of its own (a request's own
  `max_tokens` wins). Without it a small local model writes until its context is full.
- `max_tokens_field`: OpenAI reads `max_completion_tokens`; llama-cpp-python's server reads only
  `max_tokens` (llama.cpp, Ollama and vLLM read both).
- `stream_tools`: `always` streams every request; `never` asks for every response that may
  call a tool without streaming, and streams the finished response to the client
  (llama-cpp-python's server cannot stream tool calls); `auto` streams, and when a streamed
  response that offered tools comes back empty or as a server error, asks once more without
  streaming, and once that answers keeps doing so for that model. Hosted providers stream tool
  calls, and a 5xx there is an outage, not a missing feature: they default to `always`.
- `structured_output`: `tool` has the model call an output tool (`give_advice`) with
  `tool_choice: "required"`; `json_schema` asks for the output as JSON constrained by its schema
  (`response_format`), which llama.cpp, Ollama and vLLM enforce, and hands it to the agent as
  that output tool's call; `prompted` describes the schema in the instructions and asks for a
  JSON object (llama-cpp-python's server refuses `json_schema`).
- `search_first`: when a turn must search (the search policy's MANDATORY), `model` asks the
  model to search and sends an answer that did not back for a retry; `almanac` runs the first
  search itself with the question, gives the model its result as that tool call's result, and
  the model may search again. A small model seldom calls a tool by itself, and servers ignore a
  forced tool choice.

- `tool_rounds`: after this many rounds of tool calls since the user's message (Almanac's
  opening search counts as one), the model's next request offers no tool, so it answers with
  what it has. A small model imitates the tool calls it sees until its context is full
  (SmolLM2-135M overflowed its 8,192 tokens so); the turn's request budget
  (AGENT_REQUEST_LIMIT) still bounds every model. `null`: unbounded.

- `structured_temperature`: the temperature of a request for structured output (advice, a
  draft, a cleaning) whose caller set none of its own: 0 (greedy) on a compatible server,
  where a small model sampled at the server's default ran on inside one string of its advice
  to the token limit; `null` sends none (the server's default).

- `tool_call_text`: the `content` of an assistant message that only calls tools: OpenAI's
  `null`, or `""` for servers whose schema requires a string (llama-cpp-python's answers 500 to
  `null` and to a missing `content`).

`MODEL_OPTIONS` is a JSON object: model identifiers (`openai:smollm2-135m`), or `*` for every
model, each mapped to the options that differ from the defaults, e.g.
`{"openai:smollm2-135m": {"stream_tools": "never", "max_tokens": 256}}`. Unknown keys and bad
values stop start-up with a message naming them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, get_args

from use_cases.shared.errors import ConfigurationError

StreamTools = Literal["auto", "always", "never"]
StructuredOutput = Literal["tool", "json_schema", "prompted"]
SearchFirst = Literal["model", "almanac"]
ToolCallText = Literal["null", "empty"]
MaxTokensField = Literal["max_completion_tokens", "max_tokens"]


@dataclass(frozen=True)
class ModelOptions:
    """How Almanac calls one model (module docstring); None timeouts mean the settings'."""

    max_tokens: int | None = None
    max_tokens_field: MaxTokensField = "max_completion_tokens"
    stream_tools: StreamTools = "always"
    structured_output: StructuredOutput = "tool"
    search_first: SearchFirst = "model"
    tool_rounds: int | None = None
    tool_call_text: ToolCallText = "null"
    structured_temperature: float | None = None
    request_timeout_s: float | None = None
    turn_timeout_s: float | None = None


HOSTED = ModelOptions()
#: An `openai:` model behind OPENAI_BASE_URL: a local or self-hosted server (module docstring).
COMPATIBLE_SERVER = ModelOptions(
    max_tokens=512,
    max_tokens_field="max_tokens",
    stream_tools="auto",
    structured_output="json_schema",
    search_first="almanac",
    tool_rounds=2,
    tool_call_text="empty",
    structured_temperature=0.0,
    request_timeout_s=300.0,
    turn_timeout_s=300.0,
)

_CHOICES: dict[str, tuple[str, ...]] = {
    "max_tokens_field": get_args(MaxTokensField),
    "stream_tools": get_args(StreamTools),
    "structured_output": get_args(StructuredOutput),
    "search_first": get_args(SearchFirst),
    "tool_call_text": get_args(ToolCallText),
}
_NUMBERS = {"max_tokens", "tool_rounds", "request_timeout_s", "turn_timeout_s"}


def parse_model_options(text: str) -> dict[str, dict[str, Any]]:
    """The `MODEL_OPTIONS` setting, checked: model identifier (or `*`) -> option -> value."""
    text = (text or "").strip()
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigurationError(f"MODEL_OPTIONS is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigurationError("MODEL_OPTIONS must be a JSON object of model -> options.")
    checked: dict[str, dict[str, Any]] = {}
    known = {f.name for f in fields(ModelOptions)}
    for model, options in raw.items():
        if not isinstance(options, dict):
            raise ConfigurationError(f"MODEL_OPTIONS[{model!r}] must be an object of options.")
        for key, value in options.items():
            if key not in known:
                raise ConfigurationError(
                    f"MODEL_OPTIONS[{model!r}] has an unknown option {key!r} "
                    f"(known: {', '.join(sorted(known))})."
                )
            _check_value(model, key, value)
        checked[str(model)] = dict(options)
    return checked


def _check_value(model: str, key: str, value: Any) -> None:
    if key in _CHOICES:
        if value not in _CHOICES[key]:
            raise ConfigurationError(
                f"MODEL_OPTIONS[{model!r}][{key!r}] is {value!r}; one of "
                f"{', '.join(_CHOICES[key])}."
            )
        return
    if key == "structured_temperature":
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2
        ):
            raise ConfigurationError(
                f"MODEL_OPTIONS[{model!r}][{key!r}] must be a temperature from 0 to 2, or null."
            )
        return
    if key in _NUMBERS:
        if value is None:
            return
        if key == "tool_rounds" and value == 0:
            return
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigurationError(
                f"MODEL_OPTIONS[{model!r}][{key!r}] must be a positive number."
            )
        if value <= 0:
            raise ConfigurationError(
                f"MODEL_OPTIONS[{model!r}][{key!r}] must be a positive number."
            )


def options_for(
    identifier: str, *, compatible_server: bool, overrides: dict[str, dict[str, Any]]
) -> ModelOptions:
    """The options of `identifier`: the defaults of its kind, then `*`, then its own."""
    options = COMPATIBLE_SERVER if compatible_server else HOSTED
    for key in ("*", identifier):
        if key in overrides:
            options = replace(options, **overrides[key])
    return options
