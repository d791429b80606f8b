"""Which language models answer, the providers' keys, and the offline answerer."""

from __future__ import annotations

from pydantic import ConfigDict, Field, SecretStr, field_validator

from backend.config.base import SettingsGroup


class ModelSettings(SettingsGroup):
    """Which language models answer, and how each is called."""

    model_config = ConfigDict(title="Models")

    default_model: str | None = Field(
        None,
        description="Model for requests that name none, e.g. openai:gpt-4.1-mini (a bare "
        "gpt-..., claude-... or gemini-... name gets its provider), unless an "
        "admin set a default for the prompt type (`PUT /api/llm-defaults/chat`, `almanac models "
        "defaults`). Unset: OPENAI_DEFAULT_MODEL if set, else openai:gpt-4.1-mini when "
        "OPENAI_API_KEY is set, else offline-extractive.",
    )
    openai_default_model: str | None = Field(
        None,
        description="An OpenAI model (`gpt-4.1` or `openai:gpt-4.1`) for requests that name "
        "none, below DEFAULT_MODEL and an admin's default for the prompt type, above the "
        "built-in default. Needs OPENAI_API_KEY or OPENAI_BASE_URL to answer.",
    )
    allowed_models: str = Field(
        "",
        description="Comma-separated models a request may choose, and an admin may make a "
        "prompt type's default (bare gpt-..., claude-..., gemini-... names get their "
        "provider). Default: the default model and offline-extractive.",
    )
    options: str = Field("", max_length=20_000, description="How Almanac calls each model: a JSON object of model (or `*`) -> options (token limit, streaming, structured output and its temperature, who runs a required search, timeouts). Defaults and examples: docs/local-models.md.", validation_alias="model_options")  # noqa: E501  # fmt: skip
    agent_request_limit: int = Field(
        8, ge=1, le=50, description="Model requests allowed in one chat turn."
    )
    agent_tool_retries: int = Field(2, ge=0, le=10, description="Retries of a rejected tool call.")
    agent_timeout: float = Field(60.0, gt=0, description="Seconds one chat turn may take.")

    @property
    def allowed_model_list(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.allowed_models.split(",") if m.strip())


class ProviderSettings(SettingsGroup):
    """Keys and addresses of the model, embedding and web search providers."""

    model_config = ConfigDict(title="Providers")

    openai_api_key: SecretStr | None = Field(None, description="OpenAI API key.")
    openai_base_url: str | None = Field(
        None, description="OpenAI-compatible base URL (Azure OpenAI, Ollama, vLLM, llama.cpp)."
    )
    cohere_api_key: SecretStr | None = Field(
        None, description="Cohere API key (embeddings, rerank)."
    )
    cohere_base_url: str | None = Field(None, description="Cohere API base URL override.")
    timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds per provider HTTP call.",
        validation_alias="provider_timeout",
    )
    max_retries: int = Field(
        2,
        ge=0,
        le=10,
        description="Retries per provider call.",
        validation_alias="provider_max_retries",
    )
    web_search_provider: str = Field(
        "none",
        max_length=64,
        description="Web search provider for requests with enable_web_search (see "
        "docs/search-discipline.md). `none` turns web search off; requests that ask for it are "
        "answered from the knowledge base and told it is unavailable. An unknown name stops "
        "start-up with a configuration error.",
    )

    @field_validator("openai_api_key", "cohere_api_key", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value


class OfflineSettings(SettingsGroup):
    """The embedded offline answerer (offline-extractive): its workers and what it reads."""

    model_config = ConfigDict(title="Offline model")

    answer_workers: int = Field(
        2,
        ge=1,
        le=64,
        description="Worker threads the embedded offline model plans and composes answers on "
        "(never the server's event loop; each hands its work to a process with "
        "ANSWER_PROCESSES). About one per CPU core.",
    )
    answer_processes: bool = Field(
        True,
        description="A server plans and composes offline answers in worker processes, one per "
        "answer worker (spawned at start, or at the first offline answer when another model is "
        "the default; 300-400 MB each), so a long message cannot slow other requests down; "
        "false keeps them on threads of the server's process. CLI commands use threads.",
    )
    answer_queue: int = Field(
        64,
        ge=0,
        le=1000,
        description="Offline answers that may wait for a worker; one more is refused at once "
        "with 503 and `Retry-After` rather than slowing every request down.",
    )
    reader: bool = Field(
        True,
        description="With the local embedder: the offline answerer's confidence also reads the "
        "trained reader's belief that the chosen sentences state the answer (a cross-encoder "
        "assembled by `almanac model install`; docs/reader.md). It changes no answer and reads "
        "1-3 sentences an answer; false: the confidence of the hand-made features alone.",
        validation_alias="offline_reader",
    )
    prepare_sentences: bool = Field(
        True,
        description="With the local embedder: once an ingest has stored its documents (they are "
        "searchable), a background job (`prepare_answers`, shown at /api/jobs/{id}) embeds "
        "their sentences for offline answers (~12 ms a sentence, on all cores) into "
        "SENTENCE_VECTORS_DB, so no question waits for them (answer-ready); questions asked "
        "before get the same answers, embedding what they need. false leaves that to the first "
        "question that retrieves them (vectors are kept there too). The file is a cache, safe "
        "to delete.",
    )
    not_found_hint: str = Field(
        "Could you rephrase the question, or say which document or topic you mean?",
        min_length=1,
        max_length=300,
        description="What the offline model asks after \"I can't find this in the knowledge "
        'base." (one clarifying question; word it for what your knowledge base holds).',
    )
