"""The withholding rule (`use_cases/chat/withholding.py`) on hand-made records: what of a
stored answer, an earlier version or a kept advice a reader may still be shown once a
document or a table it cited is in a collection they may not read."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from tests.fakes import InMemoryResponseLog
from use_cases.access.domain import Caller
from use_cases.advice.domain import AdviceEntry, AdviceSource, Alternative, StructuredAdvice
from use_cases.advice.manage_threads import readable_entries
from use_cases.chat.citations import Citation
from use_cases.chat.domain import CitedAnswer, MessageVersion, Source
from use_cases.chat.responses import ListRecentResponses, logged_sources
from use_cases.chat.withholding import WITHHELD_ANSWER, StoredAnswers, Withholding
from use_cases.confidence.domain import LoggedResponse, LoggedSources
from use_cases.knowledge.scope import EVERYTHING, ReadScope
from use_cases.tables.domain import TableSchema

T0 = datetime(2026, 3, 2, tzinfo=UTC)
HR = 5  # the collection the reader lost
READER = ReadScope(frozenset({None, 7}))  # the default collection and collection 7


class Records:
    """The one read withholding makes of the knowledge base: a document's collection."""

    def __init__(self, collections: dict[int, int | None]) -> None:
        self._collections = collections

    def get_record(self, document_id: int) -> Any:
        if document_id not in self._collections:
            return None
        return SimpleNamespace(
            id=document_id,
            collection_id=self._collections[document_id],
            superseded_by_id=None,
            content_hash="h",
        )


class Tables:
    def list_tables(self) -> list[TableSchema]:
        return [TableSchema("hr_ledger", (), 1, HR), TableSchema("directory", (), 1, None)]


def rule(scope: ReadScope = READER) -> Withholding:
    documents: Any = Records({1: None, 2: HR, 3: 7})
    tables: Any = Tables()
    return Withholding(documents, scope, tables)


def document(document_id: int) -> Source:
    return Source(1, "document", "Doc", "doc.md", document_id=document_id)


def table(name: str) -> Source:
    return Source(2, "table", f"table: {name}", f"SELECT * FROM {name}")


def version(*sources: Source) -> MessageVersion:
    return MessageVersion("Q?", "The old answer.", sources, "m", "complete", T0)


def test_an_earlier_version_is_withheld_for_a_revoked_document_and_a_revoked_table() -> None:
    kept = {"a1": [version(document(1)), version(document(2)), version(table("hr_ledger"))]}
    shown = rule().versions(kept)["a1"]
    assert [v.content for v in shown] == ["The old answer.", WITHHELD_ANSWER, WITHHELD_ANSWER]
    assert [s.status for v in shown[1:] for s in v.sources] == ["unavailable", "unavailable"]
    assert shown[2].sources[0].title == "No longer available to you"
    assert rule(EVERYTHING).versions(kept) == kept  # an admin's scope reads them all


def test_withheld_names_the_answers_and_versions_citing_what_the_reader_lost() -> None:
    answers = [
        CitedAnswer("c1", "m1", (document(1), document(3))),
        CitedAnswer("c1", "m2", (document(1), document(2))),
        CitedAnswer("c2", "m3", (table("directory"),)),
        CitedAnswer("c2", "v1", (table("HR_Ledger"),), earlier=True),
        CitedAnswer("c3", "m4", (document(99),)),  # deleted: not withheld (it says `deleted`)
    ]
    assert rule().withheld(answers) == {"m2", "v1"}
    assert rule(EVERYTHING).withheld(answers) == frozenset()


def advice(*sources: AdviceSource) -> AdviceEntry:
    given = StructuredAdvice(
        response_id="resp_1",
        main_advice="Band five is the lumenvault band [1].",
        reasoning="The salary bands say so.",
        confidence_score=0.8,
        confidence_phrase="high",
        alternatives=[Alternative(option="Ask HR", reason="if unsure")],
        sources=list(sources),
        model_identifier="offline-extractive",
        search_decision="DEFAULT_YES",
    )
    return AdviceEntry("e1", "t1", "Which band?", given, T0)


