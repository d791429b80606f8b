"""The default local embedder: all-MiniLM-L6-v2 on onnxruntime, offline, without torch.

The int8 ONNX graph written by `install_minilm` already does mean pooling and L2
normalisation, so this class only tokenises and runs the session. Every text is run on its
own (a batch of one): the int8 graph quantizes its activations per run, so a vector computed
in a batch would depend on the other texts of that batch, and then a chunk's vector would
change with how an ingest happened to group it. Alone, a text always gets the same vector,
which also makes the vectors safe to cache by text (`cached.py`), needs no padding, and was no
slower per CPU-second than batches of 64 on ~128-token passages (docs/notes/benchmarks.md).
Where the CPU computes them bit for bit the same, the graph runs with its weights as signed
bytes, at about 0.57 of the CPU time (`signed_weights.py`).
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
from services.knowledge.embedders.signed_weights import (
    probe_feeds,
    same_vectors,
    signed_weights,
)
from use_cases.shared.errors import ConfigurationError

_DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]
#: Queries whose vectors `embed_query` keeps (1.5 KiB each).
QUERY_CACHE_SIZE = 512

#: Per graph file (path, size, modification time): whether its signed-weights graph gave the
#: very same vectors on this CPU, so that later embedders of the process skip the check.
_SIGNED_EXACT: dict[tuple[str, int, int], bool] = {}
_SIGNED_EXACT_LOCK = threading.Lock()


class MiniLMEmbedder:
    """`Embedder` for the locally installed int8 all-MiniLM-L6-v2.

    `model_dir` is the folder `install_minilm` returned (`<models_dir>/all-MiniLM-L6-v2`);
    passing the parent models folder works too. Nothing is loaded until the first call, so
    constructing one is free; loading is guarded by a lock because the API embeds from worker
    threads.

    `threads` (default: the CPUs this process may use) is how many texts are embedded at
    once, each on one thread. Running whole runs in parallel beat onnxruntime's intra-op
    threading by ~20% per CPU-second here (no per-operator synchronisation), and concurrent
    API requests do not oversubscribe the CPUs. A single query therefore runs on one core
    (~3-4 ms).

    `signed_weights` (default) runs the int8 graph with its weights as signed bytes when a
    check at load shows this CPU computes the same vectors with them, bit for bit, faster
    (`signed_weights.py`); False always runs the graph as installed.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        threads: int | None = None,
        model_file: str = MODEL_FILE,
        signed_weights: bool = True,
    ) -> None:
        model_dir = Path(model_dir).expanduser()
        if not (model_dir / "manifest.json").exists() and (model_dir / MODEL_NAME).is_dir():
            model_dir = model_dir / MODEL_NAME
        self._model_dir = model_dir
        self._model_file = model_file
        self._workers = max(1, threads or _default_threads())
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()
        self._signed_weights = signed_weights
        self._runs_signed = False
        self._overrides: list[Any] = []  # the signed weights' buffers: they outlive the session
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

    @property
    def runs_signed_weights(self) -> bool:
        """Whether the loaded graph runs with signed weights (False before loading)."""
        return self._runs_signed

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`; returns float32 (n, 384), unit rows, in input order. Each text is
        embedded on its own, the texts spread over the worker threads: row i is exactly
        `embed_documents([texts[i]])[0]`, whatever the other texts."""
        if isinstance(texts, str):
            raise TypeError("embed_documents takes a sequence of strings, not one string")
        return self._embed(texts)

    def embed_each(self, texts: Sequence[str]) -> np.ndarray:
        """The same as `embed_documents`, under the name the offline model's sentence scoring
        asks for (`services/offline/semantic.py`): an encoder offering it embeds each text
        on its own."""
        return self.embed_documents(texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), MODEL_DIMENSION), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch([_clean(t) for t in texts], add_special_tokens=True)

        def run(i: int) -> None:
            ids = np.asarray([encodings[i].ids], dtype=np.int64)
            mask = np.ones_like(ids)
            (vectors,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
            out[i] = vectors[0]

        if len(texts) == 1 or self._workers == 1:
            for i in range(len(texts)):
                run(i)
        else:
            with ThreadPoolExecutor(max_workers=self._workers) as pool:
                for _ in pool.map(run, range(len(texts))):
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
        # trained and is served with max_seq_length 256, and a text runs alone (no padding).
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
        return tokenizer

    def _load_session(self) -> Any:
        """The installed graph's session, or its signed-weights twin where that gives the
        same vectors (decided once per graph file and process)."""
        path = self._model_dir / self._model_file
        key = _file_key(path)
        with _SIGNED_EXACT_LOCK:
            known = _SIGNED_EXACT.get(key) if self._signed_weights else False
        if known:
            signed = self._open_signed(path)
            if signed is not None:
                return self._loaded(path, signed)
        unsigned = self._open(path)
        if known is False:
            return self._loaded(path, (unsigned, []))
        signed = self._open_signed(path)
        tokenizer = self._tokenizer  # loaded first
        feeds = probe_feeds(lambda text: tokenizer.encode(_clean(text)).ids)
        exact = signed is not None and _same_vectors(path, unsigned, signed[0], feeds)
        with _SIGNED_EXACT_LOCK:
            _SIGNED_EXACT[key] = exact
        return self._loaded(path, signed if exact and signed else (unsigned, []))

    def _loaded(self, path: Path, opened: tuple[Any, list[Any]]) -> Any:
        session, self._overrides = opened
        self._runs_signed = bool(self._overrides)
        weights = "signed" if self._runs_signed else "unsigned"
        logger.debug("Loaded {} ({} weights, {} texts at once)", path, weights, self._workers)
        return session

    def _open_signed(self, path: Path) -> tuple[Any, list[Any]] | None:
        """A session of the graph with signed weights, and the weights' buffers (they must
        outlive it); None when it has no uint8 weights or this failed: the installed graph
        then runs, as it always could."""
        try:
            import onnxruntime as ort

            weights = signed_weights(path)
            if weights is None:
                return None
            values = [(name, ort.OrtValue.ortvalue_from_numpy(a)) for name, a in weights.items()]
            return self._open(path, values), values
        except Exception as exc:  # onnx and onnxruntime raise their own untyped errors
            logger.debug("No signed-weights graph for {}: {}", path, exc)
            return None

    def _open(self, path: Path, overrides: Sequence[tuple[str, Any]] = ()) -> Any:
        """A session of the graph at `path`, with `overrides` (name, `OrtValue`) in place of
        the initializers of those names."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        for name, value in overrides:
            options.add_initializer(name, value)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # One thread per run, runs in parallel (see the class docstring).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        # Without ONNX Runtime's arena, a large batch's buffers go back to the heap, which the
        # server trims (backend/memory.py); the arena kept ~10 MB more after 1,000 passages.
        options.enable_cpu_mem_arena = False
        try:
            return ort.InferenceSession(
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


def _same_vectors(path: Path, unsigned: Any, signed: Any, feeds: list[dict[str, Any]]) -> bool:
    try:
        return same_vectors(unsigned, signed, feeds)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        logger.debug("The signed-weights graph of {} failed its check: {}", path, exc)
        return False


def _file_key(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (str(path), -1, -1)
    return (str(path), stat.st_size, stat.st_mtime_ns)


def _default_threads() -> int:
    """CPUs this process may run on (respects taskset/cpusets, not CFS quotas)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _clean(text: str) -> str:
    # Lone surrogates (e.g. from badly decoded PDFs) make the Rust tokenizer raise.
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text
