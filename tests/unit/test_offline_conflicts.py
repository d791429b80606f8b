"""Two current documents stating different values for what is asked disagree
(`services/offline/conflicts.py`)."""

from __future__ import annotations

from services.offline.conflicts import disagreement, masked, values


def test_values_are_numbers_with_the_unit_written_after_them() -> None:
    assert values("Passwords need at least 14 characters (a passphrase of 4+ words).") == {
        "charact": {14.0: "14 characters"},
        "word": {4.0: "4+ words"},
    }
    assert values("Budget: €75 per person, 20% off") == {"€": {75.0: "€75"}, "%": {20.0: "20%"}}
    assert values("Call extension 4411 before 9 and ask for Kim.") == {}
    assert values("Retry on 5xx, never on 2xx or 4xx.") == {}


def _always(_: int) -> bool:
    return True


def _alike(a: str, b: str) -> bool:
    return True


def test_different_values_of_one_unit_in_two_documents_disagree() -> None:
    texts = ["The minimum length is 4 characters.", "Minimum length: 14 characters."]
    found = disagreement(texts, [1, 2], _always, _alike)
    assert found is not None
    assert (found.first, found.second, found.unit) == (0, 1, "charact")
    assert found.first_values == ("4 characters",) and found.second_values == ("14 characters",)


def test_a_shared_value_one_document_or_a_weak_sentence_is_no_disagreement() -> None:
    shared = ["The minimum rises from 12 to 14 characters.", "Minimum length: 14 characters."]
    assert disagreement(shared, [1, 2], _always, _alike) is None
    one_document = ["Minimum: 14 characters.", "Maximum: 64 characters."]
    assert disagreement(one_document, [1, 1], _always, _alike) is None
    other_units = ["Rotate every 90 days.", "Use 14 characters."]
    assert disagreement(other_units, [1, 2], _always, _alike) is None
    weak = ["The minimum length is 4 characters.", "Minimum length: 14 characters."]
    assert disagreement(weak, [1, 2], lambda i: i == 0, _alike) is None


def test_sentences_about_different_things_do_not_disagree() -> None:
    texts = ["Deliveries are retried for 72 hours.", "Usage counters reset every 24 hours."]
    compared: list[tuple[str, str]] = []

    def about(a: str, b: str) -> bool:
        compared.append((a, b))
        return False

    assert disagreement(texts, [1, 2], _always, about) is None
    assert compared == [
        ("Deliveries are retried for N hours.", "Usage counters reset every N hours.")
    ]
    assert masked("From 12 to 14 characters, 2.5 days") == "From N to N characters, N days"
