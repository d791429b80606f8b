"""Boilerplate is not content: a small synthetic corpus whose pages all end with the same
footer, ingested into a fresh data directory as the evaluation corpora are, answered by the
offline model. The footer line is counted at ingestion (`document_lines`), judged boilerplate
when answering (`ChooseTuning.boilerplate_*`) and never becomes the answer; with the share set
out of reach, the same question is answered by the footer, so the test can fail. The store's
counts of repeated lines are checked on both databases."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from backend.bootstrap import load_sample_data_if_empty
from backend.cli.common import open_container
from backend.cli.eval_commands import corpus_settings, evaluate
from services.knowledge.pg_store import PgKnowledgeStore
from services.knowledge.store import SqliteKnowledgeStore
from services.offline import tuning
from tests.knowledge_backends import open_store
from tests.postgres import BACKENDS
from use_cases.evaluation.answers import CaseResult
from use_cases.knowledge.domain import DocumentDraft, EmbeddingInfo, SectionDraft

FOOTER = "This page is maintained by the documentation team of Northwind Tools."
PAGES = {
    "deploy.md": (
        "Deploying the service",
        "Run the deploy command from the release branch. A deploy takes about ten minutes, "
        "and the release owner watches the dashboards until it is done.",
    ),
    "keys.md": (
        "Rotating keys",
        "Signing keys are rotated every ninety days. The security lead starts the rotation.",
    ),
    "backups.md": (
        "Backups",
        "The database is backed up every night at two o'clock and kept for thirty days.",
    ),
    "alerts.md": (
        "Alerts",
        "A paging alert is acknowledged within fifteen minutes by whoever is on call.",
    ),
    "access.md": (
        "Access",
        "New engineers get read access on their first day and write access after a week.",
    ),
}
CASES = [
    {"id": "footer", "question": "who maintains this page?", "kind": "kb", "expect_any": ["x"]},
    {
        "id": "deploy",
        "question": "how long does a deploy take?",
        "kind": "kb",
        "expect_any": ["ten minutes"],
    },
]


def _corpus(root: Path) -> Path:
    documents = root / "corpus" / "documents"
    documents.mkdir(parents=True)
    for name, (title, body) in PAGES.items():
        (documents / name).write_text(f"# {title}\n\n{body}\n\n---\n\n{FOOTER}\n", "utf-8")
    cases = root / "corpus" / "eval"
    cases.mkdir()
    for split in ("dev", "test"):  # the evaluation reads both files, ids unique across them
        lines = [json.dumps(c | {"id": f"{split}-{c['id']}"}) + "\n" for c in CASES]
        (cases / f"{split}.jsonl").write_text("".join(lines), "utf-8")
    return root / "corpus"


def _answers(root: Path) -> dict[str, CaseResult]:
    """The offline model's answers to `CASES` over the corpus, in a fresh data directory."""
    corpus = _corpus(root)
    settings, _ = corpus_settings("black-docs", root / "data")
    settings = settings.updated(
        sample_data_dir=corpus / "documents",
        sample_tables_dir=corpus / "tables",
        sample_lexicon_file=corpus / "lexicon.json",
    )
    with open_container(settings) as container:
        loaded = load_sample_data_if_empty(container)
        assert loaded is not None and not loaded.failed
        report = evaluate(container, "footer/dev", "dev", None, corpus / "eval", lambda r: None)
    return {result.id.removeprefix("dev-"): result for result in report.results}


def test_a_footer_every_page_repeats_never_becomes_the_answer(tmp_path: Path) -> None:
    answers = _answers(tmp_path)

    assert FOOTER not in answers["footer"].answer
    assert "maintained by the documentation team" not in answers["footer"].answer
    assert "ten minutes" in answers["deploy"].answer  # the pages' own content still answers
    assert FOOTER not in answers["deploy"].answer


def test_without_the_boilerplate_rule_the_footer_would_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    never = replace(tuning.DEFAULT_TUNING.choose, boilerplate_share=2.0)
    monkeypatch.setattr(tuning, "DEFAULT_TUNING", replace(tuning.DEFAULT_TUNING, choose=never))

    answers = _answers(tmp_path)

    assert "maintained by the documentation team" in answers["footer"].answer


DIM = 8
RealStore = SqliteKnowledgeStore | PgKnowledgeStore


def _draft(source: str, lines: tuple[str, ...]) -> DocumentDraft:
    text = "\n".join(lines)
    return DocumentDraft(
        source=source,
        content_hash=hashlib.sha256(f"{source}{text}".encode()).hexdigest(),
        title=source,
        category=None,
        updated_at=date(2026, 1, 15),
        media_type="text/markdown",
        size_bytes=len(text),
        sections=(SectionDraft(heading_path=(source,), text=text, chunks=(text,)),),
    )


def _save(store: RealStore, d: DocumentDraft, replace_id: int | None = None) -> int:
    vector = np.ones(DIM, dtype=np.float32) / np.sqrt(DIM)
    return store.save_document(d, [vector], replace_id=replace_id).id


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RealStore]:
    with open_store(str(request.param), tmp_path, request) as s:
        assert isinstance(s, SqliteKnowledgeStore | PgKnowledgeStore)
        s.check_embedding(EmbeddingInfo("constant", DIM))
        yield s


def test_the_store_counts_the_documents_repeating_each_line(store: RealStore) -> None:
    footer = "**Part of the Northwind tools suite.**"
    first = _save(store, _draft("a.md", ("Alpha does one thing well.", footer)))
    _save(store, _draft("b.md", ("Beta does another thing.", footer, footer)))
    _save(store, _draft("c.md", ("Gamma is different.", "Part of the Northwind tools suite.")))

    generation, documents, lines = store.repeated_lines(2)

    assert documents == 3 and generation == store.state().generation
    assert lines == [("part of the northwind tools suite.", 3)]  # marks dropped, once a page
    _save(store, _draft("a.md", ("Alpha does one thing well.",)), replace_id=first)
    assert store.repeated_lines(2)[2] == [("part of the northwind tools suite.", 2)]
    store.delete_document(first)
    assert store.repeated_lines(3)[2] == []
    assert store.repeated_lines(1)[1] == 2


def test_the_migration_counts_the_lines_of_documents_stored_before_it(
    store: RealStore, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    footer = "Part of the Northwind tools suite."
    for name in ("a.md", "b.md", "c.md"):
        _save(store, _draft(name, (f"{name} has its own text.", footer)))
    undo = (  # the knowledge base as it was before the lines were counted
        "DROP TABLE document_lines",
        "DELETE FROM schema_migrations WHERE name LIKE 'knowledge%document_lines'",
    )
    if isinstance(store, SqliteKnowledgeStore):
        for statement in undo:
            store.connection().execute(statement)
    else:
        with store.db.connection() as conn:
            for statement in undo:
                conn.execute(statement)
    store.close()

    backend = "sqlite" if isinstance(store, SqliteKnowledgeStore) else "postgresql"
    with open_store(backend, tmp_path, request) as reopened:
        assert isinstance(reopened, SqliteKnowledgeStore | PgKnowledgeStore)
        assert reopened.repeated_lines(3)[1:] == (3, [("part of the northwind tools suite.", 3)])
