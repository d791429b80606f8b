"""`.env.example` and docs/configuration.md are generated from `Settings` and must match it."""

from __future__ import annotations

from backend.config import Settings
from backend.config_docs import CONFIG_DOC, ENV_EXAMPLE, render_config_doc, render_env_example


def test_env_example_lists_every_setting_and_is_up_to_date() -> None:
    text = ENV_EXAMPLE.read_text()
    assert text == render_env_example(), "run: python -m backend.config_docs --write"
    for name in Settings.model_fields:
        assert f"# {name.upper()}=" in text


def test_configuration_doc_table_is_up_to_date() -> None:
    current = CONFIG_DOC.read_text()
    assert current == render_config_doc(current), "run: python -m backend.config_docs --write"


def test_every_setting_has_a_description() -> None:
    assert all(field.description for field in Settings.model_fields.values())
