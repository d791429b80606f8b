"""Deleting all of one user's data, for an admin (a person leaves, or asks to be forgotten).

Rules:
- Admins only (`Forbidden` otherwise); an admin may not erase themselves (`Conflict`: their
  own key would go with it mid-request). A user never seen is `NotFound`.
- What goes: every chat of theirs, each deleted as the chat routes delete one (its messages,
  attached files and their bytes, summary, draft, search entries); their advice threads;
  every response given to them with its feedback (the calibration's samples of them); their
  profile (name, email); their collection grants and group memberships (an id used again
  later starts with none). Their API keys are revoked, not deleted, so the audit log's
  references stay resolvable; revoking a key ends every sign-in made with it.
- What stays: the audit log (who did what is a record of the organisation's, not the
  user's data; their id may appear in it), and the knowledge base and tables (admins' data).
- One audit entry `user.erase` (target `user:ID`) with the counts. Erasing again finds
  nothing (`NotFound`).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Protocol

from use_cases.access.audit import USER_ERASE, RecordAudit
from use_cases.access.domain import Caller, require_admin
from use_cases.access.ports import ApiKeyStore
from use_cases.chat.manage_chats import MAX_PAGE, ManageChats
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import Conflict, NotFound


class UserRecords(Protocol):
    """A store of records kept per user (advice threads, the response log)."""

    def delete_for_user(self, user_id: str) -> int:
        """Delete every record of `user_id`; how many there were."""
        ...


class UserProfiles(Protocol):
    def delete_user(self, user_id: str) -> bool:
        """Delete the user's profile (and whatever hangs on it); False if none."""
        ...


@dataclass(frozen=True)
class ErasedUser:
    user_id: str
    chats: int
    advice_threads: int
    responses: int
    keys_revoked: int


class EraseUserData:
    """See the module rules."""

    def __init__(
        self,
        chats: ManageChats,
        profiles: UserProfiles,
        advice_threads: UserRecords,
        responses: UserRecords,
        keys: ApiKeyStore,
        audit: RecordAudit,
        clock: Clock,
        memberships: UserRecords | None = None,
    ) -> None:
        self._memberships = memberships
        self._chats = chats
        self._profiles = profiles
        self._advice_threads = advice_threads
        self._responses = responses
        self._keys = keys
        self._audit = audit
        self._clock = clock

    async def execute(self, actor: Caller, user_id: str) -> ErasedUser:
        require_admin(actor, "Deleting a user's data")
        if user_id == actor.user_id:
            raise Conflict("An admin cannot delete their own data; ask another admin.")
        chats = await self._delete_chats(user_id)
        keys = await self._revoke_keys(user_id)
        threads = await asyncio.to_thread(self._advice_threads.delete_for_user, user_id)
        responses = await asyncio.to_thread(self._responses.delete_for_user, user_id)
        profile = await asyncio.to_thread(self._profiles.delete_user, user_id)
        if self._memberships is not None:
            await asyncio.to_thread(self._memberships.delete_for_user, user_id)
        if not (profile or chats or keys or threads or responses):
            raise NotFound(f"There is no user {user_id!r}, or nothing of theirs is left.")
        erased = ErasedUser(user_id, chats, threads, responses, keys)
        await self._audit.execute(actor, USER_ERASE, f"user:{user_id}", after=asdict(erased))
        return erased

    async def _delete_chats(self, user_id: str) -> int:
        deleted = 0
        while chats := await self._chats.list(user_id, limit=MAX_PAGE):
            for chat in chats:
                await self._chats.delete(user_id, chat.id)
                deleted += 1
        return deleted

    async def _revoke_keys(self, user_id: str) -> int:
        keys = await asyncio.to_thread(self._keys.list_keys)
        now = utc(self._clock.now())
        revoked = 0
        for key in keys:
            if key.user_id == user_id and not key.revoked:
                await asyncio.to_thread(self._keys.revoke, key.id, now)
                revoked += 1
        return revoked
