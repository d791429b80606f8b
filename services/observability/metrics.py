"""Prometheus metrics of one process, in a registry of their own (prometheus-client).

Rules: every metric is named `almanac_*`; labels hold only bounded values (a route's
template, never its path; a model's label; a job's kind), so a scrape stays small whatever
the traffic. Turns are counted by `turn_ended` (the `TurnObserver` port), HTTP requests by the
API's middleware, retrieval by `ObservedRetriever`, jobs by the job queue, the agent's MCP
tool calls by `external_tool_called` (the `ExternalToolObserver` port).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from loguru import logger
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from use_cases.chat.external_tools import ExternalCall
from use_cases.chat.ports import TurnEnded

# No `*_created` series (a timestamp per counter and histogram child): they double a scrape's
# series and the text format's readers, Prometheus included, ignore them. Process-wide.
disable_created_metrics()

#: Seconds: from a quick lookup to an answer that ran into the agent timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """The metrics of one service (one container); `exposition()` is what `/metrics` serves."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "almanac_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "almanac_http_request_duration_seconds",
            "Time to answer an HTTP request (to its last byte), by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.turns = Counter(
            "almanac_turns",
            "Chat and advice turns ended, by kind, model and outcome",
            ["kind", "model", "outcome"],
            registry=r,
        )
        self.turn_seconds = Histogram(
            "almanac_turn_duration_seconds",
            "Time from a turn's start to its answer (answer latency), by kind and model",
            ["kind", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "almanac_model_tokens",
            "Tokens the models read (input) and wrote (output), as their providers reported",
            ["model", "direction"],
            registry=r,
        )
        self.retrieval_seconds = Histogram(
            "almanac_retrieval_duration_seconds",
            "Time of one knowledge-base search (hybrid retrieval)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.model_failures = Counter(
            "almanac_model_failures",
            "Model calls that failed, by model and kind (timeout, connection, rate_limit, "
            "http_4xx, http_5xx, provider_error, bad_response)",
            ["model", "kind"],
            registry=r,
        )
        self.mcp_tool_calls = Counter(
            "almanac_mcp_tool_calls",
            "Calls of other MCP servers' tools by the agent, by server, tool and outcome (ok, "
            "error, timeout, failed)",
            ["server", "tool", "outcome"],
            registry=r,
        )
        self.mcp_tool_seconds = Histogram(
            "almanac_mcp_tool_duration_seconds",
            "Time of one MCP tool call by the agent (connecting included), by server",
            ["server"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.job_failures = Counter(
            "almanac_job_failures",
            "Background jobs that failed, by kind",
            ["kind"],
            registry=r,
        )

    # -- TurnObserver ---------------------------------------------------------------------------

    def turn_ended(self, ended: TurnEnded) -> None:
        self.turns.labels(ended.kind, ended.model, ended.outcome).inc()
        self.turn_seconds.labels(ended.kind, ended.model).observe(ended.seconds)
        if ended.input_tokens:
            self.tokens.labels(ended.model, "input").inc(ended.input_tokens)
        if ended.output_tokens:
            self.tokens.labels(ended.model, "output").inc(ended.output_tokens)

    # -- ExternalToolObserver ------------------------------------------------------------------

    def external_tool_called(self, call: ExternalCall) -> None:
        """Count it, time it and log it (the server and tool names come from the admin's
        allow-list, so the labels stay bounded)."""
        self.mcp_tool_calls.labels(call.server, call.tool, call.outcome).inc()
        self.mcp_tool_seconds.labels(call.server).observe(call.seconds)
        logger.info(
            "MCP tool {}__{}: {} in {:.2f} s, {} characters{}",
            call.server,
            call.tool,
            call.outcome,
            call.seconds,
            call.chars,
            " (cut)" if call.cut else "",
        )

    # -- the rest -------------------------------------------------------------------------------

    def request_answered(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.request_seconds.labels(method, route).observe(seconds)

    def model_failed(self, model: str, kind: str) -> None:
        self.model_failures.labels(model, kind).inc()

    def job_failed(self, kind: str) -> None:
        self.job_failures.labels(kind).inc()

    def watch_queue(self, waiting: Callable[[], Mapping[str, int]]) -> None:
        """Report `waiting()` (jobs queued, by kind) as `almanac_jobs_queued` at each scrape."""
        self.registry.register(_QueueDepth(waiting))

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes (`text/plain; version=0.0.4`)."""
        return generate_latest(self.registry)


class _QueueDepth(Collector):
    def __init__(self, waiting: Callable[[], Mapping[str, int]]) -> None:
        self._waiting = waiting

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "almanac_jobs_queued", "Background jobs waiting to run, by kind", labels=["kind"]
        )
        try:
            waiting = self._waiting()
        except Exception as exc:  # the database away: the scrape still answers, without it
            logger.warning("Metrics: cannot count the queued jobs: {}", exc)
            waiting = {}
        for kind, count in sorted(waiting.items()):
            family.add_metric([kind], count)
        yield family

    def describe(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily("almanac_jobs_queued", "", labels=["kind"])]
