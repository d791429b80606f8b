"""The offline answerer's reader: a cross-encoder fine-tuned from all-MiniLM-L6-v2 that reads a
question and one candidate sentence together and scores whether the sentence states the answer.

What ships in the repository is `reader_weights/reader.safetensors` (fp16, ~21 MB): every
trained tensor but the word embeddings, which training kept frozen. `install_reader` assembles
the model at install time from those tensors and the word embeddings of the installed
embedder (the same pinned MiniLM weights), rounded as training saw them
(`compact_word_embeddings`), into an fp32 ONNX graph written by `bert_graph.build_bert_onnx`
(`<models_dir>/almanac-reader/reader.onnx`). The build is deterministic: the same files give
the same graph, byte for byte (its sha256 is in the manifest and checked by a test).

The graph runs in fp32, not int8: quantised kernels take different paths on different CPUs,
and an answer must not depend on the CPU. Scores are rounded to `SCORE_DECIMALS` so that a last
bit that differs between instruction sets cannot reorder two candidates; ties keep the
answerer's order. The recipe that trains the weights is `training/train_reader.py`
(docs/reader.md).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from services.knowledge.embedders.bert_graph import build_bert_onnx
from services.knowledge.embedders.minilm_build import (
    MODEL_NAME,
    TOKENIZER_FILE,
    _sha256,
    is_installed,
    read_safetensors,
)
from services.knowledge.embedders.reader_pairs import (
    CONFIG,
    SCORE_DECIMALS,
    WORD,
    compact_word_embeddings,
    encode_pairs,
    expand_word_embeddings,
)
from use_cases.shared.errors import ConfigurationError

READER_NAME = "almanac-reader"
READER_FILE = "reader.onnx"
WEIGHTS = Path(__file__).with_name("reader_weights") / "reader.safetensors"
MANIFEST = "manifest.json"
# --- install -------------------------------------------------------------------------------------


def install_reader(models_dir: Path, *, force: bool = False, weights: Path = WEIGHTS) -> Path:
    """Assemble the reader into `models_dir/almanac-reader/` from the shipped weights and the
    installed embedder's word embeddings (`install_minilm` first). Idempotent and atomic."""
    models_dir = Path(models_dir).expanduser()
    target = models_dir / READER_NAME
    weights_sha = _sha256(weights)
    manifest = _manifest(target)
    if not force and manifest is not None and manifest.get("weights_sha256") == weights_sha:
        return target
    embedder = models_dir / MODEL_NAME
    if not is_installed(embedder):
        raise ConfigurationError("Install the embedder first (`almanac model install`).")
    work = Path(tempfile.mkdtemp(prefix=f".{READER_NAME}.build-", dir=models_dir))
    try:
        tensors = {k: v.astype(np.float32) for k, v in read_safetensors(weights).items()}
        rows, scale = compact_word_embeddings(_word_embeddings(embedder))
        tensors[WORD] = expand_word_embeddings(rows, scale)
        head = {k: tensors.pop(k) for k in list(tensors) if k.startswith("head.")}
        build_bert_onnx(tensors, CONFIG, work / READER_FILE, zero_padding=False, head=head)
        shutil.copyfile(embedder / TOKENIZER_FILE, work / TOKENIZER_FILE)
        record = {
            "name": READER_NAME,
            "weights_sha256": weights_sha,
            "onnx_sha256": _sha256(work / READER_FILE),
        }
        (work / MANIFEST).write_text(json.dumps(record, indent=2), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info("Assembled the offline reader in {}", target)
    return target


def _word_embeddings(embedder: Path) -> np.ndarray:
    """The word embedding table inside the installed embedder's graph (kept in fp32)."""
    import onnx
    from onnx import numpy_helper

    from services.knowledge.embedders.minilm_build import MODEL_FILE

    model = onnx.load(str(embedder / MODEL_FILE))
    for initializer in model.graph.initializer:
        if initializer.name == "word_embeddings":
            return numpy_helper.to_array(initializer).astype(np.float32)
    raise ConfigurationError(f"No word embeddings in {embedder / MODEL_FILE}.")


def _manifest(target: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    complete = (target / READER_FILE).is_file() and (target / TOKENIZER_FILE).is_file()
    return manifest if complete and isinstance(manifest, dict) else None


# --- run -----------------------------------------------------------------------------------------


class OnnxReader:
    """`read(question, texts)`: each text's score (a logit: > 0 reads as "states the answer").

    Loaded on first use (thread-safe); one run per call, on one thread, so that concurrent
    requests do not oversubscribe the CPUs.
    """

    def __init__(self, model_dir: Path) -> None:
        model_dir = Path(model_dir).expanduser()
        if (model_dir / READER_NAME).is_dir():
            model_dir = model_dir / READER_NAME
        self._dir = model_dir
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    @property
    def available(self) -> bool:
        return _manifest(self._dir) is not None

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            if _manifest(self._dir) is None:
                raise ConfigurationError(
                    f"The offline reader is not installed in {self._dir}: run "
                    "`almanac model install` (or `make install`)."
                )
            import onnxruntime as ort
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self._dir / TOKENIZER_FILE))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            self._session = ort.InferenceSession(
                str(self._dir / READER_FILE), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = tokenizer

    def read(self, question: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        if self._session is None:
            self._load()
        ids = encode_pairs(self._tokenizer, question, texts)
        scores = self._session.run(
            ["score"], {"input_ids": ids, "attention_mask": (ids != 0).astype(np.int64)}
        )[0]
        return [round(float(s), SCORE_DECIMALS) for s in scores]
