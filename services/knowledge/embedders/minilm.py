"""The default local embedder: all-MiniLM-L6-v2 on onnxruntime, offline, without torch.

The int8 ONNX graph written by `install_minilm` already does mean pooling and L2
normalisation, so this class only tokenises, batches and runs the session. Texts are sorted
by token count before batching so each batch pads to a similar length (padding is wasted
compute), and results are put back in the caller's order.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from services.knowledge.embedders.minilm_build import (
    MANIFEST_FORMAT,
    MAX_SEQ_LENGTH,
    MODEL_DIMENSION,
    MODEL_FILE,
    MODEL_NAME,
    TOKENIZER_FILE,
    is_installed,
    read_manifest,
)
from use_cases.shared.errors import ConfigurationError

_DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]
#: Queries whose vectors `embed_query` keeps (1.5 KiB each).
QUERY_CACHE_SIZE = 512


class MiniLMEmbedder:
    """`Embedder` for the locally installed int8 all-MiniLM-L6-v2.

    `model_dir` is the folder `install_minilm` returned (`<models_dir>/all-MiniLM-L6-v2`);
    passing the parent models folder works too. Nothing is loaded until the first call, so
    constructing one is free; loading is guarded by a lock because the API embeds from worker
    threads.

    `threads` (default: the CPUs this process may use) is how many batches run at once, each
    on one thread. Running whole batches in parallel beat onnxruntime's intra-op threading by
    ~20% per CPU-second here (no per-operator synchronisation), and concurrent API requests
    do not oversubscribe the CPUs. A single query therefore runs on one core (~3-4 ms).
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        threads: int | None = None,
        batch_size: int = 64,
        model_file: str = MODEL_FILE,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        model_dir = Path(model_dir).expanduser()
        if not (model_dir / "manifest.json").exists() and (model_dir / MODEL_NAME).is_dir():
            model_dir = model_dir / MODEL_NAME
        self._model_dir = model_dir
        self._model_file = model_file
        self._workers = max(1, threads or _default_threads())
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    # --- Embedder protocol ---------------------------------------------------------------

    @property
    def model(self) -> str:
        return MODEL_NAME

    @property
    def dimension(self) -> int:
        return MODEL_DIMENSION

    @property
    def model_dir(self) -> Path:
        return self._model_dir

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`; returns float32 (n, 384), unit rows, in input order."""
        if isinstance(texts, str):
            raise TypeError("embed_documents takes a sequence of strings, not one string")
        # Enough batches to keep every worker busy, none larger than batch_size.
        return self._embed(texts, min(self._batch_size, -(-len(texts) // self._workers)))

    def embed_each(self, texts: Sequence[str]) -> np.ndarray:
        """Embed each text on its own (a batch of one), the texts spread over the worker
        threads: row i is exactly `embed_documents([texts[i]])[0]`, whatever the other texts
        (the int8 graph quantizes activations per batch), in a fraction of the time of one
        call per text on several cores."""
        if isinstance(texts, str):
            raise TypeError("embed_each takes a sequence of strings, not one string")
        return self._embed(texts, 1)

    def _embed(self, texts: Sequence[str], size: int) -> np.ndarray:
        out = np.zeros((len(texts), MODEL_DIMENSION), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch([_clean(t) for t in texts], add_special_tokens=True)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        order = np.argsort(-lengths, kind="stable")  # longest first: memory peak shows up early
        batches = [order[start : start + size] for start in range(0, len(order), size)]

        def run(idx: np.ndarray) -> None:
            width = int(lengths[idx].max())
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = int(lengths[i])
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            (vectors,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
            out[idx] = vectors

        if len(batches) == 1:
            run(batches[0])
        else:
            with ThreadPoolExecutor(max_workers=self._workers) as pool:
                for _ in pool.map(run, batches):
                    pass
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query; returns float32 (384,), unit length.

        A turn embeds its question more than once (the search's vector leg, then the offline
        answerer weighing sentences by meaning), so the last `QUERY_CACHE_SIZE` queries are
        kept. A query is embedded alone (a batch of one), so a kept vector is the very one a
        new call computes."""
        with self._queries_lock:
            kept = self._queries.get(text)
            if kept is not None:
                self._queries.move_to_end(text)
                return kept.copy()
        vector = self.embed_documents([text])[0]
        with self._queries_lock:
            self._queries[text] = vector.copy()
            while len(self._queries) > QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
        return vector

    # --- loading -------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Load the model now (e.g. at start-up) instead of on the first request."""
        self._load()

    def _load(self) -> tuple[Any, Any]:
        session, tokenizer = self._session, self._tokenizer
        if session is not None and tokenizer is not None:
            return session, tokenizer
        with self._lock:
            if self._session is None or self._tokenizer is None:
                self._tokenizer = self._load_tokenizer()
                self._session = self._load_session()
            return self._session, self._tokenizer

    def _check_installed(self) -> None:
        if not is_installed(self._model_dir) or not (self._model_dir / self._model_file).is_file():
            manifest = read_manifest(self._model_dir)
            state = (
                "was built by an older version of Almanac"
                if manifest is not None and manifest.get("format") != MANIFEST_FORMAT
                else "is not installed"
            )
            raise ConfigurationError(
                f"The local embedding model all-MiniLM-L6-v2 {state} in "
                f"{self._model_dir}. Run `almanac model install` (or `make install`) once "
                "with network access; after that it runs offline."
            )

    def _load_tokenizer(self) -> Any:
        self._check_installed()
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self._model_dir / TOKENIZER_FILE))
        # tokenizer.json ships with fixed padding to 128 and truncation at 128; the model was
        # trained and is served with max_seq_length 256, and we pad per batch ourselves.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
        return tokenizer

    def _load_session(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # One thread per run, runs in parallel (see the class docstring).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        path = self._model_dir / self._model_file
        try:
            session = ort.InferenceSession(
                str(path),
                sess_options=options,
                providers=["CPUExecutionProvider"],
                # The fused com.microsoft.SkipLayerNormalization kernel was 2.5x slower than
                # Add + LayerNormalization here (18% vs 7% of the int8 run time).
                disabled_optimizers=_DISABLED_OPTIMIZERS,
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ConfigurationError(
                f"Could not load {path}: {exc}. Reinstall it with `almanac model install --force`."
            ) from exc
        logger.debug("Loaded {} ({} parallel batches)", path, self._workers)
        return session


def _default_threads() -> int:
    """CPUs this process may run on (respects taskset/cpusets, not CFS quotas)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _clean(text: str) -> str:
    # Lone surrogates (e.g. from badly decoded PDFs) make the Rust tokenizer raise.
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text
