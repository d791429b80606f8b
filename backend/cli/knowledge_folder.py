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

The knowledge base is named once (`active_knowledge`): every other `almanac` command acts on
the one chosen, first of
1. DATA_DIR when it is set (environment or `.env`): it always wins;
2. `almanac --knowledge PATH ...`, then the ALMANAC_KNOWLEDGE environment variable (a folder);
3. the one `almanac serve --knowledge PATH` served last from this working directory: serving
   records it in `data/active-knowledge.json` (under the default data directory, so the same
   checkout finds it), and a plain `almanac serve` (the default knowledge base) forgets it;
4. else the default data directory.
A command acting on a knowledge base chosen so (2 or 3) says so in its first line, on stderr
(so `--json` output stays clean), and so does one whose DATA_DIR overrides a knowledge base
named by 2. DATA_DIR alone says nothing: the server and every command read it alike.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
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


#: The environment variable naming a knowledge base's folder for every `almanac` command.
KNOWLEDGE_ENV = "ALMANAC_KNOWLEDGE"

#: Where `almanac serve --knowledge PATH` records the knowledge base it serves (relative, as
#: the default DATA_DIR is: the working directory's, i.e. the checkout's for `make run`).
ACTIVE_KNOWLEDGE_FILE = Path("data") / "active-knowledge.json"


@dataclass(frozen=True)
class ActiveKnowledge:
    """The knowledge base a command acts on: `folder`'s, in `data_dir`, chosen by `origin`."""

    folder: Path
    data_dir: Path
    origin: str


def active_knowledge(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> ActiveKnowledge | None:
    """The knowledge base chosen for `settings` (see the module rules), None for DATA_DIR's
    or the default one. A state file that cannot be read is ignored."""
    environ = os.environ if environ is None else environ
    if "data_dir" in settings.storage.model_fields_set:
        return None
    named = environ.get(KNOWLEDGE_ENV, "").strip()
    if named:
        folder = Path(named).expanduser().resolve()
        origin = f"--knowledge or {KNOWLEDGE_ENV}"
        return ActiveKnowledge(folder, knowledge_data_dir(folder, environ), origin)
    try:
        recorded = json.loads(ACTIVE_KNOWLEDGE_FILE.read_text(encoding="utf-8"))
        folder, data_dir = Path(recorded["folder"]), Path(recorded["data_dir"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    origin = f"served last by `almanac serve --knowledge`, {ACTIVE_KNOWLEDGE_FILE}"
    return ActiveKnowledge(folder, data_dir, origin)


def active_settings(settings: Settings, environ: Mapping[str, str] | None = None) -> Settings:
    """`settings` acting on the chosen knowledge base (unchanged when there is none)."""
    chosen = active_knowledge(settings, environ)
    if chosen is None:
        return settings
    return settings.updated(load_sample_data=False, data_dir=chosen.data_dir)


def record_served(settings: Settings, folder: Path | None) -> None:
    """Record the knowledge base `almanac serve` serves (None: the default one) for the other
    commands; nothing when DATA_DIR is set (it wins anyway)."""
    if "data_dir" in settings.storage.model_fields_set:
        return
    if folder is None:
        ACTIVE_KNOWLEDGE_FILE.unlink(missing_ok=True)
        return
    resolved = folder.resolve()
    record = {"folder": str(resolved), "data_dir": str(knowledge_data_dir(resolved))}
    ACTIVE_KNOWLEDGE_FILE.parent.mkdir(parents=True, exist_ok=True)
    ACTIVE_KNOWLEDGE_FILE.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def acting_on_line(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """The first line of a command acting on another data directory than the default one,
    None when it acts on the default one."""
    environ = os.environ if environ is None else environ
    chosen = active_knowledge(settings, environ)
    if chosen is not None:
        return f"Knowledge base of {chosen.folder} in {chosen.data_dir} ({chosen.origin})"
    named = environ.get(KNOWLEDGE_ENV, "").strip()
    if named and "data_dir" in settings.storage.model_fields_set:
        return (
            f"Data directory {settings.storage.data_dir} (DATA_DIR, which wins over the "
            f"knowledge base of {named})"
        )
    return None
