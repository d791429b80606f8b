"""Section BM25 from a resident copy of `sections_fts`, scored exactly as FTS5's bm25() scores.

Why: FTS5 evaluates bm25() at ~0.7 µs per matching row, so an OR query over common terms
costs tens of milliseconds at 100k chunks; `lexical.LexicalSearcher` bounds that with a
posting budget and re-scoring (BM25 p50 ~13 ms there, and only approximately the full
query). Held in NumPy, a term's postings are scored for all its rows in one vector operation:
every query term, no budget, a few milliseconds (bench/bench_search.py; figures in
docs/notes/benchmarks.md). bm25s (an in-memory BM25 library) was measured too: 0.4 ms a query but
13.5 s to build at 100k chunks, no incremental updates, its own tokenizer and no column
weights, so its scores and the FTS5 index's would disagree.

What is held, per section ("row"): its id, category code, whether it is alive, its length
(tokens in title, heading and text, as FTS5 counts them), its document and its first chunk
(so a hit's place needs no statement: `places`); per term, its postings: rows and
the weighted frequency `w_title*tf_title + w_heading*tf_heading + w_text*tf_text`, which is
what bm25() computes per phrase. Postings live in two segments, a large one and a small one
for recent rows; the small one is merged in (and deleted rows dropped) once it grows past a
quarter of the large one. 100k chunks (50k sections) make ~60 MB of postings (1M: 604 MB).

Exactness: the score is FTS5's formula (fts5_aux.c): IDF log((N - n + 0.5) / (n + 0.5))
floored at 1e-6, k1 = 1.2, b = 0.75, n the live rows holding the term, and N and avgdl read
from FTS5's own averages record, as bm25() reads them. (On a contentless-delete table a
delete does not decrease those totals: FTS5 cannot know a deleted row's tokens. So after
deletes, N and avgdl count rows that are gone, in both paths alike.) Text is
split at whitespace (where `unicode61` always splits) and each distinct piece ("cells,",
"COVID-19") is turned into index terms by FTS5 itself, through a scratch table with the
index's tokenizer: splitting, case folding, diacritics and Porter stemming are SQLite's, so
the terms are the index's. As a safety net each row's per-column token counts are checked
against FTS5's own `%_docsize` record; a row that differs is tokenised whole by FTS5 through
a scratch table's instance vocabulary. A query's terms are `LexicalSearcher.analyze`'s
stems, one phrase per stem, as its MATCH query has them. Measured at 100k chunks: the top 50
equal the unbudgeted FTS5 query's, scores within 1e-13.

Staying current: as the vector index. The store bumps `generation` on every write, section
ids only grow (`AUTOINCREMENT`), and deleted sections are recorded in `section_tombstones`
(knowledge_0007). `sync` drops tombstoned rows and tokenises sections newer than the last
one held; it reloads everything only when the tombstones were pruned past its generation.
The index is a cache of the database: nothing is written, so a crash loses nothing and the
next start rebuilds it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
from loguru import logger

from services.knowledge.lexical import K1, B, LexicalHit, column_sizes, fts_averages
from services.knowledge.resident_rows import DocumentMasks, held_positions
from services.knowledge.schema import FTS_TOKENIZER, SECTION_FTS_TABLE, SECTION_FTS_VOCAB_TABLE
from services.knowledge.store import StoreState, read_state
from services.sqlite.connection import Connection, OperationalError, connect

__all__ = ["ResidentBM25"]

_WORDS_TABLE = "almanac_resident_words"
_ROWS_TABLE = "almanac_resident_rows"
_BATCH = 2_000
#: Seconds before a failed background build is tried again (FTS5 answers meanwhile).
RETRY_AFTER_S = 60.0
_MIN_RECENT = 2_048

_SECTIONS_SQL = (
    "SELECT s.id, coalesce(d.category, ''), d.title, "
    "coalesce((SELECT group_concat(j.value, ' > ') FROM json_each(s.heading_path) j "
    "WHERE j.value <> ''), ''), s.text, s.document_id "
    "FROM sections s JOIN documents d ON d.id = s.document_id WHERE s.id > ? ORDER BY s.id"
)


@dataclass(frozen=True)
class _Postings:
    """Postings of rows [first_row, ...) grouped by term: term t's are [starts[t], starts[t+1])."""

    starts: np.ndarray  # int64, one more than the terms known when built
    rows: np.ndarray  # int32 row positions
    freqs: np.ndarray  # float32 weighted frequencies (small sums of weights: exact)

    def of(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        if term + 1 >= self.starts.shape[0]:
            return _NO_ROWS, _NO_FREQS
        start, end = int(self.starts[term]), int(self.starts[term + 1])
        return self.rows[start:end], self.freqs[start:end]

    def triples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        terms = np.repeat(np.arange(self.starts.shape[0] - 1), np.diff(self.starts))
        return terms, self.rows, self.freqs


_NO_ROWS = np.zeros(0, dtype=np.int32)
_NO_FREQS = np.zeros(0, dtype=np.float32)
_NO_POSTINGS = _Postings(np.zeros(1, dtype=np.int64), _NO_ROWS, _NO_FREQS)


def _group(
    terms: np.ndarray,
    rows: np.ndarray,
    freqs: np.ndarray,
    n_terms: int,
    *,
    rows_ascending: bool = True,
) -> _Postings:
    """Postings by term, rows ascending within a term (a stable sort keeps them so when
    they already are; otherwise both keys are sorted)."""
    order = np.argsort(terms, kind="stable") if rows_ascending else np.lexsort((rows, terms))
    terms = terms[order]
    starts = np.searchsorted(terms, np.arange(n_terms + 1)).astype(np.int64)
    return _Postings(
        starts, rows[order].astype(np.int32), freqs[order].astype(np.float32, copy=False)
    )


@dataclass(frozen=True)
class _Snapshot:
    """What a search reads. Rows [0, size) are valid; only `alive` changes in place."""

    ids: np.ndarray  # int64 section ids, ascending
    codes: np.ndarray  # int32 category codes
    alive: np.ndarray  # bool
    lengths: np.ndarray  # float64 tokens per row
    size: int
    main: _Postings  # rows [0, main_rows)
    recent: _Postings  # rows [main_rows, size)
    main_rows: int
    documents: np.ndarray  # int64 document id of each row
    first_chunks: np.ndarray  # int64 id of each row's first chunk (-1: none)


class ResidentBM25:
    """In-memory section BM25, equal to FTS5's bm25() over `sections_fts` (module docstring).

    `weights`: bm25() column weights (title, heading, text), as the FTS5 searcher's.
    `min_rows`: below this many sections the index is not built (`large_enough` says False
    and the retriever uses FTS5, which is fast at that size); 0 builds it for any size.
    """

    def __init__(
        self, *, weights: tuple[float, float, float] = (4.0, 2.0, 1.0), min_rows: int = 5_000
    ) -> None:
        self.weights = tuple(float(w) for w in weights)
        self.min_rows = min_rows
        self._lock = threading.Lock()
        self._masks = DocumentMasks()
        self._loading = False
        self._state: StoreState | None = None
        self._snapshot: _Snapshot | None = None
        self._recent: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._categories: dict[str, int] = {}
        self._terms: dict[str, int] = {}
        self._words: dict[str, int] = {}
        self._word_starts: list[int] = []
        self._word_counts: list[int] = []
        self._word_terms: list[int] = []
        self._live_rows = 0
        self._averages = (0, 0)  # FTS5's own (rows, tokens): see the module docstring
        self._failed_at: float | None = None
        self._norms: tuple[_Snapshot, tuple[int, int], np.ndarray] | None = None
        self.exact_rows = 0  # rows FTS5 itself tokenised (counts differed); for tests and logs

    # -- state ---------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Live sections held (0 when not built)."""
        return self._live_rows if self._snapshot is not None else 0

    def current(self, state: StoreState) -> bool:
        """Whether the index holds the store as of `state` (or a later write)."""
        held = self._state
        if self._snapshot is None or held is None:
            return False
        return held.generation >= state.generation

    def needs_load(self, state: StoreState) -> bool:
        """Whether bringing the index to `state` means (re)building it whole."""
        held = self._state
        return self._snapshot is None or held is None or state.tombstone_floor > held.generation

    def pending(self, conn: Connection) -> int:
        """Sections written since the index was last brought up to date (not counting deletes)."""
        snap = self._snapshot
        last = int(snap.ids[snap.size - 1]) if snap is not None and snap.size else 0
        row = conn.execute("SELECT count(*) FROM sections WHERE id > ?", (last,)).fetchone()
        return int(row[0])

    def large_enough(self, conn: Connection) -> bool:
        rows, _ = fts_averages(conn, SECTION_FTS_TABLE, SECTION_FTS_VOCAB_TABLE)
        return rows >= self.min_rows

    def sync(self, conn: Connection, state: StoreState) -> None:
        """Bring the index up to `state` (cheap when nothing changed)."""
        if self.current(state):
            return
        with self._lock:
            if self.current(state):
                return
            own_transaction = not conn.in_transaction
            if own_transaction:
                conn.execute("BEGIN")  # one snapshot for the counters and the rows
            try:
                state = read_state(conn)
                if self.needs_load(state):
                    self._load_all(conn)
                else:
                    assert self._state is not None
                    try:
                        self._apply_changes(conn, self._state.generation)
                    except OperationalError:  # a file without section_tombstones (read-only)
                        self._load_all(conn)
                self._averages = fts_averages(conn, SECTION_FTS_TABLE, SECTION_FTS_VOCAB_TABLE)
            finally:
                if own_transaction:
                    conn.execute("COMMIT")
            self._state = state

    def start_loading(self, path: Path, state: StoreState, *, readonly: bool = False) -> bool:
        """Build the index on a background thread, over its own connection to the database
        at `path`; False if a build is already running."""
        with self._lock:
            failed = self._failed_at
            if self._loading or (failed and time.monotonic() - failed < RETRY_AFTER_S):
                return False
            self._loading = True

        def run() -> None:
            try:
                conn = connect(path, readonly=readonly)
                try:
                    self.sync(conn, state)
                finally:
                    conn.close()
                self._failed_at = None
            except Exception:  # searches fall back to FTS5; log, and try again later
                logger.exception("Building the resident BM25 index failed")
                self._failed_at = time.monotonic()
            finally:
                with self._lock:
                    self._loading = False

        threading.Thread(target=run, name="almanac-bm25-load", daemon=True).start()
        return True

    @property
    def loading(self) -> bool:
        return self._loading

    # -- loading -------------------------------------------------------------------------------

    def _load_all(self, conn: Connection) -> None:
        """Build a whole new snapshot, then swap it in: searches meanwhile read the old one.
        Term ids and category codes are never reused, so both stay valid across reloads."""
        ids: list[int] = []
        codes: list[int] = []
        documents: list[int] = []
        firsts: list[int] = []
        lengths: list[np.ndarray] = []
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for batch in _batches(conn.execute(_SECTIONS_SQL, (0,)), _BATCH):
            terms, rows, freqs, batch_lengths = self._tokenise(conn, batch)
            parts.append((terms, rows + len(ids), freqs))
            ids.extend(int(row[0]) for row in batch)
            codes.extend(self._code(str(row[1])) for row in batch)
            documents.extend(int(row[5]) for row in batch)
            firsts.extend(_first_chunks(conn, batch))
            lengths.append(batch_lengths)
        size = len(ids)
        all_lengths = np.concatenate(lengths) if lengths else np.zeros(0)
        main = _group(*_concat(parts), len(self._terms)) if parts else _NO_POSTINGS
        self._snapshot = _Snapshot(
            ids=np.asarray(ids, dtype=np.int64),
            codes=np.asarray(codes, dtype=np.int32),
            alive=np.ones(size, dtype=bool),
            lengths=all_lengths.astype(np.float64),
            size=size,
            main=main,
            recent=_NO_POSTINGS,
            main_rows=size,
            documents=np.asarray(documents, dtype=np.int64),
            first_chunks=np.asarray(firsts, dtype=np.int64),
        )
        self._recent = []
        self._live_rows = size
        logger.debug(
            "Resident BM25 index loaded: {} sections, {} terms, {} postings",
            size,
            len(self._terms),
            main.rows.shape[0],
        )

    def _apply_changes(self, conn: Connection, since: int) -> None:
        snap = self._snapshot
        assert snap is not None
        deleted = [
            int(row[0])
            for row in conn.execute(
                "SELECT section_id FROM section_tombstones WHERE generation > ?", (since,)
            )
        ]
        if deleted:
            held = snap.ids[: snap.size]
            wanted = np.asarray(deleted, dtype=np.int64)
            positions = np.searchsorted(held, wanted)
            positions = positions[positions < snap.size]
            positions = positions[np.isin(held[positions], wanted)]
            positions = positions[snap.alive[positions]]
            snap.alive[positions] = False
            self._live_rows -= int(positions.shape[0])
        last_id = int(snap.ids[snap.size - 1]) if snap.size else 0
        new = conn.execute(_SECTIONS_SQL, (last_id,)).fetchall()
        if new:
            self._append(conn, new)
        snap = self._snapshot
        assert snap is not None
        if snap.size - snap.main_rows > max(_MIN_RECENT, snap.main_rows // 4):
            self._merge()

    def _append(self, conn: Connection, rows: list[tuple]) -> None:
        snap = self._snapshot
        assert snap is not None
        size = snap.size
        lengths: list[np.ndarray] = []
        for batch in _batches(rows, _BATCH):
            terms, batch_rows, freqs, batch_lengths = self._tokenise(conn, batch)
            offset = size + sum(part.shape[0] for part in lengths)
            self._recent.append((terms, batch_rows + offset, freqs))
            lengths.append(batch_lengths)
        new_lengths = np.concatenate(lengths)
        ids = np.concatenate([snap.ids[:size], np.asarray([r[0] for r in rows], dtype=np.int64)])
        codes = np.concatenate(
            [snap.codes[:size], np.asarray([self._code(str(r[1])) for r in rows], np.int32)]
        )
        alive = np.concatenate([snap.alive[:size], np.ones(len(rows), dtype=bool)])
        all_lengths = np.concatenate([snap.lengths[:size], new_lengths])
        recent = _group(*_concat(self._recent), len(self._terms))
        documents = np.asarray([r[5] for r in rows], dtype=np.int64)
        firsts = np.asarray(
            [first for batch in _batches(rows, _BATCH) for first in _first_chunks(conn, batch)],
            dtype=np.int64,
        )
        self._snapshot = _Snapshot(
            ids,
            codes,
            alive,
            all_lengths,
            size + len(rows),
            snap.main,
            recent,
            snap.main_rows,
            np.concatenate([snap.documents[:size], documents]),
            np.concatenate([snap.first_chunks[:size], firsts]),
        )
        self._live_rows += len(rows)

    def _merge(self) -> None:
        """One segment again, without the deleted rows."""
        snap = self._snapshot
        assert snap is not None
        keep = np.flatnonzero(snap.alive[: snap.size])
        new_position = np.full(snap.size, -1, dtype=np.int64)
        new_position[keep] = np.arange(keep.shape[0])
        terms, rows, freqs = _concat([snap.main.triples(), *self._recent])
        live = new_position[rows] >= 0
        main = _group(
            terms[live],
            new_position[rows[live]],
            freqs[live],
            len(self._terms),
            rows_ascending=False,
        )
        size = int(keep.shape[0])
        self._snapshot = _Snapshot(
            ids=snap.ids[keep].copy(),
            codes=snap.codes[keep].copy(),
            alive=np.ones(size, dtype=bool),
            lengths=snap.lengths[keep].copy(),
            size=size,
            main=main,
            recent=_NO_POSTINGS,
            main_rows=size,
            documents=snap.documents[keep].copy(),
            first_chunks=snap.first_chunks[keep].copy(),
        )
        self._recent = []

    def _code(self, category: str) -> int:
        code = self._categories.get(category)
        if code is None:
            code = self._categories[category] = len(self._categories)
        return code

    # -- tokenising ----------------------------------------------------------------------------

    def _tokenise(
        self, conn: Connection, batch: Sequence[tuple]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(terms, rows, weighted frequencies, row lengths) of a batch of `_SECTIONS_SQL` rows;
        rows numbered from 0 within the batch."""
        n = len(batch)
        columns = [[(row[2 + c] or "").split() for row in batch] for c in range(3)]
        unknown: set[str] = set()
        for column in columns:
            for tokens in column:
                unknown.update(tokens)
        unknown.difference_update(self._words)
        if unknown:
            self._learn_words(conn, sorted(unknown))
        starts = np.asarray(self._word_starts, dtype=np.int64)
        counts = np.asarray(self._word_counts, dtype=np.int64)
        flat_terms = np.asarray(self._word_terms, dtype=np.int64)
        all_terms: list[np.ndarray] = []
        all_rows: list[np.ndarray] = []
        all_weights: list[np.ndarray] = []
        sizes = np.zeros((n, 3), dtype=np.int64)
        for c, column in enumerate(columns):
            per_row = np.fromiter((len(t) for t in column), dtype=np.int64, count=n)
            total = int(per_row.sum())
            if total == 0:
                continue
            words = np.fromiter(
                map(self._words.__getitem__, chain.from_iterable(column)),
                dtype=np.int64,
                count=total,
            )
            row_of = np.repeat(np.arange(n), per_row)
            expand = counts[words]
            offsets = np.cumsum(expand) - expand
            index = np.arange(int(expand.sum())) - np.repeat(offsets, expand)
            index += np.repeat(starts[words], expand)
            rows = np.repeat(row_of, expand)
            sizes[:, c] = np.bincount(rows, minlength=n)
            all_terms.append(flat_terms[index])
            all_rows.append(rows)
            all_weights.append(np.full(rows.shape[0], self.weights[c]))
        exact = self._mismatched(conn, batch, sizes)
        if exact:
            # FTS5 tokenises these rows itself; their regex-split postings are discarded.
            fixed_terms, fixed_rows, fixed_weights, fixed_sizes = self._exact(conn, batch, exact)
            wrong = np.zeros(n, dtype=bool)
            wrong[exact] = True
            for i in range(len(all_rows)):
                right = ~wrong[all_rows[i]]
                all_terms[i], all_rows[i] = all_terms[i][right], all_rows[i][right]
                all_weights[i] = all_weights[i][right]
            all_terms.append(fixed_terms)
            all_rows.append(fixed_rows)
            all_weights.append(fixed_weights)
            sizes[exact] = fixed_sizes
            self.exact_rows += len(exact)
        lengths = sizes.sum(axis=1).astype(np.float64)
        if not all_rows:
            return _NO_ROWS, _NO_ROWS, _NO_FREQS, lengths
        terms = np.concatenate(all_terms)
        rows = np.concatenate(all_rows)
        weights = np.concatenate(all_weights)
        n_terms = max(1, len(self._terms))
        keys, inverse = np.unique(rows * n_terms + terms, return_inverse=True)
        freqs = np.bincount(inverse.reshape(-1), weights=weights)
        return (
            (keys % n_terms).astype(np.int32),
            (keys // n_terms).astype(np.int32),
            freqs.astype(np.float32),
            lengths,
        )

    def _learn_words(self, conn: Connection, words: list[str]) -> None:
        """Index terms of each new word, from FTS5 itself (a scratch table, same tokenizer)."""
        table = f"temp.{_WORDS_TABLE}"
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} "
            f"USING fts5(x, tokenize = '{FTS_TOKENIZER}')"
        )
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {table}_vocab "
            f"USING fts5vocab(temp, {_WORDS_TABLE}, 'instance')"
        )
        conn.execute(f"DELETE FROM {table}")
        conn.executemany(f"INSERT INTO {table}(rowid, x) VALUES (?, ?)", list(enumerate(words)))
        found: dict[int, list[int]] = {}
        for doc, term in conn.execute(f"SELECT doc, term FROM {table}_vocab ORDER BY doc, offset"):
            found.setdefault(int(doc), []).append(self._term_id(term))
        for index, word in enumerate(words):
            terms = found.get(index, [])
            self._words[word] = len(self._word_starts)
            self._word_starts.append(len(self._word_terms))
            self._word_counts.append(len(terms))
            self._word_terms.extend(terms)
        conn.execute(f"DELETE FROM {table}")

    def _term_id(self, term: str) -> int:
        found = self._terms.get(term)
        if found is None:
            found = self._terms[term] = len(self._terms)
        return found

    def _mismatched(self, conn: Connection, batch: Sequence[tuple], sizes: np.ndarray) -> list[int]:
        """Rows whose per-column token counts differ from FTS5's `%_docsize` record."""
        ids = [int(row[0]) for row in batch]
        marks = ",".join("?" * len(ids))
        try:
            recorded = dict(
                conn.execute(
                    f"SELECT id, sz FROM {SECTION_FTS_TABLE}_docsize WHERE id IN ({marks})", ids
                ).fetchall()
            )
        except OperationalError:
            return []
        wrong: list[int] = []
        for i, section_id in enumerate(ids):
            blob = recorded.get(section_id)
            if blob is None:
                continue
            if column_sizes(bytes(blob)) != [int(x) for x in sizes[i]]:
                wrong.append(i)
        return wrong

    def _exact(
        self, conn: Connection, batch: Sequence[tuple], which: list[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """FTS5's own tokens of rows `which` (positions in `batch`), via a scratch table."""
        table = f"temp.{_ROWS_TABLE}"
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} "
            f"USING fts5(title, heading, text, tokenize = '{FTS_TOKENIZER}')"
        )
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {table}_vocab "
            f"USING fts5vocab(temp, {_ROWS_TABLE}, 'instance')"
        )
        conn.execute(f"DELETE FROM {table}")
        conn.executemany(
            f"INSERT INTO {table}(rowid, title, heading, text) VALUES (?, ?, ?, ?)",
            [(i, batch[i][2] or "", batch[i][3] or "", batch[i][4] or "") for i in which],
        )
        columns = {"title": 0, "heading": 1, "text": 2}
        terms: list[int] = []
        rows: list[int] = []
        weights: list[float] = []
        sizes = np.zeros((len(which), 3), dtype=np.int64)
        slot = {row: k for k, row in enumerate(which)}
        for doc, col, term in conn.execute(f"SELECT doc, col, term FROM {table}_vocab"):
            c = columns[str(col)]
            terms.append(self._term_id(str(term)))
            rows.append(int(doc))
            weights.append(self.weights[c])
            sizes[slot[int(doc)], c] += 1
        conn.execute(f"DELETE FROM {table}")
        return (
            np.asarray(terms, dtype=np.int32),
            np.asarray(rows, dtype=np.int32),
            np.asarray(weights, dtype=np.float32),
            sizes,
        )

    # -- search --------------------------------------------------------------------------------

    def places(self, section_ids: Sequence[int]) -> dict[int, tuple[int, int]] | None:
        """{section id: (its first chunk's id, its document id)} for `section_ids`, as of the
        last `sync` (a section without chunks is left out, as the database would); None
        unless every one of them is held and alive (the caller then asks the database). A
        section's chunks are written and deleted with it, so these never change."""
        snap = self._snapshot
        if snap is None:
            return None
        if not section_ids:
            return {}
        positions = held_positions(snap.ids, snap.alive, snap.size, section_ids)
        if positions is None:
            return None
        firsts = snap.first_chunks[positions].tolist()
        documents = snap.documents[positions].tolist()
        return {
            section_id: (firsts[i], documents[i])
            for i, section_id in enumerate(section_ids)
            if firsts[i] >= 0
        }

    def search(
        self,
        stems: Iterable[str],
        k: int,
        category: str | None = None,
        *,
        documents: frozenset[int] | None = None,
    ) -> list[LexicalHit]:
        """Top `k` sections by BM25 over `stems` (index terms, one phrase each), best first;
        ties by section id; with `documents`, only those documents' sections. Section ids go in
        `LexicalHit.chunk_id`, as the FTS5 section searcher returns them."""
        snap = self._snapshot
        averages = self._averages
        rows_total, tokens = averages
        if snap is None or k <= 0 or rows_total <= 0 or tokens <= 0:
            return []
        norms = self._row_norms(snap, averages)
        alive = snap.alive[: snap.size]
        all_alive = bool(alive.all())
        postings: list[np.ndarray] = []
        frequencies: list[np.ndarray] = []
        idfs: list[float] = []
        counts: list[int] = []
        for stem in dict.fromkeys(stems):
            term = self._terms.get(stem)
            if term is None:
                continue
            rows, freqs = snap.main.of(term)
            recent_rows, recent_freqs = snap.recent.of(term)
            if recent_rows.shape[0]:
                rows = np.concatenate([rows, recent_rows])
                freqs = np.concatenate([freqs, recent_freqs])
            if not all_alive:
                live = alive[rows]
                rows, freqs = rows[live], freqs[live]
            hits = rows.shape[0]
            if hits == 0:
                continue
            idf = math.log((rows_total - hits + 0.5) / (hits + 0.5))
            postings.append(rows)
            frequencies.append(freqs)
            idfs.append(idf if idf > 0 else 1e-6)
            counts.append(hits)
        if postings:
            # All terms' postings in one pass. A row's score is the sum of its terms' parts
            # in query order, as term-by-term accumulation added them: bincount adds the
            # weights of a bin in input order, so the scores are the same to the last bit.
            rows = np.concatenate(postings)
            freqs = np.concatenate(frequencies).astype(np.float64)
            idf_of = np.repeat(np.asarray(idfs), counts)
            parts = idf_of * (freqs * (K1 + 1)) / (freqs + norms[rows])
            scores = np.bincount(rows, weights=parts, minlength=snap.size)
        else:
            scores = np.zeros(snap.size, dtype=np.float64)
        if category is not None:
            code = self._categories.get(category)
            if code is None:
                return []
            scores[snap.codes[: snap.size] != code] = 0.0
        if documents is not None:
            scores[~self._masks.mask(snap, snap.documents[: snap.size], documents)] = 0.0
        return [LexicalHit(int(snap.ids[r]), float(scores[r])) for r in _top(scores, snap.ids, k)]

    def _row_norms(self, snap: _Snapshot, averages: tuple[int, int]) -> np.ndarray:
        """bm25()'s length normalisation of every row, `k1 * (1 - b + b * length / avgdl)`,
        computed once per snapshot and averages (element by element as a search did it, so
        the scores are the same to the last bit)."""
        held = self._norms
        if held is not None and held[0] is snap and held[1] == averages:
            return held[2]
        rows_total, tokens = averages
        norms = K1 * (1 - B + B * snap.lengths[: snap.size] / (tokens / rows_total))
        self._norms = (snap, averages, norms)
        return norms


def _top(scores: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Positions of the `k` best positive scores, best first, ties by id (a tie at the cut
    keeps the smaller ids)."""
    found = np.flatnonzero(scores > 0)
    values = scores[found]
    if found.shape[0] > k:
        cut = np.partition(values, found.shape[0] - k)[found.shape[0] - k]
        keep = values >= cut
        found, values = found[keep], values[keep]
    return found[np.lexsort((ids[found], -values))[:k]]


def _first_chunks(conn: Connection, batch: Sequence[tuple]) -> list[int]:
    """The first chunk's id of each section of a batch of `_SECTIONS_SQL` rows (ascending
    ids), -1 for one without chunks: one range scan of the chunks' section index."""
    rows = conn.execute(
        "SELECT section_id, min(id) FROM chunks WHERE section_id BETWEEN ? AND ? "
        "GROUP BY section_id",
        (batch[0][0], batch[-1][0]),
    )
    first = dict(rows.fetchall())
    return [int(first.get(row[0], -1)) for row in batch]


def _batches(rows: Iterable[tuple], size: int) -> Iterable[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(tuple(row))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _concat(
    parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float32)
    return (
        np.concatenate([p[0] for p in parts]).astype(np.int32, copy=False),
        np.concatenate([p[1] for p in parts]).astype(np.int32, copy=False),
        np.concatenate([p[2] for p in parts]).astype(np.float32, copy=False),
    )
