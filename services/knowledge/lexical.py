"""BM25 over the knowledge store's FTS5 table, fast at 100k chunks, plus highlighting.

The cost model (measured on this 2-core machine, 100k chunks of ~128 tokens): FTS5 walks a
term's postings cheaply (count(*) over 62k postings: 3 ms) but evaluating bm25() costs about
0.6-0.9 µs per matching row, so an OR query over common terms (`cell`: 62k rows) takes
50-100 ms. SciFact claims at 100k chunks match ~54k rows at the median.

What we do instead:

1. Query words (stopwords dropped, see `fts_query`) are stemmed exactly as the index does it,
   by passing them through a scratch FTS5 table with the same tokenizer (no Python stemmer
   that could disagree with SQLite's). Word -> stems is cached.
2. Each stem's document frequency comes from the `fts5vocab` table (cached for a while;
   frequencies drift slowly and only steer cost decisions and the IDF of dropped terms).
3. Stems are taken rarest first while the total postings stay within `posting_budget`
   (but at least `min_terms` of them). When all fit, this is plain FTS5 BM25 and we are done.
4. Otherwise FTS5 ranks the top `candidate_pool` chunks by the rare terms (the bulk of the
   BM25 weight), and the dropped common terms' BM25 contributions are added in Python from
   the candidates' own text (same k1, b, column weights, IDF and row lengths as FTS5),
   which restores the full-query order among the candidates.

Measured at 100k chunks (SciFact's 12.7k real chunks + 87k distractors recombined from
SciFact sentences, SciFact train qrels, nDCG@10; the distractors contain the relevant
sentences, hence the low absolute BM25 figure):

    BM25 leg                        BM25 alone   hybrid   BM25 p50
    exact (no budget)                   0.5455   0.6761    60-70 ms
    budget 12k, re-score top 200        0.5456   0.6755    17-19 ms   <- default
    budget 10k, re-score top 200        0.5460   0.6739

Dropping terms *without* re-scoring lost 0.05 (0.664 -> 0.616, BM25 alone, budget 10k) on a
similar 100k corpus; re-scoring the top 200 gets it back.

On SciFact alone (12.7k chunks) the budget almost never binds.

Scores are reported positive (higher is better); FTS5's bm25() is negative.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.knowledge.fts_highlight import highlight
from services.knowledge.fts_query import MARK_END, MARK_START, match_expression, query_terms
from services.knowledge.schema import SECTION_FTS_TABLE, SECTION_FTS_VOCAB_TABLE
from services.knowledge.spelling import MIN_CORRECTED_LENGTH, closest_term, edit_budget
from services.knowledge.store import FTS_TABLE, FTS_TOKENIZER, FTS_VOCAB_TABLE
from services.sqlite.connection import Connection, OperationalError

__all__ = ["AnalyzedQuery", "LexicalHit", "LexicalSearcher", "column_sizes", "fts_averages"]

#: FTS5's bm25() constants (fts5_aux.c).
K1 = 1.2
B = 0.75

_TERMS_TABLE = "almanac_terms"
_STEM_CACHE_LIMIT = 200_000


#: What one FTS row is, per `level`: (FTS table, its fts5vocab table, row -> title, heading,
#: text SQL (one `{marks}` placeholder), category filter on rowid).
_LEVELS = {
    "chunk": (
        FTS_TABLE,
        FTS_VOCAB_TABLE,
        "SELECT c.id, d.title, "
        "(SELECT group_concat(j.value, ' ') FROM json_each(s.heading_path) j), c.text "
        "FROM chunks c JOIN sections s ON s.id = c.section_id "
        "JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})",
        "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.category = ?",
    ),
    "section": (
        SECTION_FTS_TABLE,
        SECTION_FTS_VOCAB_TABLE,
        "SELECT s.id, d.title, "
        "(SELECT group_concat(j.value, ' ') FROM json_each(s.heading_path) j), s.text "
        "FROM sections s JOIN documents d ON d.id = s.document_id WHERE s.id IN ({marks})",
        "SELECT s.id FROM sections s JOIN documents d ON d.id = s.document_id WHERE d.category = ?",
    ),
}


#: The rows of some documents (a JSON array of ids), per `level`.
_DOCUMENT_ROWS = {
    "chunk": "SELECT c.id FROM chunks c WHERE c.document_id IN (SELECT value FROM json_each(?))",
    "section": "SELECT s.id FROM sections s WHERE s.document_id IN "
    "(SELECT value FROM json_each(?))",
}


@dataclass(frozen=True)
class LexicalHit:
    """One BM25 hit: `chunk_id` is a chunk id, or a section id for a section-level searcher
    (`LexicalSearcher.level == "section"`)."""

    chunk_id: int
    score: float  # BM25, positive, higher is better


@dataclass(frozen=True)
class AnalyzedQuery:
    """A query's search terms: surface words, their stems and the stems' frequencies."""

    words: tuple[str, ...]
    stems: tuple[str, ...]
    document_frequency: dict[str, int]
    #: stem -> the query word it came from. MATCH queries must be written with words, not
    #: stems: FTS5 stems query terms again, and Porter is not idempotent ("increas" ->
    #: "increa" would match nothing).
    source_word: dict[str, str] = field(default_factory=dict)

    @property
    def match(self) -> str:
        """An FTS5 OR query over all query words (safe: every term quoted)."""
        return match_expression(self.words)

    def match_for(self, stems: Sequence[str]) -> str:
        """An FTS5 OR query over the words behind `stems`."""
        return match_expression(dict.fromkeys(self.source_word.get(s, s) for s in stems))


class LexicalSearcher:
    """BM25 top-k with a posting budget and exact re-scoring of the candidates.

    `weights` are the bm25() column weights for (title, heading, text). A chunk rarely
    repeats its document's topic, the title does, so the title weighs most. Measured on
    SciFact train (chunked, hybrid with MiniLM, nDCG@10): title 1.5 -> 0.720, 2 -> 0.722,
    3 -> 0.724, 4 -> 0.727, 6 -> 0.726 (BM25 alone peaks lower, at 1.5-2: 0.705). That was
    under RRF; with the convex fusion used now, 1 to 8 all give 0.736 (docs/notes/benchmarks.md).
    `posting_budget` bounds the rows FTS5 must score (~0.6-0.9 µs each, see module doc).
    `drop_stopwords`: leave `fts_query.STOPWORDS` out of the query (default; keeping them
    measured 0.001-0.004 lower on SciFact train, and they are the costliest terms).
    `correct_spelling`: a query word the index does not know also searches the known term
    it is probably a typo of (`spelling`; "pasword lenght" finds "password length").
    `level`: "chunk" scores chunks (`chunks_fts`); "section" scores whole sections
    (`sections_fts`, knowledge_0005) and returns section ids. Section level is what the
    hybrid retriever uses: it ranks a section by its whole text, so a section whose terms
    are spread over several chunks is not ranked by its best chunk alone (SciFact train,
    docs/notes/benchmarks.md).
    """

    def __init__(
        self,
        *,
        weights: tuple[float, float, float] = (4.0, 2.0, 1.0),
        posting_budget: int = 12_000,
        min_terms: int = 2,
        candidate_pool: int = 200,
        stats_ttl: float = 300.0,
        refresh_writes: int = 50,
        drop_stopwords: bool = True,
        correct_spelling: bool = True,
        level: str = "chunk",
    ) -> None:
        if level not in _LEVELS:
            raise ValueError(f"Unknown BM25 level {level!r}")
        self.level = level
        self._table, self._vocab, self._texts_sql, self._category_sql = _LEVELS[level]
        self._documents_sql = _DOCUMENT_ROWS[level]
        self.weights = weights
        self.drop_stopwords = drop_stopwords
        self.correct_spelling = correct_spelling
        self._corrections: dict[str, str | None] = {}
        self.posting_budget = posting_budget
        self.min_terms = min_terms
        self.candidate_pool = candidate_pool
        self.stats_ttl = stats_ttl
        self.refresh_writes = refresh_writes
        self._generation = 0
        self._stems: dict[str, tuple[str, ...]] = {}
        self._df: dict[str, tuple[int, float]] = {}
        self._totals: tuple[int, float, float] | None = None  # rows, avg length, when
        self._lock = threading.Lock()
        self._bm25 = "bm25({table}, {w[0]!r}, {w[1]!r}, {w[2]!r})".format(
            table=self._table, w=tuple(float(x) for x in weights)
        )

    # -- analysis ------------------------------------------------------------------------------

    def analyze(self, conn: Connection, text: str) -> AnalyzedQuery:
        surface = query_terms(text, drop_stopwords=self.drop_stopwords)
        if not surface:
            return AnalyzedQuery((), (), {})
        stem_map = self.stems_of(conn, surface)
        source: dict[str, str] = {}
        for word in surface:
            for stem in stem_map.get(word, ()):
                source.setdefault(stem, word)
        stems = tuple(source)
        frequencies = self._frequencies(conn, stems)
        if self.correct_spelling:
            for stem in stems:
                if frequencies.get(stem):
                    continue
                corrected = self._correction(conn, stem)
                if corrected is not None and corrected not in source:
                    source[corrected] = corrected
                    frequencies.update(self._frequencies(conn, [corrected]))
        return AnalyzedQuery(
            tuple(w for w in surface if stem_map.get(w)),
            tuple(source),
            frequencies,
            source,
        )

    def _correction(self, conn: Connection, stem: str) -> str | None:
        """The index term a word the index does not know was probably meant to be ("lenght"
        -> "length"), looked up among terms sharing its first two letters; cached."""
        if stem in self._corrections:
            return self._corrections[stem]
        corrected = None
        if len(stem) >= MIN_CORRECTED_LENGTH and stem.isalpha():
            budget = edit_budget(stem)
            prefix = stem[:2]
            rows = conn.execute(
                f"SELECT term, doc FROM {self._vocab} WHERE term >= ? AND term < ? "
                "AND length(term) BETWEEN ? AND ?",
                (prefix, prefix + "\uffff", len(stem) - budget, len(stem) + budget),
            ).fetchall()
            corrected = closest_term(stem, ((str(t), int(d)) for t, d in rows))
            # A MATCH query is written with words that FTS5 stems again: keep a correction
            # only if it survives that unchanged.
            if corrected is not None and self.stems_of(conn, [corrected])[corrected] != (
                corrected,
            ):
                corrected = None
        if len(self._corrections) > _STEM_CACHE_LIMIT:
            self._corrections.clear()
        self._corrections[stem] = corrected
        return corrected

    def stems_of(self, conn: Connection, items: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """Index terms of each word, via a scratch FTS5 table with the index's tokenizer."""
        cache = self._stems
        unknown = [w for w in dict.fromkeys(items) if w not in cache]
        if unknown:
            _ensure_scratch(conn)
            conn.execute(f"DELETE FROM temp.{_TERMS_TABLE}")
            conn.executemany(
                f"INSERT INTO temp.{_TERMS_TABLE}(rowid, x) VALUES (?, ?)",
                list(enumerate(unknown)),
            )
            found: dict[int, list[str]] = {}
            for doc, term in conn.execute(
                f"SELECT doc, term FROM temp.{_TERMS_TABLE}_vocab ORDER BY doc, offset"
            ):
                found.setdefault(int(doc), []).append(term)
            if len(cache) + len(unknown) > _STEM_CACHE_LIMIT:
                cache.clear()
            for index, word in enumerate(unknown):
                cache[word] = tuple(found.get(index, ()))
        return {w: cache.get(w, ()) for w in items}

    def _frequencies(self, conn: Connection, stems: Sequence[str]) -> dict[str, int]:
        now = time.monotonic()
        result: dict[str, int] = {}
        missing: list[str] = []
        for stem in stems:
            cached = self._df.get(stem)
            if cached is not None and now - cached[1] < self.stats_ttl:
                result[stem] = cached[0]
            else:
                missing.append(stem)
        if missing:
            marks = ",".join("?" * len(missing))
            found = dict(
                conn.execute(
                    f"SELECT term, doc FROM {self._vocab} WHERE term IN ({marks})", missing
                ).fetchall()
            )
            if len(self._df) > _STEM_CACHE_LIMIT:
                self._df.clear()
            for stem in missing:
                result[stem] = int(found.get(stem, 0))
                self._df[stem] = (result[stem], now)
        return result

    def invalidate(self) -> None:
        """Forget cached frequencies, spelling corrections and totals (e.g. after an ingest)."""
        self._df.clear()
        self._corrections.clear()
        self._totals = None

    def observe_generation(self, generation: int) -> None:
        """Drop cached statistics once the store has seen `refresh_writes` writes since.

        Frequencies only steer cost decisions and the IDF of dropped terms, so a little
        staleness is harmless; a knowledge base that grew from nothing is not.
        """
        if abs(generation - self._generation) >= self.refresh_writes:
            self._generation = generation
            self.invalidate()

    def _corpus_totals(self, conn: Connection) -> tuple[int, float]:
        """(rows, average row length in tokens), as FTS5's bm25() sees them; cached."""
        now = time.monotonic()
        totals = self._totals
        if totals is not None and now - totals[2] < self.stats_ttl:
            return totals[0], totals[1]
        rows, tokens = fts_averages(conn, self._table, self._vocab)
        avg = tokens / rows if rows else 0.0
        self._totals = (rows, avg, now)
        return rows, avg

    # -- search --------------------------------------------------------------------------------

    def plan(self, query: AnalyzedQuery) -> tuple[list[str], list[str]]:
        """(stems to run in FTS5, common stems to add back by re-scoring)."""
        df = query.document_frequency
        ordered = sorted(query.stems, key=lambda s: df.get(s, 0))
        kept: list[str] = []
        dropped: list[str] = []
        total = 0
        for stem in ordered:
            n = df.get(stem, 0)
            if n == 0:
                continue  # matches nothing: skip it at no cost
            if len(kept) < self.min_terms or total + n <= self.posting_budget:
                kept.append(stem)
                total += n
            else:
                dropped.append(stem)
        return kept, dropped

    def search(
        self,
        conn: Connection,
        query: AnalyzedQuery,
        k: int,
        category: str | None = None,
        *,
        documents: frozenset[int] | None = None,
    ) -> list[LexicalHit]:
        """Top `k` rows; with `documents`, only rows of those documents are ranked."""
        if k <= 0 or not query.stems:
            return []
        kept, dropped = self.plan(query)
        if not kept:
            return []
        pool = max(k, self.candidate_pool) if dropped else k
        table = self._table
        sql = f"SELECT rowid, {self._bm25} AS score FROM {table} WHERE {table} MATCH ?"
        params: list[object] = [query.match_for(kept)]
        if category is not None:
            # `+rowid`: keep the filter out of FTS5's plan. Offered to FTS5, SQLite drives
            # the query from the subquery's ids, one MATCH per id (measured: 500 ms at 10k
            # chunks instead of 3 ms).
            sql += f" AND +rowid IN ({self._category_sql})"
            params.append(category)
        if documents is not None:
            # The readable documents as one JSON array parameter (no limit on their number).
            sql += f" AND +rowid IN ({self._documents_sql})"
            params.append(json.dumps(sorted(documents)))
        sql += " ORDER BY score LIMIT ?"
        params.append(pool)
        rows = conn.execute(sql, params).fetchall()
        hits = [LexicalHit(int(rowid), -float(score)) for rowid, score in rows]
        if dropped and hits:
            hits = self._rescore(conn, hits, dropped, query.document_frequency)
        return hits[:k]

    def _rescore(
        self,
        conn: Connection,
        hits: list[LexicalHit],
        dropped: list[str],
        df: dict[str, int],
    ) -> list[LexicalHit]:
        """Add the dropped terms' BM25 contributions, computed as FTS5's bm25() would.

        Only words that can stem to a dropped term are looked at: a Porter stem minus its
        last letter is a prefix of the word (checked on every word of SciFact; diacritics
        aside), so `bytes.find` over all candidate texts at once finds them, and the exact
        stem of each comes from the cache. The search runs on UTF-8 bytes with ASCII-only
        lower-casing because `str.lower()` and Unicode folding of a 200 kB non-ASCII string
        cost 2-7 ms; the price is that a word spelt with diacritics ("naïve") is not counted
        for a dropped term. Row lengths come from FTS5's own `%_docsize` table, i.e. exactly
        the lengths bm25() uses.
        """
        rows_total, avg_length = self._corpus_totals(conn)
        if rows_total <= 0 or avg_length <= 0:
            return hits
        ids = [hit.chunk_id for hit in hits]
        marks = ",".join("?" * len(ids))
        rows = conn.execute(self._texts_sql.format(marks=marks), ids).fetchall()
        lengths = _row_lengths(conn, ids, self._table)
        # One byte string for all candidates: segment 3*i + column, NUL-separated.
        owners = [int(row[0]) for row in rows]
        text = "\0".join(f"{t or ''}\0{h or ''}\0{x or ''}" for _, t, h, x in rows)
        blob = text.encode("utf-8", "replace").lower()
        starts = [0]
        separator = blob.find(b"\0")
        while separator >= 0:
            starts.append(separator + 1)
            separator = blob.find(b"\0", separator + 1)
        occurrences: list[tuple[int, str]] = []  # (segment, word)
        for stem in {stem[:-1] if len(stem) > 1 else stem for stem in dropped}:
            prefix = stem.encode("utf-8")
            position = blob.find(prefix)
            while position >= 0:
                if _starts_word(blob, position):
                    end = _WORD_TAIL.match(blob, position + len(prefix)).end()  # type: ignore[union-attr]  # the tail pattern matches the empty string
                    word = blob[position:end].decode("utf-8", "ignore")
                    occurrences.append((bisect.bisect_right(starts, position) - 1, word))
                    position = blob.find(prefix, end)
                else:
                    position = blob.find(prefix, position + 1)
        stems = self.stems_of(conn, sorted({word for _, word in occurrences}))
        wanted = set(dropped)
        freq: dict[int, dict[str, float]] = {}
        for segment, word in occurrences:
            for stem in stems.get(word, ()):
                if stem in wanted:
                    per_row = freq.setdefault(segment // 3, {})
                    per_row[stem] = per_row.get(stem, 0.0) + self.weights[segment % 3]
        idf = {stem: _idf(rows_total, df.get(stem, 0)) for stem in dropped}
        extra: dict[int, float] = {}
        for index, per_row in freq.items():
            chunk_id = owners[index]
            length = lengths.get(chunk_id)
            if length is None:
                continue
            norm = K1 * (1 - B + B * length / avg_length)
            extra[chunk_id] = sum(
                idf[stem] * (f * (K1 + 1)) / (f + norm) for stem, f in per_row.items()
            )
        rescored = [LexicalHit(h.chunk_id, h.score + extra.get(h.chunk_id, 0.0)) for h in hits]
        rescored.sort(key=lambda h: -h.score)
        return rescored

    # -- highlighting --------------------------------------------------------------------------

    def highlight(self, query: AnalyzedQuery, texts: Sequence[str]) -> list[str]:
        """Each text with matched query terms between MARK_START/MARK_END ('' if no match).

        Marked as FTS5's highlight() marks a row matching `query.match`, with the index's own
        tokenizer (`fts_highlight`), so "matched" means exactly what the index means by it
        (stemming, diacritics, case).
        """
        if not texts or not query.stems:
            return ["" for _ in texts]
        clean = [t.replace(MARK_START, " ").replace(MARK_END, " ") for t in texts]
        return highlight(query.words, clean, MARK_START, MARK_END)


def _idf(rows: int, hits: int) -> float:
    """FTS5's IDF: log((N - n + 0.5) / (n + 0.5)), floored at 1e-6."""
    value = math.log((rows - hits + 0.5) / (hits + 0.5)) if rows else 0.0
    return value if value > 0 else 1e-6


#: The rest of a word in lower-cased UTF-8: ASCII letters/digits and any non-ASCII bytes
#: (a non-letter like "–" may come along; stemming the word through FTS5 splits it there).
_WORD_TAIL = re.compile(rb"[0-9a-z\x80-\xff]*")


def _starts_word(blob: bytes, position: int) -> bool:
    """Whether a word starts at `position`: the character before is not a letter/digit."""
    if position == 0:
        return True
    byte = blob[position - 1]
    if byte < 0x80:
        return not (48 <= byte <= 57 or 97 <= byte <= 122)
    start = position - 1  # walk back to the first byte of the UTF-8 character
    while start > 0 and position - start < 4 and 0x80 <= blob[start] < 0xC0:
        start -= 1
    return not blob[start:position].decode("utf-8", "ignore").isalnum()


def _row_lengths(conn: Connection, ids: Sequence[int], table: str = FTS_TABLE) -> dict[int, int]:
    """Tokens per FTS row (all columns), from FTS5's `%_docsize` table (varint per column)."""
    marks = ",".join("?" * len(ids))
    lengths: dict[int, int] = {}
    try:
        rows = conn.execute(
            f"SELECT id, sz FROM {table}_docsize WHERE id IN ({marks})", list(ids)
        ).fetchall()
    except OperationalError:
        return lengths
    for rowid, blob in rows:
        lengths[int(rowid)] = sum(column_sizes(bytes(blob or b"")))
    return lengths


def column_sizes(blob: bytes) -> list[int]:
    """A `%_docsize` record: tokens per column, one varint each (never the 9-byte form)."""
    sizes: list[int] = []
    value = 0
    for byte in blob:
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            sizes.append(value)
            value = 0
    return sizes


def _ensure_scratch(conn: Connection) -> None:
    """Per-connection temp tables for stemming (in memory, private)."""
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{_TERMS_TABLE} "
        f"USING fts5(x, tokenize = '{FTS_TOKENIZER}')"
    )
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{_TERMS_TABLE}_vocab "
        f"USING fts5vocab(temp, {_TERMS_TABLE}, 'instance')"
    )


