"""The knowledge store on both backends (a real SQLite file, a real PostgreSQL database):
atomic saves, cascades, staging, versions, embedding bookkeeping. The same test bodies run on
each (`backend` fixture); the few about SQLite's file itself say so in their names."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from services.knowledge import document_writes, pg_store
from services.knowledge.fts_query import words
from services.knowledge.pg_store import PgKnowledgeStore
from services.knowledge.store import MIGRATIONS, SqliteKnowledgeStore
from services.postgres import PgDatabase
from services.postgres.migrations import applied_migrations
from services.presence import FilePresence, PgPresence, Presence, wait_until_dead
from services.sqlite.connection import connect
from services.sqlite.migrations import apply_migrations
from tests.fakes.knowledge import InMemoryKnowledgeStore
from tests.knowledge_backends import (
    AnyStore,
    Probe,
    RealStore,
    another_store,
    close_other,
    open_store,
)
from tests.narrowing import present
from tests.postgres import BACKENDS
from use_cases.knowledge.domain import (
    DocumentDraft,
    EmbeddingInfo,
    SectionDraft,
    StagedChunk,
    embedding_text,
)
from use_cases.shared.errors import (
    ConfigurationError,
    DocumentExists,
    EmbeddingModelMismatch,
    InvalidDocument,
    InvalidRequest,
    NotFound,
)

DIM = 64
INFO = EmbeddingInfo("hashing-bow", DIM)


def embed(text: str) -> np.ndarray:
    """Deterministic bag-of-words hashing embedder (unit vectors)."""
    vector = np.zeros(DIM, dtype=np.float32)
    for word in words(text):
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
    norm = np.linalg.norm(vector)
    return vector / norm if norm else vector


def draft(
    source: str = "guide.md",
    *,
    title: str = "Onboarding guide",
    category: str | None = "hr",
    sections: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] | None = None,
) -> DocumentDraft:
    sections = sections or (
        (("Intro",), ("Welcome to the company.", "Your laptop arrives on day one.")),
        (("Benefits", "Leave"), ("You get twenty-five days of annual leave.",)),
    )
    return DocumentDraft(
        source=source,
        content_hash=hashlib.sha256(repr(sections).encode()).hexdigest(),
        title=title,
        category=category,
        updated_at=date(2026, 1, 15),
        media_type="text/markdown",
        size_bytes=123,
        sections=tuple(
            SectionDraft(heading_path=path, text=" ".join(chunks), chunks=chunks)
            for path, chunks in sections
        ),
        metadata={"author": "ops"},
    )


def vectors_for(d: DocumentDraft) -> list[np.ndarray]:
    return [
        embed(embedding_text(d.title, s.heading_path, chunk))
        for s in d.sections
        for chunk in s.chunks
    ]


MEMORY = "memory"


@pytest.fixture(params=[*BACKENDS, MEMORY])
def backend(request: pytest.FixtureRequest) -> str:
    """A real backend, or the in-memory fake the unit tests use (`tests/fakes/knowledge.py`)."""
    return str(request.param)


#: For a test that reads rows behind the port (`Probe`), or needs a second connection.
real_backends = pytest.mark.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[AnyStore]:
    if backend == MEMORY:
        fake = InMemoryKnowledgeStore()
        fake.check_embedding(INFO)
        yield fake
        return
    with open_store(backend, tmp_path, request) as s:
        s.check_embedding(INFO)
        yield s


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteKnowledgeStore]:
    s = SqliteKnowledgeStore(tmp_path / "knowledge.db")
    s.check_embedding(INFO)
    yield s
    s.close()


def counts(store: AnyStore) -> dict[str, int]:
    return Probe(store).counts()


def fts_ids(store: AnyStore, term: str) -> list[int]:
    return Probe(store).fts_chunk_ids(term)


def test_a_saved_document_can_be_read_back_with_its_sections(
    store: AnyStore,
) -> None:
    d = draft()
    record = store.save_document(d, vectors_for(d))

    detail = store.get_document(record.id)

    assert detail is not None
    assert detail.document.source == "guide.md"
    assert detail.document.category == "hr"
    assert detail.document.updated_at == date(2026, 1, 15)
    assert (detail.document.section_count, detail.document.chunk_count) == (2, 3)
    assert [s.heading_path for s in detail.sections] == [("Intro",), ("Benefits", "Leave")]
    assert [s.chunk_count for s in detail.sections] == [2, 1]
    assert store.get_by_source("guide.md") == record


@real_backends
def test_replacing_a_document_keeps_its_id_and_replaces_chunks_fts_and_vectors(
    store: AnyStore,
) -> None:
    first = draft()
    old = store.save_document(first, vectors_for(first))
    old_chunk_ids = Probe(store).chunk_ids()
    second = draft(sections=((("Only",), ("Parking is behind building B.",)),))

    new = store.save_document(second, vectors_for(second), replace_id=old.id)

    assert new.id == old.id
    assert new.chunk_count == 1
    chunk_ids = Probe(store).chunk_ids()
    assert not set(chunk_ids) & set(old_chunk_ids)
    assert fts_ids(store, "laptop") == []
    assert fts_ids(store, "parking") == chunk_ids
    assert Probe(store).vector_ids() == chunk_ids
    assert counts(store)["documents"] == 1


def test_a_taken_source_is_a_conflict_unless_the_replacement_is_explicit(
    store: AnyStore,
) -> None:
    first = draft()
    store.save_document(first, vectors_for(first))
    before = counts(store)
    other = draft(title="Same name, other content", sections=((("X",), ("Other words.",)),))

    with pytest.raises(DocumentExists) as raised:
        store.save_document(other, vectors_for(other))

    assert raised.value.document_id == present(store.get_by_source("guide.md")).id
    assert counts(store) == before
    assert present(store.get_by_source("guide.md")).title == "Onboarding guide"
    with pytest.raises(NotFound):
        store.save_document(other, vectors_for(other), replace_id=999)


@real_backends
def test_a_large_document_is_staged_in_batches_and_appears_only_at_the_commit(
    store: AnyStore,
) -> None:
    big = draft(sections=((("A",), ("alpha one", "alpha two")), (("B",), ("beta three",))))
    chunks = [
        StagedChunk(s, o, text)
        for s, section in enumerate(big.sections)
        for o, text in enumerate(section.chunks)
    ]
    vectors = vectors_for(big)
    stage = store.begin_staging(big)
    store.stage_chunks(stage, chunks[:2], vectors[:2])
    assert counts(store)["chunks"] == 0 and fts_ids(store, "alpha") == []
    store.stage_chunks(stage, chunks[2:], vectors[2:])

    record = store.commit_staged(stage, big)

    assert (record.section_count, record.chunk_count) == (2, 3)
    assert counts(store)["chunk_vectors"] == 3
    assert len(fts_ids(store, "alpha")) == 2
    assert Probe(store).count("staged_chunks") == 0


@real_backends
def test_a_job_taken_over_loses_what_any_worker_staged_for_it_and_nothing_else(
    store: AnyStore,
) -> None:
    big = draft()
    earlier = store.begin_staging(big, job="job1")  # the previous worker's, never committed
    store.stage_chunks(earlier, [StagedChunk(0, 0, "Welcome.")], vectors_for(big)[:1])
    store.begin_staging(big, job="job2")
    store.begin_staging(big)
    per_stage = Probe(store).count("staged_sections") // 3

    assert store.discard_job_stages("job1") == 1

    assert Probe(store).count("staged_chunks") == 0
    assert Probe(store).count("staged_sections") == 2 * per_stage > 0  # the others kept
    assert store.discard_job_stages("job1") == 0


def test_a_commit_with_missing_staged_chunks_writes_nothing(store: AnyStore) -> None:
    big = draft()
    stage = store.begin_staging(big)
    store.stage_chunks(stage, [StagedChunk(0, 0, "Welcome to the company.")], vectors_for(big)[:1])

    with pytest.raises(InvalidRequest, match="staged"):
        store.commit_staged(stage, big)

    assert counts(store)["documents"] == 0
    store.discard_staged(stage)
    assert Probe(store).count("staged_sections") == 0


def test_supersedes_is_recorded_and_linked_whichever_version_arrives_first(
    store: AnyStore,
) -> None:
    newer = replace(draft("policies/v2.md", title="Policy"), supersedes="policies/v1.md")
    new_record = store.save_document(newer, vectors_for(newer))
    assert new_record.supersedes_id is None  # v1 is not there yet: the key waits for it

    older = draft("handbook/policies/v1.md", title="Policy")
    old_record = store.save_document(older, vectors_for(older))

    assert present(store.get_record(new_record.id)).supersedes_id == old_record.id
    assert present(store.get_record(old_record.id)).superseded_by_id == new_record.id
    assert store.resolve_key("policies/v1.md") == store.get_record(old_record.id)


def test_a_supersedes_loop_is_refused(store: AnyStore) -> None:
    first = draft("a.md")
    a = store.save_document(first, vectors_for(first)).id
    second = replace(draft("b.md"), supersedes="a.md")
    store.save_document(second, vectors_for(second))

    looping = replace(first, supersedes="b.md")
    with pytest.raises(InvalidDocument, match="loop"):
        store.save_document(looping, vectors_for(looping), replace_id=a)
    with pytest.raises(InvalidDocument, match="itself"):
        store.save_document(replace(first, supersedes="a.md"), vectors_for(first), replace_id=a)
    assert present(store.get_record(a)).supersedes_id is None


def test_deleting_a_document_gives_its_pages_back_to_the_sqlite_file(
    sqlite_store: SqliteKnowledgeStore,
) -> None:
    store = sqlite_store
    long = draft(
        sections=tuple(((f"S{i}",), (f"section {i} " + "words " * 300,)) for i in range(60))
    )
    record = store.save_document(long, vectors_for(long))
    conn = store.connection()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages_before = conn.execute("PRAGMA page_count").fetchone()[0]

    store.delete_document(record.id)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert conn.execute("PRAGMA page_count").fetchone()[0] < pages_before * 0.7


@real_backends
def test_deleting_a_document_cascades_everywhere(store: AnyStore) -> None:
    keep = draft("keep.md", sections=((("A",), ("Keep this text.",)),))
    gone = draft("gone.md")
    store.save_document(keep, vectors_for(keep))
    record = store.save_document(gone, vectors_for(gone))

    assert store.delete_document(record.id) is True

    assert counts(store) | {"fts_terms": 0} == {
        "documents": 1,
        "sections": 1,
        "chunks": 1,
        "chunk_vectors": 1,
        "fts_terms": 0,
    }
    assert fts_ids(store, "laptop") == []
    assert fts_ids(store, "keep") != []
    assert store.delete_document(record.id) is False
    assert store.get_document(record.id) is None


@real_backends
def test_deleting_the_last_document_leaves_no_fts_or_vector_rows(
    store: AnyStore,
) -> None:
    d = draft()
    record = store.save_document(d, vectors_for(d))

    store.delete_document(record.id)

    assert counts(store) == {
        "documents": 0,
        "sections": 0,
        "chunks": 0,
        "chunk_vectors": 0,
        "fts_terms": 0,
    }


#: The last step of a save on each backend, after the sections, chunks, full-text rows and
#: vectors were written: (object, attribute) to replace with a failure.
LAST_WRITE_STEP = {
    "sqlite": (SqliteKnowledgeStore, "_prune_tombstones"),
    "postgresql": (document_writes, "link_versions"),
}


@real_backends
def test_a_failure_in_the_middle_of_a_save_leaves_the_database_unchanged(
    store: AnyStore, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = draft()
    first = store.save_document(original, vectors_for(original)).id
    before = counts(store)

    def explode(*_args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(*LAST_WRITE_STEP[backend], explode)
    replacement = draft(sections=((("New",), ("Completely different words.",)),))
    with pytest.raises(RuntimeError):
        store.save_document(replacement, vectors_for(replacement), replace_id=first)
    brand_new = draft("other.md")
    with pytest.raises(RuntimeError):
        store.save_document(brand_new, vectors_for(brand_new))

    assert counts(store) == before
    assert fts_ids(store, "laptop") != []
    assert fts_ids(store, "different") == []
    assert store.get_by_source("other.md") is None


def test_a_vector_count_mismatch_is_rejected_before_anything_is_written(
    store: AnyStore,
) -> None:
    d = draft()

    with pytest.raises(InvalidRequest):
        store.save_document(d, vectors_for(d)[:-1])

    assert counts(store)["documents"] == 0


def test_vectors_of_the_wrong_dimension_are_rejected(store: AnyStore) -> None:
    d = draft()

    with pytest.raises(InvalidRequest):
        store.save_document(d, [np.ones(DIM + 1)] * 3)

    assert counts(store)["chunks"] == 0


#: A child process that opens the store and dies (like SIGKILL: no rollback, no cleanup) in
#: the middle of replacing document 1; {target} is the database path or URL.
KILLED_WRITER = {
    "sqlite": """
