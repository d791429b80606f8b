"""Shared fixtures. Real sockets are blocked (loopback aside) so a missed mock fails loudly;
the sample knowledge base is ingested once per session and copied into each test's tmp dir."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import shutil
import socket
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, closing, contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from loguru import logger
from pydantic_ai import models as ai_models
from pydantic_ai.models import Model

from backend import bootstrap as bootstrap_module
from backend.bootstrap import Container, bootstrap, load_sample_data_if_empty
from backend.config import PROJECT_ROOT, Settings
from services.knowledge.embedders.minilm_build import MODEL_NAME as MINILM_NAME
from services.offline.sentence_store import SentenceVectorFile, text_key
from use_cases.access.domain import CLI_ADMIN
from use_cases.knowledge.domain import IngestReport
from use_cases.knowledge.ports import Embedder

pytest_plugins = [
    "tests.respx_httpcore2",
    "tests.js_clients",
    "tests.postgres",
    "tests.redis_server",
    "tests.s3_server",
    "tests.oidc_server",
]  # shared fixtures
ai_models.ALLOW_MODEL_REQUESTS = False  # only FunctionModel/TestModel or mocked HTTP in tests

SAMPLE_DIR = PROJECT_ROOT / "sample_data"
#: Ingestion in tests (in process and in the CLIs and servers they start) does not prepare
#: sentence vectors: answers are the same either way (tests/e2e/test_prepared_sentences.py
#: checks both ways), and preparing every corpus, folder and fresh data directory the suite
#: ingests cost it ~2 minutes. The shared sample is prepared (`sample_data_dir`): its copies
#: answer faster.
os.environ.setdefault("PREPARE_SENTENCES", "false")
_real_connect = socket.socket.connect
#: The machine's test vector cache is not kept past this size (the sample and every corpus
#: take ~35 MB).
MACHINE_VECTORS_MAX_BYTES = 256 * 1024 * 1024


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"Tests may not reach the network (tried {address!r}).")
    _real_connect(self, address)  # type: ignore[arg-type]  # the address the test's socket was given


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `slow` (the answer floors, the README's evaluations: a minute or more
    each) start first, so that with several workers (`make test`) none of them is left
    running one alone at the end. The order is otherwise kept."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """At the end of a run (in its controller, after every worker has stopped): stop what the
    workers shared and none of them could stop alone (the real model server,
    tests/local_model/conftest.py), and keep the vectors the run computed for the next
    (`machine_vector_cache`)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    from tests.local_model_server import stop_shared_server

    root = run_temp_root(session.config._tmp_path_factory)  # type: ignore[attr-defined]  # pytest's own tmp_path factory (no public accessor)
    stop_shared_server(root)
    _save_machine_vectors(root / "sentence-vectors.db")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


#: FastAPI's module-level caches of route callables (4,096 entries each). Our routes close over
#: their app, so every app a test built, with its container (stores, embedder, offline model),
#: stayed reachable from them: the suite grew past 12 GB and slowed in the garbage collector.
_FASTAPI_CALLABLE_CACHES = (
    "_is_gen_callable_cached",
    "_is_async_gen_callable_cached",
    "_is_coroutine_callable_cached",
)


@pytest.fixture(scope="session", autouse=True)
def _one_local_embedder() -> Iterator[None]:
    """Containers built with the local embedder share one per model (folder, name, batch
    size) instead of each loading the ONNX graph again (~0.2 s a container, CLI commands
    included). It is the real embedder, stateless once loaded; settings it refuses still
    raise."""
    real_build = bootstrap_module.build_embedder
    shared: dict[tuple[Path, str, int], Embedder] = {}

    def build(settings: Settings) -> Embedder:
        if settings.embeddings.provider != "local":
            return real_build(settings)
        key = (
            settings.embeddings.models_dir.resolve(),
            settings.embeddings.effective_model,
            settings.embeddings.batch_size,
        )
        if key not in shared:
            shared[key] = real_build(settings)
        return shared[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bootstrap_module, "build_embedder", build)
        yield


@pytest.fixture(autouse=True)
def _forget_apps() -> Iterator[None]:
    """After each test, let go of the apps it built (see `_FASTAPI_CALLABLE_CACHES`)."""
    yield
    from fastapi.dependencies import models as fastapi_models

    for name in _FASTAPI_CALLABLE_CACHES:
        cached = getattr(fastapi_models, name, None)
        if cached is not None:
            cached.cache_clear()


class FixedClock:
    def __init__(self, today: date = date(2026, 3, 2)) -> None:
        self._today = today

    def today(self) -> date:
        return self._today

    def now(self) -> datetime:
        return datetime.combine(self._today, time(12, 0))


