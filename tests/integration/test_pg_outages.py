"""A database outage as the HTTP API and the stores see it: an error of its own
(`database_unavailable`, 503, titled after the database, not the model provider), told apart
from an error in what was asked of the database."""

from __future__ import annotations

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.api.errors import install_error_handlers
from services.postgres import PgDatabase
from services.postgres.database import is_outage


def test_no_free_connection_is_a_503_titled_after_the_database(pg_url: str) -> None:
    database = PgDatabase(pg_url, max_size=1, timeout_s=0.5)
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/one")
    def one() -> dict[str, int]:
        with database.connection() as conn:
            row = conn.execute("SELECT 1 AS one").fetchone()
        return {"one": row["one"] if row else 0}

    try:
        with TestClient(app) as client:
            assert client.get("/one").json() == {"one": 1}
            with database.connection():  # the pool's one connection is taken
                response = client.get("/one")
    finally:
        database.close()
    assert response.status_code == 503, response.text
    body = response.json()
    assert (body["code"], body["title"]) == ("database_unavailable", "Database unavailable")
    assert "database" in body["detail"] and "Traceback" not in response.text


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (psycopg.OperationalError("connection refused"), True),  # raised by the client
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), True),
        (psycopg.errors.ProtocolViolation("server login has been failing"), True),  # PgBouncer
        (psycopg.errors.TooManyConnections("too many clients"), True),
        (psycopg.errors.QueryCanceled("statement timeout"), False),
        (psycopg.errors.LockNotAvailable("could not obtain lock"), False),
        (psycopg.errors.UniqueViolation("duplicate key"), False),
        (ValueError("not a database error"), False),
    ],
)
def test_an_outage_is_told_apart_from_an_error_in_the_request(
    error: Exception, outage: bool
) -> None:
    assert is_outage(error) is outage
