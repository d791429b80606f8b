"""Settings grouped by feature: every flat environment name still lands in its group's field,
from the environment (any case) and from `.env`, and keywords name fields, not groups."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Literal

import annotated_types
import pytest
from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo

from backend.config import (
    GROUP_OF,
    SETTING_AT,
    EvaluationSettings,
    Settings,
    environment_name,
    setting_groups,
)
from backend.config_docs import CONFIG_DOC, ENV_EXAMPLE

#: Values the generic rules below cannot make up (schemes, host names without a port, ...).
SPECIAL = {
    "database_url": "postgresql://u:p@db.example:5432/almanac",
    "redis_url": "redis://cache.example:6379/0",
    "oidc_issuer": "https://issuer.example",
    "oidc_redirect_uri": "https://a.example/api/auth/callback",
    "public_url": "https://a.example",
    "s3_endpoint_url": "http://127.0.0.1:9000",
    "allowed_hosts": "a.example,b.example",
    "cors_origins": "https://b.example",
    "oidc_allowed_domains": "example.org",
    "log_level": "DEBUG",
    "mcp_servers": '{"t": {"command": "x"}}',
    "mcp_tools_allowed": "t__y",
    "ocr_language": "eng+deu",
}


def _bounds(field: FieldInfo) -> tuple[float, float]:
    low, high = float("-inf"), float("inf")
    for rule in field.metadata:
        if isinstance(rule, annotated_types.Ge | annotated_types.Gt):
            bound = rule.ge if isinstance(rule, annotated_types.Ge) else rule.gt
            assert isinstance(bound, int | float)
            low = float(bound)
        if isinstance(rule, annotated_types.Le | annotated_types.Lt):
            top = rule.le if isinstance(rule, annotated_types.Le) else rule.lt
            assert isinstance(top, int | float)
            high = float(top)
    return low, high


def _value(name: str, field: FieldInfo) -> str:
    """A valid value for the field, other than its default, as the environment writes it."""
    if name in SPECIAL:
        return SPECIAL[name]
    default = field.get_default(call_default_factory=True)
    kind = field.annotation
    if typing.get_origin(kind) in (typing.Union, types.UnionType):  # X | None
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if typing.get_origin(kind) is Literal:
        return next(str(c) for c in typing.get_args(kind) if c != default)
    if kind is bool:
        return "false" if default else "true"
    if kind in (int, float):
        low, high = _bounds(field)
        base = default if default is not None else max(low, 1)
        for raw in (base + 1, base - 1, (low + base) / 2, (base + high) / 2):
            candidate = kind(raw)
            if low <= candidate <= high and candidate not in (default, low, high):
                return str(candidate)
        raise AssertionError(f"no test value for {name}")
    if kind is Path:
        return f"/srv/almanac-test/{name}"
    return f"set-{name}"


def _plain(value: object) -> object:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _every_value() -> dict[str, str]:
    """A value for every setting, by environment name (lower-case)."""
    return {
        env: _value(env, group.model_fields[name])
        for _, group in setting_groups()
        for name, env in group.environment_names().items()
    }


def _assert_all_landed(settings: Settings, values: dict[str, str]) -> None:
    for env, text in values.items():
        group_name, name = SETTING_AT[env]
        group = getattr(settings, group_name)
        field = type(group).model_fields[name]
        got = _plain(getattr(group, name))
        assert got != field.get_default(call_default_factory=True), env
        assert str(got).lower() == text.lower(), (env, got, text)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in GROUP_OF:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("clean_environment")
def test_every_environment_name_lands_in_its_group(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _every_value()
    for i, (name, text) in enumerate(values.items()):
        # Case-insensitive: every other name lower-case.
        monkeypatch.setenv(name.upper() if i % 2 else name, text)
    _assert_all_landed(Settings(_env_file=None), values)


@pytest.mark.usefixtures("clean_environment")
def test_every_name_in_a_dotenv_file_lands_in_its_group(tmp_path: Path) -> None:
    values = _every_value()
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{n.upper()}={t}\n" for n, t in values.items()))
    _assert_all_landed(Settings(_env_file=env_file), values)


@pytest.mark.usefixtures("clean_environment")
def test_the_environment_outranks_dotenv_and_keywords_outrank_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=8001\nHOST=0.0.0.0\nSQL_MAX_ROWS=7\n")
    monkeypatch.setenv("PORT", "8002")
    monkeypatch.setenv("SQL_MAX_ROWS", "9")
    settings = Settings(_env_file=env_file, sql_max_rows=11)
    assert (settings.server.port, settings.server.host) == (8002, "0.0.0.0")
    assert settings.tables.sql_max_rows == 11


@pytest.mark.usefixtures("clean_environment")
def test_flat_keywords_go_to_their_groups_and_a_group_keyword_is_taken_whole() -> None:
    values = _every_value()
    _assert_all_landed(Settings(_env_file=None, **values), values)  # type: ignore[arg-type]  # every field by keyword, as the environment gives them
    auth = Settings(_env_file=None).auth.model_copy(update={"session_hours": 3})
    assert Settings(_env_file=None, auth=auth).auth.session_hours == 3


@pytest.mark.usefixtures("clean_environment")
def test_a_variable_named_like_a_group_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH", "not json")
    monkeypatch.setenv("SERVER", '{"port": 1}')
    settings = Settings(_env_file=None)
    assert settings.server.port == 8000 and settings.auth.enabled is False


@pytest.mark.usefixtures("clean_environment")
def test_a_bad_value_is_reported_under_its_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "70000")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    assert caught.value.errors()[0]["loc"] == ("server", "port")
    assert environment_name(caught.value.errors()[0]["loc"]) == "PORT"
    monkeypatch.setenv("PORT", "8000")
    monkeypatch.setenv("OIDC_CLIENT_ID", "almanac")  # without its secret: a check across fields
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    assert environment_name(caught.value.errors()[0]["loc"]) == ""
    assert "OIDC_CLIENT_SECRET" in caught.value.errors()[0]["msg"]


def test_updated_validates_the_changed_group_again(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "a")
    assert settings.storage.app_db_path == tmp_path / "a" / "app.db"
    moved = settings.updated(data_dir=tmp_path / "b", sql_max_rows=5)
    assert moved.storage.app_db_path == tmp_path / "b" / "app.db"
    assert moved.tables.sql_max_rows == 5 and settings.tables.sql_max_rows == 200
    with pytest.raises(ValidationError):
        settings.updated(cors_origins="*", cors_allow_credentials=True)


def test_the_docs_list_each_environment_name_once_under_its_group() -> None:
    env_example, doc = ENV_EXAMPLE.read_text(), CONFIG_DOC.read_text()
    for name in GROUP_OF:
        assert env_example.count(f"\n# {name.upper()}=") == 1, name
        assert doc.count(f"| `{name.upper()}` |") == 1, name
    for _, group in setting_groups():
        title = group.model_config.get("title")
        assert f"\n# --- {title} ---\n" in env_example and f"\n### {title}\n" in doc
        first = next(iter(group.environment_names().values())).upper()
        assert doc.index(f"\n### {title}\n") < doc.index(f"| `{first}` |")


@pytest.mark.usefixtures("clean_environment")
def test_a_field_without_its_groups_prefix_keeps_its_environment_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVAL_CONCURRENCY", "3")
    monkeypatch.setenv("JOB_CONCURRENCY", "5")
    settings = Settings(_env_file=None, chat_file_max_bytes=2048)
    assert (settings.evaluation.concurrency, settings.jobs.concurrency) == (3, 5)
    assert settings.chat_files.max_bytes == 2048
    assert settings.updated(eval_concurrency=7).evaluation.concurrency == 7
    assert SETTING_AT["eval_concurrency"] == ("evaluation", "concurrency")
    assert EvaluationSettings(eval_concurrency=2).concurrency == 2  # a group: the same name
    with pytest.raises(ValidationError):  # one name per setting: the short one is no keyword
        EvaluationSettings(concurrency=2)  # type: ignore[call-arg]  # the refused short name
    with pytest.raises(TypeError, match="CONCURRENCY is no setting"):
        settings.updated(concurrency=2)
    assert not hasattr(settings.evaluation, "eval_concurrency")


@pytest.mark.usefixtures("clean_environment")
def test_a_bad_value_of_a_renamed_field_names_its_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVAL_CONCURRENCY", "0")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    assert environment_name(caught.value.errors()[0]["loc"]) == "EVAL_CONCURRENCY"
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, evaluation={"eval_concurrency": 0})
    assert environment_name(caught.value.errors()[0]["loc"]) == "EVAL_CONCURRENCY"
    # a location by field name (a group validated by its own code) names the variable too
    assert environment_name(("evaluation", "concurrency")) == "EVAL_CONCURRENCY"
    assert environment_name(("server", "port")) == "PORT"
