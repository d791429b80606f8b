"""The agent's two tools and the dependencies a run gives them (`AgentDeps`).

- `search_knowledge_base(query, category=None, as_of=None, collection=None, source_prefix=None,
  updated_after=None, updated_before=None, meta=None)`: hybrid retrieval; hits are numbered
  for citation, continuing across searches within one turn so [n] stays unique, and shown to the
  model as `<passage>` blocks marked as untrusted data (`format_hits`). Its filters narrow the
  search within what the run's reader may read and the request's own filters, never beyond:
  they become a scope (`AgentDeps.narrow`) that the reader's retriever intersects with its own
  (`use_cases/knowledge/scoped.py`), so a collection the reader may not read finds nothing.
- `lookup_structured_data(sql_query)`: one read-only SELECT over the structured tables, returned
  as a markdown table. A rejected query goes back to the model as a retry.

Each tool returns text for the model and, as `ToolReturn.metadata`, the structured data the
application needs (citations for the Sources list; the offline model composes from it). A tool's
name, signature and docstring are what the model is told about it. Whether a run is offered a
tool at all is its `prepare` hook (`offer_search`, `offer_lookup`): the run's search policy
(`AgentDeps.search_policy`, set by `deps_for_turn` from the turn's search-discipline decision,
see `use_cases/chat/search_discipline.py`) takes the search tool away when search is off, and
every tool in a declined (DISALLOWED) turn.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from typing import Any, TypeVar

from pydantic_ai import ModelRetry, RunContext
from pydantic_ai.messages import ToolReturn
from pydantic_ai.tools import ToolDefinition

from use_cases.chat.citations import Citation, table_title, version_status
from use_cases.chat.domain import TABLE_SOURCE_ROWS, cell
from use_cases.chat.external_tools import ExternalToolbox
from use_cases.chat.prompts import SYSTEM_PROMPT, UNTRUSTED_PASSAGES, UNTRUSTED_ROWS
from use_cases.chat.search_discipline import UNDECIDED, SearchDecision, SearchPolicy
from use_cases.knowledge.ports import Retriever
from use_cases.knowledge.scope import (
    DEFAULT_COLLECTION,
    EVERYTHING,
    METADATA_KEY,
    DocumentFilter,
    ReadScope,
)
from use_cases.shared.clock import Clock
from use_cases.shared.errors import ToolRejected
from use_cases.tables.markdown import escape_html, render_markdown
from use_cases.tables.ports import SqlRunner

#: Runs `fn(*args)` off the event loop and awaits it (`asyncio.to_thread` or a bounded pool).
Offload = Callable[..., Awaitable[Any]]

#: The scope a search tool call's filters ask for, for the run's reader: collection names
#: resolved against what that reader may read (`ResolveReadScope.run`). Blocking (a lookup).
NarrowScope = Callable[[DocumentFilter], ReadScope]

#: The most `meta` pairs one search tool call may name (as the search API's `meta`).
MAX_TOOL_META = 10


def unresolved_names(filters: DocumentFilter) -> ReadScope:
    """`NarrowScope` of a run without collections to look names up in (tests, a bare agent):
    `default` is the default collection, any other name finds nothing."""
    scope = EVERYTHING.filtered(filters)
    if filters.collection is None:
        return scope
    return scope.narrowed_to(None, known=filters.collection.strip() == DEFAULT_COLLECTION)


@dataclass
class AgentDeps:
    """What a run may touch. `instructions` is the system prompt of this run (the prompt in
    force when the turn started); `citations` collects what the tools returned in this turn."""

    retriever: Retriever
    sql: SqlRunner | None
    clock: Clock
    search_limit: int = 5
    instructions: str = SYSTEM_PROMPT
    citations: list[Citation] = field(default_factory=list)
    search_policy: SearchPolicy = UNDECIDED
    """Whether this run may search and must search (see `deps_for_turn`)."""
    offload: Offload = asyncio.to_thread
    """Runs a tool's blocking work (search: embedding and ranking; SQL) off the event loop:
    the server's bounded answer pool, so it neither queues behind nor starves the threads
    quick requests use."""
    external: ExternalToolbox | None = None
    """Other servers' tools an admin allowed (`use_cases/chat/external_tools.py`); None: none."""
    narrow: NarrowScope = unresolved_names
    """The scope the search tool's filters ask for; the retriever searches only what that
    scope and its own reader's scope both read (set with the reader by the turn)."""


