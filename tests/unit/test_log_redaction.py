"""`redact_secrets` removes credentials by their shape and leaves other text alone."""

from __future__ import annotations

import pytest

from backend.api.middleware import redact_query
from backend.logging import escape_controls, redact_secrets

KEY = "alm_" + "Ab3_-x" * 7 + "Z"  # the shape `almanac keys create` prints: alm_ + 43
SESSION = "ses_" + "Qz9-_k" * 7 + "Y"  # a browser session's secret: ses_ + 43


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"x-whatever: {KEY}", "x-whatever: alm_REDACTED"),
        (f"'authorization': 'Bearer {KEY}'", "'authorization': 'Bearer REDACTED'"),
        ("authorization: bearer sk-123456", "authorization: bearer REDACTED"),
        ("a=1&b=Bearer%20opaque-token&c=2", "a=1&b=Bearer REDACTED&c=2"),
        ("q=Bearer+opaque-token", "q=Bearer REDACTED"),
        ("alm_short and alm_made-up stay", "alm_short and alm_made-up stay"),
        ("GET /chats?limit=5 -> 200", "GET /chats?limit=5 -> 200"),
    ],
)
def test_redacts_keys_and_bearer_tokens_by_their_shape(text: str, expected: str) -> None:
    assert redact_secrets(text) == expected


def test_a_query_keeps_its_other_parameters() -> None:
    assert redact_query(f"foo={KEY}&api_key=x&keyword=kept") == (
        "foo=alm_REDACTED&api_key=REDACTED&keyword=kept"
    )


def test_a_session_secret_is_redacted_whatever_its_parameter_name() -> None:
    assert redact_query(f"almanac_session={SESSION}&limit=5") == (
        "almanac_session=REDACTED&limit=5"
    )
    assert redact_query(f"s={SESSION}") == "s=ses_REDACTED"
    assert redact_secrets(f"cookie: almanac_session={SESSION}") == (
        "cookie: almanac_session=ses_REDACTED"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/chats/x\n2026-11-27 | WARNING | FORGED", "/chats/x\\n2026-11-27 | WARNING | FORGED"),
        ("a\r\nb", "a\\r\\nb"),
        ("colour \x1b[31mred", "colour \\x1b[31mred"),
        ("line\u2028separator", "line\\u2028separator"),
        ("tab\there", "tab\\there"),
        ("plain text, é and ✓ stay", "plain text, é and ✓ stay"),
    ],
)
def test_control_characters_are_escaped_onto_one_line(text: str, expected: str) -> None:
    assert escape_controls(text) == expected
