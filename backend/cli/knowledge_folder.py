"""`almanac serve --knowledge PATH` (`make run KNOWLEDGE=PATH`): a knowledge base of one
folder of your own, with nothing of the bundled sample (its handbook, lexicon and tables).

Rules:
- The folder's knowledge base lives in a data directory of its own, so the sample's (or
  another folder's) is never mixed in: DATA_DIR when it is set (environment or `.env`),
  else `$XDG_DATA_HOME/almanac/knowledge/<folder name>-<8 hex of its absolute path>`
  (`~/.local/share/...` without XDG_DATA_HOME): the same folder finds its knowledge base
  again from any working directory. With a postgresql:// DATABASE_URL the documents go to
  that database.
- LOAD_SAMPLE_DATA is off for it, whatever the configuration says.
- Before serving, the folder is ingested as `almanac ingest PATH --prune` does: new and
  changed files are added, unchanged ones skipped, documents whose files are gone removed,
  and each workbook's sheets loaded as tables (`workbook_tables.py`).
  The documents are searchable when the server starts; their answers are prepared by the
  server's job worker (the same answers meanwhile).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from backend.config import Settings


def knowledge_data_dir(folder: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The data directory of `folder`'s own knowledge base (DATA_DIR aside)."""
    environ = os.environ if environ is None else environ
    resolved = folder.resolve()
    digest = hashlib.sha256(resolved.as_posix().encode()).hexdigest()[:8]
    home = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(home) / "almanac" / "knowledge" / f"{resolved.name or 'root'}-{digest}"


def knowledge_settings(settings: Settings, folder: Path) -> Settings:
    """`settings` for serving `folder` alone (see the module rules)."""
    changes: dict[str, object] = {"load_sample_data": False}
    if "data_dir" not in settings.storage.model_fields_set:
        changes["data_dir"] = knowledge_data_dir(folder)
    return settings.updated(**changes)
