"""docs/local-models.md stays true to the code: its options table lists every `ModelOptions`
field with the defaults the code has, and each `MODEL_OPTIONS` example it shows is accepted."""

from __future__ import annotations

import re
import shlex
from dataclasses import fields

import pytest

from backend.config import PROJECT_ROOT
from services.chat.model_options import (
    COMPATIBLE_SERVER,
    HOSTED,
    ModelOptions,
    parse_model_options,
)

DOC = (PROJECT_ROOT / "docs" / "local-models.md").read_text()
ROW = re.compile(r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \|", flags=re.M)
EXAMPLE = re.compile(r"MODEL_OPTIONS=('[^']*')")
SETTINGS = {
    "request_timeout_s": "`PROVIDER_TIMEOUT`",
    "turn_timeout_s": "`AGENT_TIMEOUT`",
    "max_tokens": "the provider's default",
    "structured_temperature": "the provider's default",
}


def _shown(options: ModelOptions, name: str) -> str:
    value = getattr(options, name)
    if value is None:
        return SETTINGS.get(name, "unbounded")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value) if isinstance(value, int) else f"`{value}`"


def test_the_options_table_has_every_option_with_the_codes_defaults() -> None:
    rows = {
        name: (hosted.strip(), compatible.strip()) for name, hosted, compatible in ROW.findall(DOC)
    }
    assert set(rows) == {f.name for f in fields(ModelOptions)}
    for name, (hosted, compatible) in rows.items():
        assert (hosted, compatible) == (_shown(HOSTED, name), _shown(COMPATIBLE_SERVER, name))


@pytest.mark.parametrize("example", EXAMPLE.findall(DOC) + re.findall(r"`(\{\"\*\": [^`]+)`", DOC))
def test_each_model_options_example_is_accepted(example: str) -> None:
    text = shlex.split(example)[0] if example.startswith("'") else example
    assert parse_model_options(text)


@pytest.mark.parametrize("page", ["docs/local-models.md", "docs/guide.md"])
def test_the_three_settings_shown_are_those_the_real_model_tests_use(page: str) -> None:
    """The line a user copies names the port `make local-model` serves on and the name it
    serves the model under; tests/local_model runs Almanac with those three settings alone."""
    from tests.local_model_server import MODEL_NAME, local_model_tool

    text = (PROJECT_ROOT / page).read_text()
    line = next(line for line in text.splitlines() if line.startswith("OPENAI_BASE_URL="))
    settings = dict(word.split("=", 1) for word in shlex.split(line) if "=" in word)
    port = local_model_tool().DEFAULT_PORT
    assert settings == {
        "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "OPENAI_API_KEY": "local",
        "DEFAULT_MODEL": f"openai:{MODEL_NAME}",
    }
    assert local_model_tool().DEFAULT_MODEL_NAME == MODEL_NAME
