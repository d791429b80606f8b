"""The bundled sample's lexicon, for tests of the answerer on handbook-like fixtures: the
sample's own words (its synonyms, abbreviations, phrases, column hints) are data, loaded
from `sample_data/lexicon.json` as the application loads them, and passed to the functions
that read them as the offline model passes its knowledge base's."""

from __future__ import annotations

from backend.config import PROJECT_ROOT
from services.offline.lexicon import Lexicon

SAMPLE_LEXICON = Lexicon.load(PROJECT_ROOT / "sample_data" / "lexicon.json")
