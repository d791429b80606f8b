"""The offline model runs in a thread pool (pydantic-ai's FunctionModel), so stemming must be
safe when many turns stem words at the same time."""

from __future__ import annotations

import random
import string
import threading

from services.offline.text import stem


def test_stems_are_the_same_from_one_thread_or_many() -> None:
    rng = random.Random(7)
    vocabulary = [
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 14)))
        for _ in range(40_000)
    ]
    expected = [stem.__wrapped__(w) for w in vocabulary]
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            # Bypass the cache: every call must run the stemmer itself.
            results[worker] = [stem.__wrapped__(w) for w in vocabulary[worker::6]]
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for worker, stems in results.items():
        assert stems == expected[worker::6]


def test_stemming_folds_inflections_and_agent_nouns() -> None:
    assert stem("rotation") == stem("rotated")
    assert stem("owner") == stem("owns")


def test_a_plural_in_ses_stems_as_its_singular_when_snowball_cuts_the_singular_s() -> None:
    # Snowball cuts "alias" to "alia" but "aliases" only to "alias": "Aliases: :ab:" did not
    # count as the field asked for by "what's the alias for the abbreviation role?".
    assert stem("aliases") == stem("alias")
    assert stem("lenses") == stem("lens")
    assert stem("canvases") == stem("canvas")
    # A plural of a word ending in "se" keeps that word's stem.
    assert stem("responses") == stem("response")
    assert stem("databases") == stem("database")
    assert stem("releases") == stem("release")
    assert stem("causes") == stem("cause")


def test_a_british_spelling_stems_as_the_american_one() -> None:
    # The English word list is American: "the old behaviour" asked of a manual that writes
    # "behavior" only got a typo's credit.
    for british, american in [
        ("behaviour", "behavior"),
        ("colours", "colors"),
        ("organisation", "organization"),
        ("customised", "customized"),
        ("centre", "center"),
        ("analyse", "analyze"),
    ]:
        assert stem(british) == stem(american), british
    # Only a word the list lacks, into a word it holds: "tour" is no "tor", "promise" and
    # "advise" no "-ize" verbs.
    for word, other in [
        ("tour", "tor"),
        ("hour", "hor"),
        ("promise", "promize"),
        ("advise", "advize"),
    ]:
        assert stem(word) != stem(other), word
