"""Browser sessions (`StartSession`, `EndSession`, and how `Authenticate.execute_session` treats
them), the audited admin deletions (`RemoveDocumentAsAdmin`, `DropTableAsAdmin`), `DropTable`,
`TableRows` and `SweepAbandonedTurns`, on in-memory fakes (tests/fakes/__init__.py,
tests/fakes/knowledge.py): no SQLite, no HTTP.

The same rules run on the real stack in tests/e2e/test_web_sessions.py (cookie sign-in and
sign-out), tests/e2e/test_tables_api.py (row pages, table deletion and its audit entry),
tests/e2e/test_documents_api.py and tests/e2e/test_auth_api.py (document deletion), and
tests/integration/test_turn_sweep.py and tests/e2e/test_crash_recovery.py (the sweep).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes import (
    CachingSqlRunner,
    InMemoryApiKeyStore,
    InMemoryAuditLog,
    InMemoryHistoryStore,
    InMemorySqlRunner,
    InMemoryTableLoader,
    SteppingClock,
)
from tests.fakes.knowledge import InMemoryKnowledgeStore
from use_cases.access.audit import RecordAudit
from use_cases.access.auth import (
    AUTH_OFF,
    Authenticate,
    EndSession,
    RemoveExpiredSessions,
    StartSession,
    hash_secret,
)
from use_cases.access.domain import ApiKey, Caller, StoredApiKey
from use_cases.admin.actions import DropTableAsAdmin, RemoveDocumentAsAdmin
from use_cases.chat.domain import NewMessage
from use_cases.chat.manage_chats import SweepAbandonedTurns
from use_cases.knowledge.documents import RemoveDocument
from use_cases.knowledge.domain import DocumentDraft, EmbeddingInfo, SectionDraft
from use_cases.shared.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    ToolRejected,
    Unauthorized,
)
from use_cases.tables.domain import QueryResult
from use_cases.tables.tables import DropTable, TableRows

ROOT = Caller("root", "admin", "key_root")
ANA = Caller("ana", "user", "key_ana")
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # SteppingClock's first moment
LIFETIME = timedelta(hours=2)

# --- sessions --------------------------------------------------------------------------------


class Sessions:
    """A key store holding ana's key (`ANA_SECRET`), and the session use cases over it."""

    ANA_SECRET = "alm_ana-secret"

    def __init__(self, *, enabled: bool = True) -> None:
        self.keys = InMemoryApiKeyStore()
        self.clock = SteppingClock()
        key = ApiKey("key_ana", "laptop", "ana", "user", START - timedelta(days=1))
        self.keys.add(StoredApiKey(key, hash_secret(self.ANA_SECRET)))
        self.authenticate = Authenticate(
            self.keys, self.clock, enabled=enabled, local_user_id="default"
        )
        self.start = StartSession(self.keys, self.clock, self.authenticate, lifetime=LIFETIME)
        self.end = EndSession(self.keys, self.clock)
        self.cleanup = RemoveExpiredSessions(self.keys, self.clock)


@pytest.fixture
def sessions() -> Sessions:
    return Sessions()


async def test_a_key_becomes_a_random_session_stored_only_as_its_digest(
    sessions: Sessions,
) -> None:
    first = await sessions.start.execute(Sessions.ANA_SECRET)
    second = await sessions.start.execute(Sessions.ANA_SECRET)

    assert first.secret != second.secret
    assert first.secret.startswith("ses_") and len(first.secret) == 4 + 43
    assert first.caller == Caller("ana", "user", "key_ana")
    assert first.expires_at == START + LIFETIME
    digest = hashlib.sha256(first.secret.encode()).hexdigest()
    stored = sessions.keys.sessions[digest]
    assert (stored.key_id, stored.created_at, stored.expires_at) == (
        "key_ana",
        START,
        first.expires_at,
    )
    assert stored.ended_at is None
    assert len(sessions.keys.sessions) == 2
    assert first.secret not in repr(sessions.keys.sessions)


async def test_a_session_acts_as_its_key_until_the_moment_it_expires(sessions: Sessions) -> None:
    started = await sessions.start.execute(Sessions.ANA_SECRET)
    sessions.clock.advance(hours=1, minutes=59, seconds=59)
    assert await sessions.authenticate.execute_session(f" {started.secret}\n") == Caller(
        "ana", "user", "key_ana"
    )
    sessions.clock.advance(seconds=1)  # exactly `expires_at`: over
    with pytest.raises(Unauthorized, match="has expired"):
        await sessions.authenticate.execute_session(started.secret)


