"""A question word no retrieved passage holds raises the answer's bar only if the knowledge
base holds it nowhere: a known word says the search found better passages without it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.offline.compose import compose_documents
from services.offline.context import AnswerContext
from services.offline.render import Answer
from services.offline.vocabulary import KnowledgeVocabulary

KPI_PASSAGE = {
    "number": 1,
    "title": "How We Define and Report KPIs",
    "section": "Where the numbers come from",
    "source": "kpi.md",
    "text": "Most product KPIs are computed nightly at 03:00 UTC by dbt models running "
    "against ClickHouse.",
}


class FixedSimilarity:
    """Every sentence is this close in meaning to the question (isolates the word rules)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def similarities(self, question: str, sentences: Sequence[str]) -> list[float]:
        return [self.value] * len(sentences)

    def read_once(self, question: str, text: str) -> float:
        return self.similarities(question, [text])[0]


def test_a_word_known_elsewhere_in_the_knowledge_base_does_not_block_the_answer() -> None:
    question = "what time do the nightly kpi jobs run"
    similarity = FixedSimilarity(0.5)

    unknown = compose_documents(
        question,
        [KPI_PASSAGE],
        AnswerContext(similarity=similarity, known=lambda _: False),  # type: ignore[arg-type]  # a fixed similarity stands in for the embedder
    )
    known = compose_documents(
        question,
        [KPI_PASSAGE],
        AnswerContext(similarity=similarity, known=lambda _: True),  # type: ignore[arg-type]  # a fixed similarity stands in for the embedder
    )

    assert not unknown.found
    assert known.found and "03:00 UTC" in known.text
    assert known.evidence == unknown.evidence  # the bar moved, not the evidence


class Terms:
    def __init__(self) -> None:
        self.generation = 1
        self.terms = ["job", "export", "rotat"]
        self.reads = 0

    def read(self) -> tuple[int, list[str]]:
        self.reads += 1
        return self.generation, list(self.terms)


def test_the_vocabulary_knows_word_families_and_reloads_only_after_a_write() -> None:
    source = Terms()
    vocabulary = KnowledgeVocabulary(source.read, lambda: source.generation)

    assert vocabulary.knows("job") and vocabulary.knows("export")
    assert vocabulary.knows("rotational")  # same first five letters as "rotat"
    assert not vocabulary.knows("parental")
    assert source.reads == 1

    source.terms.append("parent")
    assert not vocabulary.knows("parent")  # same generation: the cached words
    source.generation = 2
    assert vocabulary.knows("parent")
    assert source.reads == 2


def test_typos_are_corrected_for_the_embedder_only_when_the_knowledge_base_lacks_the_word() -> None:
    from services.offline.asked import _spelled_for_meaning

    passage = {"title": "Password policy", "text": "Minimum length: 14 characters. It starts now."}
    kb_words = {"password", "length", "start", "minimum"}

    spelled = _spelled_for_meaning(
        "min pasword lenght? when does it start", [passage], lambda s: s in kb_words
    )

    assert spelled == "min password length? when does it start"  # "start" is a known word
    assert _spelled_for_meaning("pasword lenght", [passage], None) == "pasword lenght"


class FavouringSimilarity:
    """Sentences holding `favoured` are this close in meaning; the others less."""

    def __init__(self, favoured: str, high: float, low: float) -> None:
        self.favoured, self.high, self.low = favoured, high, low

    def similarities(self, question: str, sentences: Sequence[str]) -> list[float]:
        return [self.high if self.favoured in s else self.low for s in sentences]

    def read_once(self, question: str, text: str) -> float:
        return self.similarities(question, [text])[0]


ETA_PASSAGE = {
    "number": 1,
    "title": "Tidecast ETA model",
    "section": "Accuracy",
    "source": "domain/tidecast-eta-model.md",
    "text": "Tidecast accuracy for road shipments in Europe is 89% within 30 minutes. "
    "Rail and ocean legs use the carrier's own schedule.",
}


def _compose(question: str, passage: dict[str, Any], similarity: FavouringSimilarity) -> Answer:
    """The answer over one passage, every word known to the knowledge base."""
    return compose_documents(
        question,
        [passage],
        AnswerContext(similarity=similarity, known=lambda _: True),  # type: ignore[arg-type]  # a fixed similarity stands in for the embedder
    )


def test_a_word_only_another_sentence_holds_raises_the_bar() -> None:
    similarity = FavouringSimilarity("road", 0.4, 0.2)
    rail = _compose("how accurate is tidecast for rail shipments", ETA_PASSAGE, similarity)
    road = _compose("how accurate is tidecast for road shipments", ETA_PASSAGE, similarity)
    assert road.found
    assert not rail.found  # the best sentence is about road; only the other names rail


def test_who_is_answered_by_a_name_next_to_the_best_sentence() -> None:
    move = (
        "If eu-west-1 is unavailable as a whole, the EU stack can be moved to eu-central-1. "
        "Targets: RPO 5 minutes, RTO 4 hours."
    )
    failover = {
        "number": 1,
        "title": "Database Failover Runbook",
        "section": "4. Cross-region disaster recovery",
        "source": "runbooks/database-failover.md",
        "text": f"{move}\n\nOnly the Head of Site Reliability (Ifeoma Adeyemi) can authorise "
        "a regional failover.",
    }
    similarity = FavouringSimilarity("EU stack", 0.6, 0.1)
    answer = _compose("who can sign off on moving the EU stack?", failover, similarity)
    assert answer.text.startswith("Only the Head of Site Reliability (Ifeoma Adeyemi)")
    # Three sentences away is too far: that name does not lead the answer.
    farther = {
        **failover,
        "text": f"{move} Standby lag is checked daily.\n\n"
        "Customer notices are sent by Isabel Moreau after the move.",
    }
    answer = _compose("who can sign off on moving the EU stack?", farther, similarity)
    assert answer.text.startswith("If eu-west-1 is unavailable")
