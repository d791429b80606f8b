"""`almanac serve --workers N`: several processes through uvicorn's app factory on
PostgreSQL, refused on SQLite; one process (what `make run` starts) as before. uvicorn itself
is replaced by a recorder: what matters is how it is asked to serve."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner
from uvicorn.importer import import_from_string

from backend.api.rate_limit import PgTokenBucketLimiter, TokenBucketLimiter
from backend.cli import serve_commands as cli
from backend.cli.main import app as almanac
from backend.config import PROJECT_ROOT

runner = CliRunner()
PG_URL = "postgresql://almanac@db.example:5432/almanac"


@pytest.fixture
def served(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("LOAD_SAMPLE_DATA", "false")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(data_dir)  # no stray .env from the repository
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    return calls


@pytest.fixture
def prepared(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stands in for the parent's one-time start (the sample load needs every store)."""
    opened: list[str] = []

    @contextlib.contextmanager
    def open_container(settings: Any, *, with_sample: bool = False) -> Iterator[None]:
        opened.append(f"{settings.storage.database_backend} sample={with_sample}")
        yield None

    monkeypatch.setattr(cli, "open_container", open_container)
    return opened


def test_one_process_is_served_as_before(served: list[tuple[Any, dict[str, Any]]]) -> None:
    result = runner.invoke(almanac, ["serve", "--port", "8123"])

    assert result.exit_code == 0, result.stderr
    [(app, options)] = served
    assert isinstance(app, FastAPI)  # the app object, not a factory: `make run` is unchanged
    assert (options["host"], options["port"]) == ("127.0.0.1", 8123)
    assert "workers" not in options
    # `make run` is `almanac serve` alone; only `make run KNOWLEDGE=PATH` adds --knowledge.
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert 'almanac serve $(if $(KNOWLEDGE),--knowledge "$(KNOWLEDGE)")\n' in makefile
    # The pinned h11 protocol that bounds request heads and connections, by import path.
    assert (options["http"], options["ws"]) == ("backend.http_server:BoundedH11Protocol", "none")
    assert options["timeout_keep_alive"] == 5.0


def test_several_workers_on_sqlite_are_refused_with_the_reason(
    served: list[tuple[Any, dict[str, Any]]], prepared: list[str]
) -> None:
    result = runner.invoke(almanac, ["serve", "--workers", "2"])

    assert result.exit_code == 1
    assert "--workers 2 needs DATABASE_URL=postgresql://" in result.stderr
    assert "inside one process" in result.stderr
    assert (served, prepared) == ([], [])


def test_several_workers_on_postgresql_run_the_app_factory_once_prepared(
    served: list[tuple[Any, dict[str, Any]]],
    prepared: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", PG_URL)

    result = runner.invoke(almanac, ["serve", "--workers", "3", "--port", "8124"])

    assert result.exit_code == 0, result.stderr
    assert prepared == ["postgresql sample=True"]  # the first start's sample: once, here
    [(target, options)] = served
    assert target == cli.SERVE_APP_FACTORY
    assert options["factory"] is True and options["workers"] == 3
    assert (options["host"], options["port"]) == ("127.0.0.1", 8124)
    assert options["http"] == "backend.http_server:BoundedH11Protocol"  # each worker imports it


def test_zero_workers_is_a_usage_error(served: list[tuple[Any, dict[str, Any]]]) -> None:
    result = runner.invoke(almanac, ["serve", "--workers", "0"])
    assert result.exit_code == 2 and served == []


def test_the_factory_each_worker_imports_builds_the_app_from_the_environment(
    served: list[tuple[Any, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = import_from_string(cli.SERVE_APP_FACTORY)

    on_sqlite = factory()
    monkeypatch.setenv("DATABASE_URL", PG_URL)
    on_postgres = factory()

    assert isinstance(on_sqlite, FastAPI) and isinstance(on_postgres, FastAPI)
    assert isinstance(on_sqlite.state.rate_limiter, TokenBucketLimiter)
    assert isinstance(on_postgres.state.rate_limiter, PgTokenBucketLimiter)  # shared limits


def test_serving_without_jobs_on_sqlite_is_refused_with_the_reason(
    served: list[tuple[Any, dict[str, Any]]],
) -> None:
    result = runner.invoke(almanac, ["serve", "--no-jobs"])

    assert result.exit_code == 1
    assert "--no-jobs needs DATABASE_URL=postgresql://" in result.stderr
    assert served == []


def test_several_workers_without_jobs_hand_the_role_to_each_process(
    served: list[tuple[Any, dict[str, Any]]],
    prepared: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", PG_URL)
    monkeypatch.setenv("RUN_JOBS", "true")  # restored (unset) after the test, whatever it sets

    result = runner.invoke(almanac, ["serve", "--workers", "2", "--no-jobs"])

    assert result.exit_code == 0, result.stderr
    assert os.environ["RUN_JOBS"] == "false"  # what each process's settings are read from
    [(target, options)] = served
    assert target == cli.SERVE_APP_FACTORY and options["workers"] == 2


def test_a_job_worker_on_sqlite_is_refused_with_the_reason(data_dir: Path) -> None:
    result = runner.invoke(almanac, ["worker"], env={"DATA_DIR": str(data_dir)})

    assert result.exit_code == 1
    assert "almanac worker needs DATABASE_URL=postgresql://" in result.stderr


def test_a_job_worker_refuses_a_kind_nobody_runs(
    data_dir: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(data_dir)
    env = {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": pg_url,
        "LOAD_SAMPLE_DATA": "false",
        "ANSWER_PROCESSES": "false",
        "LOG_LEVEL": "WARNING",
    }
    result = runner.invoke(almanac, ["worker", "--kinds", "ingest_upload,reticulate"], env=env)

    assert result.exit_code == 1
    assert "Unknown job kind(s): reticulate. Known: " in result.stderr
    assert "conflict_scan" in result.stderr and "ingest_upload" in result.stderr
