"""The SQLite adapters of API keys and the audit log, on real files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlean as sqlite3

from services.admin.api_key_store import SqliteApiKeyStore
from services.admin.audit_log import SqliteAuditLog
from use_cases.auth_domain import ApiKey, AuditRecord, StoredApiKey

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _record(action: str) -> AuditRecord:
    return AuditRecord(NOON, "root", "key_root", action, "x:1", None, {"n": 1})


def test_keys_round_trip_and_are_found_by_digest(tmp_path: Path) -> None:
    store = SqliteApiKeyStore(tmp_path / "app.db")
    key = ApiKey("key_1", "laptop", "ana", "user", NOON)
    store.add(StoredApiKey(key, "a" * 64))
    found = store.find_by_hash("a" * 64)
    assert found is not None and found.key == key and found.key_hash == "a" * 64
    assert store.find_by_hash("b" * 64) is None
    store.touch("key_1", NOON.replace(hour=13))
    first = store.revoke("key_1", NOON.replace(hour=14))
    second = store.revoke("key_1", NOON.replace(hour=15))
    assert first == second
    assert first is not None and first.revoked_at == NOON.replace(hour=14)
    assert first.last_used_at == NOON.replace(hour=13)
    assert store.revoke("key_nope", NOON) is None
    store.close()


def test_two_keys_cannot_share_a_digest(tmp_path: Path) -> None:
    store = SqliteApiKeyStore(tmp_path / "app.db")
    store.add(StoredApiKey(ApiKey("key_1", None, "ana", "user", NOON), "a" * 64))
    with pytest.raises(sqlite3.IntegrityError):
        store.add(StoredApiKey(ApiKey("key_2", None, "bob", "user", NOON), "a" * 64))
    store.close()


def test_the_audit_log_refuses_updates_and_deletes(tmp_path: Path) -> None:
    log = SqliteAuditLog(tmp_path / "app.db")
    log.append(_record("key.create"))
    conn = sqlite3.connect(tmp_path / "app.db")
    for statement in ("UPDATE audit_log SET actor_user_id = 'eve'", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    conn.close()
    entries, total = log.list_entries(limit=10, offset=0)
    assert total == 1 and entries[0].actor_user_id == "root" and entries[0].after == {"n": 1}
    log.close()


def test_a_family_filter_matches_whole_family_names_only(tmp_path: Path) -> None:
    log = SqliteAuditLog(tmp_path / "app.db")
    for action in ("key.create", "keys.create", "key_x.create", "keyx.create", "key.revoke"):
        log.append(_record(action))
    entries, total = log.list_entries(limit=10, offset=0, family="key")
    assert [e.action for e in entries] == ["key.revoke", "key.create"] and total == 2
    entries, total = log.list_entries(limit=10, offset=0, action="key.create")
    assert [e.action for e in entries] == ["key.create"] and total == 1
    log.close()


def test_both_stores_share_the_app_db_with_the_history_store(tmp_path: Path) -> None:
    from services.chat.history_store import SqliteHistoryStore

    path = tmp_path / "app.db"
    stores = [SqliteHistoryStore(path), SqliteApiKeyStore(path), SqliteAuditLog(path)]
    stores += [SqliteApiKeyStore(path), SqliteAuditLog(path)]  # re-opening applies nothing twice
    conn = sqlite3.connect(path)
    names = [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    conn.close()
    assert names == [
        "audit_0001_audit_log",
        "auth_0001_api_keys",
        "history_0001_users_chats_messages",
    ]
    for store in stores:
        store.close()
