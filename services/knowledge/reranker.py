"""Cohere rerank as the `Reranker` port.

The retriever treats reranking as optional polish: whatever goes wrong here surfaces as
`UpstreamUnavailable` (or `UpstreamTimeout`), and the retriever then keeps its fused order.
So this adapter fails fast: no SDK retries (a retry would blow the latency budget of a chat
turn), and one overall timeout per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from use_cases.shared.errors import UpstreamTimeout, UpstreamUnavailable

__all__ = ["CohereReranker"]


class CohereReranker:
    """`Reranker` backed by `cohere.ClientV2.rerank` (the SDK sends HTTP through httpx)."""

    def __init__(
        self,
        api_key: str,
        model: str = "rerank-v3.5",
        timeout: float = 5.0,
        base_url: str | None = None,
        *,
        max_tokens_per_doc: int | None = None,
        httpx_client: httpx.Client | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("A Cohere API key is required for reranking.")
        import cohere  # deferred: importing the SDK costs ~0.5 s and most installs never rerank

        self.model = model
        self.timeout = timeout
        self.max_tokens_per_doc = max_tokens_per_doc
        kwargs: dict[str, Any] = {
            "api_key": api_key,
            "timeout": timeout,
            "max_retries": 0,
            "httpx_client": httpx_client or httpx.Client(timeout=timeout),
        }
        if base_url:
            kwargs["base_url"] = base_url.rstrip("/")
        self._client = cohere.ClientV2(**kwargs)

    def rerank(self, query: str, documents: Sequence[str], top_n: int) -> list[tuple[int, float]]:
        """(index into `documents`, relevance score in [0, 1]), best first."""
        if not documents or top_n <= 0:
            return []
        from cohere.core.api_error import ApiError
        from cohere.core.request_options import RequestOptions

        options: RequestOptions = {
            "max_retries": 0,
            "timeout_in_seconds": self.timeout,  # type: ignore[typeddict-item]  # cohere says int; httpx takes a float
        }
        extra: dict[str, Any] = {}
        if self.max_tokens_per_doc:
            extra["max_tokens_per_doc"] = self.max_tokens_per_doc
        try:
            response = self._client.rerank(
                model=self.model,
                query=query,
                documents=list(documents),
                top_n=min(top_n, len(documents)),
                request_options=options,
                **extra,
            )
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(
                f"Cohere rerank did not answer within {self.timeout:g} s."
            ) from exc
        except ApiError as exc:
            raise UpstreamUnavailable(f"Cohere rerank failed with HTTP {exc.status_code}.") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise UpstreamUnavailable(f"Cohere rerank failed: {type(exc).__name__}.") from exc
        results: list[tuple[int, float]] = []
        for item in response.results or []:
            index = int(item.index)
            if 0 <= index < len(documents):
                results.append((index, float(item.relevance_score)))
        results.sort(key=lambda pair: -pair[1])
        return results
