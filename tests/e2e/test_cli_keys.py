"""`almanac keys` and `almanac audit`, the CLI's audited admin actions, and the loopback rule
of `almanac serve` with authentication off."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.cli.main import app
from backend.config import PROJECT_ROOT

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_key_is_printed_once_and_only_its_hash_is_stored(env: None, data_dir: Path) -> None:
    code, stdout, stderr = _invoke("keys", "create", "--user", "ana", "--role", "user")
    assert code == 0, stderr
    secret = stdout.strip()
    assert secret.startswith("alm_") and "\n" not in secret  # stdout is the key alone
    assert "only time the key is shown" in stderr

    code, listed, _ = _invoke("keys", "list", "--json")
    [key] = json.loads(listed)
    assert (key["user_id"], key["role"], key["revoked_at"]) == ("ana", "user", None)
    assert secret not in listed and "hash" not in listed
    assert secret not in _invoke("keys", "list")[1]

    app_db = data_dir / "app.db"
    stored = b"".join(p.read_bytes() for p in data_dir.glob("app.db*"))  # WAL included
    assert secret.encode() not in stored
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in stored
    assert app_db.exists()


def test_a_cli_key_opens_the_api_until_it_is_revoked(env: None, auth_container: Container) -> None:
    http = TestClient(create_app(container=auth_container))  # sync: the CLI runs its own loop
    code, stdout, _ = _invoke("keys", "create", "--user", "ana", "--role", "admin", "--name", "ci")
    assert code == 0
    headers = {"Authorization": f"Bearer {stdout.strip()}"}
    assert http.get("/api/audit", headers=headers).status_code == 200

    [key] = json.loads(_invoke("keys", "list", "--json")[1])
    assert key["name"] == "ci" and key["last_used_at"] is not None
    code, stdout, _ = _invoke("keys", "revoke", key["id"])
    assert code == 0 and f"Revoked key {key['id']}" in stdout
    assert http.get("/api/audit", headers=headers).status_code == 401
    code, stdout, _ = _invoke("keys", "revoke", key["id"])
    assert code == 0 and "already revoked" in stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("keys", "create", "--user", "ana", "--role", "root"), "Unknown role 'root'"),
        (("keys", "create", "--user", "a b", "--role", "user"), "Invalid user id"),
        (("keys", "revoke", "key_nope"), "No API key with id key_nope"),
        (("audit", "--action", "no such thing"), "neither an action"),
    ],
)
def test_bad_key_and_audit_commands_fail_clearly(
    env: None, args: tuple[str, ...], fragment: str
) -> None:
    code, _, stderr = _invoke(*args)
    assert code == 1
    assert fragment in stderr and "Traceback" not in stderr


def test_cli_admin_actions_are_audited_as_the_local_cli(
    env: None, data_dir: Path, tmp_path: Path
) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nThe CLI note lives here.\n")
    table = tmp_path / "rooms.csv"
    table.write_text("room,floor\nA,1\nB,2\n")
    assert _invoke("ingest", str(note), "--category", "cli-notes")[0] == 0
    document_id = json.loads(_invoke("docs", "list", "--category", "cli-notes", "--json")[1])[
        "documents"
    ][0]["id"]
    assert _invoke("docs", "remove", str(document_id), "--yes")[0] == 0
    assert _invoke("tables", "load", str(table), "--name", "rooms")[0] == 0
    assert _invoke("keys", "create", "--user", "ana", "--role", "user")[0] == 0

    code, stdout, _ = _invoke("audit", "--json")
    assert code == 0
    entries = json.loads(stdout)["entries"]
    assert [e["action"] for e in entries] == [
        "key.create",
        "table.load",
        "document.delete",
        "document.ingest",
    ]
    assert {(e["actor_user_id"], e["actor_key_id"]) for e in entries} == {("cli", None)}
    table_entry = entries[1]
    assert table_entry["before"] is None
    assert table_entry["after"]["rows"] == 2 and table_entry["after"]["file"] == "rooms.csv"
    assert entries[2]["before"]["source"] == entries[3]["after"]["source"] == "note.md"

    code, text, _ = _invoke("audit", "--action", "document", "--limit", "1")
    assert code == 0 and "document.delete" in text and "1 of 2 entries" in text


def test_serve_refuses_a_network_address_while_authentication_is_off(env: None) -> None:
    code, _, stderr = _invoke("serve", "--host", "0.0.0.0", "--port", "1")
    assert code == 1
    assert "Refusing to listen on 0.0.0.0" in stderr and "AUTH_ENABLED=true" in stderr
    assert "--insecure-bind" in stderr


def test_the_readme_documents_the_loopback_rule_and_the_key_commands() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    for fragment in ("AUTH_ENABLED", "--insecure-bind", "almanac keys create", "Bearer"):
        assert fragment in readme
