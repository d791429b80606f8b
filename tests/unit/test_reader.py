"""The offline reader: its graph's head, the pairs it reads, and how its scores move the
answerer's confidence (`confidence.reader_belief`, `confidence.mixed`). The
shipped model itself is checked in tests/integration/test_reader_model.py."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from services.knowledge.embedders import minilm_build as build
from services.knowledge.embedders.reader_pairs import (
    MAX_QUESTION_TOKENS,
    MAX_TOKENS,
    compact_word_embeddings,
    encode_pairs,
    expand_word_embeddings,
)
from services.offline.compose import compose_documents
from services.offline.context import AnswerContext, SentenceReader
from services.offline.tuning import DEFAULT_TUNING
from tests.unit.test_embedders_minilm import CONFIG, HIDDEN, VOCAB, numpy_hidden, tiny_weights


def _head(seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "head.dense.weight": rng.normal(0, 0.1, (HIDDEN, HIDDEN)).astype(np.float32),
        "head.dense.bias": rng.normal(0, 0.1, HIDDEN).astype(np.float32),
        "head.out.weight": rng.normal(0, 0.1, (1, HIDDEN)).astype(np.float32),
        "head.out.bias": np.array([0.25], dtype=np.float32),
    }


def test_the_graph_with_a_head_scores_the_first_token(tmp_path: Path) -> None:
    import onnxruntime as ort

    weights, head = tiny_weights(), _head()
    path = build.build_bert_onnx(
        weights, CONFIG, tmp_path / "r.onnx", zero_padding=False, head=head
    )
    sequences = [[2, 5, 9, 3, 44, 3], [2, 7, 3, 8, 9, 10, 11, 3]]
    ids = np.zeros((2, 8), dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    scores = session.run(["score"], {"input_ids": ids, "attention_mask": (ids != 0) * 1})[0]

    expected = []
    for seq in sequences:
        first = numpy_hidden(weights, seq)[0]
        hidden = np.tanh(first @ head["head.dense.weight"].T + head["head.dense.bias"])
        expected.append(float(hidden @ head["head.out.weight"][0] + head["head.out.bias"][0]))
    assert scores.shape == (2,)
    np.testing.assert_allclose(scores, expected, atol=2e-5)  # padding leaks into neither


class _Tokenizer:
    """The tokenizers API `encode_pairs` uses, over the tiny vocabulary (one id a word)."""

    class _Encoding:
        def __init__(self, ids: list[int]) -> None:
            self.ids = ids

    def token_to_id(self, token: str) -> int:
        return VOCAB.index(token)

    def encode_batch(self, texts: list[str], add_special_tokens: bool) -> list[_Encoding]:
        assert not add_special_tokens
        return [self._Encoding([VOCAB.index(w) for w in t.split()]) for t in texts]


def test_a_pair_is_cls_question_sep_sentence_sep_padded_to_the_longest() -> None:
    ids = encode_pairs(_Tokenizer(), "what is it ?", ["the cat sat", "the dog sat on the mat"])
    cls, sep = VOCAB.index("[CLS]"), VOCAB.index("[SEP]")
    said = "what is it ? the dog sat on the mat"
    words = [VOCAB.index(w) for w in said.split()]
    assert ids.shape == (2, 13)
    assert list(ids[1]) == [cls, *words[:4], sep, *words[4:], sep]
    assert list(ids[0][-3:]) == [0, 0, 0] and ids[0][9] == sep


def test_long_questions_and_sentences_are_cut_to_the_pair_length() -> None:
    question = " ".join(["cat"] * 100)
    ids = encode_pairs(_Tokenizer(), question, [" ".join(["dog"] * 200)])
    sep = VOCAB.index("[SEP]")
    assert ids.shape == (1, MAX_TOKENS)
    assert ids[0][MAX_QUESTION_TOKENS + 1] == sep and ids[0][-1] == sep


def test_word_embeddings_are_rounded_to_eight_bits_a_row_and_back() -> None:
    table = np.random.default_rng(0).normal(0, 0.3, (50, 16)).astype(np.float32)
    table[7] = 0.0
    rows, scale = compact_word_embeddings(table)
    back = expand_word_embeddings(rows, scale)
    assert rows.dtype == np.int8 and np.abs(rows).max() == 127
    assert np.all(np.abs(back - table) <= scale[:, None] / 2 + 1e-7)
    assert not back[7].any()


HIT = {
    "number": 1,
    "title": "Backup runbook",
    "section": "Restoring",
    "source": "runbooks/backup.md",
    "text": "Restores are run from the nightly snapshot. The snapshot is kept for 30 days. "
    "Ask the on-call engineer before restoring production.",
}


def _reader_saying(logit: float, heard: list[list[str]]) -> SentenceReader:
    def reader(question: str, read: Sequence[str]) -> list[float]:
        heard.append(list(read))
        return [logit] * len(read)

    return reader


def _reading(reader: SentenceReader, share: float | None = None) -> AnswerContext:
    """An answer context with `reader`, and with its share of the confidence when given."""
    if share is None:
        return AnswerContext(reader=reader)
    confidence = replace(DEFAULT_TUNING.confidence, reader_share=share)
    return AnswerContext(reader=reader, tuning=replace(DEFAULT_TUNING, confidence=confidence))


def test_by_default_the_reader_reads_the_chosen_sentences_and_moves_only_the_confidence() -> None:
    question = "how long is the snapshot kept?"
    alone = compose_documents(question, [HIT])
    heard: list[list[str]] = []
    believed = compose_documents(question, [HIT], _reading(_reader_saying(8.0, heard)))
    doubted = compose_documents(question, [HIT], _reading(_reader_saying(-4.0, [])))
    assert alone.found and believed.text == alone.text == doubted.text
    assert len(heard) == 1 and any("30 days" in text for text in heard[0])
    assert len(heard[0]) < 3  # the chosen sentences, not every candidate
    share, ceiling = DEFAULT_TUNING.confidence.reader_share, DEFAULT_TUNING.confidence.ceiling
    assert believed.confidence == pytest.approx(
        (1 - share) * alone.confidence + share * ceiling / (1 + math.exp(-8.0)), abs=2e-3
    )
    assert doubted.confidence < alone.confidence < believed.confidence


def test_with_no_share_of_the_confidence_the_reader_changes_nothing() -> None:
    heard: list[list[str]] = []
    question = "how long is the snapshot kept?"
    read = compose_documents(question, [HIT], _reading(_reader_saying(4.0, heard), share=0.0))
    assert read == compose_documents(question, [HIT]) and heard == []
