"""Countries no document names read as "another country" (`services/offline/places.py`)."""

from __future__ import annotations

from services.offline.places import mark_other_countries
from services.offline.vocabulary import KnowledgeVocabulary

KNOWN = KnowledgeVocabulary(
    lambda: (1, ["germany", "portugal", "work", "abroad", "country"]), lambda: 1
).snapshot()


def test_a_country_the_knowledge_base_never_names_is_another_country() -> None:
    assert mark_other_countries("can i work from spain for a few weeks?", KNOWN) == (
        "can i work from spain (another country) for a few weeks?"
    )
    assert mark_other_countries("Working in the Netherlands? And in Brazil?", KNOWN) == (
        "Working in the Netherlands (another country)? And in Brazil (another country)?"
    )


def test_named_countries_table_values_and_other_uses_of_the_names_are_kept() -> None:
    for question in (
        "per-km rate for trips to Germany?",  # the knowledge base names Germany
        "can i work from portugal",
        "turkey sandwich allowance",  # not after "from", "in", "to", ...
        "who is Jordan's manager",
    ):
        assert mark_other_countries(question, KNOWN) == question
    # A table value: "Remote - Ireland (Cork)" in the staff directory.
    assert mark_other_countries("who works from Ireland", KNOWN, {"ireland"}) == (
        "who works from Ireland"
    )
    assert mark_other_countries("can i work from spain", None) == "can i work from spain"
