"""`POST /search-discipline`: the search decision a chat or advice turn would get for a message."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from backend.api.deps import ContainerDep
from backend.api.fields import SEARCH_OVERRIDE_HELP, SearchOverride
from backend.api.openapi import problem_responses
from use_cases.chat.search_discipline import (
    MAX_QUERY_CHARS,
    Classification,
    Decision,
    DisciplineRequest,
)

router = APIRouter(tags=["search discipline"])


class QueryAnalysisOut(BaseModel):
    classification: Classification
    time_sensitive_keywords: list[str]
    active_entities: list[str]
    override_markers: list[str] = Field(description="`/search` or `/nosrch` found in the text.")
    is_time_sensitive: bool
    has_active_entities: bool
    active_entity_reasons: list[str] = Field(description="Why each active entity counts.")
    query_classification: Classification = Field(description="`classification` again.")


class WebSearchOut(BaseModel):
    requested: bool
    available: bool
    reason: str
    provider: str | None


class SearchDecisionOut(BaseModel):
    query: str = Field(description="The question as the model sees it (markers removed).")
    search_override: str | None = Field(
        None, description="The `search_override` query parameter, as it was sent."
    )
    decision: Decision
    should_search: bool
    reasoning: str
    policy_payload: dict[str, Any] = Field(
        description="The rule that fired, whether the search tool is offered and a search "
        "enforced, whether the answer can be grounded, the decision an override replaced, and "
        "the instructions added to the run; and `user_query`, `conversation_context`, "
        "`user_override`, `system_rules_decision`, `system_rules_reasoning`, `final_decision`, "
        "`final_reasoning` (the content's own decision, then the final one)."
    )
    query_analysis: QueryAnalysisOut
    web_search: WebSearchOut


@router.post(
    "/search-discipline",
    response_model=SearchDecisionOut,
    summary="Whether a turn with this message must, may or must not search, and why",
    responses=problem_responses(422),
)
async def search_discipline(
    request: Request,
    container: ContainerDep,
    query: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_CHARS,
            description="The latest user message; `/search` or `/nosrch` in it override.",
            examples=["What is the current password rotation policy?"],
        ),
    ],
    search_override: Annotated[
        SearchOverride,
        Query(description=SEARCH_OVERRIDE_HELP + " Beats a marker in the text."),
    ] = None,
    enable_web_search: Annotated[
        bool, Query(description="Ask for web search as well (reported when unavailable).")
    ] = False,
) -> SearchDecisionOut:
    decision = await container.chat.search_discipline.execute(
        DisciplineRequest(query, search_override, enable_web_search)
    )
    sent = request.query_params.get("search_override")
    return SearchDecisionOut.model_validate({**decision.as_dict(), "search_override": sent})
