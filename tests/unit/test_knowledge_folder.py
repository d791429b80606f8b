"""Where `almanac serve --knowledge PATH` keeps a folder's knowledge base, and that the
bundled sample stays out of it (backend/cli/knowledge_folder.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from backend.cli.knowledge_folder import (
    KNOWLEDGE_ENV,
    knowledge_data_dir,
    knowledge_settings,
    record_served,
)
from backend.cli.main import app
from backend.config import Settings
from tests.conftest import make_settings


def test_a_folder_gets_a_data_dir_of_its_own_found_again_from_anywhere(tmp_path: Path) -> None:
    environ = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    one, other = tmp_path / "a" / "docs", tmp_path / "b" / "docs"

    first = knowledge_data_dir(one, environ)

    assert first.parent == tmp_path / "xdg" / "almanac" / "knowledge"
    assert first.name.startswith("docs-")
    assert knowledge_data_dir(one / ".." / "docs", environ) == first
    assert knowledge_data_dir(other, environ) != first  # same name, another folder


def test_without_xdg_data_home_it_is_under_the_home_directory(tmp_path: Path) -> None:
    assert knowledge_data_dir(tmp_path, {}).is_relative_to(Path.home() / ".local" / "share")


def test_the_sample_is_off_and_data_dir_kept_when_it_is_set(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "mine", load_sample_data=True)

    served = knowledge_settings(settings, tmp_path / "docs")

    assert served.knowledge_base.load_sample_data is False
    assert served.knowledge_base.effective_lexicon_file is None  # no sample lexicon either
    assert served.storage.data_dir == tmp_path / "mine"  # DATA_DIR was given


def test_an_unset_data_dir_becomes_the_folders_own(tmp_path: Path, monkeypatch: object) -> None:

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env

    served = knowledge_settings(Settings(), tmp_path / "docs")

    assert served.storage.data_dir == knowledge_data_dir(tmp_path / "docs")
    assert served.storage.app_db_path.parent == served.storage.data_dir


def _cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A working directory of its own (its `data/` is the default data directory), no
    DATA_DIR, and the folders' knowledge bases under tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATA_DIR", raising=False)
    monkeypatch.delenv(KNOWLEDGE_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return {"LOG_LEVEL": "WARNING", "COLUMNS": "200"}


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "company"
    folder.mkdir()
    (folder / "helpdesk.md").write_text("# IT helpdesk\n\nThe helpdesk extension is 4357.\n")
    return folder


def _sources(result: Result) -> list[str]:
    return [d["source"] for d in json.loads(result.stdout)["documents"]]


def test_commands_act_on_the_knowledge_base_served_last_and_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _cli_env(tmp_path, monkeypatch)
    folder = _folder(tmp_path)
    runner = CliRunner()
    ingested = runner.invoke(app, ["--knowledge", str(folder), "ingest", str(folder)], env=env)
    assert ingested.exit_code == 0, ingested.output

    record_served(Settings(), folder)  # what `almanac serve --knowledge FOLDER` records
    listed = runner.invoke(app, ["docs", "list", "--json"], env=env)

    assert listed.exit_code == 0, listed.output
    assert _sources(listed) == ["helpdesk.md"]  # the folder's, not the default (empty) one
    first = listed.stderr.splitlines()[0]
    assert str(folder) in first and str(knowledge_data_dir(folder)) in first

    record_served(Settings(), None)  # a plain `almanac serve`: the default knowledge base
    default = runner.invoke(app, ["docs", "list", "--json"], env=env)
    assert default.exit_code == 0, default.output
    assert _sources(default) == [] and default.stderr == ""


def test_the_environment_variable_names_it_and_data_dir_always_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _cli_env(tmp_path, monkeypatch)
    folder = _folder(tmp_path)
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest", str(folder)], env={**env, KNOWLEDGE_ENV: str(folder)})
    assert ingested.exit_code == 0, ingested.output

    named = runner.invoke(app, ["docs", "list", "--json"], env={**env, KNOWLEDGE_ENV: str(folder)})
    assert _sources(named) == ["helpdesk.md"]

    own = str(tmp_path / "own")
    wins = runner.invoke(
        app, ["docs", "list", "--json"], env={**env, KNOWLEDGE_ENV: str(folder), "DATA_DIR": own}
    )
    assert wins.exit_code == 0, wins.output
    assert _sources(wins) == []
    assert wins.stderr.splitlines()[0] == (
        f"Data directory {own} (DATA_DIR, which wins over the knowledge base of {folder})"
    )
    alone = runner.invoke(app, ["docs", "list", "--json"], env={**env, "DATA_DIR": own})
    assert alone.exit_code == 0 and alone.stderr == ""  # as the server reads it: nothing to say
