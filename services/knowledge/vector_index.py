"""In-memory vector search over the knowledge store's `vec0` table, kept in step with it.

Why not query vec0 directly: sqlite-vec's KNN is a brute-force scan whose cost also grows
with k. Measured on this 2-core machine at 100k 384-dim vectors: float cosine k=50 ~90 ms,
bit (hamming) k=200 ~35 ms and k=1000 ~260 ms; a full scan through the virtual table takes
2.5-4 s. NumPy over a resident matrix does the same work in a few milliseconds.

How: the float32 vectors (unit rows) live in RAM (1.5 kB per 384-dim chunk: 150 MB at 100k)
with their chunk ids, category codes, and sections and documents (`places`). Up to
`exact_threshold` vectors (or a category subset that small) are searched exhaustively; exact
search is memory-bound (100k x 384 floats: 8 ms idle, 17 ms on a busy machine). Above it a
1-bit sign code per dimension (what sqlite-vec's `vec_quantize_binary` computes; 48 bytes per
vector) gives a hamming-distance shortlist of `candidates` vectors and every vector tied with
the last of them (`_shortlist`), which are then re-scored exactly: ~1.2-1.5 ms at 100k.

Quality of the shortlist (1000 candidates), measured: top-50 recall vs exact search 0.99 on
SciFact's 12.7k MiniLM chunk vectors and 0.94 at 100k synthetic (pooled, near-duplicate)
vectors; hybrid nDCG@10 unchanged within noise (SciFact train 0.7270 vs 0.7271 exact;
100k SciFact + distractors 0.6770 vs 0.6753 exact). Centering the vectors before taking
signs did not help (recall 0.9894 vs 0.9898). Keeping every vector tied at the cut (instead
of whichever a partial sort left in) raised the recall to 0.9908 (from 0.9893) on SciFact and
0.952 (from 0.945) at 100k, ~1,080 candidates at the median (docs/notes/benchmarks.md).

Staying current: the store bumps `generation` on every write and records deleted chunk ids
in `chunk_tombstones`; chunk ids only grow. `sync` therefore applies deletions and loads
chunks newer than the last one it holds, and reloads everything only when the vector table
was rebuilt (`vector_epoch`) or its tombstones were pruned past our generation.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from loguru import logger

from services.knowledge.resident_rows import DocumentMasks, held_positions
from services.knowledge.store import NO_CATEGORY, VECTOR_TABLE, StoreState, read_state
from services.sqlite.connection import Connection, OperationalError

__all__ = ["ResidentVectors"]

_ID_BATCH = 500
_BLOCK = 1024
_HAMMING_BLOCK = 65_536


@dataclass(frozen=True)
class _Snapshot:
    """Arrays a search reads; rows [0, size) are valid. Never mutated below `size`."""

    ids: np.ndarray  # int64, ascending
    vectors: np.ndarray  # float32 (capacity, dim), unit rows
    bits: np.ndarray  # uint64 (words, capacity), sign bits
    codes: np.ndarray  # int32 category codes
    alive: np.ndarray  # bool
    size: int
    sections: np.ndarray  # int64 section id of each chunk
    documents: np.ndarray  # int64 document id of each chunk


class ResidentVectors:
    """Resident copy of the vectors with exact and binary-shortlist cosine search."""

    def __init__(self, *, exact_threshold: int = 10_000, candidates: int = 1_000) -> None:
        self.exact_threshold = exact_threshold
        self.candidates = candidates
        self._lock = threading.Lock()
        self._masks = DocumentMasks()
        self._state: StoreState | None = None
        self._snapshot: _Snapshot | None = None
        self._categories: dict[str, int] = {}
        self._dead = 0
        self._dimension = 0

    # -- maintenance ---------------------------------------------------------------------------

    @property
    def size(self) -> int:
        snap = self._snapshot
        return 0 if snap is None else int(snap.alive[: snap.size].sum())

    def sync(self, conn: Connection, state: StoreState) -> None:
        """Bring the index up to `state` (cheap when nothing changed)."""
        current = self._state
        if current is not None and current.generation == state.generation:
            return
        with self._lock:
            current = self._state
            if current is not None and current.generation == state.generation:
                return
            own_transaction = not conn.in_transaction
            if own_transaction:
                conn.execute("BEGIN")  # one snapshot for the counters and the rows
            try:
                state = _current_state(conn, state)
                full = (
                    current is None
                    or self._snapshot is None
                    or state.vector_epoch != current.vector_epoch
                    or state.dimension != current.dimension
                    or state.tombstone_floor > current.generation
                )
                if full:
                    self._load_all(conn, state)
                else:
                    assert current is not None
                    self._apply_changes(conn, current.generation)
            finally:
                if own_transaction:
                    conn.execute("COMMIT")
            self._state = state

    def _load_all(self, conn: Connection, state: StoreState) -> None:
        self._categories = {}
        self._dead = 0
        self._dimension = state.dimension or 0
        if not state.dimension or not _table_exists(conn, VECTOR_TABLE):
            self._snapshot = None
            return
        rows = conn.execute(
            f"SELECT v.chunk_id, v.embedding, coalesce(d.category, ''), c.section_id, "
            f"c.document_id FROM {VECTOR_TABLE} v "
            "JOIN chunks c ON c.id = v.chunk_id JOIN documents d ON d.id = c.document_id "
        ).fetchall()
        rows.sort(key=lambda row: row[0])
        self._snapshot = None
        self._append(rows, capacity=len(rows) + 1024)
        logger.debug("Vector index loaded: {} vectors of {} dims", len(rows), self._dimension)

    def _apply_changes(self, conn: Connection, since: int) -> None:
        snap = self._snapshot
        assert snap is not None
        deleted = [
            row[0]
            for row in conn.execute(
                "SELECT chunk_id FROM chunk_tombstones WHERE generation > ?", (since,)
            )
        ]
        if deleted:
            ids = snap.ids[: snap.size]
            positions = np.searchsorted(ids, np.asarray(deleted, dtype=np.int64))
            positions = positions[positions < snap.size]
            positions = positions[np.isin(ids[positions], deleted)]
            newly_dead = int(snap.alive[positions].sum())
            snap.alive[positions] = False
            self._dead += newly_dead
        last_id = int(snap.ids[snap.size - 1]) if snap.size else 0
        new = conn.execute(
            "SELECT c.id, coalesce(d.category, ''), c.section_id, c.document_id FROM chunks c "
            "JOIN documents d ON d.id = c.document_id WHERE c.id > ? ORDER BY c.id",
            (last_id,),
        ).fetchall()
        if new:
            places = {chunk_id: rest for chunk_id, *rest in new}
            new_ids = [row[0] for row in new]
            rows: list[tuple[int, bytes, str, int, int]] = []
            for start in range(0, len(new_ids), _ID_BATCH):
                part = new_ids[start : start + _ID_BATCH]
                marks = ",".join("?" * len(part))
                rows.extend(
                    (chunk_id, blob, *places[chunk_id])
                    for chunk_id, blob in conn.execute(
                        f"SELECT chunk_id, embedding FROM {VECTOR_TABLE} "
                        f"WHERE chunk_id IN ({marks})",
                        part,
                    )
                )
            rows.sort(key=lambda row: row[0])
            self._append(rows)
        snap = self._snapshot
        if snap is not None and self._dead > max(1024, snap.size // 4):
            self._compact()

    def _append(
        self, rows: list[tuple[int, bytes, str, int, int]], capacity: int | None = None
    ) -> None:
        dim = self._dimension
        words = (dim + 63) // 64
        snap = self._snapshot
        size = 0 if snap is None else snap.size
        needed = size + len(rows)
        if snap is None or needed > snap.ids.shape[0]:
            cap = max(capacity or 0, needed + needed // 4 + 1024)
            ids = np.zeros(cap, dtype=np.int64)
            vectors = np.zeros((cap, dim), dtype=np.float32)
            bits = np.zeros((words, cap), dtype=np.uint64)
            codes = np.zeros(cap, dtype=np.int32)
            alive = np.zeros(cap, dtype=bool)
            sections = np.zeros(cap, dtype=np.int64)
            documents = np.zeros(cap, dtype=np.int64)
            if snap is not None:
                ids[:size] = snap.ids[:size]
                vectors[:size] = snap.vectors[:size]
                bits[:, :size] = snap.bits[:, :size]
                codes[:size] = snap.codes[:size]
                alive[:size] = snap.alive[:size]
                sections[:size] = snap.sections[:size]
                documents[:size] = snap.documents[:size]
            snap = _Snapshot(ids, vectors, bits, codes, alive, size, sections, documents)
        if rows:
            block = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32)
            block = block.reshape(len(rows), dim)
            snap.ids[size:needed] = [row[0] for row in rows]
            snap.vectors[size:needed] = block
            snap.bits[:, size:needed] = _sign_bits(block).T
            snap.codes[size:needed] = [self._code(row[2]) for row in rows]
            snap.alive[size:needed] = True
            snap.sections[size:needed] = [row[3] for row in rows]
            snap.documents[size:needed] = [row[4] for row in rows]
        self._snapshot = replace(snap, size=needed)

    def _compact(self) -> None:
        snap = self._snapshot
        assert snap is not None
        keep = np.flatnonzero(snap.alive[: snap.size])
        size = len(keep)
        self._snapshot = _Snapshot(
            ids=snap.ids[keep].copy(),
            vectors=snap.vectors[keep].copy(),
            bits=np.ascontiguousarray(snap.bits[:, keep]),
            codes=snap.codes[keep].copy(),
            alive=np.ones(size, dtype=bool),
            size=size,
            sections=snap.sections[keep].copy(),
            documents=snap.documents[keep].copy(),
        )
        self._dead = 0

    def _code(self, category: str) -> int:
        code = self._categories.get(category)
        if code is None:
            code = self._categories[category] = len(self._categories)
        return code

    # -- search --------------------------------------------------------------------------------

    def places(self, chunk_ids: Sequence[int]) -> dict[int, tuple[int, int]] | None:
        """{chunk id: (its section id, its document id)} for `chunk_ids`, as of the last
        `sync`; None unless every one of them is held and alive (the caller then asks the
        database). A chunk's section and document never change (ids are never reused)."""
        snap = self._snapshot
        if snap is None:
            return None
        if not chunk_ids:
            return {}
        positions = held_positions(snap.ids, snap.alive, snap.size, chunk_ids)
        if positions is None:
            return None
        sections = snap.sections[positions].tolist()
        documents = snap.documents[positions].tolist()
        return {chunk_id: (sections[i], documents[i]) for i, chunk_id in enumerate(chunk_ids)}

    def search(
        self,
        query: np.ndarray,
        k: int,
        category: str | None = None,
        *,
        exact: bool = False,
        documents: frozenset[int] | None = None,
    ) -> list[tuple[int, float]]:
        """Top `k` (chunk id, cosine distance), nearest first; with `documents`, only those
        documents' chunks (masked before the shortlist, so the shortlist is all theirs)."""
        snap = self._snapshot
        if snap is None or snap.size == 0 or k <= 0:
            return []
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape[0] != snap.vectors.shape[1]:
            raise ValueError(
                f"Query vector has {q.shape[0]} dimensions; the index has {snap.vectors.shape[1]}."
            )
        norm = float(np.linalg.norm(q))
        if norm == 0.0 or not np.isfinite(norm):
            return []
        q = q / norm
        n = snap.size
        mask = snap.alive[:n]
        if category is not None:
            code = self._categories.get(category if category else NO_CATEGORY)
            if code is None:
                return []
            mask = mask & (snap.codes[:n] == code)
        if documents is not None:
            mask = mask & self._masks.mask(snap, snap.documents[:n], documents)
        all_alive = category is None and documents is None and self._dead == 0
        subset_size = n if all_alive else int(mask.sum())
        if subset_size == 0:
            return []
        if exact or subset_size <= max(self.exact_threshold, self.candidates):
            if all_alive:
                positions = np.arange(n)
                scores = _dot(snap.vectors[:n], q)
            else:
                positions = np.flatnonzero(mask)
                scores = _dot(snap.vectors[positions], q)
        else:
            qbits = _sign_bits(q[None, :])[0]
            distance = _hamming(snap.bits, qbits, n)
            if not all_alive:  # past any real distance (at most 64 bits a word)
                distance[~mask] = 64 * snap.bits.shape[0] + 1
            shortlist = min(self.candidates, subset_size)
            positions = _shortlist(distance, shortlist, 2 * shortlist)
            scores = _dot(snap.vectors[positions], q)
        k = min(k, len(positions))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(positions) else np.arange(k)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(snap.ids[positions[i]]), float(1.0 - scores[i])) for i in top]


