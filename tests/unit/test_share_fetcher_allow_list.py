"""The import allow-list matches a host and its port: an entry without a port allows only the
scheme's default port, `host:port` only that port (services/conversations/share_fetcher.py)."""

from __future__ import annotations

import pytest

from services.conversations.share_fetcher import host_allowed

ALLOWED = ("chatgpt.com", "127.0.0.1:8123", "[::1]:9000")


@pytest.mark.parametrize(
    ("host", "port", "scheme", "allowed"),
    [
        ("chatgpt.com", 443, "https", True),
        ("cdn.chatgpt.com", 443, "https", True),
        ("chatgpt.com", 80, "http", True),
        ("chatgpt.com", 8443, "https", False),
        ("chatgpt.com", 22, "https", False),
        ("evilchatgpt.com", 443, "https", False),
        ("127.0.0.1", 8123, "http", True),
        ("127.0.0.1", 8124, "http", False),
        ("127.0.0.1", 80, "http", False),
        ("::1", 9000, "http", True),
        ("::1", 443, "https", False),
    ],
)
def test_the_allow_list_matches_host_and_port(
    host: str, port: int, scheme: str, allowed: bool
) -> None:
    assert host_allowed(host, port, scheme, ALLOWED) is allowed


def test_an_entry_with_a_port_that_is_not_a_number_allows_nothing() -> None:
    assert not host_allowed("chatgpt.com", 443, "https", ("chatgpt.com:https",))
