"""Where `almanac serve --knowledge PATH` keeps a folder's knowledge base, and that the
bundled sample stays out of it (backend/cli/knowledge_folder.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.cli.knowledge_folder import knowledge_data_dir, knowledge_settings
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
