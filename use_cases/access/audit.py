"""The audit log: who did which admin action to what, when, with the state before and after.

Rules:
- Every admin action is recorded once it has succeeded (a refused or failed action changed
  nothing and is not recorded): key create/revoke, document ingest/replace/delete, table
  load/drop, an admin acting for another user, prompt versions created, activated and reset, and
  default models set or cleared. Loading the
  bundled sample into an empty knowledge base at first start is no one's action and is not
  recorded. An admin acting for a user is recorded when the request is accepted.
- An entry names the actor (user id and key id; the CLI is actor `cli` without a key), the
  action (`family.verb`, e.g. `key.create`), the target (`kind:id`, e.g. `document:12`), the
  time, and small JSON snapshots `before` and `after` (None when there is no such state).
  Snapshots are kept small: strings over 500 characters are cut, and a snapshot still over
  4,000 characters of JSON is replaced by `{"truncated": true, "chars": N}`.
- The log is append-only (the SQLite adapter refuses UPDATE and DELETE) and only admins read
  it, newest first, filtered by an action (`key.create`) or a family (`key`).

Other code records through `RecordAudit.record(actor, action, target, before=, after=)`
(sync, from a worker thread or the CLI) or `await RecordAudit.execute(...)`.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from use_cases.access.domain import AuditEntry, AuditPage, AuditRecord, Caller, require_admin
from use_cases.access.ports import AuditLog
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import InvalidRequest

KEY_CREATE = "key.create"
KEY_REVOKE = "key.revoke"
DOCUMENT_INGEST = "document.ingest"
DOCUMENT_REPLACE = "document.replace"
DOCUMENT_DELETE = "document.delete"
TABLE_LOAD = "table.load"
TABLE_DROP = "table.drop"
USER_ACT_FOR = "user.act_for"
USER_ERASE = "user.erase"
PROMPT_CREATE = "prompt.create"
PROMPT_ACTIVATE = "prompt.activate"
PROMPT_RESET = "prompt.reset"
MODEL_DEFAULT_SET = "model_default.set"

MAX_STRING_CHARS = 500
MAX_SNAPSHOT_CHARS = 4000
MAX_PAGE = 500

_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_FAMILY = re.compile(r"[a-z][a-z0-9_]*")


def small_snapshot(value: Any) -> Any:
    """`value` as plain JSON data, kept small (see the module rules). Dates become ISO text."""
    if value is None:
        return None
    plain = json.loads(json.dumps(value, default=_json_default, ensure_ascii=False))
    trimmed = _trim_strings(plain)
    chars = len(json.dumps(trimmed, ensure_ascii=False))
    if chars > MAX_SNAPSHOT_CHARS:
        return {"truncated": True, "chars": chars}
    return trimmed


def _json_default(value: Any) -> str:
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)


def _trim_strings(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_STRING_CHARS:
        return value[: MAX_STRING_CHARS - 1] + "…"
    if isinstance(value, list):
        return [_trim_strings(item) for item in value]
    if isinstance(value, dict):
        return {key: _trim_strings(item) for key, item in value.items()}
    return value


class RecordAudit:
    """Appends one admin action to the audit log (see the module rules)."""

    def __init__(self, log: AuditLog, clock: Clock) -> None:
        self._log = log
        self._clock = clock

    def record(
        self,
        actor: Caller,
        action: str,
        target: str,
        *,
        before: Any = None,
        after: Any = None,
    ) -> AuditEntry:
        """Synchronous: for code already in a worker thread, and the CLI."""
        if not _ACTION.fullmatch(action):
            raise ValueError(f"Audit action {action!r} is not of the form family.verb.")
        if not target:
            raise ValueError("An audit entry needs a target.")
        return self._log.append(
            AuditRecord(
                at=utc(self._clock.now()),
                actor_user_id=actor.user_id,
                actor_key_id=actor.key_id,
                action=action,
                target=target,
                before=small_snapshot(before),
                after=small_snapshot(after),
            )
        )

    async def execute(
        self,
        actor: Caller,
        action: str,
        target: str,
        *,
        before: Any = None,
        after: Any = None,
    ) -> AuditEntry:
        return await asyncio.to_thread(
            self.record, actor, action, target, before=before, after=after
        )


class ListAuditEntries:
    """Admins only: the audit log, newest first, optionally one action or one family."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    async def execute(
        self, caller: Caller, *, limit: int = 50, offset: int = 0, action: str | None = None
    ) -> AuditPage:
        require_admin(caller, "Reading the audit log")
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}.")
        if offset < 0:
            raise InvalidRequest("offset must not be negative.")
        exact, family = _action_filter(action)
        entries, total = await asyncio.to_thread(
            self._log.list_entries, limit=limit, offset=offset, action=exact, family=family
        )
        return AuditPage(tuple(entries), total, limit, offset)


def _action_filter(action: str | None) -> tuple[str | None, str | None]:
    text = (action or "").strip()
    if not text:
        return None, None
    if _ACTION.fullmatch(text):
        return text, None
    if _FAMILY.fullmatch(text):
        return None, text
    raise InvalidRequest(
        f"action {text!r} is neither an action name (like key.create) nor a family (like key)."
    )
