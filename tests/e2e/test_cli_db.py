"""`almanac db migrate | check | copy` on a real PostgreSQL, through the real CLI.

The copy test builds a real SQLite installation (the sample knowledge base and tables, plus a
key, a chat, feedback, a prompt version and an evaluation run, all made through the CLI),
copies it, and then asks the same CLI questions with DATABASE_URL pointing at PostgreSQL:
the answers must be the same.
"""

from __future__ import annotations

import json
import re
import shlex
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from typer.testing import CliRunner, Result

from backend.api.app import create_app
from backend.bootstrap import bootstrap
from backend.cli.main import app
from services.postgres.database import with_database
from tests.conftest import make_settings
from tests.e2e.test_cli_eval_runs import _write

runner = CliRunner()

#: The README's and the guide's example searches (README.md "Try it", docs/guide.md).
README_SEARCHES = [
    ("search", "who owns incident response", "--limit", "3"),
    ("search", "database failover", "--category", "runbooks"),
]


def _ok(*args: str, stdin: str | None = None) -> Result:
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, (args, result.output)
    return result


def _json(*args: str) -> Any:
    return json.loads(_ok(*args, "--json").stdout)


def _views(chat_id: str, run_id: str) -> dict[str, Any]:
    """What the CLI shows of the installation DATABASE_URL names."""
    return {
        "docs": _json("docs", "list", "--limit", "100"),
        "chats": _json("chats", "list", "--user", "sam"),
        "chat": _json("chats", "show", chat_id, "--user", "sam"),
        "keys": _json("keys", "list"),
        "audit": _json("audit"),
        "prompts": _json("prompts", "history", "chat"),
        "eval": _json("eval", "show", run_id),
        "tables": _json("tables", "list"),
        # `last_updated` says when the figures were computed, not what the installation holds.
        "calibration": {
            k: v for k, v in _json("calibration", "stats").items() if k != "last_updated"
        },
        "projects": _json("projects", "list"),
        "library": _json("prompts", "library", "list"),
    }


def _top_documents(*args: str) -> list[str]:
    hits = _json(*args)
    hits = hits["hits"] if isinstance(hits, dict) else hits
    return [hit["source"] for hit in hits]


