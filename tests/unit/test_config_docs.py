"""`.env.example` and docs/configuration.md are generated from `Settings` and must match it."""

from __future__ import annotations

from backend.config import GROUP_OF, setting_groups
from backend.config_docs import CONFIG_DOC, ENV_EXAMPLE, render_config_doc, render_env_example


def test_env_example_lists_every_setting_and_is_up_to_date() -> None:
    text = ENV_EXAMPLE.read_text()
    assert text == render_env_example(), "run: python -m backend.config_docs --write"
    for name in GROUP_OF:
        assert f"# {name.upper()}=" in text


def test_configuration_doc_table_is_up_to_date() -> None:
    current = CONFIG_DOC.read_text()
    assert current == render_config_doc(current), "run: python -m backend.config_docs --write"


def test_every_setting_has_a_description_and_every_group_a_title_and_docstring() -> None:
    for _, group in setting_groups():
        assert group.model_config.get("title") and group.__doc__, group.__name__
        assert all(field.description for field in group.model_fields.values()), group.__name__