_DepsT = TypeVar("_DepsT", bound=AgentDeps)


def deps_for_turn(deps: _DepsT, decision: SearchDecision, *, outside_tools: bool = True) -> _DepsT:
    """`deps` with the search policy of the turn's search-discipline decision; without the
    outside tools for a model that takes none (`ResolvedModel.outside_tools`)."""
    external = deps.external if outside_tools else None
    return replace(deps, search_policy=decision.policy, external=external)


def format_hits(citations: list[Citation]) -> str:
    """The passages for the model, each delimited as data: `<passage n="1" ...>text</passage>`.

    Document text is HTML-escaped before it gets here (`escape_html`), so a document cannot
    close its passage or open another one; titles and sections are escaped too. What Almanac
    itself knows about a passage rides on its tag, where a document cannot write: the
    version `status` (from the recorded `supersedes` relation) of a document with versions.
    """
    if not citations:
        return "No relevant passages found in the knowledge base."
    blocks = [UNTRUSTED_PASSAGES]
    for c in citations:
        header = (
            f"[{c.number}] {c.title} | category: {c.category or '-'} | section: {c.section or '-'}"
            f" | updated: {c.updated_at or 'unknown'} | source: {c.source} | score: {c.score:.4f}"
        )
        status = f' status="{_attribute(version_status(c))}"' if c.version_note else ""
        blocks.append(
            f'<passage n="{c.number}"{status}>\n{escape_html(header)}\n{c.text}\n</passage>'
        )
    return "\n\n".join(blocks)


def _attribute(value: str) -> str:
    return escape_html(value).replace('"', "&quot;")


async def search_knowledge_base(
    ctx: RunContext[AgentDeps],
    query: str,
    category: str | None = None,
    as_of: date | None = None,
    collection: str | None = None,
    source_prefix: str | None = None,
    updated_after: date | None = None,
    updated_before: date | None = None,
    meta: dict[str, str] | None = None,
) -> ToolReturn:
    """Search the organisation's knowledge base (policies, runbooks, domain documents).

    Every filter is optional and narrows the search; leave them out unless the user asks for
    them. Filters never reach documents the user may not read.

    Args:
        query: A standalone search query; rewrite follow-up questions to be self-contained.
        category: Optional category to restrict the search to (e.g. "policies", "runbooks").
        as_of: Only when the user asks how a rule was at a past date ("back in 2022", "before
            the September 2025 update"): that date (YYYY-MM-DD); the policy versions in
            force then rank first instead of the current ones.
        collection: Only documents of this collection (a team's documents, e.g. "hr";
            "default" for those in no collection).
        source_prefix: Only documents whose source path starts with this (e.g. "handbook/").
        updated_after: Only documents updated on or after this date (YYYY-MM-DD).
        updated_before: Only documents updated on or before this date (YYYY-MM-DD).
        meta: Only documents whose metadata (front matter) has each key equal to its value,
            e.g. {"owner": "people-team"}.
    """
    query = query.strip()
    if not query:
        raise ModelRetry("The search query is empty; pass the words to search for.")
    deps = ctx.deps
    asked = _tool_filter(collection, source_prefix, updated_after, updated_before, meta)
    search = partial(deps.retriever.search, as_of=as_of) if as_of else deps.retriever.search
    if not asked.empty:
        search = partial(search, scope=await deps.offload(deps.narrow, asked))
    hits = await deps.offload(search, query, deps.search_limit, category or None)
    start = len(deps.citations)
    new: list[Citation] = []
    for offset, hit in enumerate(hits, 1):
        citation = Citation(
            number=start + offset,
            kind="document",
            title=hit.title,
            source=hit.source,
            section=" > ".join(hit.section_path),
            category=hit.category,
            updated_at=hit.updated_at.isoformat() if hit.updated_at else None,
            score=hit.scores.rerank_score
            if hit.scores.rerank_score is not None
            else hit.scores.fused,
            document_id=None if hit.attachment else hit.document_id,
            text=escape_html(hit.section_text),
            superseded_by=hit.superseded_by,
            supersedes=hit.supersedes,
            document_version=hit.document_version,
            extraction=hit.extraction,
            link=hit.link,
        )
        new.append(citation)
    deps.citations.extend(new)
    metadata = {
        "hits": [
            {
                **c.as_dict(),
                "text": c.text,
                "bm25_rank": h.scores.bm25_rank,
                "vector_distance": h.scores.vector_distance,
                "chunk": escape_html(h.chunk_text),
            }
            for c, h in zip(new, hits, strict=True)
        ]
    }
    return ToolReturn(return_value=format_hits(new), metadata=metadata)


