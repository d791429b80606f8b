"""API keys, callers and acting for a user, on in-memory fakes."""

from __future__ import annotations

import hashlib

import pytest

from tests.fakes import InMemoryApiKeyStore, InMemoryAuditLog, InMemoryUsers, SteppingClock
from use_cases.access.audit import RecordAudit
from use_cases.access.auth import ActFor, Authenticate, CreateApiKey, ListApiKeys, RevokeApiKey
from use_cases.access.domain import CLI_ADMIN, Caller
from use_cases.shared.errors import Forbidden, InvalidRequest, NotFound, Unauthorized

ANA = Caller("ana", "user", "key_ana")
ROOT = Caller("root", "admin", "key_root")


class World:
    def __init__(self, *, enabled: bool = True) -> None:
        self.keys = InMemoryApiKeyStore()
        self.log = InMemoryAuditLog()
        self.users = InMemoryUsers()
        self.clock = SteppingClock()
        audit = RecordAudit(self.log, self.clock)
        self.create = CreateApiKey(self.keys, self.users, audit, self.clock)
        self.list = ListApiKeys(self.keys)
        self.revoke = RevokeApiKey(self.keys, audit, self.clock)
        self.act_for = ActFor(audit)
        self.authenticate = Authenticate(
            self.keys, self.clock, enabled=enabled, local_user_id="default"
        )


@pytest.fixture
def world() -> World:
    return World()


async def test_a_created_key_authenticates_as_its_user_and_role(world: World) -> None:
    created = await world.create.execute(CLI_ADMIN, user_id="ana", role="user", name="laptop")
    caller = await world.authenticate.execute(created.secret)
    assert caller == Caller("ana", "user", created.key.id)
    assert not caller.is_admin
    assert "ana" in world.users.users  # the user is provisioned with the key


async def test_keys_are_random_prefixed_and_stored_only_as_their_sha256(world: World) -> None:
    first = await world.create.execute(CLI_ADMIN, user_id="ana", role="user")
    second = await world.create.execute(CLI_ADMIN, user_id="ana", role="user")
    assert first.secret != second.secret
    assert first.secret.startswith("alm_") and len(first.secret) >= 4 + 43
    stored = world.keys.rows[first.key.id]
    assert stored.key_hash == hashlib.sha256(first.secret.encode()).hexdigest()
    assert first.secret not in repr(stored)


@pytest.mark.parametrize(
    ("presented", "fragment"),
    [(None, "Missing API key"), ("", "Missing API key"), ("alm_not-a-key", "Invalid API key")],
)
async def test_a_missing_or_unknown_key_is_unauthorized(
    world: World, presented: str | None, fragment: str
) -> None:
    await world.create.execute(CLI_ADMIN, user_id="ana", role="user")
    with pytest.raises(Unauthorized, match=fragment):
        await world.authenticate.execute(presented)


async def test_a_revoked_key_is_unauthorized_and_revoking_again_changes_nothing(
    world: World,
) -> None:
    created = await world.create.execute(CLI_ADMIN, user_id="ana", role="user")
    first = await world.revoke.execute(ROOT, created.key.id)
    world.clock.advance(hours=1)
    again = await world.revoke.execute(ROOT, created.key.id)
    assert not first.already_revoked and again.already_revoked
    stored = world.keys.get(created.key.id)
    assert stored is not None
    assert again.key.revoked_at == first.key.revoked_at == stored.revoked_at
    with pytest.raises(Unauthorized, match="revoked"):
        await world.authenticate.execute(created.secret)
    assert [e.action for e in world.log.entries] == ["key.create", "key.revoke"]
    revoke = world.log.entries[1]
    assert (revoke.actor_user_id, revoke.actor_key_id) == ("root", "key_root")
    assert revoke.before["revoked_at"] is None and revoke.after["revoked_at"]


async def test_revoking_an_unknown_key_is_not_found(world: World) -> None:
    with pytest.raises(NotFound, match="key_nope"):
        await world.revoke.execute(ROOT, "key_nope")


async def test_with_authentication_off_every_request_is_the_local_admin() -> None:
    world = World(enabled=False)
    for presented in (None, "alm_whatever"):
        caller = await world.authenticate.execute(presented)
        assert caller == Caller("default", "admin", None)


async def test_last_use_is_written_at_most_once_a_minute(world: World) -> None:
    created = await world.create.execute(CLI_ADMIN, user_id="ana", role="user")
    for _ in range(5):
        await world.authenticate.execute(created.secret)
        world.clock.advance(seconds=10)
    assert world.keys.touches == 1
    world.clock.advance(seconds=20)
    await world.authenticate.execute(created.secret)
    assert world.keys.touches == 2
    stored = world.keys.get(created.key.id)
    assert stored is not None and stored.last_used_at == world.clock.now()


async def test_only_admins_create_list_and_revoke_keys(world: World) -> None:
    created = await world.create.execute(ROOT, user_id="ana", role="user")
    with pytest.raises(Forbidden, match="admin role"):
        await world.create.execute(ANA, user_id="ana", role="admin")
    with pytest.raises(Forbidden):
        await world.list.execute(ANA)
    with pytest.raises(Forbidden):
        await world.revoke.execute(ANA, created.key.id)
    assert [key.id for key in await world.list.execute(ROOT)] == [created.key.id]
    assert [e.action for e in world.log.entries] == ["key.create"]


@pytest.mark.parametrize(
    ("user_id", "role", "name", "fragment"),
    [
        ("ana", "owner", None, "Unknown role 'owner'"),
        ("ana", "user", "x" * 101, "at most 100"),
        ("bad id", "user", None, "Invalid user id"),
    ],
)
async def test_bad_key_requests_are_refused_and_create_nothing(
    world: World, user_id: str, role: str, name: str | None, fragment: str
) -> None:
    with pytest.raises(InvalidRequest, match=fragment):
        await world.create.execute(CLI_ADMIN, user_id=user_id, role=role, name=name)
    assert world.keys.rows == {} and world.log.entries == []


async def test_a_key_name_is_trimmed_and_a_blank_one_is_none(world: World) -> None:
    named = await world.create.execute(CLI_ADMIN, user_id="ana", role="user", name="  my   laptop ")
    blank = await world.create.execute(CLI_ADMIN, user_id="ana", role="user", name="   ")
    assert (named.key.name, blank.key.name) == ("my laptop", None)


async def test_a_user_may_name_only_themselves(world: World) -> None:
    assert await world.act_for.execute(ANA, None, via="POST /chat") == "ana"
    assert await world.act_for.execute(ANA, "ana", via="POST /chat") == "ana"
    with pytest.raises(Forbidden, match="only an admin"):
        await world.act_for.execute(ANA, "bob", via="POST /chat")
    assert world.log.entries == []


async def test_an_admin_acting_for_a_user_is_audited(world: World) -> None:
    assert await world.act_for.execute(ROOT, "ana", via="POST /chat") == "ana"
    assert await world.act_for.execute(ROOT, "root", via="POST /chat") == "root"
    [entry] = world.log.entries
    assert (entry.action, entry.target, entry.actor_user_id) == ("user.act_for", "user:ana", "root")
    assert entry.after == {"via": "POST /chat"}
