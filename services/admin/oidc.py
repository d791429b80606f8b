"""The `IdentityProvider` port on a real OpenID Connect provider (Google by default): its
discovery document, the authorization-code flow with PKCE through Authlib's httpx client, and
the ID token checked with joserfc against the provider's published keys.

What is checked on every sign-in: the discovery document names the configured issuer; the ID
token's signature (an asymmetric algorithm, a key from the provider's JWKS, fetched again
once when a token names a key not seen yet, as after a key rotation); `iss`, `aud` (our
client id), `exp` (60 s leeway), `sub` and the `nonce` the sign-in began with. The
discovery document and keys are cached for the process's life.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization

from use_cases.access.oidc import Identity
from use_cases.shared.errors import Unauthorized, UpstreamBadResponse, UpstreamUnavailable

__all__ = ["OidcProvider"]

SCOPE = "openid email profile"
#: Asymmetric only: a token signed with a shared secret (HS256) is refused.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
LEEWAY_SECONDS = 60


#: Groups kept from one ID token (a provider stating more is cut, not refused).
MAX_GROUPS = 200


class OidcProvider:
    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        groups_claim: str | None = None,
    ) -> None:
        self._groups_claim = groups_claim
        self._issuer = issuer
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = timeout
        self._transport = transport
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._lock = asyncio.Lock()

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        metadata = await self._discovery()
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                nonce=nonce,
                code_verifier=code_verifier,
            )
        return str(url)

    async def identity(
        self, *, redirect_uri: str, code: str, code_verifier: str, nonce: str
    ) -> Identity:
        metadata = await self._discovery()
        async with self._client(redirect_uri) as client:
            try:
                token = await client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=code_verifier
                )
            except OAuthError as exc:
                raise Unauthorized(f"The sign-in provider refused the sign-in: {exc}") from None
            except httpx.HTTPError as exc:
                raise UpstreamUnavailable(f"The sign-in provider did not answer: {exc}") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise Unauthorized("The sign-in provider sent no ID token.")
        claims = await self._checked_claims(id_token, nonce)
        verified = claims.get("email_verified")
        return Identity(
            issuer=self._issuer,
            subject=str(claims["sub"]),
            email=claims.get("email") if isinstance(claims.get("email"), str) else None,
            email_verified=verified is True or verified == "true",
            name=claims.get("name") if isinstance(claims.get("name"), str) else None,
            groups=self._groups(claims),
        )

    def _groups(self, claims: dict[str, Any]) -> tuple[str, ...] | None:
        """The configured claim's group names (a list of strings, or one string); None when
        no claim is configured, () when the token states none."""
        if self._groups_claim is None:
            return None
        value = claims.get(self._groups_claim)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return ()
        named = (g.strip() for g in value if isinstance(g, str) and g.strip())
        return tuple(g[:200] for g in named)[:MAX_GROUPS]

    async def _checked_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            decoded = jwt.decode(id_token, await self._key_set(), algorithms=list(ALGORITHMS))
        except ValueError:  # no key with the token's `kid`: the provider may have rotated
            try:
                decoded = jwt.decode(
                    id_token, await self._key_set(refresh=True), algorithms=list(ALGORITHMS)
                )
            except (JoseError, ValueError) as exc:
                raise Unauthorized(f"The ID token does not check out: {exc}") from None
        except JoseError as exc:
            raise Unauthorized(f"The ID token does not check out: {exc}") from None
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self._issuer},
            aud={"essential": True, "value": self._client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise Unauthorized(f"The ID token does not check out: {exc}") from None
        return dict(decoded.claims)

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._client_id,
            client_secret=self._client_secret,
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self._timeout,
            transport=self._transport,
        )

    async def _discovery(self) -> dict[str, Any]:
        async with self._lock:
            if self._metadata is None:
                url = self._issuer.rstrip("/") + "/.well-known/openid-configuration"
                metadata = await self._get_json(url)
                if metadata.get("issuer") != self._issuer:
                    raise UpstreamBadResponse(
                        f"The discovery document at {url} names the issuer "
                        f"{metadata.get('issuer')!r}, not OIDC_ISSUER {self._issuer!r}."
                    )
                for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(metadata.get(field), str):
                        raise UpstreamBadResponse(
                            f"The discovery document at {url} has no {field}."
                        )
                self._metadata = metadata
            return self._metadata

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        metadata = await self._discovery()
        async with self._lock:
            if self._keys is None or refresh:
                # the provider's JWKS document, a key set as joserfc serialises one
                jwks = cast("KeySetSerialization", await self._get_json(metadata["jwks_uri"]))
                self._keys = KeySet.import_key_set(jwks)
            return self._keys

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as http:
                reply = await http.get(url)
                reply.raise_for_status()
                body = reply.json()
        except (httpx.HTTPError, ValueError, RecursionError) as exc:  # nested past the parser
            raise UpstreamUnavailable(
                f"The sign-in provider's {url} could not be read: {exc}"
            ) from None
        if not isinstance(body, dict):
            raise UpstreamBadResponse(f"The sign-in provider's {url} is not a JSON object.")
        return body