import os
import numpy as np
from services.knowledge.store import SqliteKnowledgeStore
from use_cases.knowledge.domain import DocumentDraft, SectionDraft

def die(*args):
    os._exit(9)

SqliteKnowledgeStore._prune_tombstones = die
store = SqliteKnowledgeStore({target!r})
""",
    "postgresql": """
import os
import numpy as np
from services.knowledge import document_writes, pg_store
from services.postgres import PgDatabase
from use_cases.knowledge.domain import DocumentDraft, SectionDraft

def die(*args):
    os._exit(9)

document_writes.link_versions = die
store = pg_store.PgKnowledgeStore(PgDatabase({target!r}))
""",
}


@real_backends
def test_a_process_killed_mid_write_leaves_the_document_all_or_nothing(
    store: RealStore, backend: str
) -> None:
    d = draft()
    document_id = store.save_document(d, vectors_for(d)).id
    target = str(store.path) if isinstance(store, SqliteKnowledgeStore) else store.db.url
    script = KILLED_WRITER[backend].format(target=target) + textwrap.dedent(
        f"""
        sections = (SectionDraft(("X",), "Replaced text.", ("Replaced text.",)),)
        draft = DocumentDraft("guide.md", "h2", "New title", None, None, "text/plain", 1, sections)
        store.save_document(draft, [np.ones({DIM}, dtype=np.float32)], replace_id={document_id})
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 9, result.stderr.decode()

    reopened = another_store(store)
    record = reopened.get_by_source("guide.md")
    assert record is not None and record.title == "Onboarding guide"
    assert record.chunk_count == 3
    assert counts(reopened)["chunk_vectors"] == 3
    assert fts_ids(reopened, "replaced") == []
    if isinstance(reopened, SqliteKnowledgeStore):
        assert reopened.connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    close_other(reopened)


