"""The clean tables of the cleaning benchmark, read from disk (the `TableSource` port).

Two kinds of folder: a folder of sample CSV files (each file a table named by its stem; its
first column is the key when its values are unique), and a folder of real tables, one
sub-folder each with `table.csv` and `table.json` (title, source, licence, sha256, key,
units). A real table whose file does not match its recorded sha256 is refused (rebuild it
with `python bench/cleaning_tables.py rebuild`).
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path

from use_cases.cleaning.domain import SourceTable, Table, content_version
from use_cases.shared.errors import ConfigurationError

SAMPLE_SOURCE = "Almanac sample data (sample_data/tables), written for the project"
SAMPLE_LICENCE = "CC0-1.0"


class CsvTableSource:
    def __init__(self, sample_dir: Path | None, real_dir: Path | None) -> None:
        self._sample_dir = sample_dir
        self._real_dir = real_dir
        self._cache: list[SourceTable] | None = None

    def list(self) -> list[SourceTable]:
        if self._cache is None:
            self._cache = sorted(self._read(), key=lambda s: s.name)
        return list(self._cache)

    def _read(self) -> builtins.list[SourceTable]:
        found: list[SourceTable] = []
        if self._sample_dir is not None and self._sample_dir.is_dir():
            for path in sorted(self._sample_dir.glob("*.csv")):
                found.append(_sample(path))
        if self._real_dir is not None and self._real_dir.is_dir():
            for meta_path in sorted(self._real_dir.glob("*/table.json")):
                found.append(_real(meta_path))
        return found


def _sample(path: Path) -> SourceTable:
    text = path.read_text(encoding="utf-8-sig")
    table = Table.from_csv(path.stem, text)
    first = table.column(table.columns[0])
    key = table.columns[0] if len(set(first)) == len(first) else None
    return SourceTable(
        table=table,
        title=path.stem.replace("_", " ").capitalize(),
        source=SAMPLE_SOURCE,
        licence=SAMPLE_LICENCE,
        version=content_version(text),
        key=key,
    )


def _real(meta_path: Path) -> SourceTable:
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    text = (meta_path.parent / "table.csv").read_text(encoding="utf-8")
    version = content_version(text)
    if version != meta["sha256"]:
        raise ConfigurationError(
            f"{meta_path.parent.name}/table.csv does not match the sha256 in its table.json: "
            "rebuild it with `python bench/cleaning_tables.py rebuild`."
        )
    return SourceTable(
        table=Table.from_csv(meta.get("name", meta_path.parent.name), text),
        title=meta["title"],
        source=meta["source"],
        licence=meta["licence"],
        version=version,
        key=meta.get("key"),
        units=dict(meta.get("units") or {}),
    )
