"""A real OpenID Connect provider for the tests: `oidc-provider-mock` (a dev dependency, an
Authlib-based provider) on a free local port, once per test session. It publishes a
discovery document and keys, signs real ID tokens, and signs in whichever subject its
authorization form is posted with; `PUT /users/{sub}` sets that subject's claims."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[str]:
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"
