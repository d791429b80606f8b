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

MODELS = Settings().models_dir
WEIGHTS_SHA256 = "a5c150aca10f5fd7d1fcb177ff273f0f4e2a9081addabbdcd622c51da38cea1a"
ONNX_SHA256 = "36f23af075711361fe62991952cf5504b5b1d3fd5d826812b987ffacb7fc42a6"


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
        assert max(range(len(texts)), key=scores.__getitem__) == answer, (question, scores)
        assert scores[answer] > 0 > max(s for i, s in enumerate(scores) if i != answer)


def test_scores_do_not_depend_on_the_other_texts_read_with_them(assembled: Path) -> None:
    reader = OnnxReader(assembled.parent)
    texts = ["A: short.", "A: a much longer sentence that pads every other text of the batch."]
    together = reader.read("what is short?", texts)
    alone = [reader.read("what is short?", [t])[0] for t in texts]
    assert together == alone
