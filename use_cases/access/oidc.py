"""Signing a browser in with an OpenID Connect provider (Google by default): the
authorization-code flow with PKCE, a state and a nonce.

Rules:
- `begin` makes three random values (state, nonce, PKCE verifier) and the provider's
  authorization URL. The caller keeps the values with the browser (a short-lived HttpOnly
  cookie) and hands them back to `complete` with the provider's redirect.
- `complete` refuses a redirect whose `state` is not the one kept (`Unauthorized`): a sign-in
  only ends in the browser that began it. The provider's ID token is checked by the adapter
  (signature against the provider's keys, issuer, audience, expiry, nonce).
- Only a verified email whose domain is allowed (`allowed_domains`; `*` allows any) signs in;
  an unverified or unlisted one is `Forbidden`. Emails in `admin_emails` get the admin role,
  everyone else the user role.
- The user is `oidc-` + 20 hex digits of SHA-256 over issuer and subject (the provider's
  stable id for the person, never the email, which can change hands); their name and email
  are kept on their profile.
- A browser session stands for an API key (`WebSession`), so each signed-in person has one
  key named `SIGN_IN_KEY_NAME`, made on their first sign-in (audited as `key.create` by
  them) and never shown. Revoking it ends every sign-in of that person; their next sign-in
  makes a new one. A role change (the admin list changed) revokes the old key and makes a
  new one, so a session never keeps a role its person lost.
- With OIDC_GROUPS_CLAIM set, the claim's values replace the person's groups at each sign-in
  (a group the provider no longer states is dropped); collections granted to a group are read
  by its members (use_cases/knowledge/collections.py).
- With authentication off there is nothing to sign in to (`Conflict`); with no provider
  set up, signing in with one is `NotConfigured`.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from use_cases.access.audit import KEY_CREATE, KEY_REVOKE, RecordAudit
from use_cases.access.auth import (
    AUTH_OFF,
    SESSION_PREFIX,
    Authenticate,
    StartedSession,
    generate_secret,
    hash_secret,
    key_snapshot,
    new_key_id,
)
from use_cases.access.domain import ApiKey, Caller, Role, StoredApiKey, WebSession
from use_cases.access.ports import ApiKeyStore, GroupMemberships, UserDirectory
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import Conflict, Forbidden, NotConfigured, Unauthorized

__all__ = [
    "SIGN_IN_KEY_NAME",
    "Identity",
    "IdentityProvider",
    "PendingSignIn",
    "SignInPolicy",
    "SignInWithProvider",
]

SIGN_IN_KEY_NAME = "Signed in with OpenID Connect"
NOT_SET_UP = (
    "Signing in with an OpenID Connect provider is not set up on this server "
    "(OIDC_CLIENT_ID); sign in with an API key instead (POST /api/session)."
)
STATE_MISMATCH = "This sign-in was not started in this browser, or took too long: start it again."


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in, from its verified ID token."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None = None
    groups: tuple[str, ...] | None = None
    """The groups the provider states (OIDC_GROUPS_CLAIM); None when none is configured."""


class IdentityProvider(Protocol):
    """An OpenID Connect provider (its discovery document, token endpoint and keys)."""

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str: ...

    async def identity(
        self, *, redirect_uri: str, code: str, code_verifier: str, nonce: str
    ) -> Identity:
        """Exchange the code; check the ID token. Raises `Unauthorized` when the provider
        refuses the code or the token does not check out."""
        ...


@dataclass(frozen=True)
class SignInPolicy:
    allowed_domains: frozenset[str]
    """Email domains that may sign in, lower case; `*` allows any verified email."""
    admin_emails: frozenset[str] = frozenset()
    """Emails (lower case) that sign in with the admin role."""

    def allows(self, email: str) -> bool:
        domain = email.rpartition("@")[2]
        return "*" in self.allowed_domains or domain in self.allowed_domains

    def role_of(self, email: str) -> Role:
        return "admin" if email in self.admin_emails else "user"


@dataclass(frozen=True)
class PendingSignIn:
    """A sign-in begun: the URL to send the browser to, and what to keep with it."""

    url: str
    state: str
    nonce: str
    code_verifier: str


class SignInWithProvider:
    """See the module rules."""

    def __init__(
        self,
        provider: IdentityProvider | None,
        keys: ApiKeyStore,
        users: UserDirectory,
        audit: RecordAudit,
        clock: Clock,
        authenticate: Authenticate,
        policy: SignInPolicy,
        *,
        lifetime: timedelta,
        groups: GroupMemberships | None = None,
    ) -> None:
        self._groups = groups
        self._provider = provider
        self._keys = keys
        self._users = users
        self._audit = audit
        self._clock = clock
        self._authenticate = authenticate
        self._policy = policy
        self._lifetime = lifetime

    @property
    def set_up(self) -> bool:
        """Whether a provider is set up (OIDC_CLIENT_ID)."""
        return self._provider is not None

    def ready(self) -> IdentityProvider:
        """The provider; `NotConfigured` when none is set up, `Conflict` with authentication
        off."""
        if self._provider is None:
            raise NotConfigured(NOT_SET_UP)
        if not self._authenticate.enabled:
            raise Conflict(AUTH_OFF)
        return self._provider

    async def begin(self, redirect_uri: str) -> PendingSignIn:
        provider = self.ready()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)  # 64 characters: RFC 7636 allows 43 to 128
        url = await provider.authorization_url(
            redirect_uri=redirect_uri, state=state, nonce=nonce, code_verifier=verifier
        )
        return PendingSignIn(url, state, nonce, verifier)

    async def complete(
        self, *, redirect_uri: str, code: str, state: str, kept: PendingSignIn | None
    ) -> StartedSession:
        provider = self.ready()
        if kept is None or not secrets.compare_digest(state.encode(), kept.state.encode()):
            raise Unauthorized(STATE_MISMATCH)
        identity = await provider.identity(
            redirect_uri=redirect_uri,
            code=code,
            code_verifier=kept.code_verifier,
            nonce=kept.nonce,
        )
        email = (identity.email or "").strip().lower()
        if not email or not identity.email_verified:
            raise Forbidden("Your account has no verified email address; it cannot sign in here.")
        if not self._policy.allows(email):
            raise Forbidden(f"{email} may not sign in here: its domain is not allowed.")
        key = await self._sign_in_key(identity, email, self._policy.role_of(email))
        if identity.groups is not None and self._groups is not None:
            # As the provider states them now: a group left there is left here too.
            await asyncio.to_thread(self._groups.set_groups, key.user_id, identity.groups)
        secret = SESSION_PREFIX + secrets.token_urlsafe(32)
        now = utc(self._clock.now())
        session = WebSession(hash_secret(secret), key.id, now, now + self._lifetime)
        await asyncio.to_thread(self._keys.add_session, session)
        caller = Caller(user_id=key.user_id, role=key.role, key_id=key.id)
        return StartedSession(secret, caller, session.expires_at)

    async def _sign_in_key(self, identity: Identity, email: str, role: Role) -> ApiKey:
        """The person's sign-in key with `role`: the one they have, or a new one."""
        digest = hashlib.sha256(f"{identity.issuer} {identity.subject}".encode()).hexdigest()
        user_id = "oidc-" + digest[:20]
        await asyncio.to_thread(self._users.ensure_user, user_id, identity.name, email)
        keys = await asyncio.to_thread(self._keys.list_keys)
        now = utc(self._clock.now())
        for key in keys:
            if key.user_id != user_id or key.name != SIGN_IN_KEY_NAME or key.revoked:
                continue
            if key.role == role:
                return key
            revoked_key = await asyncio.to_thread(self._keys.revoke, key.id, now)
            revoked = key_snapshot(revoked_key) if revoked_key is not None else None
            actor = Caller(user_id=user_id, role=key.role, key_id=key.id)
            await self._audit.execute(
                actor, KEY_REVOKE, f"key:{key.id}", before=key_snapshot(key), after=revoked
            )
        key = ApiKey(new_key_id(), SIGN_IN_KEY_NAME, user_id, role, now)
        # The secret is never shown: only sessions, made here, stand for this key.
        stored = await asyncio.to_thread(
            self._keys.add, StoredApiKey(key, hash_secret(generate_secret()))
        )
        actor = Caller(user_id=user_id, role=role, key_id=None)
        await self._audit.execute(actor, KEY_CREATE, f"key:{key.id}", after=key_snapshot(stored))
        return stored
