"""`/confidence/*`: how honest the confidence is (see `use_cases/calibration/analytics.py`).

Reads are for every caller: a user's figures are over their own responses, an admin's over
everyone's (each result's `scope` says which). Tuning the phrases and recalibrating are
admins' only, and audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from backend.api.confidence_schemas import (
    BrierOut,
    CalibrationOut,
    PhraseStatusOut,
    RecalibrationOut,
    RecentOut,
    StatsOut,
    TuneOut,
)
from backend.api.deps import AdminDep, CallerDep, ContainerDep
from backend.api.openapi import problem_responses
from use_cases.calibration.analytics import MAX_DAYS_BACK
from use_cases.chat.responses import MAX_RECENT

router = APIRouter(prefix="/confidence", tags=["calibration"])


def _days(default: int) -> object:
    return Query(
        ge=1,
        le=MAX_DAYS_BACK,
        description=f"The window: responses of the last N days (1 to {MAX_DAYS_BACK}; "
        f"default {default}).",
    )


DaysBack7 = Annotated[int, _days(7)]
DaysBack30 = Annotated[int, _days(30)]
Limit = Annotated[int, Query(ge=1, le=MAX_RECENT, description=f"How many (1 to {MAX_RECENT}).")]
DryRun = Annotated[
    bool, Query(description="true (default): only report; false: apply and record it.")
]


@router.get("/stats", response_model=StatsOut, summary="Totals, feedback, Brier score, bands")
async def confidence_stats(
    container: ContainerDep, caller: CallerDep, days_back: DaysBack7 = 7
) -> StatsOut:
    return StatsOut.of(await container.calibration.stats.execute(caller, days_back))


@router.get("/recent", response_model=RecentOut, summary="The newest logged responses")
async def recent_responses(
    container: ContainerDep, caller: CallerDep, limit: Limit = 20
) -> RecentOut:
    responses = await container.calibration.recent.execute(caller, limit)
    return RecentOut.of(responses, "all" if caller.is_admin else "own")


@router.get("/brier-score", response_model=BrierOut, summary="Brier score and calibration curve")
async def brier_score(
    container: ContainerDep, caller: CallerDep, days_back: DaysBack7 = 7
) -> BrierOut:
    return BrierOut.of(await container.calibration.brier.execute(caller, days_back))


@router.get(
    "/calibration",
    response_model=CalibrationOut,
    summary="Confidence against observed accuracy: ECE, bands, weekly drift",
)
async def calibration_report(
    container: ContainerDep, caller: CallerDep, days_back: DaysBack30 = 30
) -> CalibrationOut:
    return CalibrationOut.of(await container.calibration.calibration.execute(caller, days_back))


@router.get(
    "/reliability-diagram.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The diagram (SVG)"}},
    summary="The reliability diagram as an SVG picture",
)
async def reliability_diagram(
    container: ContainerDep, caller: CallerDep, days_back: DaysBack30 = 30
) -> Response:
    svg = await container.calibration.diagram.execute(caller, days_back, "svg")
    return Response(svg, media_type="image/svg+xml")


@router.post(
    "/auto-tune",
    response_model=TuneOut,
    summary="Suggest (dry run) or apply phrase thresholds from observed accuracy; admins only",
)
async def auto_tune(
    container: ContainerDep, admin: AdminDep, days_back: DaysBack7 = 7, dry_run: DryRun = True
) -> TuneOut:
    return TuneOut.of(await container.calibration.auto_tune.execute(admin, days_back, dry_run))


@router.get(
    "/phrase-status",
    response_model=PhraseStatusOut,
    summary="The confidence phrases in force and the recalibration state",
)
async def phrase_status(container: ContainerDep, caller: CallerDep) -> PhraseStatusOut:
    return PhraseStatusOut.of(await container.calibration.phrase_status.execute(caller))


@router.post(
    "/recalibrate",
    response_model=RecalibrationOut,
    responses=problem_responses(409),
    summary="Refit the map from raw confidence to observed accuracy; admins only",
)
async def recalibrate(
    container: ContainerDep,
    admin: AdminDep,
    dry_run: Annotated[
        bool, Query(description="true: fit and measure only; false (default): store it.")
    ] = False,
    method: Annotated[
        str | None,
        Query(
            pattern="^(isotonic|platt)$",
            description="`isotonic` or `platt`; default RECALIBRATION_METHOD.",
        ),
    ] = None,
) -> RecalibrationOut:
    result = await container.calibration.recalibrate.execute(admin, method=method, dry_run=dry_run)
    return RecalibrationOut.of(result)
