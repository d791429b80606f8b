"""A knowledge base's own words come from its lexicon file, never from code: loading it,
refusing a broken one with a message naming it, and choosing which one a deployment uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.components import load_lexicon
from backend.config import Settings
from services.offline.lexicon import EMPTY, Lexicon, LexiconError
from services.offline.match import match
from services.offline.text import stem
from services.offline.tuning import DEFAULT_TUNING
from use_cases.shared.errors import ConfigurationError


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_lexicon_file_gives_synonyms_acronyms_abbreviations_and_phrases(tmp_path: Path) -> None:
    lexicon = Lexicon.load(
        _write(
            tmp_path / "lexicon.json",
            {
                "synonyms": [["kettle", "boiler"]],
                "acronyms": {"HX": "heat exchanger"},
                "abbreviations": {"maint": "maintenance"},
                "phrases": [{"pattern": r"\bgone\s+cold\b", "replace": "failed"}],
            },
        )
    )
    synonym = DEFAULT_TUNING.score.synonym_credit
    assert match(stem("kettle"), {stem("boiler")}, lexicon=lexicon) == synonym
    assert lexicon.expand_abbreviations("the Maint lead") == "the maintenance lead"
    assert match(stem("kettle"), {stem("boiler")}) == 0.0  # English alone knows no such pair
    assert lexicon.rewrite("the HX has gone cold") == "the heat exchanger has failed"
    assert lexicon.rewrite("the hx is fine") == "the hx is fine"  # acronyms as typed


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot be read"),
        (json.dumps({"synonym": []}), "unknown keys ['synonym']"),
        (json.dumps({"phrases": [{"pattern": "(", "replace": ""}]}), "missing"),
        (json.dumps({"column_hints": [{"pattern": "x"}]}), "column"),
    ],
)
def test_a_broken_lexicon_is_refused_naming_the_file(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "mine.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LexiconError) as caught:
        Lexicon.load(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_the_sample_lexicon_applies_only_while_the_sample_is_loaded(tmp_path: Path) -> None:
    mine = _write(tmp_path / "mine.json", {"synonyms": [["a1", "b1"]]})
    with_sample = Settings(_env_file=None, data_dir=tmp_path)
    assert load_lexicon(with_sample).synonym_groups  # the bundled sample's
    alone = Settings(_env_file=None, data_dir=tmp_path, load_sample_data=False)
    assert load_lexicon(alone) == EMPTY  # your documents are read with English alone
    own = Settings(_env_file=None, data_dir=tmp_path, load_sample_data=False, lexicon_file=mine)
    assert load_lexicon(own).synonym_groups == (("a1", "b1"),)


def test_a_broken_lexicon_stops_start_up_with_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("[", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"bad\.json"):
        load_lexicon(Settings(_env_file=None, data_dir=tmp_path, lexicon_file=path))