def _pg_rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def test_copy_moves_an_installation_that_then_answers_the_same(
    env: None, data_dir: Path, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _ok("keys", "create", "--user", "ana", "--role", "admin").stdout.strip()
    _ok("chat", "--user", "sam", stdin="What is the SEV1 acknowledgement time?\n\n")
    [chat] = _json("chats", "list", "--user", "sam")
    with sqlite3.connect(data_dir / "app.db") as conn:
        [(response_id, cited)] = conn.execute(
            "SELECT response_id, cited_sources FROM response_log"
        ).fetchall()
    assert json.loads(cited)["documents"], cited  # what the answer cited, for withholding
    _ok("feedback", response_id, "--outcome", "yes", "--notes", "Right.", "--user", "sam")
    _ok("prompts", "set", "chat", stdin="Answer in one line and cite every passage as [n].\n")
    project = _json("projects", "create", "Support")
    use_case = _json("use-cases", "create", project["id"], "triage")
    _ok("prompts", "library", "create", use_case["id"], "short", "--tag", "terse")
    run_id = _json("eval", "run", str(_write(tmp_path)))["run_id"]
    # A table in a collection: its place travels with it.
    _ok("collections", "create", "hr")
    (tmp_path / "bands.csv").write_text("level,band\n5,88000\n", encoding="utf-8")
    _ok("tables", "load", str(tmp_path / "bands.csv"), "--name", "bands", "--collection", "hr")
    (tmp_path / "share").mkdir()  # a synced source (empty, so the index is the sample's)
    _ok("sources", "add", "share", "--folder", str(tmp_path / "share"), "--every", "1h")
    _ok("sources", "sync", "share")
    before = _views(chat["id"], run_id)
    searches = [_top_documents(*args) for args in README_SEARCHES]
    with sqlite3.connect(data_dir / "knowledge.db") as conn:
        versions = conn.execute(
            "SELECT id, source, supersedes_key, supersedes_id FROM documents ORDER BY id"
        ).fetchall()
    assert any(row[3] is not None for row in versions)  # the sample has a version chain
    with sqlite3.connect(data_dir / "knowledge.db") as conn:
        # As if the five newest documents had been deleted: their ids are never given again.
        conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 5 WHERE key = 'last_document_id'"
        )
        [(last_id,)] = conn.execute("SELECT value FROM meta WHERE key = 'last_document_id'")

    copied = runner.invoke(
        app, ["db", "copy", "--from", f"sqlite:///{data_dir}", "--to", pg_url, "--json"]
    )
    assert copied.exit_code == 0, copied.output
    report = json.loads(copied.stdout)
    counts = {c["table"]: (c["source"], c["target"]) for c in report["counts"]}
    assert report["ok"] and all(source == target for source, target in counts.values())
    for table in ("documents", "chunk_vectors", "messages", "api_keys", "audit_log"):
        assert counts[table][0] > 0, table
    for table in ("response_feedback", "prompt_versions", "eval_runs", "eval_run_rows"):
        assert counts[table][0] > 0, table
    # The library, the default project's rows included (the target's own make way for them).
    assert counts["prompt_projects"][0] == 2 and counts["library_prompts"][0] == 3
    assert counts["almanac_tables.directory"][0] > 0
    assert counts["sources"][0] == counts["source_runs"][0] == 1
    search = report["search"]
    assert search["queries"] == 20 and search["top1_agreement"] >= 0.8, search
    assert "chunks: 309 rows" in copied.stderr  # progress, per table, on stderr
    assert report["not_copied"] == []

    # The same answers from PostgreSQL.
    monkeypatch.setenv("DATABASE_URL", pg_url)
    assert _views(chat["id"], run_id) == before
    logged = f"SELECT cited_sources FROM response_log WHERE response_id = '{response_id}'"
    assert _pg_rows(pg_url, logged) == [(cited,)]  # what withholding reads came along
    assert {t["name"]: t["collection"] for t in before["tables"]}["bands"] == "hr"
    [source] = _json("sources", "list")
    assert (source["name"], source["every_s"], source["last_sync"]["status"]) == (
        "share",
        3600,
        "done",
    )
    assert [_top_documents(*args)[:1] for args in README_SEARCHES] == [s[:1] for s in searches]
    assert [tuple(r) for r in _pg_rows(pg_url, "SELECT id, source, supersedes_key, "
            "supersedes_id FROM documents ORDER BY id")] == versions  # fmt: skip
    # New rows get new ids: the sequences moved past the copied ones.
    [(sequence,)] = _pg_rows(pg_url, "SELECT pg_get_serial_sequence('documents', 'id')")
    [(next_document_id,)] = _pg_rows(pg_url, f"SELECT last_value + 1 FROM {sequence}")
    assert next_document_id == int(last_id) + 1  # no deleted document's id comes back
    _ok("keys", "create", "--user", "bo", "--role", "user")
    audit_ids = [r[0] for r in _pg_rows(pg_url, "SELECT id FROM audit_log ORDER BY id")]
    assert len(audit_ids) == len(set(audit_ids)) == counts["audit_log"][0] + 1

    container = bootstrap(
        make_settings(tmp_path / "pg-data", database_url=pg_url, auth_enabled=True)
    )
    try:
        http = TestClient(create_app(container=container))
        assert (
            http.get("/api/audit", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
        )
        assert (
            http.get("/api/audit", headers={"Authorization": "Bearer alm_nope"}).status_code == 401
        )
    finally:
        container.close()

    # A target that holds data is refused, and left as it was.
    monkeypatch.delenv("DATABASE_URL")
    again = runner.invoke(app, ["db", "copy", "--from", f"sqlite:///{data_dir}", "--to", pg_url])
    assert again.exit_code == 1 and "already holds data" in again.stderr, again.output
    assert _pg_rows(pg_url, "SELECT count(*) FROM documents") == [(counts["documents"][0],)]
    assert _pg_rows(pg_url, "SELECT count(*) FROM api_keys") == [(2,)]


def test_a_failure_mid_copy_leaves_the_target_without_a_row(
    env: None, data_dir: Path, pg_url: str
) -> None:
    # A value PostgreSQL refuses, in a table copied after the whole knowledge base.
    with sqlite3.connect(data_dir / "app.db") as conn:
        conn.execute(
            "INSERT INTO users (id, name, email, created_at) VALUES ('zed', NULL, NULL, 'soon')"
        )
    result = runner.invoke(
        app, ["db", "copy", "--from", f"sqlite:///{data_dir}", "--to", pg_url, "--queries", "0"]
    )
    assert result.exit_code == 1, result.output
    assert "rolled back" in result.stderr and "users" in result.stderr, result.stderr
    assert "Traceback" not in result.output
    for table in ("documents", "sections", "chunks", "users", "knowledge_meta"):
        rows = _pg_rows(pg_url, f"SELECT count(*) FROM {table} WHERE {table} IS NOT NULL")
        expected = 2 if table == "knowledge_meta" else 0  # the migration's two counters
        assert rows == [(expected,)], table
    assert _pg_rows(pg_url, "SELECT to_regclass('chunk_vectors')") == [(None,)]
    assert _pg_rows(
        pg_url,
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'almanac_tables' "
        "AND tablename NOT LIKE '\\_almanac\\_%'",
    ) == [(0,)]
    # Nothing half-written: once the bad row is gone, the same target takes the copy.
    with sqlite3.connect(data_dir / "app.db") as conn:
        conn.execute("DELETE FROM users WHERE id = 'zed'")
    result = runner.invoke(
        app, ["db", "copy", "--from", f"sqlite:///{data_dir}", "--to", pg_url, "--queries", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "same top document for" in result.stdout


def test_bad_copy_arguments_fail_clearly(env: None, tmp_path: Path, pg_url: str) -> None:
    no_install = runner.invoke(
        app, ["db", "copy", "--from", f"sqlite:///{tmp_path / 'none'}", "--to", pg_url]
    )
    assert no_install.exit_code == 1 and "does not exist" in no_install.stderr
    wrong = runner.invoke(app, ["db", "copy", "--from", pg_url, "--to", pg_url])
    assert wrong.exit_code == 2 and "sqlite:///DIR" in wrong.stderr


def test_db_check_fails_until_db_migrate_has_run(
    env: None, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", pg_url)
    before = runner.invoke(app, ["db", "check", "--json"])
    assert before.exit_code == 1
    pending = json.loads(before.stdout)["pending"]
    assert "knowledge_pg_0001_base" in pending and "history_pg_0001_users_chats_messages" in pending
    migrated = runner.invoke(app, ["db", "migrate", "--json"])
    assert migrated.exit_code == 0, migrated.output
    assert json.loads(migrated.stdout)["applied"] == pending
    after = runner.invoke(app, ["db", "check"])
    assert after.exit_code == 0 and "OK" in after.stdout, after.output
    assert runner.invoke(app, ["db", "migrate", "--json"]).exit_code == 0


DEPLOYMENT = (Path(__file__).resolve().parents[2] / "docs" / "deployment.md").read_text()
DOCUMENTED_PG_URL = "postgresql://almanac:secret@db.internal:5432/almanac"
DOCUMENTED_SQLITE_DIR = "sqlite:////srv/almanac/data"


def test_the_deployment_page_commands_run(
    env: None, data_dir: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/deployment.md's `almanac db ...` lines, in order, on a real PostgreSQL and a copy
    of the sample installation (the documented URLs swapped for the test's)."""
    blocks = re.findall(r"```bash\n(.*?)```", DEPLOYMENT, flags=re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    exports = [line for line in lines if line.startswith("export DATABASE_URL=")]
    assert exports == [f"export DATABASE_URL={DOCUMENTED_PG_URL}"]
    commands = [line for line in lines if line.startswith("almanac ")]
    assert [c.split()[:3] for c in commands] == [
        ["almanac", "db", "migrate"],
        ["almanac", "db", "check"],
        ["almanac", "db", "copy"],
    ]
    monkeypatch.setenv("DATABASE_URL", pg_url)
    for command in commands[:2]:
        _ok(*shlex.split(command)[1:])
    copy = (
        commands[2]
        .replace(DOCUMENTED_SQLITE_DIR, f"sqlite:///{data_dir}")
        .replace(DOCUMENTED_PG_URL, pg_url)
    )
    report = json.loads(_ok(*shlex.split(copy)[1:], "--json").stdout)
    assert report["ok"] is True, report


def test_db_migrate_as_an_owner_who_may_not_create_pgvector_says_what_to_run(
    env: None, pg_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database's owner, not a superuser, on a server where pgvector is not yet created
    in it: a clear message naming the command and who runs it, no traceback."""
    suffix = uuid.uuid4().hex[:10]
    role, name = f"almanac_owner_{suffix}", f"almanac_owned_{suffix}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                sql.Identifier(name), sql.Identifier(role)
            )
        )
    try:
        owner_url = psycopg.conninfo.make_conninfo(
            with_database(pg_server_url, name), user=role, password=""
        )
        monkeypatch.setenv("DATABASE_URL", with_database(owner_url, name))
        result = runner.invoke(app, ["db", "migrate"])
        assert result.exit_code == 1, result.output
        message = " ".join(result.output.split())
        assert "Traceback" not in result.output and "InsufficientPrivilege" not in message
        assert "CREATE EXTENSION IF NOT EXISTS vector" in message
        assert "superuser" in message and role in message and name in message
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