def _hamming(bits: np.ndarray, query: np.ndarray, size: int) -> np.ndarray:
    """Hamming distance of `query`'s sign bits to codes [0, `size`), all words of a block of
    codes at once: a few long NumPy calls, each releasing the GIL, rather than a few per word
    (the vector leg runs beside the BM25 leg's Python, and each call's end waits for the GIL),
    with temporaries bounded by the block (3 MB)."""
    distance = np.empty(size, dtype=np.uint16)
    for start in range(0, size, _HAMMING_BLOCK):
        end = min(size, start + _HAMMING_BLOCK)
        counts = np.bitwise_count(bits[:, start:end] ^ query[:, None])
        np.sum(counts, axis=0, dtype=np.uint16, out=distance[start:end])
    return distance


def _shortlist(distance: np.ndarray, size: int, limit: int) -> np.ndarray:
    """Positions (ascending) of the `size` smallest distances and of every distance equal to
    the largest of those, so which of several vectors tied at the cut get re-scored does not
    depend on how a selection algorithm happens to order them; if the ties would make the
    shortlist longer than `limit`, only the first tied positions fill it up to `size`.

    Counting the distances (at most 64 per word, so a few hundred bins) and cutting at a
    distance takes ~0.2 ms at 100k vectors, where `np.argpartition` took ~0.8 ms.
    """
    reached = np.cumsum(np.bincount(distance))
    cut = int(np.searchsorted(reached, size))
    if reached[cut] <= limit:
        return np.flatnonzero(distance <= cut)
    closer = np.flatnonzero(distance < cut)
    tied = np.flatnonzero(distance == cut)[: size - closer.shape[0]]
    return np.sort(np.concatenate([closer, tied]))


def _dot(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """`matrix @ vector` in blocks of `_BLOCK` rows.

    A single large product hands the work to OpenBLAS's thread pool, whose wake-up costs
    8-12 ms on a busy 2-core machine (measured: 10k x 384 took 8 ms as one product and
    1.1 ms in blocks); blocks this small stay on the calling thread.
    """
    rows = matrix.shape[0]
    if rows <= _BLOCK:
        return matrix @ vector
    out = np.empty(rows, dtype=np.float32)
    for start in range(0, rows, _BLOCK):
        np.dot(matrix[start : start + _BLOCK], vector, out=out[start : start + _BLOCK])
    return out


def _sign_bits(block: np.ndarray) -> np.ndarray:
    """Sign bits of each row packed into uint64 words (rows, words); zero-padded."""
    dim = block.shape[1]
    words = (dim + 63) // 64
    packed = np.packbits(block > 0, axis=1, bitorder="little")
    padded = np.zeros((block.shape[0], words * 8), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    return padded.view(np.uint64)


def _table_exists(conn: Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    return row is not None


def _current_state(conn: Connection, fallback: StoreState) -> StoreState:
    try:
        return read_state(conn)
    except OperationalError:
        return fallback
