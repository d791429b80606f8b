"""A scope narrowed by what a search asks reads what both read (`ReadScope.within`,
`DocumentFilter.merged`): a chat request's filters and its agent's tool call's filters both
hold, and a reader's scope is never widened by an asked one (use_cases/knowledge/scoped.py)."""

from __future__ import annotations

from datetime import date

from use_cases.knowledge.domain import SearchHit
from use_cases.knowledge.scope import EVERYTHING, DocumentFilter, ReadScope
from use_cases.knowledge.scoped import ScopedRetriever

NOTHING_READABLE: frozenset[int | None] = frozenset()


def test_two_filters_keep_what_each_keeps() -> None:
    request = DocumentFilter(
        category="pay",
        source_prefix="hr/",
        updated_after=date(2025, 1, 1),
        metadata=(("owner", "people"),),
    )
    tool = DocumentFilter(
        source_prefix="hr/bands/",
        updated_after=date(2025, 6, 1),
        updated_before=date(2025, 12, 31),
        metadata=(("region", "eu"), ("owner", "people")),
    )
    assert request.merged(tool) == DocumentFilter(
        category="pay",
        source_prefix="hr/bands/",
        updated_after=date(2025, 6, 1),
        updated_before=date(2025, 12, 31),
        metadata=(("owner", "people"), ("region", "eu")),
    )
    assert tool.merged(DocumentFilter()) == tool


def test_filters_no_document_can_pass_both_merge_to_none() -> None:
    assert DocumentFilter(collection="hr").merged(DocumentFilter(collection="eng")) is None
    assert DocumentFilter(category="pay").merged(DocumentFilter(category="ops")) is None
    assert DocumentFilter(source_prefix="hr/").merged(DocumentFilter(source_prefix="eng/")) is None
    assert DocumentFilter(collection="hr").merged(DocumentFilter(collection=" hr ")) is not None


def test_an_asked_scope_narrows_a_readers_scope_and_never_widens_it() -> None:
    reader = ReadScope(frozenset({None, 1}), DocumentFilter(category="pay"))
    asked_everything = ReadScope(None, DocumentFilter(source_prefix="hr/"))
    assert reader.within(asked_everything) == ReadScope(
        frozenset({None, 1}), DocumentFilter(category="pay", source_prefix="hr/")
    )
    other_team = ReadScope(frozenset({2}))
    assert reader.within(other_team).collections == NOTHING_READABLE
    assert reader.within(EVERYTHING) == reader
    assert EVERYTHING.within(other_team) == other_team


def test_clashing_filters_leave_nothing_to_read() -> None:
    reader = ReadScope(frozenset({None, 1}), DocumentFilter(category="pay"))
    narrowed = reader.within(ReadScope(None, DocumentFilter(category="ops")))
    assert narrowed.collections == NOTHING_READABLE


class _Recorder:
    reranker_enabled = False

    def __init__(self) -> None:
        self.scopes: list[ReadScope] = []

    def search(
        self,
        query: str,
        k: int | None = None,
        category: str | None = None,
        *,
        as_of: date | None = None,
        scope: ReadScope = EVERYTHING,
    ) -> list[SearchHit]:
        assert category is None, "the category travels inside the scope"
        self.scopes.append(scope)
        return []


def test_a_scoped_retriever_searches_its_scope_within_what_is_asked() -> None:
    base = _Recorder()
    reader = ReadScope(frozenset({None, 1}))
    retriever = ScopedRetriever(base, reader)
    retriever.search("q", 5, "pay", scope=ReadScope(frozenset({1, 2})))
    retriever.search("q", 5, scope=EVERYTHING)
    assert base.scopes == [ReadScope(frozenset({1}), DocumentFilter(category="pay")), reader]