def _varint(buffer: bytes, position: int) -> tuple[int, int]:
    """SQLite's varint (FTS5 uses the same encoding)."""
    value = 0
    for _ in range(8):
        byte = buffer[position]
        position += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, position
    return (value << 8) | buffer[position], position + 1


def fts_averages(
    conn: Connection, table: str = FTS_TABLE, vocab: str = FTS_VOCAB_TABLE
) -> tuple[int, int]:
    """(rows, total tokens) of the FTS index.

    Read from FTS5's averages record (rowid 1 of `%_data`: a varint row count, then one
    varint token total per column), which is what bm25() itself uses; summing the vocabulary
    instead is exact too but takes ~1 s at 100k chunks. Falls back to that if the record is
    missing or unreadable.
    """
    try:
        row = conn.execute(f"SELECT block FROM {table}_data WHERE id = 1").fetchone()
        if row and row[0]:
            block = bytes(row[0])
            values: list[int] = []
            position = 0
            while position < len(block):
                value, position = _varint(block, position)
                values.append(value)
            if len(values) == 4:  # rows + three columns
                return values[0], sum(values[1:])
    except (OperationalError, IndexError):
        pass
    rows_total = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    tokens = conn.execute(f"SELECT coalesce(sum(cnt), 0) FROM {vocab}").fetchone()[0]
    return int(rows_total), int(tokens)
