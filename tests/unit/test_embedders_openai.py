"""OpenAIEmbedder against a mocked embeddings endpoint (openai 3.x sends HTTP via httpcore2)."""

from __future__ import annotations

import json
import math
import zlib
from typing import Any

import httpcore2
import httpx
import numpy as np
import pytest
import respx
from respx.models import AllMockedAssertionError

from services.knowledge.embedders import OpenAIEmbedder
from use_cases.shared.errors import ConfigurationError, UpstreamTimeout, UpstreamUnavailable

URL = "https://api.openai.com/v1/embeddings"
FAST_RETRY = {"retry-after-ms": "1"}  # the SDK honours it, so retry tests do not sleep


def fake_vector(text: str, dim: int) -> list[float]:
    """Deterministic, deliberately not unit-length vector for `text`."""
    rng = np.random.default_rng(zlib.crc32(text.encode()))
    return (rng.normal(size=dim) * 3.0).round(6).tolist()


def unit(values: list[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float32)
    return array / np.linalg.norm(array)


def embeddings_reply(request: httpx.Request, dim: int = 1536) -> httpx.Response:
    body = json.loads(request.content)
    inputs = body["input"]
    data = [
        {"object": "embedding", "index": i, "embedding": fake_vector(text, dim)}
        for i, text in enumerate(inputs)
    ]
    data.reverse()  # the API does not promise order; the adapter must sort by index
    return httpx.Response(
        200,
        json={
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
        },
    )


def make(**kwargs: Any) -> OpenAIEmbedder:
    options: dict[str, Any] = {"api_key": "sk-test-secret", "max_retries": 0, "timeout": 5.0}
    options.update(kwargs)
    return OpenAIEmbedder(**options)


def test_batches_keep_order_and_rows_are_unit_length(httpcore2_mock: respx.Router) -> None:
    route = httpcore2_mock.post(URL).mock(side_effect=embeddings_reply)
    texts = [f"passage number {i}" for i in range(10)]

    vectors = make(batch_size=4).embed_documents(texts)

    assert route.call_count == math.ceil(10 / 4)
    sent = [json.loads(call.request.content) for call in route.calls]
    assert [len(body["input"]) for body in sent] == [4, 4, 2]
    assert [t for body in sent for t in body["input"]] == texts
    assert all(body["model"] == "text-embedding-3-small" for body in sent)
    assert all(body["encoding_format"] == "float" for body in sent)
    assert vectors.shape == (10, 1536) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    expected = np.stack([unit(fake_vector(t, 1536)) for t in texts])
    np.testing.assert_allclose(vectors, expected, atol=1e-6)


def test_the_api_key_is_sent_as_a_bearer_token(httpcore2_mock: respx.Router) -> None:
    route = httpcore2_mock.post(URL).mock(side_effect=embeddings_reply)
    make().embed_query("q")
    assert route.calls[0].request.headers["authorization"] == "Bearer sk-test-secret"


def test_query_is_one_vector_and_empty_input_is_not_sent_empty(
    httpcore2_mock: respx.Router,
) -> None:
    route = httpcore2_mock.post(URL).mock(side_effect=embeddings_reply)
    embedder = make()

    query = embedder.embed_query("")

    assert query.shape == (1536,)
    assert json.loads(route.calls[0].request.content)["input"] == [" "]


def test_no_texts_means_no_request(httpcore2_mock: respx.Router) -> None:
    route = httpcore2_mock.post(URL).mock(side_effect=embeddings_reply)
    assert make().embed_documents([]).shape == (0, 1536)
    assert not route.called


def test_known_dimensions_need_no_request() -> None:
    assert make(model="text-embedding-3-large").dimension == 3072
    assert make(model="text-embedding-ada-002").dimension == 1536
    assert make(model="text-embedding-3-large", dimensions=256).dimension == 256
    assert make().model == "text-embedding-3-small"


def test_unknown_model_learns_its_dimension_from_the_first_response(
    httpcore2_mock: respx.Router,
) -> None:
    base = "http://localhost:11434/v1"
    route = httpcore2_mock.post(f"{base}/embeddings").mock(
        side_effect=lambda request: embeddings_reply(request, dim=768)
    )
    embedder = make(model="nomic-embed-text", base_url=base)

    assert embedder.dimension == 768  # one probe request
    assert embedder.embed_documents(["a", "b"]).shape == (2, 768)
    assert route.call_count == 2


def test_shortened_dimensions_are_requested(httpcore2_mock: respx.Router) -> None:
    route = httpcore2_mock.post(URL).mock(
        side_effect=lambda request: embeddings_reply(request, dim=256)
    )
    vector = make(model="text-embedding-3-large", dimensions=256).embed_query("x")
    assert vector.shape == (256,)
    assert json.loads(route.calls[0].request.content)["dimensions"] == 256


def test_a_429_is_retried_then_succeeds(httpcore2_mock: respx.Router) -> None:
    route = httpcore2_mock.post(URL)
    route.side_effect = [
        httpx.Response(429, headers=FAST_RETRY, json={"error": {"message": "slow down"}}),
        embeddings_reply,  # type: ignore[list-item]  # respx calls a function in the list; its hint omits it
    ]

    vectors = make(max_retries=2).embed_documents(["a", "b"])

    assert route.call_count == 2
    assert vectors.shape == (2, 1536)


def test_repeated_500_becomes_upstream_unavailable(httpcore2_mock: respx.Router) -> None:
    route = httpcore2_mock.post(URL).mock(
        return_value=httpx.Response(500, headers=FAST_RETRY, json={"error": {"message": "boom"}})
    )

    with pytest.raises(UpstreamUnavailable) as error:
        make(max_retries=2).embed_documents(["a"])

    assert route.call_count == 3  # first try + 2 retries
    assert not isinstance(error.value, UpstreamTimeout)
    assert "HTTP 500" in error.value.detail


def test_rate_limit_after_retries_is_upstream_unavailable(httpcore2_mock: respx.Router) -> None:
    httpcore2_mock.post(URL).mock(
        return_value=httpx.Response(429, headers=FAST_RETRY, json={"error": {"message": "x"}})
    )
    with pytest.raises(UpstreamUnavailable, match="rate limited"):
        make(max_retries=1).embed_query("a")


def test_a_rejected_key_is_reported_without_the_key(httpcore2_mock: respx.Router) -> None:
    message = "Incorrect API key provided: sk-test-secret."
    httpcore2_mock.post(URL).mock(
        return_value=httpx.Response(401, json={"error": {"message": message}})
    )
    with pytest.raises(UpstreamUnavailable) as error:
        make().embed_query("a")
    assert "401" in error.value.detail
    assert "sk-test-secret" not in error.value.detail


def test_a_timeout_becomes_upstream_timeout(httpcore2_mock: respx.Router) -> None:
    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpcore2.ReadTimeout("timed out")

    httpcore2_mock.post(URL).mock(side_effect=time_out)
    with pytest.raises(UpstreamTimeout, match="did not answer within 5 s"):
        make().embed_query("a")


def test_a_connection_error_becomes_upstream_unavailable(httpcore2_mock: respx.Router) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpcore2.ConnectError("connection refused")

    httpcore2_mock.post(URL).mock(side_effect=refuse)
    with pytest.raises(UpstreamUnavailable) as error:
        make().embed_query("a")
    assert not isinstance(error.value, UpstreamTimeout)


def test_a_wrong_number_of_vectors_is_an_upstream_error(httpcore2_mock: respx.Router) -> None:
    def short(request: httpx.Request) -> httpx.Response:
        reply = embeddings_reply(request)
        body = json.loads(reply.content)
        body["data"] = body["data"][:1]
        return httpx.Response(200, json=body)

    httpcore2_mock.post(URL).mock(side_effect=short)
    with pytest.raises(UpstreamUnavailable, match="1 embeddings for 2 inputs"):
        make().embed_documents(["a", "b"])


def test_a_missing_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        OpenAIEmbedder("")


def test_a_bare_string_is_refused() -> None:
    with pytest.raises(TypeError):
        make().embed_documents("not a list")


def test_unmocked_requests_fail_loudly(httpcore2_mock: respx.Router) -> None:
    # Proves the httpcore2 mocker intercepts the SDK: without it this would go to the network.
    with pytest.raises(AllMockedAssertionError):
        make().embed_query("a")


def test_sockets_are_blocked_behind_the_mock(block_sockets: None) -> None:
    with pytest.raises(RuntimeError, match="real network access"):  # NetworkBlocked
        make().embed_query("a")  # no mock at all: the connection attempt itself fails
