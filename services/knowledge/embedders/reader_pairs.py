"""How the offline reader sees its input: question-sentence pairs as token ids, and the word
embeddings rounded as training kept them. Shared by the reader (`reader.py`) and the recipe
that trains it (`training/train_reader.py`, which loads this file by path: it imports numpy
only, so the recipe runs where the service's dependencies are not installed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Pair length: `[CLS] question [SEP] sentence [SEP]`, the question cut to its first tokens.
MAX_TOKENS = 96
MAX_QUESTION_TOKENS = 40
SCORE_DECIMALS = 3
WORD = "embeddings.word_embeddings.weight"
#: The base model's shape (all-MiniLM-L6-v2's config.json).
CONFIG = {
    "hidden_size": 384,
    "num_attention_heads": 12,
    "num_hidden_layers": 6,
    "layer_norm_eps": 1e-12,
    "hidden_act": "gelu",
}


def compact_word_embeddings(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The word embeddings as int8 rows and one fp32 scale a row (round half to even): how
    training stores the frozen table, and so how the reader must see it."""
    scale = (np.abs(table).max(axis=1) / 127.0).astype(np.float32)
    scale[scale == 0] = 1.0
    rows = np.rint(table / scale[:, None]).astype(np.int8)
    return rows, scale


def expand_word_embeddings(rows: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return rows.astype(np.float32) * scale[:, None].astype(np.float32)


def encode_pairs(tokenizer: Any, question: str | Sequence[str], texts: Sequence[str]) -> np.ndarray:
    """Token ids [n, width] (0 = padding) of `[CLS] question [SEP] text [SEP]` pairs; one
    question for every text, or one for each."""
    questions = [question] * len(texts) if isinstance(question, str) else list(question)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    distinct = sorted(set(questions))
    asked = tokenizer.encode_batch(distinct, add_special_tokens=False)
    q_ids = {q: e.ids[:MAX_QUESTION_TOKENS] for q, e in zip(distinct, asked, strict=True)}
    s_ids = tokenizer.encode_batch([_clean(t) for t in texts], add_special_tokens=False)
    rows = []
    for q, s in zip(questions, s_ids, strict=True):
        head = q_ids[q]
        rows.append([cls, *head, sep, *s.ids[: MAX_TOKENS - 3 - len(head)], sep])
    out = np.zeros((len(rows), max((len(r) for r in rows), default=0)), dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def _clean(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text
