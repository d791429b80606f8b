"""OpenAI's provider, and any OpenAI-compatible server's (`OPENAI_BASE_URL`: Ollama, vLLM,
llama.cpp): a built-in of the provider registry (`services/chat/providers.py`), registered
as a plugin's would be. Its client is built here, not by PydanticAI, so the key, the base URL,
the time limits and the token-limit field are Almanac's settings."""

from __future__ import annotations

from typing import Any

from services.chat.providers import ProviderContext
from use_cases.shared.errors import ConfigurationError


class OpenAIChatProvider:
    name = "openai"
    key_variables = ("OPENAI_API_KEY",)
    prefixes = ("gpt-", "chatgpt-", "o1", "o3", "o4")

    def build(self, model_name: str, context: ProviderContext) -> Any:
        from openai import AsyncOpenAI
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        key = context.openai_api_key
        base_url = context.openai_base_url
        if not key and not base_url:
            raise ConfigurationError(
                f"Model openai:{model_name} needs OPENAI_API_KEY (or OPENAI_BASE_URL)."
            )
        options = context.options
        client = AsyncOpenAI(
            api_key=key or "not-needed",  # local OpenAI-compatible servers ignore the key
            base_url=base_url,
            timeout=options.request_timeout_s or context.timeout_s,
            max_retries=context.max_retries,
        )
        # Which field carries the token limit (`max_tokens_field`); `CompatModel` sends the
        # limit itself when a request sets none.
        profile = {
            "openai_chat_supports_max_completion_tokens": options.max_tokens_field
            == "max_completion_tokens"
        }
        return OpenAIChatModel(
            model_name,
            provider=OpenAIProvider(openai_client=client),
            profile=profile,  # type: ignore[arg-type]  # pydantic-ai types its profile as a TypedDict
        )
