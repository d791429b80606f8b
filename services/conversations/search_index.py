"""The `ChatSearchIndex` port: hybrid search over one user's chats (titles, summaries,
messages) in the app database, on SQLite or PostgreSQL (`services/sql`).

How it works, and why:
* the items are read at query time from the tables that own them (`chats`, `messages`,
  `conversation_summaries`), scoped to the user in SQL (`JOIN chats ... WHERE user_id = ?`),
  so no other user's row is ever read, and nothing needs a write hook in the chat turn;
* the lexical leg is Okapi BM25 (k1 1.2, b 0.75) computed in Python over those items, with
  the knowledge base's tokens (`fts_query.words`, its stopwords) stemmed by the offline
  model's Snowball stemmer: the same on both databases, and a user's chats are a small
  corpus (measured here: 2,000 messages score in about 15 ms);
* the vector leg is cosine similarity (numpy) against the configured embedder's vectors,
  kept in `conversation_search_vectors` by item key and a hash of the text they were made
  from. Vectors are made lazily, at query time, for items that have none (or whose text
  changed), at most `embed_batch` per query, newest chats first; items still without one
  are found by BM25 only until a later query catches them up. Chat turns stay as fast as
  they were. Rows go with their chat (`ON DELETE CASCADE`); a deleted message's row is
  removed by the next search of its owner;
* the answers withheld from the reader (`ChatSearchQuery.withheld`: a source they cited is no
  longer readable to them) and the summaries of their chats are left out of both legs, so
  their hidden text neither matches nor is quoted; their vectors are kept for a later grant;
* the legs are fused with Reciprocal Rank Fusion (`services/knowledge/rrf.py`, k = 60), and
  each chat is returned once, by its best item.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from services.knowledge.fts_query import STOPWORDS, words
from services.knowledge.rrf import reciprocal_rank_fusion
from services.offline.text import stem
from services.postgres.migrations import Migration as PgMigration
from services.sql import StoreTarget, sql_db
from use_cases.conversations.search_ports import ChatSearchHit, ChatSearchQuery
from use_cases.knowledge.ports import Embedder

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "SqlChatSearchIndex", "bm25_ranking", "tokens"]

MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "conversation_search_0001_vectors",
        """
        CREATE TABLE conversation_search_vectors (
            item_key   TEXT PRIMARY KEY,
            chat_id    TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            text_hash  TEXT NOT NULL,
            model      TEXT NOT NULL,
            vector     BLOB NOT NULL
        );
        CREATE INDEX conversation_search_vectors_by_chat ON conversation_search_vectors(chat_id);
        """,
    ),
)

PG_MIGRATIONS: list[PgMigration] = [
    PgMigration(
        "conversation_search_pg_0001_vectors",
        """
        CREATE TABLE conversation_search_vectors (
            item_key   TEXT PRIMARY KEY,
            chat_id    TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            text_hash  TEXT NOT NULL,
            model      TEXT NOT NULL,
            vector     BYTEA NOT NULL
        );
        CREATE INDEX conversation_search_vectors_by_chat ON conversation_search_vectors(chat_id);
        """,
    ),
]

#: Characters of an item embedded (MiniLM reads 256 tokens; more is wasted work).
EMBED_CHARS = 2_000
_K1, _B = 1.2, 0.75
#: Items whose tokens a process keeps (then it starts over).
TOKEN_CACHE_ITEMS = 200_000


@dataclass(frozen=True)
class _Item:
    key: str
    chat_id: str
    field: str  # title | summary | message
    message_id: str | None
    text: str


@dataclass(frozen=True)
class _ChatRow:
    title: str
    status: str
    created_at: datetime
    updated_at: datetime


def tokens(text: str) -> list[str]:
    """Stemmed search tokens of `text` (stopwords dropped)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def bm25_ranking(query: str, texts: Sequence[str]) -> list[tuple[int, float]]:
    """Okapi BM25 of `query` over `texts`: (index, score) of the texts holding a query
    token, best first (ties in text order)."""
    return _bm25(tokens(query), [Counter(tokens(t)) for t in texts])