async def test_revoking_the_key_ends_its_sessions(sessions: Sessions) -> None:
    started = await sessions.start.execute(Sessions.ANA_SECRET)
    sessions.keys.revoke("key_ana", START)
    with pytest.raises(Unauthorized, match="has been revoked"):
        await sessions.authenticate.execute_session(started.secret)


@pytest.mark.parametrize(
    ("presented", "fragment"),
    [("", "Missing API key"), ("alm_not-a-key", "Invalid API key")],
)
async def test_a_missing_or_unknown_key_starts_no_session(
    sessions: Sessions, presented: str, fragment: str
) -> None:
    with pytest.raises(Unauthorized, match=fragment):
        await sessions.start.execute(presented)
    assert sessions.keys.sessions == {}


async def test_a_revoked_key_starts_no_session(sessions: Sessions) -> None:
    sessions.keys.revoke("key_ana", START)
    with pytest.raises(Unauthorized, match="has been revoked"):
        await sessions.start.execute(Sessions.ANA_SECRET)
    assert sessions.keys.sessions == {}


async def test_an_unknown_session_secret_is_unauthorized(sessions: Sessions) -> None:
    await sessions.start.execute(Sessions.ANA_SECRET)
    with pytest.raises(Unauthorized, match="not one this server knows"):
        await sessions.authenticate.execute_session("ses_forged")


async def test_signing_out_ends_the_session_on_the_server_once(sessions: Sessions) -> None:
    started = await sessions.start.execute(Sessions.ANA_SECRET)
    sessions.clock.advance(minutes=5)

    assert await sessions.end.execute(f"  {started.secret} ") is True
    assert await sessions.end.execute(started.secret) is False  # already ended: nothing changes

    stored = sessions.keys.sessions[hash_secret(started.secret)]
    assert stored.ended_at == START + timedelta(minutes=5)
    with pytest.raises(Unauthorized, match="signed out"):  # a copied cookie is refused
        await sessions.authenticate.execute_session(started.secret)


@pytest.mark.parametrize("presented", [None, "", "   ", "ses_unknown"])
async def test_ending_no_or_an_unknown_session_changes_nothing(
    sessions: Sessions, presented: str | None
) -> None:
    started = await sessions.start.execute(Sessions.ANA_SECRET)
    assert await sessions.end.execute(presented) is False
    assert sessions.keys.sessions[hash_secret(started.secret)].ended_at is None


async def test_an_admin_removes_the_expired_sessions_only(sessions: Sessions) -> None:
    old = await sessions.start.execute(Sessions.ANA_SECRET)
    sessions.clock.advance(seconds=LIFETIME.total_seconds() / 2)
    live = await sessions.start.execute(Sessions.ANA_SECRET)
    sessions.clock.advance(seconds=LIFETIME.total_seconds() / 2)  # `old` has just expired
    with pytest.raises(Forbidden, match="admin role"):
        await sessions.cleanup.execute(Caller("ana", "user", "key_ana"))
    assert await sessions.cleanup.execute(Caller("root", "admin", None)) == 1
    assert set(sessions.keys.sessions) == {hash_secret(live.secret)}
    assert hash_secret(old.secret) not in sessions.keys.sessions


async def test_with_authentication_off_there_is_nothing_to_sign_in_to() -> None:
    sessions = Sessions(enabled=False)
    with pytest.raises(Conflict) as refused:
        await sessions.start.execute(Sessions.ANA_SECRET)
    assert refused.value.detail == AUTH_OFF and "AUTH_ENABLED=false" in AUTH_OFF
    assert sessions.keys.sessions == {}
    # and any cookie is the local admin, as any key is
    local = Caller("default", "admin", None)
    assert await sessions.authenticate.execute_session("ses_whatever") == local


# --- removing a document as an admin ---------------------------------------------------------


