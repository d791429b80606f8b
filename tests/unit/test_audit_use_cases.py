"""Recording and reading the audit log, on in-memory fakes."""

from __future__ import annotations

from datetime import date

import pytest

from tests.fakes import InMemoryAuditLog, SteppingClock
from use_cases.access.audit import MAX_SNAPSHOT_CHARS, ListAuditEntries, RecordAudit, small_snapshot
from use_cases.access.domain import CLI_ADMIN, Caller
from use_cases.shared.errors import Forbidden, InvalidRequest

ROOT = Caller("root", "admin", "key_root")


@pytest.fixture
def log() -> InMemoryAuditLog:
    return InMemoryAuditLog()


def test_an_entry_names_who_what_when_and_the_change(log: InMemoryAuditLog) -> None:
    clock = SteppingClock()
    entry = RecordAudit(log, clock).record(
        ROOT, "prompt.update", "prompt:system", before={"v": 1}, after={"v": 2}
    )
    assert (entry.actor_user_id, entry.actor_key_id) == ("root", "key_root")
    assert (entry.action, entry.target, entry.at) == ("prompt.update", "prompt:system", clock.now())
    assert (entry.before, entry.after) == ({"v": 1}, {"v": 2})


@pytest.mark.parametrize("action", ["update", "Key.create", "key.", "key create", ""])
def test_an_action_must_be_family_dot_verb(log: InMemoryAuditLog, action: str) -> None:
    with pytest.raises(ValueError, match=r"family\.verb"):
        RecordAudit(log, SteppingClock()).record(ROOT, action, "key:1")
    assert log.entries == []


def test_snapshots_become_plain_json_and_stay_small() -> None:
    assert small_snapshot({"updated": date(2025, 9, 15), "tags": ("a",)}) == {
        "updated": "2025-09-15",
        "tags": ["a"],
    }
    long_text = small_snapshot({"text": "x" * 2000})["text"]
    assert len(long_text) == 500 and long_text.endswith("…")
    huge = small_snapshot({f"k{i}": "y" * 400 for i in range(20)})
    assert huge["truncated"] is True and huge["chars"] > MAX_SNAPSHOT_CHARS


async def test_only_admins_read_the_log_newest_first_by_action_or_family(
    log: InMemoryAuditLog,
) -> None:
    record = RecordAudit(log, SteppingClock()).record
    for action in ("key.create", "document.ingest", "key.revoke", "document.delete"):
        record(CLI_ADMIN, action, "x:1")
    entries = ListAuditEntries(log)
    with pytest.raises(Forbidden, match="audit log"):
        await entries.execute(Caller("ana", "user", "key_ana"))
    everything = await entries.execute(ROOT)
    assert [e.action for e in everything.entries] == [
        "document.delete",
        "key.revoke",
        "document.ingest",
        "key.create",
    ]
    family = await entries.execute(ROOT, action="key")
    assert [e.action for e in family.entries] == ["key.revoke", "key.create"]
    exact = await entries.execute(ROOT, action="key.create", limit=1)
    assert [e.action for e in exact.entries] == ["key.create"] and exact.total == 1
    second_page = await entries.execute(ROOT, limit=2, offset=2)
    assert [e.action for e in second_page.entries] == ["document.ingest", "key.create"]
    assert second_page.total == 4


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"action": "drop table"}, "neither an action"),
    ],
)
async def test_bad_audit_queries_are_refused(
    log: InMemoryAuditLog, kwargs: dict[str, object], fragment: str
) -> None:
    with pytest.raises(InvalidRequest, match=fragment):
        await ListAuditEntries(log).execute(ROOT, **kwargs)  # type: ignore[arg-type]  # bad queries on purpose
