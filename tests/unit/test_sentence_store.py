"""The offline model's sentence vectors on disk (`services/offline/sentence_store.py`) and
the similarity that reads them first (`semantic.SentenceSimilarity`): a real SQLite file, a
fake encoder that counts what it embeds."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from services.knowledge.embedders.cached import TextVectorCache
from services.offline.semantic import SentenceSimilarity
from services.offline.sentence_store import SentenceVectorFile

DIM = 8


class CountingEncoder:
    """A deterministic encoder: each text's vector comes from its hash."""

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return [_vector(text).tolist() for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return _vector(text).tolist()


def _vector(text: str) -> np.ndarray:
    raw = np.frombuffer(hashlib.sha256(text.encode()).digest()[:DIM], dtype=np.uint8)
    vector = raw.astype(np.float32) + 1.0
    return vector / np.linalg.norm(vector)


def _file(tmp_path: Path, model: str = "fake", **kwargs: int) -> SentenceVectorFile:
    return SentenceVectorFile(tmp_path / "sentence_vectors.db", model, DIM, **kwargs)


def test_vectors_are_kept_across_instances_and_come_back_unchanged(tmp_path: Path) -> None:
    first = _file(tmp_path)
    first.put_many({"a sentence": _vector("a sentence"), "another": _vector("another")})
    first.close()

    again = _file(tmp_path)
    found = again.get_many(["a sentence", "another", "never stored"])

    assert set(found) == {"a sentence", "another"}
    assert np.array_equal(found["a sentence"], _vector("a sentence"))
    assert again.count() == 2


def test_a_file_written_under_another_model_is_emptied(tmp_path: Path) -> None:
    old = _file(tmp_path, model="old-model")
    old.put_many({"a sentence": _vector("a sentence")})
    old.close()

    new = _file(tmp_path, model="new-model")

    assert new.get_many(["a sentence"]) == {}
    assert new.count() == 0


def test_the_oldest_rows_go_past_the_bound(tmp_path: Path) -> None:
    store = _file(tmp_path, max_rows=3)
    for text in ["one", "two", "three", "four", "five"]:
        store.put_many({text: _vector(text)})

    assert set(store.get_many(["one", "two", "three", "four", "five"])) == {
        "three",
        "four",
        "five",
    }


def test_an_unreadable_file_only_makes_lookups_miss(tmp_path: Path) -> None:
    path = tmp_path / "sentence_vectors.db"
    path.write_bytes(b"this is not a database" * 100)
    store = SentenceVectorFile(path, "fake", DIM)

    store.put_many({"a sentence": _vector("a sentence")})  # dropped, no error

    assert store.get_many(["a sentence"]) == {}


def test_a_closed_store_misses_without_error(tmp_path: Path) -> None:
    store = _file(tmp_path)
    store.put_many({"a sentence": _vector("a sentence")})
    store.close()

    assert store.get_many(["a sentence"]) == {}
    store.put_many({"other": _vector("other")})


def test_sentences_embedded_once_are_read_by_every_other_similarity(tmp_path: Path) -> None:
    """What one process embedded (or ingestion prepared), the others read instead."""
    encoder = CountingEncoder()
    sentences = ["Passwords are rotated every 90 days.", "The minimum length is 14."]
    first = SentenceSimilarity(encoder, store=_file(tmp_path))
    scores = first.similarities("how often are passwords rotated", sentences)
    assert encoder.embedded == sentences

    encoder.embedded.clear()
    other = SentenceSimilarity(encoder, store=_file(tmp_path))
    again = other.similarities("how often are passwords rotated", sentences)

    assert encoder.embedded == []
    assert again == pytest.approx(scores, abs=1e-7)


def test_prepare_embeds_what_the_store_lacks_once(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    similarity = SentenceSimilarity(encoder, store=_file(tmp_path))
    similarity.similarities("question", ["known"])
    encoder.embedded.clear()

    embedded = similarity.prepare(["known", "new one", "new two", "new one"])

    assert embedded == 2
    assert encoder.embedded == ["new one", "new two"]
    assert similarity.prepare(["new one", "new two"]) == 0


def test_forgetting_what_a_preparation_added_removes_it_and_nothing_else(tmp_path: Path) -> None:
    store = _file(tmp_path)
    similarity = SentenceSimilarity(CountingEncoder(), store=store)
    similarity.prepare(["kept"])
    progress: list[float] = []

    added = similarity.prepare_texts(["kept", "new one", "new two"], progress.append)
    similarity.forget(added)

    assert added == ["new one", "new two"]
    assert progress == [1.0]
    assert set(store.get_many(["kept", "new one", "new two"])) == {"kept"}


def test_prepare_without_a_store_does_nothing() -> None:
    encoder = CountingEncoder()

    assert SentenceSimilarity(encoder).prepare(["a sentence"]) == 0
    assert encoder.embedded == []


# --- chunk vectors kept in the same file (`embedders/cached.TextVectorCache`) --------------


class CountingEmbedder(CountingEncoder):
    model = "fake"
    dimension = DIM


def test_a_chunk_embedded_once_is_not_embedded_again(tmp_path: Path) -> None:
    encoder = CountingEmbedder()
    cached = TextVectorCache(encoder, _file(tmp_path))
    first = cached.embed_documents(["alpha", "beta", "alpha"])
    assert encoder.embedded == ["alpha", "beta"]  # a repeated text is embedded once
    again = TextVectorCache(encoder, _file(tmp_path)).embed_documents(["beta", "gamma", "alpha"])
    assert encoder.embedded == ["alpha", "beta", "gamma"]
    # A hit is exactly what a miss computed.
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[0])
    assert np.array_equal(again[1], _vector("gamma"))
    assert first.dtype == np.float32 and cached.embed_documents([]).shape == (0, DIM)


def test_chunk_keys_are_apart_from_sentence_keys(tmp_path: Path) -> None:
    encoder = CountingEmbedder()
    vectors = _file(tmp_path)
    vectors.put_many({"alpha": np.zeros(DIM, dtype=np.float32)})  # a sentence's row
    assert np.array_equal(
        TextVectorCache(encoder, vectors).embed_documents(["alpha"])[0], _vector("alpha")
    )
    assert vectors.get_many(["alpha"])["alpha"].sum() == 0  # the sentence's row untouched


def test_an_unusable_file_costs_time_only(tmp_path: Path) -> None:
    encoder = CountingEmbedder()
    (tmp_path / "dir").mkdir()
    cached = TextVectorCache(encoder, SentenceVectorFile(tmp_path / "dir", "fake", DIM))
    assert np.array_equal(cached.embed_documents(["alpha"])[0], _vector("alpha"))
    assert np.array_equal(cached.embed_query("alpha"), _vector("alpha"))
    with pytest.raises(TypeError):
        cached.embed_documents("alpha")
