"""API keys and the caller of a request.

Rules:
- A key is `alm_` + 43 URL-safe characters (32 random bytes from `secrets`). It is shown once,
  when created; only its SHA-256 digest is stored, and a presented key is found by its digest
  and checked with `hmac.compare_digest`.
- A request's caller comes from its key: user id and role are the key's. A missing, unknown
  or revoked key is `Unauthorized` (401). With authentication off (development mode) every
  request is the one local user (`DEFAULT_USER_ID`) with the admin role, and keys are ignored.
- `last_used_at` is written at most once a minute per key, so authenticating is a read, not a
  write, on almost every request.
- Only admins create, list and revoke keys; creating and revoking are audited. Revoking is
  permanent; revoking a revoked key changes nothing.
- A `user_id` named in a request body must be the caller's own, unless the caller is an admin
  acting for that user, which is audited (`user.act_for`); otherwise `Forbidden` (403).
- A browser signs in by exchanging a key for a session (`StartSession`): a new random secret
  (the cookie's value; only its digest is stored) that acts as that key until it expires
  (the configured lifetime), is ended by signing out (`EndSession`), or its key is revoked.
  With authentication off there is nothing to sign in to (`Conflict`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from use_cases.access.audit import KEY_CREATE, KEY_REVOKE, USER_ACT_FOR, RecordAudit
from use_cases.access.domain import (
    CLI_ADMIN,
    ROLES,
    ApiKey,
    Caller,
    NewApiKey,
    Role,
    StoredApiKey,
    WebSession,
    require_admin,
)
from use_cases.access.ports import ApiKeyStore, UserDirectory
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthorized

__all__ = [
    "CLI_ADMIN",
    "ActFor",
    "Authenticate",
    "Caller",
    "CreateApiKey",
    "EndSession",
    "ListApiKeys",
    "RemoveExpiredSessions",
    "Revocation",
    "RevokeApiKey",
    "Role",
    "StartSession",
    "StartedSession",
    "hash_secret",
]

KEY_PREFIX = "alm_"
SESSION_PREFIX = "ses_"
MAX_NAME_CHARS = 100
LAST_USED_RESOLUTION = timedelta(minutes=1)

MISSING_KEY = "Missing API key: send `Authorization: Bearer KEY` or `X-API-Key: KEY`."
UNKNOWN_KEY = "Invalid API key: it is not one this server issued."
REVOKED_KEY = "This API key has been revoked; ask an admin for a new one."
UNKNOWN_SESSION = "This sign-in is not one this server knows; sign in again with your API key."
ENDED_SESSION = "This sign-in has ended (signed out); sign in again with your API key."
EXPIRED_SESSION = "This sign-in has expired; sign in again with your API key."
AUTH_OFF = "Authentication is off (AUTH_ENABLED=false): there is nothing to sign in to."


def generate_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest: a 256-bit random key needs no salt or slow hash."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key_id() -> str:
    return "key_" + secrets.token_hex(6)


class Authenticate:
    """Turns the key a request presents into its `Caller` (see the module rules)."""

    def __init__(
        self, keys: ApiKeyStore, clock: Clock, *, enabled: bool, local_user_id: str
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._enabled = enabled
        self._local = Caller(user_id=local_user_id, role="admin", key_id=None)

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def local_caller(self) -> Caller:
        """The caller of every request when authentication is off."""
        return self._local

    async def usable_keys(self) -> int:
        """How many keys can authenticate (not revoked)."""
        keys = await asyncio.to_thread(self._keys.list_keys)
        return sum(1 for key in keys if not key.revoked)

    async def execute(self, secret: str | None) -> Caller:
        if not self._enabled:
            return self._local
        secret = (secret or "").strip()
        if not secret:
            raise Unauthorized(MISSING_KEY)
        digest = hash_secret(secret)
        stored = await asyncio.to_thread(self._keys.find_by_hash, digest)
        if stored is None or not hmac.compare_digest(stored.key_hash, digest):
            raise Unauthorized(UNKNOWN_KEY)
        key = stored.key
        if key.revoked:
            raise Unauthorized(REVOKED_KEY)
        return await self._as_caller(key)

    async def execute_session(self, secret: str) -> Caller:
        """The caller a browser's session cookie stands for: its key's, while the session is
        open and unexpired and the key is not revoked."""
        if not self._enabled:
            return self._local
        found = await asyncio.to_thread(self._keys.find_session, hash_secret(secret.strip()))
        if found is None:
            raise Unauthorized(UNKNOWN_SESSION)
        if found.ended_at is not None:
            raise Unauthorized(ENDED_SESSION)
        if utc(self._clock.now()) >= utc(found.expires_at):
            raise Unauthorized(EXPIRED_SESSION)
        key = await asyncio.to_thread(self._keys.get, found.key_id)
        if key is None or key.revoked:
            raise Unauthorized(REVOKED_KEY)
        return await self._as_caller(key)

    async def _as_caller(self, key: ApiKey) -> Caller:
        now = utc(self._clock.now())
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            await asyncio.to_thread(self._keys.touch, key.id, now)
        return Caller(user_id=key.user_id, role=key.role, key_id=key.id)


@dataclass(frozen=True)
class StartedSession:
    """A new sign-in: `secret` goes to the browser (once, as a cookie), never stored."""

    secret: str
    caller: Caller
    expires_at: datetime


class StartSession:
    """Exchanges an API key for a browser session of `lifetime` (see the module rules)."""

    def __init__(
        self, keys: ApiKeyStore, clock: Clock, authenticate: Authenticate, *, lifetime: timedelta
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._authenticate = authenticate
        self._lifetime = lifetime

    async def execute(self, key_secret: str) -> StartedSession:
        if not self._authenticate.enabled:
            raise Conflict(AUTH_OFF)
        caller = await self._authenticate.execute(key_secret)
        assert caller.key_id is not None
        secret = SESSION_PREFIX + secrets.token_urlsafe(32)
        now = utc(self._clock.now())
        session = WebSession(hash_secret(secret), caller.key_id, now, now + self._lifetime)
        await asyncio.to_thread(self._keys.add_session, session)
        return StartedSession(secret, caller, session.expires_at)


class EndSession:
    """Signs a browser out: its session ends on the server at once (a copied cookie is then
    refused). Ending an unknown or ended session changes nothing."""

    def __init__(self, keys: ApiKeyStore, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock

    async def execute(self, secret: str | None) -> bool:
        if not secret or not secret.strip():
            return False
        digest = hash_secret(secret.strip())
        return await asyncio.to_thread(self._keys.end_session, digest, utc(self._clock.now()))


class RemoveExpiredSessions:
    """An admin's clean-up: the expired sign-ins are deleted (they could no longer be used;
    new sign-ins also remove them as they start). How many were."""

    def __init__(self, keys: ApiKeyStore, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock

    async def execute(self, actor: Caller) -> int:
        require_admin(actor, "Removing expired sessions")
        return await asyncio.to_thread(self._keys.remove_expired_sessions, utc(self._clock.now()))


class CreateApiKey:
    """Admins only: a new key for `user_id` with `role`; the user is provisioned if new."""

    def __init__(
        self, keys: ApiKeyStore, users: UserDirectory, audit: RecordAudit, clock: Clock
    ) -> None:
        self._keys = keys
        self._users = users
        self._audit = audit
        self._clock = clock

    async def execute(
        self, actor: Caller, *, user_id: str, role: str, name: str | None = None
    ) -> NewApiKey:
        require_admin(actor, "Creating API keys")
        if role not in ROLES:
            raise InvalidRequest(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
        clean_name = _clean_name(name)
        user_id = user_id.strip()
        await asyncio.to_thread(self._users.ensure_user, user_id)  # validates the id
        secret = generate_secret()
        key = ApiKey(
            id=new_key_id(),
            name=clean_name,
            user_id=user_id,
            role=role,
            created_at=utc(self._clock.now()),
        )
        stored = await asyncio.to_thread(self._keys.add, StoredApiKey(key, hash_secret(secret)))
        await self._audit.execute(actor, KEY_CREATE, f"key:{key.id}", after=key_snapshot(stored))
        return NewApiKey(secret=secret, key=stored)


class ListApiKeys:
    """Admins only: every key (never the key or its hash), oldest first."""

    def __init__(self, keys: ApiKeyStore) -> None:
        self._keys = keys

    async def execute(self, actor: Caller) -> list[ApiKey]:
        require_admin(actor, "Listing API keys")
        return await asyncio.to_thread(self._keys.list_keys)


@dataclass(frozen=True)
class Revocation:
    key: ApiKey
    already_revoked: bool


class RevokeApiKey:
    """Admins only: revoke a key for good; its next request gets 401."""

    def __init__(self, keys: ApiKeyStore, audit: RecordAudit, clock: Clock) -> None:
        self._keys = keys
        self._audit = audit
        self._clock = clock

    async def execute(self, actor: Caller, key_id: str) -> Revocation:
        require_admin(actor, "Revoking API keys")
        key_id = key_id.strip()
        before = await asyncio.to_thread(self._keys.get, key_id)
        if before is None:
            raise NotFound(f"No API key with id {key_id}.")
        if before.revoked:
            return Revocation(before, already_revoked=True)
        after = await asyncio.to_thread(self._keys.revoke, key_id, utc(self._clock.now()))
        if after is None:  # removed meanwhile: there is nothing left to revoke
            raise NotFound(f"No API key with id {key_id}.")
        await self._audit.execute(
            actor,
            KEY_REVOKE,
            f"key:{key_id}",
            before=key_snapshot(before),
            after=key_snapshot(after),
        )
        return Revocation(after, already_revoked=False)


class ActFor:
    """The user a request acts for: the caller, or the `user_id` an admin names (audited)."""

    def __init__(self, audit: RecordAudit) -> None:
        self._audit = audit

    async def execute(self, caller: Caller, user_id: str | None, *, via: str) -> str:
        wanted = (user_id or "").strip()
        if not wanted or wanted == caller.user_id:
            return caller.user_id
        if not caller.is_admin:
            raise Forbidden(
                f"user_id {wanted!r} is not you: only an admin may act for another user. "
                "Omit user_id to act as yourself."
            )
        await self._audit.execute(caller, USER_ACT_FOR, f"user:{wanted}", after={"via": via})
        return wanted


def _clean_name(name: str | None) -> str | None:
    text = " ".join((name or "").split())
    if len(text) > MAX_NAME_CHARS:
        raise InvalidRequest(f"A key name may have at most {MAX_NAME_CHARS} characters.")
    return text or None


def key_snapshot(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "name": key.name,
        "user_id": key.user_id,
        "role": key.role,
        "revoked_at": key.revoked_at,
    }
