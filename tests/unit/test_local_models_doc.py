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
SETTINGS = {"request_timeout_s": "`PROVIDER_TIMEOUT`", "turn_timeout_s": "`AGENT_TIMEOUT`"}


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
