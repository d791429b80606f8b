"""Render `.env.example` and the configuration table of docs/configuration.md from `Settings`.

`python -m backend.config_docs --write` regenerates both; a test fails when they drift.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from backend.config import PROJECT_ROOT, Settings

ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
CONFIG_DOC = PROJECT_ROOT / "docs" / "configuration.md"
TABLE_START = "<!-- settings-table:start -->"
TABLE_END = "<!-- settings-table:end -->"

_SECTIONS = {
    "host": "Server",
    "auth_enabled": "Authentication",
    "max_json_body_bytes": "HTTP limits and security",
    "data_dir": "Storage",
    "embedding_provider": "Embeddings",
    "chunk_tokens": "Chunking",
    "vector_search_limit": "Retrieval",
    "default_model": "Chat and models",
    "recalibration_min_feedback": "Calibration",
    "openai_api_key": "Providers",
}


def _default(name: str, field: FieldInfo) -> str:
    if name == "models_dir":
        return "~/.cache/almanac/models"
    if name in ("sample_data_dir", "sample_tables_dir", "sample_lexicon_file"):
        value = field.get_default(call_default_factory=True)
        return Path(value).relative_to(PROJECT_ROOT).as_posix()
    value: Any = field.get_default(call_default_factory=True)
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def render_env_example() -> str:
    lines = [
        "# Almanac configuration. Copy to `.env` and uncomment what you change.",
        "# Every setting is also read from the environment (names are case-insensitive).",
        "# With nothing set, Almanac runs offline on its embedded defaults.",
    ]
    for name, field in Settings.model_fields.items():
        if name in _SECTIONS:
            lines += ["", f"# --- {_SECTIONS[name]} ---"]
        lines.append(f"# {field.description}")
        lines.append(f"# {name.upper()}={_default(name, field)}")
    return "\n".join(lines) + "\n"


def render_table() -> str:
    rows = ["| Variable | Default | Description |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = _default(name, field)
        rows.append(
            f"| `{name.upper()}` | {f'`{default}`' if default else '—'} | {field.description} |"
        )
    return "\n".join(rows)


def render_config_doc(current: str) -> str:
    head, _, rest = current.partition(TABLE_START)
    _, _, tail = rest.partition(TABLE_END)
    return f"{head}{TABLE_START}\n{render_table()}\n{TABLE_END}{tail}"


def main(argv: list[str]) -> int:
    env = render_env_example()
    doc = render_config_doc(CONFIG_DOC.read_text())
    if "--write" in argv:
        ENV_EXAMPLE.write_text(env)
        CONFIG_DOC.write_text(doc)
        return 0
    stale = [p.name for p, text in ((ENV_EXAMPLE, env), (CONFIG_DOC, doc)) if p.read_text() != text]
    if stale:
        print(f"Out of date: {', '.join(stale)}; run python -m backend.config_docs --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
