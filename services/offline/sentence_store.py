"""`SentenceVectorFile`: the offline model's sentence vectors in a SQLite file of the data
directory (`sentence_vectors.db`), shared by the server, its planning processes and the
ingestion that prepares them, and kept across restarts.

Rules:
- It is a cache of what the local embedder computes from a sentence's text alone: a hit holds
  the very vector a miss would compute (`semantic.py` embeds every sentence on its own), so
  whether a vector came from here never changes an answer. Deleting the file loses time only.
- Keyed by a 16-byte BLAKE2b digest of the text; the embedding model is recorded, and a file
  written by another model is emptied when opened.
- Bounded: past `max_rows` the oldest rows (by insertion) go. Rows of deleted documents stay
  until then; they are never read for another text.
- Never an error to the caller: a locked or broken file makes a lookup miss and a write be
  dropped (logged), and answering goes on by embedding.
- Several processes write it: the house connection policy (`services/sqlite`: WAL, one
  connection per thread, its busy timeout, `BEGIN IMMEDIATE`) and `INSERT OR IGNORE` (two
  writers of one text write the same vector). Writes are short (at most a few hundred rows).
- On PostgreSQL deployments it is still a local file: each replica keeps its own, filled by
  what it ingests and answers.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from loguru import logger

from services.sqlite.connection import Connection, Error, immediate_transaction
from services.sqlite.migrations import Migration, apply_migrations
from services.sqlite.thread_connections import ThreadConnections
from use_cases.shared.errors import ConfigurationError

#: Rows kept (1.5 KB each for 384 dimensions: 300,000 take ~470 MB).
MAX_ROWS = 300_000
#: Texts per lookup statement (SQLite's default variable limit is 32,766).
LOOKUP_BATCH = 500

MIGRATIONS = [
    Migration(
        "0001_sentence_vectors",
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE vectors (key BLOB NOT NULL UNIQUE, vector BLOB NOT NULL);
        """,
    )
]


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class SentenceVectorFile:
    """`SentenceVectorStore` in a SQLite file; see the module docstring."""

    def __init__(self, path: Path, model: str, dimension: int, *, max_rows: int = MAX_ROWS) -> None:
        self._path = Path(path)
        self._model = f"{model}/{dimension}"
        self._dimension = dimension
        self._max_rows = max_rows
        self._connections = ThreadConnections(self._path)
        self._lock = threading.Lock()
        self._ready = False
        self._closed = False

    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        if not texts:
            return {}
        keyed = {text_key(text): text for text in texts}
        keys = list(keyed)
        found: dict[str, np.ndarray] = {}
        try:
            connection = self._connection()
            if connection is None:
                return {}
            for start in range(0, len(keys), LOOKUP_BATCH):
                batch = keys[start : start + LOOKUP_BATCH]
                marks = ",".join("?" * len(batch))
                rows = connection.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch
                ).fetchall()
                for key, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (self._dimension,):
                        found[keyed[bytes(key)]] = vector
        except (Error, ConfigurationError) as exc:
            logger.warning("Sentence vectors unreadable in {}: {}", self._path, exc)
        return found

    def put_many(self, vectors: dict[str, np.ndarray]) -> None:
        if not vectors:
            return
        rows = [
            (text_key(text), np.ascontiguousarray(vector, dtype=np.float32).tobytes())
            for text, vector in vectors.items()
        ]
        try:
            connection = self._connection()
            if connection is None:
                return
            with immediate_transaction(connection):
                connection.executemany(
                    "INSERT OR IGNORE INTO vectors (key, vector) VALUES (?, ?)", rows
                )
                connection.execute(
                    "DELETE FROM vectors WHERE rowid <= (SELECT max(rowid) FROM vectors) - ?",
                    (self._max_rows,),
                )
        except (Error, ConfigurationError) as exc:
            logger.warning("Sentence vectors not kept in {}: {}", self._path, exc)

    def delete_many(self, texts: Sequence[str]) -> None:
        """Remove these texts' vectors (a miss costs the next question an embedding only)."""
        keys = [text_key(text) for text in texts]
        if not keys:
            return
        try:
            connection = self._connection()
            if connection is None:
                return
            with immediate_transaction(connection):
                for start in range(0, len(keys), LOOKUP_BATCH):
                    batch = keys[start : start + LOOKUP_BATCH]
                    marks = ",".join("?" * len(batch))
                    connection.execute(f"DELETE FROM vectors WHERE key IN ({marks})", batch)
        except (Error, ConfigurationError) as exc:
            logger.warning("Sentence vectors not removed from {}: {}", self._path, exc)

    def count(self) -> int:
        connection = self._connection()
        if connection is None:
            return 0
        return int(connection.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._connections.close()

    def _connection(self) -> Connection | None:
        """This thread's connection, the file set up on first use; None once closed."""
        if self._closed:
            return None
        connection = self._connections.get()
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self._set_up(connection)
                    self._ready = True
        return connection

    def _set_up(self, connection: Connection) -> None:
        apply_migrations(connection, MIGRATIONS)
        with immediate_transaction(connection):
            recorded = connection.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
            if recorded is None or recorded[0] != self._model:
                connection.execute("DELETE FROM vectors")
                connection.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('model', ?)", (self._model,)
                )