def cited(title: str, document_id: int | None = None) -> AdviceSource:
    return AdviceSource(n=1, document=title, section="", date=None, document_id=document_id)


def test_a_kept_advice_citing_a_revoked_document_or_table_is_withheld_whole() -> None:
    entries = [
        advice(cited("Salary bands", 2)),
        advice(cited("table: hr_ledger")),
        advice(cited("Handbook", 1), cited("table: directory")),
        advice(cited("Salary bands")),  # kept before ids were recorded: cannot be told
    ]
    shown = readable_entries(entries, rule())
    withheld = [e.advice for e in shown[:2]]
    assert all(a.main_advice == a.reasoning == WITHHELD_ANSWER for a in withheld)
    assert all(a.sources == [] and a.alternatives == [] for a in withheld)
    assert all(a.response_id == "resp_1" for a in withheld)  # feedback still finds it
    assert shown[2:] == entries[2:]
    assert readable_entries(entries, rule(EVERYTHING)) == entries


# --- the response log's entries ---------------------------------------------------------


class Scopes:
    """Resolves each caller's scope: admins every collection, users `READER`."""

    def __init__(self, collections: tuple[int, ...] = (HR, 7)) -> None:
        self._collections = collections

    def run(self, caller: Caller, filters: object = None) -> ReadScope:
        return EVERYTHING if caller.is_admin else READER

    def names(self) -> dict[int, str]:
        return {id_: f"c{id_}" for id_ in self._collections}


def logged(n: int, sources: LoggedSources | None, *, search_ran: bool = True) -> LoggedResponse:
    return LoggedResponse(
        f"resp_{n:024d}", "ana", "advice", "Q?", f"answer {n}", 0.5, 0.5, "moderate", "m",
        search_ran, 10, T0, sources=sources,
    )  # fmt: skip


def test_logged_entries_are_withheld_by_their_own_sources_and_old_ones_conservatively() -> None:
    log = InMemoryResponseLog()
    entries = {
        "hr document": logged(1, LoggedSources(documents=(3, 2))),
        "hr table": logged(2, LoggedSources(tables=("hr_ledger",))),
        "readable": logged(3, LoggedSources(documents=(1, 3), tables=("directory",))),
        "cited nothing": logged(4, LoggedSources()),
        "old, searched": logged(5, None),
        "old, no search": logged(6, None, search_ran=False),
    }
    for entry in entries.values():
        log.add(entry)
    documents: Any = Records({1: None, 2: HR, 3: 7})
    tables: Any = Tables()
    readers: Any = Scopes()
    listing = ListRecentResponses(log, None, StoredAnswers(documents, readers, tables))
    ids = {e.response_id: label for label, e in entries.items()}
    shown = {ids[r.response_id]: r.response_text for r in listing.list(Caller("ana", "user", None))}
    withheld = {label for label, text in shown.items() if text == WITHHELD_ANSWER}
    assert withheld == {"hr document", "hr table", "old, searched"}
    assert shown["readable"] == "answer 3" and shown["old, no search"] == "answer 6"
    admin = listing.list(Caller("root", "admin", None))
    assert all(r.response_text != WITHHELD_ANSWER for r in admin)
    # a reader of every collection there is cannot have lost one: an old entry is shown
    every: Any = Scopes(collections=(7,))
    listing = ListRecentResponses(log, None, StoredAnswers(documents, every, tables))
    shown = {ids[r.response_id]: r.response_text for r in listing.list(Caller("ana", "user", None))}
    assert shown["old, searched"] == "answer 5"
    assert {label for label, text in shown.items() if text == WITHHELD_ANSWER} == {
        "hr document",
        "hr table",
    }


def test_a_logged_answer_records_the_documents_and_tables_it_cited() -> None:
    cited = [
        Citation(1, "document", "Bands", "bands.md", document_id=2),
        Source(2, "table", "table: HR_Ledger, directory", "SELECT ..."),
        {"kind": "document", "title": "Old", "document_id": 9},
        {"kind": "document", "title": "No id"},
    ]
    assert logged_sources(cited) == LoggedSources((2, 9), ("directory", "hr_ledger"))
