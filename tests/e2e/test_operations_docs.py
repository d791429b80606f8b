"""docs/operations.md stays true: its curl example runs, its metric table names what
`/metrics` serves, and its configurations say what the code reads."""

from __future__ import annotations

import re
import shlex

import yaml
from prometheus_client.parser import text_string_to_metric_families

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.config import PROJECT_ROOT
from services.observability.metrics import Metrics
from services.observability.tracing import tracing_wanted
from tests.e2e.test_readme import _check, _run_curl
from tests.live_server import serve

DOC = (PROJECT_ROOT / "docs" / "operations.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S)


def test_the_curl_example_scrapes_a_live_server(container: Container) -> None:
    commands = [line for block in _blocks("bash") for line in block.splitlines() if "curl" in line]
    assert commands
    with serve(create_app(container=container)) as url:
        for command in commands:
            result = _run_curl(command, url, {})
            _check(command, result)
            assert "almanac_http_requests_total" in result.stdout


def test_the_metric_table_names_every_metric_served_and_nothing_else() -> None:
    metrics = Metrics()
    metrics.watch_queue(lambda: {})
    served = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in text_string_to_metric_families(metrics.exposition().decode())
    }
    documented = set(re.findall(r"^\| `(almanac_[a-z_]+)` \|", DOC, flags=re.M))
    assert documented == served


def test_the_scrape_configuration_reads_the_metrics_with_a_bearer_key() -> None:
    prometheus, collector = (yaml.safe_load(block) for block in _blocks("yaml"))
    (job,) = prometheus["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    assert collector["service"]["pipelines"]["traces"]["receivers"] == ["otlp"]


def test_the_documented_variables_turn_tracing_on() -> None:
    line = next(line for block in _blocks("bash") for line in block.splitlines() if "OTEL_" in line)
    words = shlex.split(line)
    environ = dict(word.split("=", 1) for word in words if "=" in word)
    assert words[len(environ) :] == ["almanac", "serve"]
    assert tracing_wanted(environ)
    assert not tracing_wanted({**environ, "OTEL_SDK_DISABLED": "true"})
    assert not tracing_wanted({})