def _tool_filter(
    collection: str | None,
    source_prefix: str | None,
    updated_after: date | None,
    updated_before: date | None,
    meta: dict[str, str] | None,
) -> DocumentFilter:
    """The search tool's filter arguments but `category` (the retriever's own argument) as a
    `DocumentFilter`; a malformed one goes back to the model as a retry (the search API's
    422)."""
    pairs = sorted((meta or {}).items())
    if len(pairs) > MAX_TOOL_META:
        raise ModelRetry(f"meta takes at most {MAX_TOOL_META} keys.")
    for key, value in pairs:
        if not METADATA_KEY.fullmatch(key) or not isinstance(value, str) or len(value) > 500:
            raise ModelRetry(f"meta key {key!r} is not a metadata key (letters, digits, _.-).")
    if updated_after and updated_before and updated_after > updated_before:
        raise ModelRetry("updated_after is later than updated_before.")
    return DocumentFilter(
        collection=(collection or "").strip() or None,
        source_prefix=source_prefix or None,
        updated_after=updated_after,
        updated_before=updated_before,
        metadata=tuple((key, value.strip()) for key, value in pairs),
    )


async def lookup_structured_data(ctx: RunContext[AgentDeps], sql_query: str) -> ToolReturn:
    """Run ONE read-only SELECT over the structured tables; returns a markdown table.

    Args:
        sql_query: A single SELECT statement over the tables listed in the instructions.
    """
    deps = ctx.deps
    if deps.sql is None:
        raise ModelRetry("No structured tables are loaded; answer from the knowledge base.")
    try:
        result = await deps.offload(deps.sql.run, sql_query)
    except ToolRejected as exc:
        raise ModelRetry(exc.detail) from None
    tables = _table_names(sql_query, deps.sql)
    text = render_markdown(result)
    deps.citations.append(
        Citation(
            number=len(deps.citations) + 1,
            kind="table",
            title=table_title(tables),
            source=sql_query,
            text=text,
            columns=tuple(result.columns),
            rows=tuple(tuple(cell(v) for v in row) for row in result.rows[:TABLE_SOURCE_ROWS]),
            truncated=result.truncated or len(result.rows) > TABLE_SOURCE_ROWS,
        )
    )
    return ToolReturn(
        return_value=f"{UNTRUSTED_ROWS}\n{text}",
        metadata={
            "sql": sql_query,
            "columns": list(result.columns),
            "rows": [list(row) for row in result.rows],
            "truncated": result.truncated,
            "tables": tables,
        },
    )


def _table_names(sql: str, runner: SqlRunner) -> list[str]:
    lowered = sql.lower()
    return [s.name for s in runner.schemas() if s.name.lower() in lowered]


async def offer_search(ctx: RunContext[AgentDeps], tool: ToolDefinition) -> ToolDefinition | None:
    """The `prepare` hook of the search tool: not offered at all when the run may not search."""
    policy = ctx.deps.search_policy
    return tool if policy.allow_search and policy.allow_tools else None


#: The key of the table lookup's definition metadata naming the tables its reader may query:
#: a model that plans its own SQL (the offline one) reads them there, as a typed value.
TABLES_METADATA = "almanac_tables"


async def offer_lookup(ctx: RunContext[AgentDeps], tool: ToolDefinition) -> ToolDefinition | None:
    """The `prepare` hook of the table lookup: not offered in a declined (DISALLOWED) turn,
    which runs no tool at all; offered with the names of the tables the run's SQL runner (its
    reader's) may read in its metadata (`TABLES_METADATA`)."""
    if not ctx.deps.search_policy.allow_tools:
        return None
    if ctx.deps.sql is None:
        return tool
    names = tuple(schema.name for schema in ctx.deps.sql.schemas())
    return dataclasses.replace(tool, metadata={**(tool.metadata or {}), TABLES_METADATA: names})
