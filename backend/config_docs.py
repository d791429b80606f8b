"""Render `.env.example` and the settings tables of docs/configuration.md from `Settings`:
one section per settings group (`backend.config.SettingsGroup`), in declaration order.

`python -m backend.config_docs --write` regenerates both; a test fails when they drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic.fields import FieldInfo

from backend.config import PROJECT_ROOT, DocumentSettings, SettingsGroup, setting_groups
from services.knowledge.loaders import ENTRY_POINT_GROUP, SUPPORTED_EXTENSIONS

ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
CONFIG_DOC = PROJECT_ROOT / "docs" / "configuration.md"
TABLE_START = "<!-- settings-table:start -->"
TABLE_END = "<!-- settings-table:end -->"


def _default(name: str, field: FieldInfo) -> str:
    if name == "models_dir":
        return "~/.cache/almanac/models"
    if name in ("sample_data_dir", "sample_tables_dir", "sample_lexicon_file"):
        value = field.get_default(call_default_factory=True)
        return Path(value).relative_to(PROJECT_ROOT).as_posix()
    value = field.get_default(call_default_factory=True)
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _title(group: type[SettingsGroup]) -> str:
    return str(group.model_config.get("title"))


def _intro(group: type[SettingsGroup]) -> str:
    intro = " ".join((group.__doc__ or "").split())
    if group is DocumentSettings:  # the file types follow the loader registry
        intro += (
            " The file types read, from the loader registry (docs/guide.md#file-types): "
            + " ".join(SUPPORTED_EXTENSIONS)
            + f"; an installed package of the `{ENTRY_POINT_GROUP}` entry point adds its own."
        )
    return intro


def render_env_example() -> str:
    lines = [
        "# Almanac configuration. Copy to `.env` and uncomment what you change.",
        "# Every setting is also read from the environment (names are case-insensitive).",
        "# With nothing set, Almanac runs offline on its embedded defaults.",
    ]
    for _, group in setting_groups():
        lines += ["", f"# --- {_title(group)} ---", f"# {_intro(group)}"]
        envs = group.environment_names()
        for name, field in group.model_fields.items():
            lines.append(f"# {field.description}")
            lines.append(f"# {envs[name].upper()}={_default(name, field)}")
    return "\n".join(lines) + "\n"


def render_table() -> str:
    """One section per settings group: its title, its docstring, a table of its fields."""
    sections = []
    for _, group in setting_groups():
        rows = [
            f"### {_title(group)}",
            "",
            _intro(group),
            "",
            "| Variable | Default | Description |",
            "|---|---|---|",
        ]
        envs = group.environment_names()
        for name, field in group.model_fields.items():
            default = _default(name, field)
            shown = f"`{default}`" if default else "—"
            rows.append(f"| `{envs[name].upper()}` | {shown} | {field.description} |")
        sections.append("\n".join(rows))
    return "\n\n".join(sections)


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
