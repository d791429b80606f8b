"""OpenAI (or any OpenAI-compatible server) embeddings as the `Embedder` port.

Uses the official SDK's sync client (openai 3.x sends HTTP through httpx2). The SDK's own
retries with backoff handle 408/409/429/5xx and dropped connections; whatever still fails
becomes `UpstreamUnavailable`, or `UpstreamTimeout` for a timeout. Error details never
include the provider's message text, which can echo part of the API key.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from services.knowledge.embedders._common import batched, check_texts, unit_rows
from use_cases.shared.errors import ConfigurationError, UpstreamTimeout, UpstreamUnavailable

__all__ = ["OPENAI_DIMENSIONS", "OpenAIEmbedder"]

OPENAI_DIMENSIONS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
# The embeddings endpoint takes at most 2048 inputs per request.
MAX_BATCH = 2048


class OpenAIEmbedder:
    """`Embedder` backed by `client.embeddings.create`.

    `dimensions` asks text-embedding-3 models for shortened vectors. For models not in
    `OPENAI_DIMENSIONS` (e.g. a local server behind `base_url`), the dimension is learnt from
    the first response; reading `dimension` before any call makes one small probe request.
    """

    def __init__(
        self,
        api_key: str,
        model: str = "text-embedding-3-small",
        base_url: str | None = None,
        batch_size: int = 256,
        timeout: float = 30.0,
        max_retries: int = 2,
        *,
        dimensions: int | None = None,
        http_client: Any = None,
    ) -> None:
        if not api_key:
            raise ConfigurationError(
                "OPENAI_API_KEY is not set; it is required for EMBEDDING_PROVIDER=openai."
            )
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        import openai  # deferred: importing the SDK is slow and the default embedder is local

        self._model = model
        self._batch_size = batch_size
        self._timeout = timeout
        self._dimensions = dimensions
        self._dimension: int | None = dimensions or OPENAI_DIMENSIONS.get(model)
        self._lock = threading.Lock()
        kwargs: dict[str, Any] = {
            "api_key": api_key,
            "timeout": timeout,
            "max_retries": max_retries,
        }
        if base_url:
            kwargs["base_url"] = base_url
        if http_client is not None:
            kwargs["http_client"] = http_client
        self._client = openai.OpenAI(**kwargs)

    @property
    def model(self) -> str:
        return self._model

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self.embed_query("dimension probe")
        assert self._dimension is not None
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` in batches; returns float32 (n, dimension), unit rows, input order."""
        check_texts(texts)
        if not texts:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        parts = [self._embed_batch(batch) for batch in batched(texts, self._batch_size)]
        return np.concatenate(parts, axis=0)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query; returns float32 (dimension,), unit length."""
        return self._embed_batch([text])[0]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        import openai

        # The API rejects empty strings; a single space embeds as "nothing".
        inputs = [text if text.strip() else " " for text in texts]
        extra: dict[str, Any] = {}
        if self._dimensions:
            extra["dimensions"] = self._dimensions
        try:
            response = self._client.embeddings.create(
                model=self._model, input=inputs, encoding_format="float", **extra
            )
        except openai.APITimeoutError as exc:
            raise UpstreamTimeout(
                f"OpenAI embeddings ({self._model}) did not answer within {self._timeout:g} s."
            ) from exc
        except openai.APIConnectionError as exc:
            raise UpstreamUnavailable(
                f"Could not reach the OpenAI embeddings API ({type(exc).__name__})."
            ) from exc
        except openai.AuthenticationError as exc:
            raise UpstreamUnavailable(
                "OpenAI rejected the API key (HTTP 401); check OPENAI_API_KEY."
            ) from exc
        except openai.RateLimitError as exc:
            raise UpstreamUnavailable(
                "OpenAI embeddings are rate limited (HTTP 429) after retries; try again later."
            ) from exc
        except openai.APIStatusError as exc:
            raise UpstreamUnavailable(
                f"OpenAI embeddings ({self._model}) failed with HTTP {exc.status_code}."
            ) from exc
        except openai.OpenAIError as exc:
            raise UpstreamUnavailable(f"OpenAI embeddings failed: {type(exc).__name__}.") from exc

        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(texts):
            raise UpstreamUnavailable(
                f"OpenAI returned {len(data)} embeddings for {len(texts)} inputs."
            )
        vectors = unit_rows([item.embedding for item in data])
        self._learn_dimension(vectors.shape[1])
        return vectors

    def _learn_dimension(self, found: int) -> None:
        with self._lock:
            if self._dimension is None:
                self._dimension = found
            elif found != self._dimension:
                raise UpstreamUnavailable(
                    f"OpenAI model {self._model} returned {found}-dimensional vectors; "
                    f"expected {self._dimension}."
                )
