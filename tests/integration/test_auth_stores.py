"""The API key and audit log adapters, on real databases: every test taking `app_db` runs on
SQLite and on PostgreSQL (`backend` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.admin.api_key_store import ApiKeyStore
from services.admin.audit_log import AuditLog
from tests.store_backends import AppDb, open_app_db
from use_cases.access.domain import ApiKey, AuditRecord, StoredApiKey, WebSession

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def app_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    yield from open_app_db(backend, tmp_path, request)


def _record(action: str) -> AuditRecord:
    return AuditRecord(NOON, "root", "key_root", action, "x:1", None, {"n": 1})


def test_keys_round_trip_and_are_found_by_digest(app_db: AppDb) -> None:
    store = app_db.open(ApiKeyStore)
    key = ApiKey("key_1", "laptop", "ana", "user", NOON)
    assert store.add(StoredApiKey(key, "a" * 64)) == key
    found = store.find_by_hash("a" * 64)
    assert found is not None and found.key == key and found.key_hash == "a" * 64
    assert store.find_by_hash("b" * 64) is None
    store.touch("key_1", NOON.replace(hour=13))
    first = store.revoke("key_1", NOON.replace(hour=14))
    second = store.revoke("key_1", NOON.replace(hour=15))
    assert first == second
    assert first is not None and first.revoked_at == NOON.replace(hour=14)
    assert first.last_used_at == NOON.replace(hour=13)
    assert first.revoked_at.utcoffset() is not None
    assert store.revoke("key_nope", NOON) is None
    store.close()


def test_keys_are_listed_oldest_first_in_the_order_added(app_db: AppDb) -> None:
    store = app_db.open(ApiKeyStore)
    for n, created in enumerate([NOON, NOON.replace(hour=9), NOON, NOON]):
        store.add(StoredApiKey(ApiKey(f"key_{n}", None, "ana", "admin", created), f"{n}" * 64))
    assert [k.id for k in store.list_keys()] == ["key_1", "key_0", "key_2", "key_3"]
    assert store.get("key_1") == ApiKey("key_1", None, "ana", "admin", NOON.replace(hour=9))
    store.close()


def test_web_sessions_round_trip_end_once_and_expired_ones_are_cleared(app_db: AppDb) -> None:
    store = app_db.open(ApiKeyStore)
    store.add(StoredApiKey(ApiKey("key_1", None, "ana", "user", NOON), "a" * 64))
    first = WebSession("1" * 64, "key_1", NOON, NOON + timedelta(hours=2))
    store.add_session(first)
    assert store.find_session("1" * 64) == first
    assert store.find_session("2" * 64) is None
    assert store.end_session("1" * 64, NOON + timedelta(hours=1)) is True
    assert store.end_session("1" * 64, NOON + timedelta(hours=1, minutes=5)) is False
    ended = store.find_session("1" * 64)
    assert ended is not None and ended.ended_at == NOON + timedelta(hours=1)
    assert ended.expires_at.utcoffset() is not None
    # a session started after another's expiry clears it: the table holds the live ones
    later = NOON + timedelta(hours=3)
    store.add_session(WebSession("3" * 64, "key_1", later, later + timedelta(hours=2)))
    assert store.find_session("1" * 64) is None
    assert store.find_session("3" * 64) is not None
    with pytest.raises(app_db.integrity_error):  # a session names a key that exists
        store.add_session(WebSession("4" * 64, "key_nope", later, later + timedelta(hours=2)))
    store.close()


def test_removing_expired_sessions_keeps_the_live_ones(app_db: AppDb) -> None:
    store = app_db.open(ApiKeyStore)
    store.add(StoredApiKey(ApiKey("key_1", None, "ana", "user", NOON), "a" * 64))
    store.add_session(WebSession("1" * 64, "key_1", NOON, NOON + timedelta(hours=1)))
    store.add_session(WebSession("2" * 64, "key_1", NOON, NOON + timedelta(hours=3)))
    assert store.remove_expired_sessions(NOON + timedelta(hours=2)) == 1
    assert store.find_session("1" * 64) is None
    assert store.find_session("2" * 64) is not None
    assert store.remove_expired_sessions(NOON + timedelta(hours=2)) == 0
    store.close()


def test_two_keys_cannot_share_a_digest(app_db: AppDb) -> None:
    store = app_db.open(ApiKeyStore)
    store.add(StoredApiKey(ApiKey("key_1", None, "ana", "user", NOON), "a" * 64))
    with pytest.raises(app_db.integrity_error):
        store.add(StoredApiKey(ApiKey("key_2", None, "bob", "user", NOON), "a" * 64))
    assert [k.id for k in store.list_keys()] == ["key_1"]
    store.close()


def test_the_audit_log_refuses_updates_and_deletes(app_db: AppDb) -> None:
    log = app_db.open(AuditLog)
    log.append(_record("key.create"))
    for statement in ("UPDATE audit_log SET actor_user_id = 'eve'", "DELETE FROM audit_log"):
        with pytest.raises(app_db.integrity_error, match="append-only"):
            app_db.raw(statement)
    entries, total = log.list_entries(limit=10, offset=0)
    assert total == 1 and entries[0].actor_user_id == "root" and entries[0].after == {"n": 1}
    log.close()


def test_audit_entries_round_trip_newest_first_with_paging(app_db: AppDb) -> None:
    log = app_db.open(AuditLog)
    snapshot = {"zeta": 1, "alpha": [1, "é"], "mid": {"b": None, "a": True}}
    first = log.append(AuditRecord(NOON, "root", None, "prompt.create", "p:1", snapshot, None))
    for n in range(4):
        log.append(_record(f"key.create{n}"))
    assert first.at == NOON and first.before == snapshot and first.actor_key_id is None
    assert list(first.before) == ["zeta", "alpha", "mid"]  # keys in the order written
    entries, total = log.list_entries(limit=2, offset=1)
    assert total == 5 and [e.action for e in entries] == ["key.create2", "key.create1"]
    assert entries[0].id > entries[1].id > first.id
    entries, _ = log.list_entries(limit=10, offset=4)
    assert entries == [first]
    log.close()


def test_a_family_filter_matches_whole_family_names_only(app_db: AppDb) -> None:
    log = app_db.open(AuditLog)
    for action in ("key.create", "keys.create", "key_x.create", "keyx.create", "key.revoke"):
        log.append(_record(action))
    entries, total = log.list_entries(limit=10, offset=0, family="key")
    assert [e.action for e in entries] == ["key.revoke", "key.create"] and total == 2
    entries, total = log.list_entries(limit=10, offset=0, action="key.create")
    assert [e.action for e in entries] == ["key.create"] and total == 1
    log.close()


def test_both_stores_share_the_app_db_with_the_history_store(app_db: AppDb) -> None:
    from services.chat.history_store import HistoryStore

    stores = [
        app_db.open(HistoryStore),
        app_db.open(ApiKeyStore),
        app_db.open(AuditLog),
    ]
    # re-opening applies nothing twice
    stores += [
        app_db.open(ApiKeyStore),
        app_db.open(AuditLog),
    ]
    names = [row[0] for row in app_db.raw("SELECT name FROM schema_migrations ORDER BY name")]
    infix = "_pg" if app_db.is_postgres else ""
    assert names == [
        f"audit{infix}_0001_audit_log",
        f"auth{infix}_0001_api_keys",
        f"auth{infix}_0002_web_sessions",
        f"history{infix}_0001_users_chats_messages",
        f"history{infix}_0002_message_owner",
        f"history{infix}_0003_message_versions",
        f"history{infix}_0004_imported_chats",
        f"history{infix}_0005_message_not_found",
    ]
    for store in stores:
        store.close()