#: The hosts the tests send requests to: loopback (live servers), `asgi_client`'s base URL,
#: Starlette's TestClient's, and the one-letter base URLs of a few tests' own clients.
TEST_HOSTS = "localhost,127.0.0.1,[::1],almanac.test,testserver,t,a,b"


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings isolated from the developer's environment and `.env`."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "openai_api_key": None,
        "cohere_api_key": None,
        "default_model": None,
        "openai_default_model": None,
        "allowed_models": "",
        "embedding_provider": "local",
        "reranker_enabled": False,
        "log_level": "WARNING",
        "answer_processes": False,  # in-process containers plan on threads (start-up time)
        # Streams send text as it comes (pacing has its own tests: test_stream_pacing.py and
        # the browser's visible-streaming test), so streamed answers do not wait for it.
        "stream_word_delay_ms": 0,
        # In-process containers keep the sentence vectors in their data dir (the sample's
        # are copied with it), whatever SENTENCE_VECTORS_DB the run shares (see below).
        "sentence_vectors_db": None,
        # The hosts the tests' clients send (with authentication off only these are answered).
        "allowed_hosts": TEST_HOSTS,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]  # overrides by field name: pydantic checks each


def run_temp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's temporary root: the same folder for every pytest-xdist worker (their own
    base temps are its subfolders), so what they build once per run is built once in all."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def run_lock(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """Hold lock `name` across this run's workers; yields the shared root."""
    root = run_temp_root(tmp_path_factory)
    with open(root / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield root
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session", autouse=True)
def _shared_sentence_vectors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The commands and servers the tests start (`almanac ...` in a subprocess, CLI runs
    in-process) share one sentence-vector cache per run through SENTENCE_VECTORS_DB, as an
    operator may share one across data directories: ingesting the sample or a corpus again
    embeds no sentence twice. A hit is the very vector a miss computes (each sentence is
    embedded on its own), so no answer depends on it."""
    path = run_temp_root(tmp_path_factory) / "sentence-vectors.db"
    machine = machine_vector_cache()
    if machine is not None and machine.is_file():
        with run_lock(tmp_path_factory, "sentence-vectors"):
            if not path.exists():
                _copy_vectors(machine, path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SENTENCE_VECTORS_DB", str(path))
        yield path


@pytest.fixture(scope="session")
def sample_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the bundled sample ingested (knowledge + tables), built once per run
    (the first worker to ask builds it, the others wait for it). Read-only: tests copy it
    (`data_dir`). Its vectors come from the machine's test vector cache where earlier runs
    computed them (`machine_vector_cache`); its own vector file keeps only the sample's."""
    with run_lock(tmp_path_factory, "sample-data") as root:
        data_dir, ready = root / "sample-data", root / "sample-data.ready"
        if not ready.exists():
            shutil.rmtree(data_dir, ignore_errors=True)
            data_dir.mkdir(parents=True)
            vectors = data_dir / "sentence_vectors.db"
            machine = machine_vector_cache()
            if machine is not None and machine.is_file():
                _copy_vectors(machine, vectors)
            container = bootstrap(make_settings(data_dir, prepare_sentences=True))
            try:
                with _recording_vector_reads() as read:
                    report = load_sample_data_if_empty(container)
                    assert report is not None and not report.failed
                    wait_answer_ready(container, report)
            finally:
                container.close()
            _seed(Path(os.environ["SENTENCE_VECTORS_DB"]), vectors)
            _keep_only(vectors, read)
            ready.touch()
    return data_dir


def wait_answer_ready(container: Container, report: IngestReport) -> None:
    """Until the answer preparation an ingest queued (if any) is done: the documents are
    searchable when the ingest returns, answer-ready after this."""
    if report.answers_job is None:
        return
    waiting = container.knowledge.prepare_answers.wait(report.answers_job)
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop in this thread
        assert asyncio.run(waiting) == "done"
        return
    with ThreadPoolExecutor(1) as thread:  # called from an async test: wait on another loop
        assert thread.submit(asyncio.run, waiting).result() == "done"


def machine_vector_cache() -> Path | None:
    """The vectors earlier test runs on this machine computed, kept outside the clone
    (`~/.cache/almanac/test-vectors/`), for the embedding model as installed (its manifest,
    which names every file's checksum) under this onnxruntime; None without that model.

    A run starts its shared vector file (`SENTENCE_VECTORS_DB`) and the sample from it, and
    leaves what it added there when it ends (`pytest_sessionfinish`): the sample and the
    corpora are embedded once per machine, not once per run. A vector from it is the very
    vector a miss computes (the local embedder embeds each text on its own), so no answer or
    search depends on whether it was there; tests that count embeddings use their own files.
    """
    import onnxruntime

    manifest = make_settings(Path("unused")).embeddings.models_dir / MINILM_NAME / "manifest.json"
    if not manifest.is_file():
        return None
    key = hashlib.sha256(manifest.read_bytes() + onnxruntime.__version__.encode()).hexdigest()
    return _cache_home() / "almanac" / "test-vectors" / f"{MINILM_NAME}-{key[:16]}.db"


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


@contextmanager
def _recording_vector_reads() -> Iterator[set[str]]:
    """The texts looked up in any sentence vector file meanwhile (chunks and sentences)."""
    read: set[str] = set()
    real = SentenceVectorFile.get_many

    def get_many(self: SentenceVectorFile, texts: Sequence[str]) -> dict[str, np.ndarray]:
        read.update(texts)
        return real(self, texts)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SentenceVectorFile, "get_many", get_many)
        yield read


