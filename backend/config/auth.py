"""Who may call the server: API keys, sign-in, OpenID Connect, host names."""

from __future__ import annotations

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from backend.config.base import SettingsGroup

#: The host names a development server (AUTH_ENABLED=false) answers to unless ALLOWED_HOSTS.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class AuthSettings(SettingsGroup):
    """Who may call the server: API keys, sign-in, OpenID Connect, host names, origin."""

    model_config = ConfigDict(title="Authentication")

    enabled: bool = Field(
        False,
        description="Require an API key (`Authorization: Bearer KEY` or `X-API-Key`) on every "
        "endpoint but /health and the API docs; create keys with `almanac keys create`. When "
        "false (development), every request acts as DEFAULT_USER_ID with the admin role, and "
        "`almanac serve` binds to loopback only.",
        validation_alias="auth_enabled",
    )
    default_user_id: str = Field(
        "default",
        min_length=1,
        max_length=64,
        description="The one local user of development mode (AUTH_ENABLED=false), who is "
        "admin, and the user of CLI chat commands without --user, so both see the same chats.",
    )
    session_hours: int = Field(
        12,
        ge=1,
        le=720,
        description="How long a web app sign-in lasts, in hours (1 to 720): the browser "
        "exchanges the key once for an HttpOnly session cookie, valid in every tab until it "
        "expires, the user signs out, or the key is revoked.",
    )
    oidc_client_id: str | None = Field(
        None,
        description="Turns on signing in with an OpenID Connect provider (Google by default; "
        "see OIDC_ISSUER) at GET /api/auth/login: this server's client id there. Needs "
        "AUTH_ENABLED=true, OIDC_CLIENT_SECRET and OIDC_ALLOWED_DOMAINS.",
    )
    oidc_client_secret: SecretStr | None = Field(
        None, description="The client secret that goes with OIDC_CLIENT_ID."
    )
    oidc_issuer: str = Field(
        "https://accounts.google.com",
        pattern=r"^https?://",
        description="The OpenID Connect provider (its issuer URL; its discovery document is "
        "ISSUER/.well-known/openid-configuration).",
    )
    oidc_redirect_uri: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Where the provider sends the browser back, as registered with it, e.g. "
        "https://almanac.example.org/api/auth/callback. Unset: this server's own URL as the "
        "request reached it, plus /api/auth/callback (set it behind a proxy).",
    )
    oidc_allowed_domains: str = Field(
        "",
        description="Comma-separated email domains whose verified accounts may sign in with "
        "the provider (e.g. example.org); `*` allows any verified email. Required with "
        "OIDC_CLIENT_ID.",
    )
    oidc_admin_emails: str = Field(
        "",
        description="Comma-separated emails that sign in with the provider as admins; every "
        "other allowed account signs in as a user.",
    )
    oidc_groups_claim: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_:./-]{1,100}$",
        description="The ID token claim (e.g. `groups`) whose values become the person's "
        "Almanac groups at each sign-in, which collections can be granted to "
        "(docs/collections.md). A list of names, or one name. Unset: sign-in sets no groups.",
    )
    allow_unauthenticated_network: bool = Field(
        False,
        description="Let `almanac serve` bind to a non-loopback address while AUTH_ENABLED is "
        "false (anyone who can reach the port is then admin). Same as `--insecure-bind`.",
    )
    allowed_hosts: str = Field(
        "",
        description="Comma-separated host names this server answers to (the request's Host, "
        "any port), e.g. almanac.example.org; `*.example.org` for its subdomains, `*` for any. "
        "Another Host is answered 421. Unset: localhost, 127.0.0.1 and [::1] while "
        "AUTH_ENABLED=false (so another site's page cannot reach a development server through "
        "DNS rebinding), any host with AUTH_ENABLED=true (keys and cookies protect it).",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="This server's address as browsers reach it, e.g. "
        "https://almanac.example.org behind a proxy: a signed-in browser's change (by its "
        "session cookie) must come from this origin (scheme, host and port), and the OpenID "
        "Connect callback defaults to PUBLIC_URL/api/auth/callback. Unset: the origin of "
        "OIDC_REDIRECT_URI if set, else the scheme and Host the request reached the server "
        "with (never X-Forwarded-Host).",
    )

    @model_validator(mode="after")
    def _complete_oidc(self) -> AuthSettings:
        if self.oidc_client_id is None:
            return self
        missing = [
            name
            for name, value in (
                ("OIDC_CLIENT_SECRET", self.oidc_client_secret),
                ("OIDC_ALLOWED_DOMAINS", self.oidc_allowed_domain_set),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"OIDC_CLIENT_ID is set, and so must {' and '.join(missing)} be.")
        return self

    @property
    def oidc_allowed_domain_set(self) -> frozenset[str]:
        return frozenset(
            d.strip().lower().lstrip("@") for d in self.oidc_allowed_domains.split(",") if d.strip()
        )

    @property
    def oidc_admin_email_set(self) -> frozenset[str]:
        return frozenset(e.strip().lower() for e in self.oidc_admin_emails.split(",") if e.strip())

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names_without_ports(cls, value: str) -> str:
        for entry in (h.strip() for h in value.split(",")):
            if entry.count(":") == 1 or (entry.startswith("[") and not entry.endswith("]")):
                raise ValueError(
                    f"ALLOWED_HOSTS lists host names without a port ({entry!r}): any port of "
                    "a listed name is answered."
                )
        return value

    @property
    def allowed_host_list(self) -> tuple[str, ...]:
        """The host names the server answers to (ALLOWED_HOSTS, lower-case, IPv6 addresses in
        brackets); unset, `LOOPBACK_HOSTS` with authentication off and any (`*`) with it on."""
        listed = tuple(
            f"[{name}]" if name.count(":") > 1 and not name.startswith("[") else name
            for name in (h.strip().lower().rstrip(".") for h in self.allowed_hosts.split(","))
            if name
        )
        if listed:
            return listed
        return ("*",) if self.enabled else LOOPBACK_HOSTS
