"""CohereReranker against a mocked Cohere API (the SDK sends HTTP through plain httpx)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from services.knowledge.reranker import CohereReranker
from use_cases.shared.errors import UpstreamTimeout, UpstreamUnavailable

URL = "https://api.cohere.com/v2/rerank"


def test_results_come_back_as_index_and_score_best_first() -> None:
    reranker = CohereReranker("secret", model="rerank-v3.5")
    body = {
        "id": "1",
        "results": [
            {"index": 2, "relevance_score": 0.2},
            {"index": 0, "relevance_score": 0.9},
        ],
    }

    with respx.mock(assert_all_mocked=True) as cohere:
        route = cohere.post(URL).mock(return_value=httpx.Response(200, json=body))
        result = reranker.rerank("query", ["a", "b", "c"], top_n=2)
        sent = json.loads(route.calls[0].request.content)

    assert result == [(0, 0.9), (2, 0.2)]
    assert sent == {
        "model": "rerank-v3.5",
        "query": "query",
        "documents": ["a", "b", "c"],
        "top_n": 2,
    }


def test_a_custom_base_url_is_used() -> None:
    reranker = CohereReranker("k", base_url="https://cohere.internal/")

    with respx.mock(assert_all_mocked=True) as cohere:
        route = cohere.post("https://cohere.internal/v2/rerank").mock(
            return_value=httpx.Response(200, json={"results": []})
        )
        assert reranker.rerank("q", ["a"], 1) == []
        assert route.called


def test_indexes_outside_the_documents_are_ignored() -> None:
    reranker = CohereReranker("k")
    body = {"results": [{"index": 7, "relevance_score": 1.0}, {"index": 0, "relevance_score": 0.5}]}

    with respx.mock(assert_all_mocked=True) as cohere:
        cohere.post(URL).mock(return_value=httpx.Response(200, json=body))
        assert reranker.rerank("q", ["only"], 5) == [(0, 0.5)]


@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
def test_an_http_error_becomes_upstream_unavailable_without_retries(status: int) -> None:
    reranker = CohereReranker("k")

    with respx.mock(assert_all_mocked=True) as cohere:
        route = cohere.post(URL).mock(return_value=httpx.Response(status, json={"message": "x"}))
        with pytest.raises(UpstreamUnavailable) as error:
            reranker.rerank("q", ["a", "b"], 2)
        assert route.call_count == 1

    assert str(status) in error.value.detail
    assert not isinstance(error.value, UpstreamTimeout)


def test_a_timeout_becomes_upstream_timeout() -> None:
    reranker = CohereReranker("k", timeout=0.2)

    with respx.mock(assert_all_mocked=True) as cohere:
        cohere.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(UpstreamTimeout):
            reranker.rerank("q", ["a"], 1)


def test_a_connection_failure_becomes_upstream_unavailable() -> None:
    reranker = CohereReranker("k")

    with respx.mock(assert_all_mocked=True) as cohere:
        cohere.post(URL).mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(UpstreamUnavailable):
            reranker.rerank("q", ["a"], 1)


def test_nothing_to_rerank_makes_no_call() -> None:
    reranker = CohereReranker("k")

    with respx.mock(assert_all_mocked=True) as cohere:
        assert reranker.rerank("q", [], 3) == []
        assert not cohere.calls


def test_an_api_key_is_required() -> None:
    with pytest.raises(ValueError):
        CohereReranker("")