def _bm25(query_tokens: Sequence[str], docs: Sequence[Counter[str]]) -> list[tuple[int, float]]:
    terms = list(dict.fromkeys(query_tokens))
    if not terms or not docs:
        return []
    lengths = [sum(d.values()) for d in docs]
    average = (sum(lengths) / len(docs)) or 1.0
    n = len(docs)
    scores: dict[int, float] = {}
    for term in terms:
        having = [i for i, d in enumerate(docs) if term in d]
        if not having:
            continue
        idf = math.log(1 + (n - len(having) + 0.5) / (len(having) + 0.5))
        for i in having:
            tf = docs[i][term]
            norm = tf + _K1 * (1 - _B + _B * lengths[i] / average)
            scores[i] = scores.get(i, 0.0) + idf * tf * (_K1 + 1) / norm
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def _hash(text: str) -> str:
    return hashlib.sha256(text[:EMBED_CHARS].encode()).hexdigest()[:32]


class SqlChatSearchIndex:
    """`ChatSearchIndex` on one database (see the module docstring)."""

    def __init__(
        self,
        target: StoreTarget,
        embedder: Embedder,
        *,
        rrf_k: float = 60,
        embed_batch: int = 64,
        vector_candidates: int = 50,
        min_similarity: float = 0.25,
    ) -> None:
        self._db = sql_db(target)
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)
        self._embedder = embedder
        self._rrf_k = rrf_k
        self._embed_batch = embed_batch
        self._vector_candidates = vector_candidates
        self._min_similarity = min_similarity
        # Item key -> (its text, its token counts): tokenising is most of BM25's time.
        self._token_cache: dict[str, tuple[str, Counter[str]]] = {}

    def search(self, query: ChatSearchQuery) -> list[ChatSearchHit]:
        chats, every = self._items(query.user_id)
        items = [i for i in every if _searchable(i, query)]
        if query.status is not None:
            items = [i for i in items if chats[i.chat_id].status == query.status]
        if not items:
            return []
        ranked = _bm25(tokens(query.text), [self._tokens_of(item) for item in items])
        lexical = [items[i].key for i, _ in ranked]
        semantic = self._vector_ranking(query, items, every)
        fused = reciprocal_rank_fusion([lexical, semantic], k=self._rrf_k)
        by_key = {item.key: item for item in items}
        hits: dict[str, ChatSearchHit] = {}
        for key, score in fused:
            item = by_key[key]
            if item.chat_id in hits:
                continue
            chat = chats[item.chat_id]
            hits[item.chat_id] = ChatSearchHit(
                chat_id=item.chat_id,
                title=chat.title,
                matched=item.field,  # type: ignore[arg-type]  # the index stores only these three fields
                text=item.text,
                message_id=item.message_id,
                score=score,
                status=chat.status,
                created_at=chat.created_at,
                updated_at=chat.updated_at,
            )
        return list(hits.values())

    def close(self) -> None:
        self._db.close()

    def _tokens_of(self, item: _Item) -> Counter[str]:
        cached = self._token_cache.get(item.key)
        if cached is not None and cached[0] == item.text:
            return cached[1]
        if len(self._token_cache) >= TOKEN_CACHE_ITEMS:
            self._token_cache.clear()
        counts = Counter(tokens(item.text))
        self._token_cache[item.key] = (item.text, counts)
        return counts

    # -- items ---------------------------------------------------------------------------

    def _items(self, user_id: str) -> tuple[dict[str, _ChatRow], list[_Item]]:
        time = self._db.get_time
        with self._db.read() as conn:
            chat_rows = conn.execute(
                "SELECT id, title, created_at, updated_at FROM chats WHERE user_id = ? "
                "ORDER BY updated_at DESC, id",
                (user_id,),
            ).fetchall()
            last = conn.execute(
                "SELECT m.chat_id, m.status FROM messages m JOIN chats c ON c.id = m.chat_id "
                "WHERE c.user_id = ? AND m.seq = "
                "(SELECT max(seq) FROM messages WHERE chat_id = m.chat_id)",
                (user_id,),
            ).fetchall()
            summaries = conn.execute(
                "SELECT s.chat_id, s.text FROM conversation_summaries s "
                "JOIN chats c ON c.id = s.chat_id WHERE c.user_id = ?",
                (user_id,),
            ).fetchall()
            messages = conn.execute(
                "SELECT m.id, m.chat_id, m.content FROM messages m "
                "JOIN chats c ON c.id = m.chat_id WHERE c.user_id = ? ORDER BY m.chat_id, m.seq",
                (user_id,),
            ).fetchall()
        status = {row["chat_id"]: row["status"] for row in last}
        chats = {
            row["id"]: _ChatRow(
                row["title"],
                status.get(row["id"], "empty"),
                time(row["created_at"]),
                time(row["updated_at"]),
            )
            for row in chat_rows
        }
        order = {chat_id: n for n, chat_id in enumerate(chats)}  # most recently active first
        items = [_Item(f"t:{cid}", cid, "title", None, chats[cid].title) for cid in chats]
        items += [
            _Item(f"s:{row['chat_id']}", row["chat_id"], "summary", None, row["text"])
            for row in summaries
        ]
        items += [
            _Item(f"m:{row['id']}", row["chat_id"], "message", row["id"], row["content"])
            for row in messages
            if row["content"].strip()
        ]
        items.sort(key=lambda item: order[item.chat_id])  # stable: title, summary, messages
        return chats, items

    # -- vectors -------------------------------------------------------------------------

    def _vector_ranking(
        self, query: ChatSearchQuery, items: list[_Item], every: list[_Item]
    ) -> list[str]:
        vectors = self._vectors(query.user_id, items, every)
        keyed = [(item.key, vectors[item.key]) for item in items if item.key in vectors]
        if not keyed:
            return []
        matrix = np.stack([vector for _, vector in keyed])
        q = _unit(np.asarray(self._embedder.embed_query(query.text), dtype=np.float32))
        similarity = matrix @ q
        order = np.argsort(-similarity, kind="stable")[: self._vector_candidates]
        return [keyed[i][0] for i in order if similarity[i] >= self._min_similarity]

    def _vectors(
        self, user_id: str, items: list[_Item], every: list[_Item]
    ) -> dict[str, np.ndarray]:
        """The unit vectors of `items` by key, after embedding up to `embed_batch` of those
        that lack one (in `items` order: newest chats first); the rows of no item of the
        user's (`every`: those not searched this time included) are dropped."""
        model = self._embedder.model
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT v.item_key, v.text_hash, v.model, v.vector "
                "FROM conversation_search_vectors v JOIN chats c ON c.id = v.chat_id "
                "WHERE c.user_id = ?",
                (user_id,),
            ).fetchall()
        stored = {row["item_key"]: row for row in rows}
        wanted = {item.key: _hash(item.text) for item in every}
        vectors: dict[str, np.ndarray] = {}
        missing: list[_Item] = []
        for item in items:
            row = stored.get(item.key)
            if row is not None and row["model"] == model and row["text_hash"] == wanted[item.key]:
                vectors[item.key] = np.frombuffer(bytes(row["vector"]), dtype=np.float32)
            else:
                missing.append(item)
        missing = missing[: self._embed_batch]
        gone = [key for key in stored if key not in wanted]
        if missing:
            made = self._embedder.embed_documents([i.text[:EMBED_CHARS] for i in missing])
            for item, vector in zip(missing, made, strict=True):
                vectors[item.key] = _unit(np.asarray(vector, dtype=np.float32))
        if missing or gone:
            self._write(missing, vectors, wanted, gone, model)
        return vectors

    def _write(
        self,
        made: list[_Item],
        vectors: dict[str, np.ndarray],
        hashes: dict[str, str],
        gone: list[str],
        model: str,
    ) -> None:
        with self._db.write() as conn:
            for key in gone:
                conn.execute("DELETE FROM conversation_search_vectors WHERE item_key = ?", (key,))
            for item in made:
                # The chat may have been deleted meanwhile: insert only while it exists.
                conn.execute(
                    "INSERT INTO conversation_search_vectors "
                    "(item_key, chat_id, text_hash, model, vector) "
                    "SELECT ?, id, ?, ?, ? FROM chats WHERE id = ? "
                    "ON CONFLICT (item_key) DO UPDATE SET text_hash = excluded.text_hash, "
                    "model = excluded.model, vector = excluded.vector",
                    (
                        item.key,
                        hashes[item.key],
                        model,
                        vectors[item.key].astype(np.float32).tobytes(),
                        item.chat_id,
                    ),
                )


def _searchable(item: _Item, query: ChatSearchQuery) -> bool:
    """Whether the reader may be shown `item` (a withheld answer's text, or the summary of a
    chat holding one, is neither matched nor quoted)."""
    if item.field == "message":
        return item.message_id not in query.withheld
    return item.field != "summary" or item.chat_id not in query.withheld_summaries


def _unit(vector: Any) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 else vector).astype(np.float32)
