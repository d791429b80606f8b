"""What an operator sees: Prometheus metrics at `/metrics` after a chat turn, and the turn's
trace exported over OTLP/HTTP to a receiver the test runs (docs/operations.md)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from prometheus_client.parser import text_string_to_metric_families
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from backend.api.app import create_app
from backend.bootstrap import Container
from tests.conftest import container_with_models
from tests.fakes import streamed
from tests.live_server import serve
from tests.narrowing import of_type
from use_cases.access.domain import CLI_ADMIN
from use_cases.chat.prompts import SEARCH_TOOL

MODEL = "test:scripted"


def searching_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Searches once, then answers."""
    searched = any(
        getattr(part, "part_kind", "") == "tool-return"
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
    )
    if not searched:
        return ModelResponse(parts=[ToolCallPart(SEARCH_TOOL, {"query": "vacation days"})])
    return ModelResponse(parts=[TextPart("Employees get 25 vacation days a year.")])


def scripted_models() -> dict[str, FunctionModel]:
    return {MODEL: FunctionModel(searching_model, stream_function=streamed(searching_model))}


@pytest.fixture
def container(data_dir: Path) -> Iterator[Container]:
    with container_with_models(data_dir, scripted_models()) as built:
        yield built


def _samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample, by name and labels, read with prometheus-client's own parser."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def test_metrics_show_the_turn_its_latency_its_tokens_and_the_request(
    container: Container,
) -> None:
    transport = httpx.ASGITransport(app=create_app(container=container))
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        answered = await http.post(
            "/chat", json={"message": "How many vacation days?", "model": MODEL}
        )
        assert answered.status_code == 200
        scrape = await http.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=")
    samples = _samples(scrape.text)
    turn = {"kind": "chat", "model": MODEL}
    assert _value(samples, "almanac_turns_total", **turn, outcome="answered") == 1
    assert _value(samples, "almanac_turn_duration_seconds_count", **turn) == 1
    assert _value(samples, "almanac_turn_duration_seconds_sum", **turn) > 0
    assert _value(samples, "almanac_model_tokens_total", model=MODEL, direction="input") > 0
    assert _value(samples, "almanac_model_tokens_total", model=MODEL, direction="output") > 0
    assert _value(samples, "almanac_retrieval_duration_seconds_count") == 1  # the tool's search
    request = {"method": "POST", "route": "/chat"}
    assert _value(samples, "almanac_http_requests_total", **request, status="200") == 1
    assert _value(samples, "almanac_http_request_duration_seconds_count", **request) == 1


async def test_metrics_are_for_admins_only_when_authentication_is_on(
    auth_client: httpx.AsyncClient, auth_container: Container
) -> None:
    user = await auth_container.access.create_key.execute(CLI_ADMIN, user_id="ana", role="user")
    admin = await auth_container.access.create_key.execute(CLI_ADMIN, user_id="root", role="admin")
    assert (await auth_client.get("/metrics")).status_code == 401
    as_user = await auth_client.get("/metrics", headers={"X-API-Key": user.secret})
    assert as_user.status_code == 403
    as_admin = await auth_client.get("/metrics", headers={"X-API-Key": admin.secret})
    assert as_admin.status_code == 200 and "almanac_http_requests_total" in as_admin.text


class _SpanServer(HTTPServer):
    """The receiver's server, holding the spans its handler kept."""

    spans: list[Span]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spans = []


class _Receiver(BaseHTTPRequestHandler):
    """An OTLP/HTTP trace receiver: keeps every export request's spans."""

    spans: list[Span]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        assert self.path == "/v1/traces"
        export = ExportTraceServiceRequest.FromString(body)
        for resource in export.resource_spans:
            for scoped in resource.scope_spans:
                of_type(_SpanServer, self.server).spans.extend(scoped.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[_SpanServer]:
    server = _SpanServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_turn_is_one_trace_of_the_request_the_agent_run_the_model_request_and_the_tool_call(
    data_dir: Path, receiver: _SpanServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = receiver.server_address[1]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "almanac-test")
    with (  # closing the container (last) sends the spans still queued
        container_with_models(data_dir, scripted_models()) as container,
        serve(create_app(container=container)) as url,
        httpx.Client(base_url=url) as http,
    ):
        reply = http.post("/chat", json={"message": "Vacation days?", "model": MODEL})
        assert reply.status_code == 200
        request_id = reply.headers["x-request-id"]
    spans: list[Span] = receiver.spans
    server = [s for s in spans if s.kind == Span.SPAN_KIND_SERVER]
    assert len(server) == 1
    trace_id = server[0].trace_id
    attributes = {a.key: a.value.string_value for a in server[0].attributes}
    assert attributes["almanac.request_id"] == request_id
    names = [s.name for s in spans if s.trace_id == trace_id]
    assert any(name.startswith("invoke_agent") or name == "agent run" for name in names), names
    assert sum(name.startswith("chat ") for name in names) == 2, names  # two model requests
    assert f"execute_tool {SEARCH_TOOL}" in names or f"running tool: {SEARCH_TOOL}" in names
    assert "retrieval" in names
    assert {s.trace_id for s in spans} == {trace_id}  # one trace, nothing outside it


def test_no_span_holds_what_was_searched_for_or_asked(
    data_dir: Path, receiver: _SpanServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server span's URL has no query string (search terms, filter values), and the
    agent's spans no message (docs/operations.md)."""
    planted = "zebrafinchquorum"
    port = receiver.server_address[1]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    with (  # closing the container (last) sends the spans still queued
        container_with_models(data_dir, scripted_models()) as container,
        serve(create_app(container=container)) as url,
        httpx.Client(base_url=url) as http,
    ):
        params = {"q": f"salary of {planted}", "meta": f"owner:{planted}"}
        assert http.get("/api/search", params=params).status_code == 200
        asked = http.post("/chat", json={"message": f"What does {planted} earn?", "model": MODEL})
        assert asked.status_code == 200
    server = [s for s in receiver.spans if s.kind == Span.SPAN_KIND_SERVER]
    urls = [a.value.string_value for s in server for a in s.attributes if a.key == "http.url"]
    assert len(server) == 2 and len(urls) == 2, server
    assert [str(s) for s in receiver.spans if planted in str(s)] == []
    assert any(u.endswith("/api/search") for u in urls), urls  # the path is kept