def _keep_only(vectors: Path, texts: set[str]) -> None:
    """Leave in the vector file `vectors` only the rows of `texts`, the file compacted."""
    with closing(sqlite3.connect(vectors)) as db:
        db.execute("CREATE TEMP TABLE keep (key BLOB PRIMARY KEY)")
        db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", ((text_key(t),) for t in texts))
        db.execute("DELETE FROM vectors WHERE key NOT IN (SELECT key FROM keep)")
        db.commit()
        db.execute("VACUUM")


def _copy_vectors(source: Path, target: Path) -> None:
    """A consistent copy of the SQLite file `source` (its write-ahead log included)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _save_machine_vectors(run_vectors: Path) -> None:
    """Keep what this run's shared vector file holds for the next runs on this machine
    (replaced whole and atomically; skipped past `MACHINE_VECTORS_MAX_BYTES`)."""
    machine = machine_vector_cache()
    if machine is None or not run_vectors.is_file():
        return
    if run_vectors.stat().st_size > MACHINE_VECTORS_MAX_BYTES:
        return
    staged = machine.with_suffix(f".{os.getpid()}.tmp")
    try:
        _copy_vectors(run_vectors, staged)
        os.replace(staged, machine)
    except (OSError, sqlite3.Error):
        staged.unlink(missing_ok=True)


def _seed(shared: Path, vectors: Path) -> None:
    """Add the sample's vectors to the run's shared vector file: the file is started with them
    unless it exists (a link is atomic: a file in use is never overwritten); then they are
    added to it (`INSERT OR IGNORE`: a text's vector is the same whoever wrote it)."""
    staged = shared.with_suffix(".seed")
    shutil.copyfile(vectors, staged)
    try:
        os.link(staged, shared)
        return
    except FileExistsError:
        pass
    finally:
        staged.unlink()
    with closing(sqlite3.connect(shared, timeout=60)) as db:
        db.execute("ATTACH DATABASE ? AS sample", (str(vectors),))
        db.execute(
            "INSERT OR IGNORE INTO vectors (key, vector) SELECT key, vector FROM sample.vectors"
        )
        db.commit()


def with_sample_vectors(sample_data_dir: Path, data_dir: Path) -> Path:
    """`data_dir`, made, with a copy of the sample's vector cache: a container on PostgreSQL
    that loads the sample into its empty database embeds none of its chunks or sentences
    again (the cache holds the very vectors a miss computes)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sample_data_dir / "sentence_vectors.db", data_dir / "sentence_vectors.db")
    return data_dir


@pytest.fixture
def logged() -> Iterator[list[tuple[str, str, str]]]:
    """What the code logs (one logging path: loguru) while the test runs, INFO and up:
    `(level, module, message)` in order."""
    records: list[tuple[str, str, str]] = []

    def keep(message: Any) -> None:
        record = message.record
        records.append((record["level"].name, record["name"] or "", record["message"]))

    sink = logger.add(keep, level="INFO", format="{message}")
    try:
        yield records
    finally:
        logger.remove(sink)


@pytest.fixture
def data_dir(sample_data_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the sample data dir: tests may write to it freely."""
    target = tmp_path / "data"
    shutil.copytree(sample_data_dir, target)
    return target


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return make_settings(data_dir)


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = bootstrap(settings, clock=FixedClock())
    yield built
    built.close()


@contextmanager
def container_with_models(data_dir: Path, models: Mapping[str, Model]) -> Iterator[Container]:
    """A container (FixedClock) that allows the offline model and `models`, each registered
    under its name (e.g. `test:slow`, a pydantic-ai FunctionModel); closed afterwards."""
    allowed = ",".join(["offline-extractive", *models])
    built = bootstrap(make_settings(data_dir, allowed_models=allowed), clock=FixedClock())
    for name, model in models.items():
        built.adapters.models.register(name, model)
    try:
        yield built
    finally:
        built.close()


@asynccontextmanager
async def asgi_client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app built on `container`, in process."""
    from backend.api.app import create_app

    app = create_app(container=container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        yield http


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(container) as http:
        yield http


@pytest.fixture
def auth_container(data_dir: Path) -> Iterator[Container]:
    """Like `container` (same data dir), with AUTH_ENABLED=true."""
    built = bootstrap(make_settings(data_dir, auth_enabled=True), clock=FixedClock())
    yield built
    built.close()


@pytest.fixture
async def auth_client(auth_container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(auth_container) as http:
        yield http


async def issue_key(container: Container, user_id: str, role: str = "user") -> dict[str, str]:
    """A new API key for `user_id`, as the request headers that present it."""
    created = await container.access.create_key.execute(CLI_ADMIN, user_id=user_id, role=role)
    return {"Authorization": f"Bearer {created.secret}"}
