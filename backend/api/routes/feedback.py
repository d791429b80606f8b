"""`POST /feedback`: the asker's verdict on an answer; `DELETE /feedback/{response_id}`
withdraws it (see `use_cases/chat/responses.py`)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.confidence_schemas import FeedbackIn, FeedbackOut
from backend.api.deps import CallerDep, ContainerDep
from backend.api.openapi import problem_responses
from use_cases.chat.responses import FeedbackRequest

router = APIRouter(tags=["calibration"])


@router.post(
    "/feedback",
    response_model=FeedbackOut,
    responses=problem_responses(404),
    summary="Say whether an answer you were given was right (a second verdict replaces the first)",
)
async def give_feedback(
    container: ContainerDep, caller: CallerDep, body: FeedbackIn
) -> FeedbackOut:
    receipt = await container.calibration.feedback.execute(
        caller, FeedbackRequest(body.response_id, body.outcome, body.feedback_notes)
    )
    return FeedbackOut.of(receipt)


@router.delete(
    "/feedback/{response_id}",
    response_model=FeedbackOut,
    responses=problem_responses(404),
    summary="Withdraw your verdict on an answer (an undo: it counts as unrated again)",
)
async def withdraw_feedback(
    container: ContainerDep, caller: CallerDep, response_id: str
) -> FeedbackOut:
    receipt = await container.calibration.feedback.execute_withdraw(caller, response_id)
    return FeedbackOut.of(receipt)
