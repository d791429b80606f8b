"""The bundled sample's lexicon, for tests of the answerer on handbook-like fixtures: the
sample's own words (its synonyms, abbreviations, phrases, column hints) are data, loaded
from `sample_data/lexicon.json` as the application loads them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backend.config import PROJECT_ROOT
from services.offline.lexicon import Lexicon, using

SAMPLE_LEXICON = Lexicon.load(PROJECT_ROOT / "sample_data" / "lexicon.json")


@pytest.fixture
def sample_lexicon() -> Iterator[Lexicon]:
    """The sample's lexicon in force for the test (as the offline model sets it per turn)."""
    with using(SAMPLE_LEXICON) as lexicon:
        yield lexicon
