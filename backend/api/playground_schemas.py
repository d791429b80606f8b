"""HTTP shapes of the prompt playground (`POST /api/playground/run`, `/api/v1/playground/run`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.api.chat_schemas import SOURCES
from backend.api.deps import SQLITE_MAX_INTEGER
from backend.api.fields import SEARCH_OVERRIDE_HELP, SamplingFields, SearchOverride
from use_cases.evaluation.playground import (
    MAX_PLAYGROUND_MODELS,
    MAX_VARIABLES,
    ModelOutput,
    PlaygroundPrompt,
    PlaygroundRequest,
    PlaygroundResult,
)
from use_cases.prompts.manage_prompts import MAX_PROMPT_CHARS


class PlaygroundPromptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(
        "chat",
        min_length=1,
        max_length=64,
        description="The prompt type (the playground runs `chat` prompts).",
    )
    version: int | None = Field(
        None,
        ge=1,
        le=SQLITE_MAX_INTEGER,
        description="A stored version (a draft or not); omit it, and `template`, for the "
        "prompt in force.",
    )
    template: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description="An unsaved prompt text (may use `{{variables}}`) instead of a version.",
    )


class PlaygroundIn(SamplingFields):
    """A playground run. The sampling settings go to every model; unknown fields are refused
    (422 naming them)."""

    model_config = ConfigDict(extra="forbid")

    prompt: PlaygroundPromptIn = Field(
        default_factory=PlaygroundPromptIn,
        examples=[{"type": "chat", "version": 2}, {"template": "Answer for {{team}}."}],
    )
    variables: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_VARIABLES,
        description="Values of the prompt's `{{variables}}`; the built-in `today` is filled "
        "unless given here. A variable the prompt uses without a value answers 422.",
        examples=[{"team": "Support"}],
    )
    question: str = Field(
        min_length=1,
        description="The question every model answers (at most MAX_MESSAGE_CHARS characters).",
        examples=["How often do we have to rotate passwords?"],
    )
    models: list[str] = Field(
        default_factory=list,
        max_length=MAX_PLAYGROUND_MODELS,
        description=f"Up to {MAX_PLAYGROUND_MODELS} of the allowed models, run concurrently; "
        "empty: the chat default model. A model that is not allowed answers 422.",
        examples=[["offline-extractive"]],
    )
    search_override: SearchOverride = Field(None, description=SEARCH_OVERRIDE_HELP)

    def to_request(self) -> PlaygroundRequest:
        return PlaygroundRequest(
            prompt=PlaygroundPrompt(
                prompt_type=self.prompt.type,
                version=self.prompt.version,
                template=self.prompt.template,
            ),
            question=self.question,
            variables=self.variables,
            models=self.models,
            search_override=self.search_override,
            sampling=self.sampling(),
        )


class SamplingOut(BaseModel):
    temperature: float | None
    max_tokens: int | None
    top_p: float | None
    seed: int | None


class ModelOutputOut(BaseModel):
    model: str = Field(examples=["offline-extractive"])
    output: str | None = Field(description="The answer; null when the model failed.")
    latency_ms: int
    input_tokens: int | None = Field(
        description="Tokens the model read; null when its server reported no usage."
    )
    output_tokens: int | None = Field(description="Tokens the model wrote; null when unknown.")
    prompt_tokens: int | None = Field(
        description="The same as `input_tokens` (the playground's name)."
    )
    completion_tokens: int | None = Field(description="The same as `output_tokens`.")
    total_tokens: int | None = Field(description="`input_tokens` + `output_tokens`.")
    cost_usd: float | None = Field(description="null when the model's price is unknown.")
    sources: list[dict[str, Any]] = Field(description=SOURCES)
    error: str | None = Field(description="Why this model gave no answer; null if it did.")
    sampling: SamplingOut = Field(
        description="The sampling settings this model was run with (null: its default)."
    )

    @classmethod
    def of(cls, output: ModelOutput) -> ModelOutputOut:
        return cls(
            model=output.model,
            output=output.output,
            latency_ms=output.latency_ms,
            input_tokens=output.input_tokens,
            output_tokens=output.output_tokens,
            prompt_tokens=output.input_tokens,
            completion_tokens=output.output_tokens,
            total_tokens=None
            if output.input_tokens is None or output.output_tokens is None
            else output.input_tokens + output.output_tokens,
            cost_usd=output.cost_usd,
            sources=[source.as_dict() for source in output.sources],
            error=output.error,
            sampling=SamplingOut(**output.sampling.as_dict()),
        )


class PlaygroundOut(BaseModel):
    prompt_type: str
    version: int | None = Field(
        description="The stored version tried; null for an unsaved template or the default."
    )
    source: Literal["version", "template", "built-in", "setting"]
    variables: dict[str, str] = Field(description="Each variable the prompt used, as filled.")
    instructions: str = Field(description="The compiled system prompt the models were given.")
    question: str
    results: list[ModelOutputOut] = Field(description="One per model, in the order asked.")
    sampling: SamplingOut = Field(
        description="The sampling settings every model was run with, as asked (the offline "
        "model ignores them)."
    )

    @classmethod
    def of(cls, result: PlaygroundResult) -> PlaygroundOut:
        return cls(
            prompt_type=result.prompt_type,
            version=result.version,
            source=result.source,
            variables=dict(result.variables),
            instructions=result.instructions,
            question=result.question,
            results=[ModelOutputOut.of(output) for output in result.results],
            sampling=SamplingOut(**result.sampling.as_dict()),
        )
