"""CohereEmbedder against a mocked embed endpoint (the Cohere SDK uses plain httpx)."""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import respx

from services.knowledge.embedders import CohereEmbedder
from use_cases.shared.errors import ConfigurationError, UpstreamTimeout, UpstreamUnavailable

URL = "https://api.cohere.com/v2/embed"
FAST_RETRY = {"retry-after-ms": "1"}


@pytest.fixture
def cohere_api(block_sockets: None) -> Iterator[respx.Router]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


def fake_vector(text: str, input_type: str, dim: int) -> list[float]:
    rng = np.random.default_rng(zlib.crc32(f"{input_type}:{text}".encode()))
    return (rng.normal(size=dim) * 2.0).round(6).tolist()


def embed_reply(request: httpx.Request, dim: int = 1024) -> httpx.Response:
    body = json.loads(request.content)
    vectors = [fake_vector(t, body["input_type"], dim) for t in body["texts"]]
    return httpx.Response(
        200,
        json={
            "response_type": "embeddings_by_type",
            "id": "abc",
            "embeddings": {"float": vectors},
            "texts": body["texts"],
            "meta": {"api_version": {"version": "2"}},
        },
    )


def make(**kwargs: Any) -> CohereEmbedder:
    options: dict[str, Any] = {"api_key": "co-test-secret", "max_retries": 0, "timeout": 5.0}
    options.update(kwargs)
    return CohereEmbedder(**options)


def test_batches_keep_order_and_rows_are_unit_length(cohere_api: respx.Router) -> None:
    route = cohere_api.post(URL).mock(side_effect=embed_reply)
    texts = [f"doc {i}" for i in range(200)]

    vectors = make().embed_documents(texts)  # default batch size: the API maximum of 96

    assert route.call_count == math.ceil(200 / 96)
    sent = [json.loads(call.request.content) for call in route.calls]
    assert [len(body["texts"]) for body in sent] == [96, 96, 8]
    assert [t for body in sent for t in body["texts"]] == texts
    assert {body["input_type"] for body in sent} == {"search_document"}
    assert all(body["embedding_types"] == ["float"] for body in sent)
    assert all(body["model"] == "embed-english-v3.0" for body in sent)
    assert vectors.shape == (200, 1024) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    expected = np.asarray(fake_vector("doc 7", "search_document", 1024), dtype=np.float32)
    np.testing.assert_allclose(vectors[7], expected / np.linalg.norm(expected), atol=1e-6)


def test_queries_use_the_query_input_type(cohere_api: respx.Router) -> None:
    route = cohere_api.post(URL).mock(side_effect=embed_reply)
    vector = make().embed_query("what is x?")
    body = json.loads(route.calls[0].request.content)
    assert body["input_type"] == "search_query"
    assert body["texts"] == ["what is x?"]
    assert vector.shape == (1024,)
    assert route.calls[0].request.headers["authorization"] == "Bearer co-test-secret"


def test_smaller_batches_and_a_custom_base_url(cohere_api: respx.Router) -> None:
    route = cohere_api.post("https://cohere.internal/v2/embed").mock(side_effect=embed_reply)
    make(batch_size=3, base_url="https://cohere.internal/").embed_documents(list("abcdefg"))
    assert route.call_count == 3


def test_batch_size_is_capped_at_the_api_limit() -> None:
    with pytest.raises(ValueError, match="96"):
        make(batch_size=97)


@pytest.mark.parametrize(
    ("model", "dimension"),
    [
        ("embed-english-v3.0", 1024),
        ("embed-multilingual-v3.0", 1024),
        ("embed-english-light-v3.0", 384),
        ("embed-multilingual-light-v3.0", 384),
    ],
)
def test_known_dimensions(model: str, dimension: int) -> None:
    embedder = make(model=model)
    assert embedder.dimension == dimension
    assert embedder.model == model


def test_unknown_model_learns_its_dimension(cohere_api: respx.Router) -> None:
    route = cohere_api.post(URL).mock(side_effect=lambda r: embed_reply(r, dim=1536))
    embedder = make(model="embed-v4.0")
    assert embedder.dimension == 1536
    assert route.call_count == 1


def test_empty_texts_are_sent_as_a_space(cohere_api: respx.Router) -> None:
    route = cohere_api.post(URL).mock(side_effect=embed_reply)
    make().embed_documents(["", "x"])
    assert json.loads(route.calls[0].request.content)["texts"] == [" ", "x"]


def test_a_429_is_retried_then_succeeds(cohere_api: respx.Router) -> None:
    route = cohere_api.post(URL)
    route.side_effect = [
        httpx.Response(429, headers=FAST_RETRY, json={"message": "too many requests"}),
        embed_reply,  # type: ignore[list-item]  # respx calls a function in the list; its hint omits it
    ]
    vectors = make(max_retries=2).embed_documents(["a", "b"])
    assert route.call_count == 2
    assert vectors.shape == (2, 1024)


def test_repeated_500_becomes_upstream_unavailable(cohere_api: respx.Router) -> None:
    route = cohere_api.post(URL).mock(
        return_value=httpx.Response(500, headers=FAST_RETRY, json={"message": "boom"})
    )
    with pytest.raises(UpstreamUnavailable) as error:
        make(max_retries=2).embed_documents(["a"])
    assert route.call_count == 3
    assert not isinstance(error.value, UpstreamTimeout)
    assert "HTTP 500" in error.value.detail


def test_a_rejected_key_is_reported_without_the_key(cohere_api: respx.Router) -> None:
    cohere_api.post(URL).mock(
        return_value=httpx.Response(401, json={"message": "invalid api token co-test-secret"})
    )
    with pytest.raises(UpstreamUnavailable) as error:
        make().embed_query("a")
    assert "401" in error.value.detail
    assert "co-test-secret" not in error.value.detail


def test_a_timeout_becomes_upstream_timeout(cohere_api: respx.Router) -> None:
    cohere_api.post(URL).mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(UpstreamTimeout, match="did not answer within 5 s"):
        make().embed_query("a")


def test_a_connection_error_becomes_upstream_unavailable(cohere_api: respx.Router) -> None:
    cohere_api.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(UpstreamUnavailable) as error:
        make().embed_query("a")
    assert not isinstance(error.value, UpstreamTimeout)


def test_a_missing_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="COHERE_API_KEY"):
        CohereEmbedder("")