def _store_with_a_document() -> tuple[InMemoryKnowledgeStore, int]:
    store = InMemoryKnowledgeStore()
    store.check_embedding(EmbeddingInfo("test-embedder", 3))
    draft = DocumentDraft(
        source="leave.md",
        content_hash="hash-leave-1",
        title="Leave policy",
        category="hr",
        updated_at=date(2025, 9, 15),
        media_type="text/markdown",
        size_bytes=64,
        sections=(SectionDraft(("Leave",), "Twenty-five days.", ("Twenty", "five days")),),
    )
    record = store.save_document(draft, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return store, record.id


def _remover(store: InMemoryKnowledgeStore, log: InMemoryAuditLog) -> RemoveDocumentAsAdmin:
    return RemoveDocumentAsAdmin(RemoveDocument(store), store, RecordAudit(log, SteppingClock()))


async def test_an_admin_removes_a_document_audited_with_what_was_removed() -> None:
    store, document_id = _store_with_a_document()
    log = InMemoryAuditLog()

    await _remover(store, log).execute(ROOT, document_id)

    assert store.get_record(document_id) is None and store.stats().chunks == 0
    [entry] = log.entries
    assert (entry.action, entry.target) == ("document.delete", f"document:{document_id}")
    assert (entry.actor_user_id, entry.actor_key_id, entry.at) == ("root", "key_root", START)
    assert entry.before == {
        "id": document_id,
        "source": "leave.md",
        "title": "Leave policy",
        "category": "hr",
        "updated_at": "2025-09-15",
        "content_hash": "hash-leave-1",
        "chunks": 2,
        "supersedes_id": None,
    }
    assert entry.after is None


async def test_a_user_may_not_remove_a_document_and_nothing_is_recorded() -> None:
    store, document_id = _store_with_a_document()
    log = InMemoryAuditLog()
    with pytest.raises(Forbidden, match="Deleting documents needs the admin role"):
        await _remover(store, log).execute(ANA, document_id)
    assert store.get_record(document_id) is not None and log.entries == []


async def test_removing_a_missing_document_is_not_found_and_not_recorded() -> None:
    store, document_id = _store_with_a_document()
    log = InMemoryAuditLog()
    with pytest.raises(NotFound) as missing:
        await _remover(store, log).execute(ROOT, 999)
    assert missing.value.detail == "No document with id 999."
    assert store.get_record(document_id) is not None and log.entries == []


# --- tables: dropping, and reading page by page ----------------------------------------------

ROOMS = Path("rooms.csv")
FILES = {ROOMS: "room,floor\nA1,1\nB2,2\nC3,3\n"}


@pytest.fixture
def tables() -> InMemoryTableLoader:
    loader = InMemoryTableLoader(FILES)
    loader.load(ROOMS, "Rooms")
    return loader


@pytest.fixture
def sql(tables: InMemoryTableLoader) -> CachingSqlRunner:
    return CachingSqlRunner(tables)


def test_dropping_a_table_returns_it_as_it_was_and_the_sql_tool_stops_seeing_it(
    tables: InMemoryTableLoader, sql: CachingSqlRunner
) -> None:
    assert sql.run("SELECT COUNT(*) FROM rooms").rows == ((3,),)  # the runner has cached it

    dropped = DropTable(tables, sql).run("rooms")  # any case finds the table

    assert (dropped.name, dropped.row_count) == ("Rooms", 3)
    assert [c.name for c in dropped.columns] == ["room", "floor"]
    assert tables.list_tables() == [] and sql.refreshes == 1
    with pytest.raises(ToolRejected, match="No such table"):
        sql.run("SELECT * FROM rooms")


@pytest.mark.parametrize("name", ["sqlite_master", "select", "1abc", "a-b", "_almanac_meta"])
def test_dropping_by_a_bad_name_is_invalid_and_drops_nothing(
    tables: InMemoryTableLoader, sql: CachingSqlRunner, name: str
) -> None:
    with pytest.raises(InvalidRequest, match="Invalid table name"):
        DropTable(tables, sql).run(name)
    assert [t.name for t in tables.list_tables()] == ["Rooms"] and sql.refreshes == 0


def test_dropping_a_missing_table_is_not_found(
    tables: InMemoryTableLoader, sql: CachingSqlRunner
) -> None:
    with pytest.raises(NotFound) as missing:
        DropTable(tables, sql).run("offices")
    assert missing.value.detail == "Table offices not found."
    assert sql.refreshes == 0


def test_a_table_gone_between_lookup_and_drop_is_not_found() -> None:
    class VanishingLoader(InMemoryTableLoader):
        def drop(self, name: str) -> bool:  # another process dropped it first
            return False

    loader = VanishingLoader(FILES)
    loader.load(ROOMS, "rooms")
    with pytest.raises(NotFound, match="Table rooms not found"):
        DropTable(loader, CachingSqlRunner(loader)).run("rooms")


def _dropper(
    tables: InMemoryTableLoader, sql: CachingSqlRunner, log: InMemoryAuditLog
) -> DropTableAsAdmin:
    return DropTableAsAdmin(DropTable(tables, sql), RecordAudit(log, SteppingClock()))


async def test_an_admin_drops_a_table_audited_with_the_table_as_it_was(
    tables: InMemoryTableLoader, sql: CachingSqlRunner
) -> None:
    log = InMemoryAuditLog()
    dropped = await _dropper(tables, sql, log).execute(ROOT, "ROOMS")

    assert dropped.name == "Rooms" and tables.list_tables() == []
    [entry] = log.entries
    assert (entry.action, entry.target, entry.actor_user_id) == (
        "table.drop",
        "table:Rooms",
        "root",
    )
    assert entry.before == {"name": "Rooms", "rows": 3, "columns": ["room", "floor"]}
    assert entry.after is None


async def test_a_user_may_not_drop_a_table_and_nothing_is_recorded(
    tables: InMemoryTableLoader, sql: CachingSqlRunner
) -> None:
    log = InMemoryAuditLog()
    dropper = _dropper(tables, sql, log)
    with pytest.raises(Forbidden, match="Deleting tables needs the admin role"):
        await dropper.execute(ANA, "rooms")
    with pytest.raises(Forbidden):
        dropper.run(ANA, "rooms")  # the sync body (the CLI's) checks too
    assert [t.name for t in tables.list_tables()] == ["Rooms"] and log.entries == []


async def test_an_admin_dropping_a_missing_table_gets_not_found_and_nothing_is_recorded(
    tables: InMemoryTableLoader, sql: CachingSqlRunner
) -> None:
    log = InMemoryAuditLog()
    with pytest.raises(NotFound, match="Table offices not found"):
        await _dropper(tables, sql, log).execute(ROOT, "offices")
    assert log.entries == []


def _rows_over(tables: InMemoryTableLoader, answers: dict[str, QueryResult]) -> InMemorySqlRunner:
    return InMemorySqlRunner(tables.list_tables(), answers)


async def test_a_page_of_rows_is_read_through_the_sandbox_with_the_table_total(
    tables: InMemoryTableLoader,
) -> None:
    statement = 'SELECT * FROM "Rooms" LIMIT 2 OFFSET 1'
    result = QueryResult(("room", "floor"), (("B2", "2"), ("C3", "3")), truncated=False)
    sql = _rows_over(tables, {statement: result})

    page = await TableRows(tables, sql).execute("rooms", limit=2, offset=1)

    assert sql.statements == [statement]  # the stored name, quoted, with the page bounds
    assert (page.name, page.columns, page.total, page.offset) == (
        "Rooms",
        ("room", "floor"),
        3,
        1,
    )
    assert page.rows == (("B2", "2"), ("C3", "3"))


async def test_a_page_defaults_to_fifty_rows_from_the_start(tables: InMemoryTableLoader) -> None:
    statement = 'SELECT * FROM "Rooms" LIMIT 50 OFFSET 0'
    rows = (("A1", "1"), ("B2", "2"), ("C3", "3"))
    sql = _rows_over(tables, {statement: QueryResult(("room", "floor"), rows, truncated=False)})
    page = await TableRows(tables, sql).execute("Rooms")
    assert (page.rows, page.total, page.offset) == (rows, 3, 0)


@pytest.mark.parametrize(
    ("name", "limit", "offset", "message"),
    [
        ("rooms", 0, 0, "limit must be between 1 and 500."),
        ("rooms", 501, 0, "limit must be between 1 and 500."),
        ("rooms", 10, -1, "offset must not be negative."),
        ("offices", 0, 0, "limit must be between 1 and 500."),  # bounds first, then the table
    ],
)
async def test_a_page_out_of_bounds_is_invalid_and_runs_no_query(
    tables: InMemoryTableLoader, name: str, limit: int, offset: int, message: str
) -> None:
    sql = _rows_over(tables, {})
    with pytest.raises(InvalidRequest) as refused:
        await TableRows(tables, sql).execute(name, limit, offset)
    assert refused.value.detail == message and sql.statements == []


async def test_rows_of_a_bad_name_or_a_missing_table_run_no_query(
    tables: InMemoryTableLoader,
) -> None:
    sql = _rows_over(tables, {})
    rows = TableRows(tables, sql)
    with pytest.raises(InvalidRequest, match="reserved by SQLite"):
        await rows.execute("sqlite_master")
    with pytest.raises(InvalidRequest, match="it is an SQL keyword"):
        await rows.execute("select")
    with pytest.raises(NotFound) as missing:
        await rows.execute("offices")
    assert missing.value.detail == "Table offices not found."
    assert sql.statements == []


# --- sweeping answers abandoned by a dead process --------------------------------------------


class RecordingHistory(InMemoryHistoryStore):
    """Remembers the cutoffs the sweep asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.cutoffs: list[datetime] = []

    def interrupt_abandoned(self, started_before: datetime) -> int:
        self.cutoffs.append(started_before)
        return super().interrupt_abandoned(started_before)


def _answer(store: InMemoryHistoryStore, chat_id: str, status: str, created_at: datetime) -> str:
    """Appends an assistant answer and dates it `created_at` (the fake stamps the wall clock)."""
    message = store.append_message(
        chat_id,
        NewMessage(role="assistant", content="", status=status),  # type: ignore[arg-type]  # a status as the test names it
    )
    messages = store.messages[chat_id]
    messages[messages.index(message)] = replace(message, created_at=created_at)
    return message.id


def _statuses(store: InMemoryHistoryStore) -> dict[str, str]:
    return {m.id: m.status for messages in store.messages.values() for m in messages}


async def test_the_sweep_asks_for_answers_older_than_the_turn_limit_plus_the_margin() -> None:
    store = RecordingHistory()
    clock = SteppingClock()
    await SweepAbandonedTurns(store, clock, turn_limit_s=30, margin_s=5).execute()
    await SweepAbandonedTurns(store, clock, turn_limit_s=10).execute()  # default margin: 60 s
    assert store.cutoffs == [START - timedelta(seconds=35), START - timedelta(seconds=70)]


async def test_only_streaming_answers_past_the_limit_are_interrupted_idempotently() -> None:
    store = InMemoryHistoryStore()
    clock = SteppingClock()
    chat = store.get_or_create_chat(None, "ana", "hello")
    abandoned = _answer(store, chat.id, "streaming", START - timedelta(seconds=71))
    live = _answer(store, chat.id, "streaming", START - timedelta(seconds=69))
    done = _answer(store, chat.id, "complete", START - timedelta(hours=1))
    sweep = SweepAbandonedTurns(store, clock, turn_limit_s=10, margin_s=60)

    assert await sweep.execute() == 1
    assert _statuses(store) == {abandoned: "interrupted", live: "streaming", done: "complete"}
    writes = store.writes
    assert await sweep.execute() == 0 and store.writes == writes  # nothing left to change

    clock.advance(seconds=2)  # now the second one is past the limit too
    assert await sweep.execute() == 1
    assert _statuses(store) == {abandoned: "interrupted", live: "interrupted", done: "complete"}


class NaiveClock:
    """A clock whose times carry no zone (as a test's fixed clock): taken to be UTC."""

    def today(self) -> date:
        return START.date()

    def now(self) -> datetime:
        return START.replace(tzinfo=None)


async def test_a_clock_without_a_zone_is_read_as_utc_by_the_sweep() -> None:
    store = InMemoryHistoryStore()
    chat = store.get_or_create_chat(None, "ana", "hello")
    abandoned = _answer(store, chat.id, "streaming", START - timedelta(seconds=71))
    live = _answer(store, chat.id, "streaming", START - timedelta(seconds=69))

    assert await SweepAbandonedTurns(store, NaiveClock(), turn_limit_s=10).execute() == 1
    assert _statuses(store) == {abandoned: "interrupted", live: "streaming"}
