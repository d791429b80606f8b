"""Cohere embeddings as the `Embedder` port.

Cohere's v3 models embed documents and queries differently (`input_type`), which is why the
port has separate `embed_documents` and `embed_query`. The SDK (plain httpx) retries 429/5xx
with backoff itself; whatever still fails becomes `UpstreamUnavailable`, or `UpstreamTimeout`
for a timeout. Error details never include the provider's message text.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from services.knowledge.embedders._common import batched, check_texts, unit_rows
from use_cases.shared.errors import ConfigurationError, UpstreamTimeout, UpstreamUnavailable

__all__ = ["COHERE_DIMENSIONS", "CohereEmbedder"]

COHERE_DIMENSIONS: dict[str, int] = {
    "embed-english-v3.0": 1024,
    "embed-multilingual-v3.0": 1024,
    "embed-english-light-v3.0": 384,
    "embed-multilingual-light-v3.0": 384,
}
# The embed endpoint takes at most 96 texts per call.
MAX_BATCH = 96


class CohereEmbedder:
    """`Embedder` backed by `cohere.ClientV2.embed` with float embeddings.

    Models not in `COHERE_DIMENSIONS` (e.g. embed-v4.0) report the dimension of their first
    response; reading `dimension` before any call makes one small probe request.
    """

    def __init__(
        self,
        api_key: str,
        model: str = "embed-english-v3.0",
        base_url: str | None = None,
        batch_size: int = MAX_BATCH,
        timeout: float = 30.0,
        max_retries: int = 2,
        *,
        httpx_client: httpx.Client | None = None,
    ) -> None:
        if not api_key:
            raise ConfigurationError(
                "COHERE_API_KEY is not set; it is required for EMBEDDING_PROVIDER=cohere."
            )
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH} for Cohere")
        import cohere  # deferred: importing the SDK costs ~0.5 s and the default is local

        self._model = model
        self._batch_size = batch_size
        self._timeout = timeout
        self._max_retries = max_retries
        self._dimension: int | None = COHERE_DIMENSIONS.get(model)
        self._lock = threading.Lock()
        kwargs: dict[str, Any] = {
            "api_key": api_key,
            "timeout": timeout,
            "max_retries": max_retries,
            "httpx_client": httpx_client or httpx.Client(timeout=timeout),
        }
        if base_url:
            kwargs["base_url"] = base_url.rstrip("/")
        self._client = cohere.ClientV2(**kwargs)

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
        """Embed `texts` as search documents; float32 (n, dimension), unit rows, input order."""
        check_texts(texts)
        if not texts:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        parts = [
            self._embed_batch(batch, "search_document")
            for batch in batched(texts, self._batch_size)
        ]
        return np.concatenate(parts, axis=0)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query; float32 (dimension,), unit length."""
        return self._embed_batch([text], "search_query")[0]

    def _embed_batch(self, texts: list[str], input_type: str) -> np.ndarray:
        from cohere.core.api_error import ApiError
        from cohere.core.request_options import RequestOptions

        # Cohere rejects empty strings; a single space embeds as "nothing".
        inputs = [text if text.strip() else " " for text in texts]
        options: RequestOptions = {
            "max_retries": self._max_retries,
            "timeout_in_seconds": self._timeout,  # type: ignore[typeddict-item]  # cohere says int; httpx takes a float
        }
        try:
            response = self._client.embed(
                model=self._model,
                texts=inputs,
                input_type=input_type,
                embedding_types=["float"],
                truncate="END",
                request_options=options,
            )
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(
                f"Cohere embed ({self._model}) did not answer within {self._timeout:g} s."
            ) from exc
        except ApiError as exc:
            raise UpstreamUnavailable(_status_message(self._model, exc.status_code)) from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise UpstreamUnavailable(f"Cohere embed failed: {type(exc).__name__}.") from exc

        rows = response.embeddings.float_ if response.embeddings is not None else None
        if not rows or len(rows) != len(texts):
            got = len(rows) if rows else 0
            raise UpstreamUnavailable(f"Cohere returned {got} embeddings for {len(texts)} inputs.")
        vectors = unit_rows(rows)
        self._learn_dimension(vectors.shape[1])
        return vectors

    def _learn_dimension(self, found: int) -> None:
        with self._lock:
            if self._dimension is None:
                self._dimension = found
            elif found != self._dimension:
                raise UpstreamUnavailable(
                    f"Cohere model {self._model} returned {found}-dimensional vectors; "
                    f"expected {self._dimension}."
                )


def _status_message(model: str, status: int | None) -> str:
    if status == 401:
        return "Cohere rejected the API key (HTTP 401); check COHERE_API_KEY."
    if status == 429:
        return "Cohere embed is rate limited (HTTP 429) after retries; try again later."
    return f"Cohere embed ({model}) failed with HTTP {status}."
