"""Where `almanac serve` may listen, and what the server says about authentication at start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from backend.exposure import check_bind, is_loopback, log_auth_status
from tests.conftest import make_settings
from use_cases.shared.errors import ConfigurationError


@pytest.fixture
def logged() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="INFO")
    yield lines
    logger.remove(sink)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("almanac.example.com", False),
        ("", False),
    ],
)
def test_only_loopback_addresses_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_without_authentication_only_loopback_is_allowed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    check_bind("127.0.0.1", settings)
    with pytest.raises(ConfigurationError, match=r"Refusing to listen on 0\.0\.0\.0"):
        check_bind("0.0.0.0", settings)


def test_with_authentication_any_address_is_allowed(tmp_path: Path) -> None:
    check_bind("0.0.0.0", make_settings(tmp_path, auth_enabled=True))


@pytest.mark.parametrize("how", ["flag", "setting"])
def test_forcing_a_network_address_without_authentication_warns(
    tmp_path: Path, logged: list[str], how: str
) -> None:
    settings = make_settings(tmp_path, allow_unauthenticated_network=how == "setting")
    check_bind("0.0.0.0", settings, insecure_bind=how == "flag")
    assert any("authentication OFF (forced)" in line for line in logged)


def test_start_up_says_whether_and_how_requests_are_authenticated(
    tmp_path: Path, logged: list[str]
) -> None:
    log_auth_status(make_settings(tmp_path), usable_keys=0)
    log_auth_status(make_settings(tmp_path, auth_enabled=True), usable_keys=0)
    log_auth_status(make_settings(tmp_path, auth_enabled=True), usable_keys=2)
    off, no_keys, ready = logged
    assert "Authentication is OFF" in off and "'default' with the admin role" in off
    assert "almanac keys create --user YOUR_ID --role admin" in no_keys
    assert "2 active API key(s)" in ready


def test_the_uvicorn_factory_refuses_a_network_host_without_authentication(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backend.api.app import main_app

    monkeypatch.chdir(tmp_path)  # no stray .env
    for name, value in {"HOST": "0.0.0.0", "LOG_LEVEL": "WARNING", "DATA_DIR": "data"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match="AUTH_ENABLED=true"):
        main_app()
    monkeypatch.setenv("AUTH_ENABLED", "true")
    assert main_app().title == "Almanac"
