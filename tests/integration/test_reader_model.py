"""The shipped reader, assembled as `make install` assembles it (`install_reader`): the same
files give the same model bit for bit, and it reads a question's answer above sentences
that do not state it.

The weights are `services/knowledge/embedders/reader_weights/reader.safetensors`, trained by
`training/train_reader.py` (docs/reader.md); a retrained file changes both checksums below.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from backend.config import Settings
from services.knowledge.embedders import minilm_build as build
from services.knowledge.embedders.reader import (
    MANIFEST,
    READER_NAME,
    WEIGHTS,
    OnnxReader,
    install_reader,
)

MODELS = Settings().embeddings.models_dir
WEIGHTS_SHA256 = "b66aceda977a3339456983e513fb572e4f0e9fc67b950db2f7532f17fa6aa0a2"
ONNX_SHA256 = "e21953895e3602d666bd1dc094d8630714d209c803497aecc35bcaae5def617a"


@pytest.fixture(scope="module")
def assembled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not build.is_installed(MODELS / build.MODEL_NAME):
        pytest.fail("The local embedder is not installed: run `make install` first.")
    models = tmp_path_factory.mktemp("models")
    shutil.copytree(MODELS / build.MODEL_NAME, models / build.MODEL_NAME)
    return install_reader(models)


def test_the_same_files_assemble_the_same_model_bit_for_bit(assembled: Path) -> None:
    manifest = json.loads((assembled / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["weights_sha256"] == WEIGHTS_SHA256
    assert manifest["onnx_sha256"] == ONNX_SHA256
    installed = json.loads((MODELS / READER_NAME / MANIFEST).read_text(encoding="utf-8"))
    assert installed == manifest  # what `make install` put in MODELS_DIR
    assert WEIGHTS.stat().st_size <= 25 * 1024 * 1024


def test_the_reader_scores_the_answering_sentence_highest(assembled: Path) -> None:
    reader = OnnxReader(assembled.parent)
    cases = [
        (
            "how long are backups kept?",
            [
                "Backups: Backups are taken every night at 02:00.",
                "Backups: Each backup is kept for 35 days and then deleted.",
                "Backups: Restores are tested once a quarter.",
            ],
            1,
        ),
        (
            "which port does the server listen on by default?",
            [
                "Server: The server listens on port 8080 unless --port is given.",
                "Server: The server writes its log to standard error.",
            ],
            0,
        ),
    ]
    for question, texts, answer in cases:
        scores = reader.read(question, texts)
        others = [s for i, s in enumerate(scores) if i != answer]
        assert scores[answer] > max(others) + 2.0, (question, scores)  # by a clear margin


def test_scores_do_not_depend_on_the_other_texts_read_with_them(assembled: Path) -> None:
    reader = OnnxReader(assembled.parent)
    texts = ["A: short.", "A: a much longer sentence that pads every other text of the batch."]
    together = reader.read("what is short?", texts)
    alone = [reader.read("what is short?", [t])[0] for t in texts]
    assert together == alone
