"""Access: callers, API keys, sessions and the audit log (`use_cases/access`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from backend.config import AuthSettings
from backend.features.adapters import Wiring
from use_cases.access.audit import ListAuditEntries, RecordAudit
from use_cases.access.auth import (
    ActFor,
    Authenticate,
    CreateApiKey,
    EndSession,
    ListApiKeys,
    RemoveExpiredSessions,
    RevokeApiKey,
    StartSession,
)
from use_cases.access.oidc import SignInPolicy, SignInWithProvider


@dataclass(frozen=True)
class AccessUseCases:
    audit: RecordAudit
    list_audit: ListAuditEntries
    authenticate: Authenticate
    start_session: StartSession
    end_session: EndSession
    cleanup_sessions: RemoveExpiredSessions
    create_key: CreateApiKey
    list_keys: ListApiKeys
    revoke_key: RevokeApiKey
    act_for: ActFor
    oidc_sign_in: SignInWithProvider
    """Signing in with an OpenID Connect provider (set up with OIDC_CLIENT_ID)."""


def build(w: Wiring, settings: AuthSettings) -> AccessUseCases:
    a, clock = w.adapters, w.clock
    audit = RecordAudit(a.audit_log, clock)
    authenticate = Authenticate(
        a.api_keys, clock, enabled=settings.enabled, local_user_id=settings.default_user_id
    )
    return AccessUseCases(
        audit=audit,
        list_audit=ListAuditEntries(a.audit_log),
        authenticate=authenticate,
        start_session=StartSession(
            a.api_keys, clock, authenticate, lifetime=timedelta(hours=settings.session_hours)
        ),
        end_session=EndSession(a.api_keys, clock),
        cleanup_sessions=RemoveExpiredSessions(a.api_keys, clock),
        create_key=CreateApiKey(a.api_keys, a.history, audit, clock),
        list_keys=ListApiKeys(a.api_keys),
        revoke_key=RevokeApiKey(a.api_keys, audit, clock),
        act_for=ActFor(audit),
        oidc_sign_in=_oidc_sign_in(w, settings, audit, authenticate),
    )


def _oidc_sign_in(
    w: Wiring, settings: AuthSettings, audit: RecordAudit, authenticate: Authenticate
) -> SignInWithProvider:
    provider = None
    if settings.oidc_client_id is not None and settings.oidc_client_secret is not None:
        from services.admin.oidc import OidcProvider  # Authlib: imported when it is set up

        provider = OidcProvider(
            settings.oidc_issuer,
            settings.oidc_client_id,
            settings.oidc_client_secret.get_secret_value(),
            groups_claim=settings.oidc_groups_claim,
        )
    policy = SignInPolicy(settings.oidc_allowed_domain_set, settings.oidc_admin_email_set)
    return SignInWithProvider(
        provider,
        w.adapters.api_keys,
        w.adapters.history,
        audit,
        w.clock,
        authenticate,
        policy,
        lifetime=timedelta(hours=settings.session_hours),
        groups=w.adapters.collection_store,
    )