def test_the_embedding_model_is_recorded_once_and_a_different_one_is_refused(
    store: AnyStore,
) -> None:
    store.check_embedding(INFO)  # same again: fine

    with pytest.raises(EmbeddingModelMismatch) as error:
        store.check_embedding(EmbeddingInfo("text-embedding-3-small", 1536))
    with pytest.raises(EmbeddingModelMismatch):
        store.check_embedding(EmbeddingInfo("hashing-bow", DIM * 2))

    assert "hashing-bow" in error.value.detail
    assert store.embedding_info() == INFO
    assert store.stats().embedding == INFO


def test_saving_chunks_before_an_embedding_model_is_recorded_is_refused(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with open_store(backend, tmp_path, request) as store:
        d = draft()

        with pytest.raises(ConfigurationError):
            store.save_document(d, vectors_for(d))
        assert Probe(store).count("documents") == 0


def test_documents_are_listed_by_source_with_a_total_and_a_category_filter(
    store: AnyStore,
) -> None:
    for source, category in [("c.md", "hr"), ("a.md", "it"), ("b.md", "hr"), ("d.md", None)]:
        d = draft(source, category=category)
        store.save_document(d, vectors_for(d))

    page, total = store.list_documents(limit=2, offset=1)
    hr, hr_total = store.list_documents(category="hr")

    assert [r.source for r in page] == ["b.md", "c.md"] and total == 4
    assert [r.source for r in hr] == ["b.md", "c.md"] and hr_total == 2
    assert [s for _, s in store.list_sources()] == ["a.md", "b.md", "c.md", "d.md"]
    stats = store.stats()
    assert (stats.documents, stats.sections, stats.chunks) == (4, 8, 12)
    assert stats.categories == {"hr": 2, "it": 1}


def test_chunk_texts_for_re_embedding_carry_title_and_headings(
    store: AnyStore,
) -> None:
    d = draft()
    store.save_document(d, vectors_for(d))

    batches = list(store.iter_chunk_texts(batch_size=2))

    assert [len(b) for b in batches] == [2, 1]
    texts = [text for batch in batches for _, text in batch]
    assert texts[2] == embedding_text(
        "Onboarding guide", ("Benefits", "Leave"), "You get twenty-five days of annual leave."
    )


@real_backends
def test_replace_embeddings_rebuilds_the_index_for_a_new_model(
    store: RealStore,
) -> None:
    d = draft()
    store.save_document(d, vectors_for(d))
    new_info = EmbeddingInfo("bigger", 8)
    before = store.state().vector_epoch

    def batches():
        for batch in store.iter_chunk_texts(batch_size=2):
            yield [(cid, np.arange(8, dtype=np.float32) + 1) for cid, _ in batch]

    written = store.replace_embeddings(new_info, batches())

    assert written == 3
    assert store.embedding_info() == new_info
    assert store.state().vector_epoch == before + 1
    assert counts(store)["chunk_vectors"] == 3
    store.check_embedding(new_info)


def test_replace_embeddings_with_missing_vectors_keeps_the_old_index(
    store: AnyStore,
) -> None:
    d = draft()
    store.save_document(d, vectors_for(d))
    first_id = next(store.iter_chunk_texts())[0][0]

    with pytest.raises(InvalidRequest):
        store.replace_embeddings(
            EmbeddingInfo("bigger", 8), iter([[(first_id, np.ones(8, dtype=np.float32))]])
        )

    assert store.embedding_info() == INFO
    assert counts(store)["chunk_vectors"] == 3


def test_postgresql_migrations_are_recorded_and_not_applied_twice(pg_url: str) -> None:
    db = PgDatabase(pg_url, max_size=2)
    try:
        pg_store.PgKnowledgeStore(db)
        pg_store.PgKnowledgeStore(db)
        assert [m for m in applied_migrations(db) if m.startswith("knowledge")] == [
            m.name for m in pg_store.MIGRATIONS
        ]
    finally:
        db.close()


def test_sqlite_migrations_are_recorded_and_not_applied_twice(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    SqliteKnowledgeStore(path).close()
    SqliteKnowledgeStore(path).close()

    conn = connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations")]
    conn.close()
    assert names == [migration.name for migration in MIGRATIONS]


def test_a_read_only_sqlite_store_refuses_writes(sqlite_store: SqliteKnowledgeStore) -> None:
    reader = SqliteKnowledgeStore(sqlite_store.path, readonly=True)
    d = draft()

    with pytest.raises(ConfigurationError):
        reader.save_document(d, vectors_for(d))
    assert reader.embedding_info() == INFO
    reader.close()


@real_backends
def test_every_write_moves_the_generation_counter(store: RealStore) -> None:
    start = store.state().generation
    d = draft()
    record = store.save_document(d, vectors_for(d))
    store.delete_document(record.id)

    assert store.state().generation == start + 2


def test_an_older_sqlite_database_gets_relative_sources_and_incremental_vacuum(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    conn = connect(path)
    apply_migrations(conn, MIGRATIONS[:2])  # the schema before document trust
    rows = [
        ("/srv/kb/policies/a.md", "A"),
        ("/srv/kb/runbooks/b.md", "B"),
        ("upload:notes.md", "Notes"),
    ]
    for source, title in rows:
        conn.execute(
            "INSERT INTO documents (source, title, media_type, content_hash, size_bytes, "
            "ingested_at) VALUES (?, ?, 'text/markdown', 'h', 1, '2026-01-01T00:00:00')",
            (source, title),
        )
    conn.close()

    store = SqliteKnowledgeStore(path)

    listed = {(d.source, d.origin) for d in store.list_documents()[0]}
    assert listed == {
        ("policies/a.md", "/srv/kb/policies/a.md"),
        ("runbooks/b.md", "/srv/kb/runbooks/b.md"),
        ("notes.md", None),
    }
    assert store.connection().execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    store.close()


@real_backends
def test_the_vocabulary_is_the_indexed_words_of_the_current_generation(
    store: RealStore,
) -> None:
    empty_generation, empty = store.vocabulary()
    record = store.save_document(draft(), vectors_for(draft()))

    generation, terms = store.vocabulary()

    assert empty == [] and generation > empty_generation
    assert {"laptop", "leav", "welcom"} <= set(terms)  # stems of titles and texts
    store.delete_document(record.id)
    assert store.vocabulary()[1] == []


@real_backends
def test_the_defining_texts_are_the_sections_holding_a_parenthesis(store: RealStore) -> None:
    sections = (
        (("Intro",), ("Changes go to a write-ahead log (WAL) first.",)),
        (("Use",), ("Convert to WAL mode with a pragma.",)),
    )
    record = store.save_document(draft(sections=sections), vectors_for(draft(sections=sections)))

    generation, texts = store.defining_texts()

    assert texts == ["Changes go to a write-ahead log (WAL) first."]
    assert generation == store.vocabulary()[0]
    store.delete_document(record.id)
    assert store.defining_texts()[1] == []


def test_a_deleted_documents_id_is_never_given_to_another_document(store: AnyStore) -> None:
    first = store.save_document(draft("a.md"), vectors_for(draft("a.md")))
    last = store.save_document(draft("b.md"), vectors_for(draft("b.md")))
    store.delete_document(last.id)  # the highest id: SQLite's rowid alone would reuse it

    again = store.save_document(draft("c.md"), vectors_for(draft("c.md")))
    staged = draft("d.md")
    stage_id = store.begin_staging(staged)
    store.stage_chunks(stage_id, _all_chunks(staged), vectors_for(staged))
    committed = store.commit_staged(stage_id, staged)

    assert again.id > last.id > first.id
    assert committed.id > again.id
    assert store.get_record(last.id) is None


def _all_chunks(d: DocumentDraft) -> list[StagedChunk]:
    return [
        StagedChunk(section_ordinal, ordinal, text)
        for section_ordinal, section in enumerate(d.sections)
        for ordinal, text in enumerate(section.chunks)
    ]


def test_an_older_sqlite_database_does_not_reuse_the_ids_it_already_gave(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    conn = connect(path)
    apply_migrations(conn, MIGRATIONS[:5])  # before the document id counter
    for source in ("a.md", "b.md"):
        conn.execute(
            "INSERT INTO documents (source, title, media_type, content_hash, size_bytes, "
            "ingested_at) VALUES (?, 'T', 'text/markdown', 'h', 1, '2026-01-01T00:00:00')",
            (source,),
        )
    conn.close()
    store = SqliteKnowledgeStore(path)
    store.check_embedding(INFO)
    try:
        store.delete_document(2)
        again = store.save_document(draft("c.md"), vectors_for(draft("c.md")))
        assert again.id == 3
    finally:
        store.close()


@real_backends
def test_a_dead_processs_staged_rows_are_removed_at_the_next_open_a_live_ones_kept(
    store: RealStore, tmp_path: Path
) -> None:
    def presence() -> Presence:
        if isinstance(store, SqliteKnowledgeStore):
            return FilePresence(tmp_path / "processes")
        return PgPresence(store.db.url)

    def opened(owner: Presence) -> AnyStore:
        if isinstance(store, SqliteKnowledgeStore):
            return SqliteKnowledgeStore(store.path, presence=owner)
        return PgKnowledgeStore(PgDatabase(store.db.url, max_size=2), presence=owner)

    dying, living, starting = presence(), presence(), presence()
    writers = [opened(dying), opened(living)]
    for writer, name in zip(writers, ("dead.md", "live.md"), strict=True):
        staged = draft(name)
        writer.stage_chunks(writer.begin_staging(staged), _all_chunks(staged), vectors_for(staged))
    dying.close()  # killed mid-upload: its staged rows would wait an hour
    assert wait_until_dead(starting, dying.id)

    restarted = opened(starting)
    try:
        assert Probe(store).count("staged_chunks") == 3  # only the live upload's chunks remain
    finally:
        for made in (*writers, restarted):
            close_other(made)
        living.close()
        starting.close()


def test_a_jobs_document_is_written_only_under_the_jobs_current_lease(pg_url: str) -> None:
    """A worker whose job was claimed again (its lease number moved on) writes nothing: not a
    small document (`save_document`) nor a staged one (`commit_staged`); the new holder does.
    The lease is checked in the write's own transaction (the jobs table is in the database)."""
    from services import job_store
    from use_cases.shared.leases import JobLease, LeaseLost

    database = PgDatabase(pg_url, max_size=3)
    try:
        jobs = job_store.JobStore(database, lease_s=0.0)  # every running job is claimable
        store = PgKnowledgeStore(database)
        store.check_embedding(INFO)
        job = jobs.add(
            "ingest_upload", "n", {}, data=None, created_by=None, unique_key=None, limits=None
        )
        first = jobs.claim(["ingest_upload"], "w1")
        second = jobs.claim(["ingest_upload"], "w2")  # w1 stalled past its lease
        assert first is not None and second is not None and (first.lease, second.lease) == (1, 2)
        stale, held = JobLease(job.id, "w1", 1), JobLease(job.id, "w2", 2)

        small = draft("small.md")
        with pytest.raises(LeaseLost):
            store.save_document(small, vectors_for(small), lease=stale)
        large = draft("large.md", title="Large guide")
        stage = store.begin_staging(large)
        chunks = document_writes.draft_chunks(large)
        store.stage_chunks(stage, chunks, vectors_for(large))
        with pytest.raises(LeaseLost):
            store.commit_staged(stage, large, lease=stale)
        assert store.list_documents()[1] == 0

        store.save_document(small, vectors_for(small), lease=held)
        store.commit_staged(stage, large, lease=held)
        assert sorted(d.source for d in store.list_documents()[0]) == ["large.md", "small.md"]
        store.close()
    finally:
        database.close()
