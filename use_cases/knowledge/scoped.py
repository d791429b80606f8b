"""A retriever bound to one reader's scope: what a turn's tools search through.

Rules: whatever a tool's caller asks for (another scope, "every collection", a category), the
search runs within the reader's scope: an asked scope or category only narrows it
(`ReadScope.within`), so text a model writes cannot widen it. The scope travels as a typed
value to the retriever port, which applies it inside each leg (use_cases/knowledge/scope.py).
"""

from __future__ import annotations

from datetime import date

from use_cases.knowledge.domain import SearchHit
from use_cases.knowledge.ports import Retriever
from use_cases.knowledge.scope import EVERYTHING, DocumentFilter, ReadScope

__all__ = ["ScopedRetriever", "scoped"]


class ScopedRetriever:
    """`Retriever` over `base` that always searches within `scope`."""

    def __init__(self, base: Retriever, scope: ReadScope) -> None:
        self._base = base
        self.scope = scope

    @property
    def reranker_enabled(self) -> bool:
        return self._base.reranker_enabled

    def search(
        self,
        query: str,
        k: int | None = None,
        category: str | None = None,
        *,
        as_of: date | None = None,
        scope: ReadScope = EVERYTHING,
    ) -> list[SearchHit]:
        asked = scope if category is None else scope.within(ReadScope(filters=_category(category)))
        return self._base.search(query, k, None, as_of=as_of, scope=self.scope.within(asked))


def _category(category: str) -> DocumentFilter:
    return DocumentFilter(category=category)


def scoped(base: Retriever, scope: ReadScope) -> Retriever:
    """`base` bound to `scope` (itself when the scope reads everything: an admin's turn)."""
    return base if scope == EVERYTHING else ScopedRetriever(base, scope)
