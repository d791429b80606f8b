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


def test_the_countries_a_question_asks_about_and_a_passage_names() -> None:
    from services.offline.places import about_other_countries, asked_countries, countries_named

    assert asked_countries("per km rate if I drive to a customer in germany?") == {"DE"}
    assert asked_countries("turkey sandwich allowance") == frozenset()
    rates = "Own car: €0.23 per km (NL), €0.40 per km (PT), CAD 0.70 per km (CA)"
    assert countries_named(rates) == {"NL", "PT", "CA"}
    assert countries_named("Fully remote staff may live in Germany or Ireland") == {"DE", "IE"}
    # One bracketed code, or a code that is rarely a country, names none.
    assert countries_named("Ask the service desk (IT) or the platform team (PT)") == frozenset()
    assert countries_named("Road (EU): 89.6%; Road (NA): 87.4%") == frozenset()
    assert about_other_countries(rates, {"DE"})
    assert not about_other_countries(rates, {"PT"})
    assert not about_other_countries("€40 per month", {"DE"})  # names no country
