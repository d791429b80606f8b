"""Evaluation: datasets ("tasks"), runs, their results and metrics (admins), and the models a
run may name (every caller). See docs/evaluation-runs.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse

from backend.api.deps import AdminDep, CallerDep, ContainerDep, PageLimit, PageOffset
from backend.api.eval_schemas import (
    BenchmarkRunIn,
    ModelListOut,
    ModelOut,
    RunListOut,
    RunStartedOut,
    RunSummaryOut,
    TaskDetailOut,
    TaskListOut,
    TaskOut,
    TaskUploadOut,
)
from backend.api.openapi import STARTED_RUN, problem_responses
from backend.api.rate_limit import RateLimited
from use_cases.evaluation.runs import DatasetUpload, rows_to_csv
from use_cases.shared.errors import NotFound

router = APIRouter(tags=["evaluation"])

TaskId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$", description="A dataset id.")
]
RunId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^(run_[0-9a-f]{12}|clean_[0-9a-f]{12}|latest|latest-completed)$",
        description="A run id (an answer run `run_...` or a cleaning run `clean_...`), or "
        "`latest` / `latest-completed` (answer runs).",
    ),
]
ModelName = Annotated[str, Path(min_length=1, max_length=200, description="A model id.")]
MetricRunId = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^(run|clean)_[0-9a-f]{12}$",
        description="The run (default: the latest completed run of the kind).",
    ),
]
MetricKind = Annotated[
    Literal["answers", "cleaning"] | None,
    Query(
        description="answers (evaluation runs) or cleaning (cleaning runs). By default: "
        "cleaning for `corruption` or a `clean_` run id; else answers, and cleaning when the "
        "model has no answer run."
    ),
]
_NOT_FOUND = problem_responses(404)
_EXPORT = {
    200: {
        "description": "The run export (JSON; see docs/evaluation-runs.md), or its cases as CSV.",
        "content": {"application/json": {}, "text/csv": {}},
    },
    **_NOT_FOUND,
}


@router.get(
    "/api/tasks",
    response_model=TaskListOut,
    summary="The evaluation datasets (latest version of each); admins only",
)
async def list_tasks(container: ContainerDep, admin: AdminDep) -> TaskListOut:
    return TaskListOut(tasks=[TaskOut.of(d) for d in await container.datasets.list(admin)])


@router.get(
    "/api/tasks/{task_id}",
    response_model=TaskDetailOut,
    responses=_NOT_FOUND,
    summary="An evaluation dataset with a page of its cases; admins only",
)
async def get_task(
    container: ContainerDep,
    admin: AdminDep,
    task_id: TaskId,
    limit: PageLimit = 100,
    offset: PageOffset = 0,
) -> TaskDetailOut:
    dataset = await container.datasets.get(admin, task_id)
    return TaskDetailOut.of_dataset(dataset, limit=limit, offset=offset)


@router.post(
    "/api/tasks",
    response_model=TaskUploadOut,
    status_code=201,
    responses={
        200: {"model": TaskUploadOut, "description": "This content is stored already."},
        **problem_responses(415),
        422: {"description": "A case is invalid (the detail names the line and field)."},
    },
    summary="Upload an evaluation dataset (JSONL or CSV); admins only",
)
async def upload_task(
    container: ContainerDep,
    admin: AdminDep,
    response: Response,
    file: Annotated[UploadFile, File(description="A .jsonl or .csv file of cases.")],
    name: Annotated[str | None, Form(max_length=100)] = None,
    description: Annotated[str, Form(max_length=1000)] = "",
) -> TaskUploadOut:
    content = await file.read()
    uploaded = await container.datasets.upload(
        admin, DatasetUpload(file.filename or "", content, name, description)
    )
    if not uploaded.created:
        response.status_code = 200
    return TaskUploadOut(**TaskOut.of(uploaded.dataset).model_dump(), created=uploaded.created)


@router.post(
    "/api/benchmark/run",
    response_model=RunStartedOut,
    status_code=202,
    dependencies=[RateLimited],
    responses={
        **STARTED_RUN,
        422: {
            "description": "Unknown task, a model that is not allowed or usable, an unknown "
            "prompt version or one whose variables a case lacks, a bad assertion."
        },
    },
    summary="Start an evaluation run in the background; admins only",
)
async def start_run(
    container: ContainerDep, admin: AdminDep, body: BenchmarkRunIn, response: Response
) -> RunStartedOut:
    record = await container.benchmark.start(admin, body.to_request())
    container.benchmark.schedule(record.run_id)
    response.headers["Location"] = f"/api/results/{record.run_id}"
    return RunStartedOut.of(record)


@router.get(
    "/api/results",
    response_model=RunListOut,
    summary="Evaluation runs, newest first; admins only",
)
async def list_runs(
    container: ContainerDep, admin: AdminDep, limit: PageLimit = 50, offset: PageOffset = 0
) -> RunListOut:
    runs = await container.benchmark.list(admin, limit=limit, offset=offset)
    return RunListOut(runs=[RunSummaryOut.of(r) for r in runs])


CompareRunId = Annotated[
    str,
    Query(
        min_length=1,
        max_length=64,
        pattern=r"^(run_[0-9a-f]{12}|latest|latest-completed)$",
        description="A run id, or `latest` / `latest-completed`.",
    ),
]


# Declared before `/api/results/{run_id}`, which would otherwise take "compare" for a run.
@router.get(
    "/api/results/compare",
    responses={
        200: {
            "description": "Per model, each metric of run A and run B with `delta`, `relative` "
            "and `verdict` (improved, regressed, unchanged); the warnings, and the fail-on "
            "rules' violations (see docs/evaluation-runs.md)."
        },
        **problem_responses(404, 422),
    },
    summary="Compare two runs metric by metric (run A is the baseline); admins only",
)
async def compare_runs(
    container: ContainerDep,
    admin: AdminDep,
    a: CompareRunId,
    b: CompareRunId,
    fail_on: Annotated[
        str | None,
        Query(
            max_length=1000,
            description='Rules checked on the change from A to B, e.g. "correct<-0.02".',
        ),
    ] = None,
) -> dict[str, Any]:
    report = await container.compare_runs.execute(admin, a, b, fail_on)
    return report.as_dict()


@router.get(
    "/api/results/{run_id}",
    responses={200: {"description": "The run export (see docs/evaluation-runs.md)."}, **_NOT_FOUND},
    summary="A run: status, progress, aggregates and per-case results; admins only",
)
async def get_results(container: ContainerDep, admin: AdminDep, run_id: RunId) -> dict[str, Any]:
    if run_id.startswith("clean_"):
        return await container.cleaning_runs.export(admin, run_id)
    return await container.benchmark.export(admin, run_id)


@router.get(
    "/api/results/{run_id}/export",
    response_class=Response,
    responses=_EXPORT,
    summary="Download a run as JSON (the export) or CSV (one line per case); admins only",
)
async def export_results(
    container: ContainerDep,
    admin: AdminDep,
    run_id: RunId,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
) -> Response:
    cleaning = run_id.startswith("clean_")
    if cleaning:
        export = await container.cleaning_runs.export(admin, run_id)
    else:
        export = await container.benchmark.export(admin, run_id)
    filename = f"{export['run_id']}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "json":
        return JSONResponse(export, headers=headers)
    if cleaning:
        csv_text = rows_to_csv(export["task_results"])
    else:
        csv_text = await container.benchmark.export_csv(admin, export["run_id"])
    return Response(csv_text, media_type="text/csv; charset=utf-8", headers=headers)


#: The report is self-contained: inline styles and `data:` SVG figures, never a script.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@router.get(
    "/api/results/{run_id}/report",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "The run's self-contained HTML report (figures inline).",
            "content": {"text/html": {}},
        },
        **_NOT_FOUND,
    },
    summary="The HTML report of a run (metrics, reliability, latency, robustness, failures); "
    "admins only",
)
async def results_report(container: ContainerDep, admin: AdminDep, run_id: RunId) -> HTMLResponse:
    if run_id.startswith("clean_"):
        html = await container.cleaning_report.execute(admin, run_id)
    else:
        html = await container.run_report.execute(admin, run_id)
    return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP})


@router.get(
    "/api/models",
    response_model=ModelListOut,
    summary="The models a run or a chat may name, and whether each can be used here",
)
async def list_models(container: ContainerDep, caller: CallerDep) -> ModelListOut:
    models = await container.runnable_models.execute()
    return ModelListOut(models=[ModelOut.of(m) for m in models])


@router.get(
    "/api/metrics/overview",
    responses=_NOT_FOUND,
    summary="Headline metrics per model of the latest completed run; admins only",
)
async def metrics_overview(
    container: ContainerDep, admin: AdminDep, run_id: MetricRunId = None
) -> dict[str, Any]:
    return await container.run_metrics.overview(admin, run_id)


@router.get(
    "/api/metrics/dimension/{name}",
    responses=_NOT_FOUND,
    summary="Metrics of one dimension per model; admins only",
)
async def metrics_dimension(
    container: ContainerDep,
    admin: AdminDep,
    name: Annotated[str, Path(min_length=1, max_length=64)],
    run_id: MetricRunId = None,
) -> dict[str, Any]:
    return await container.run_metrics.dimension(admin, name, run_id)


@router.get(
    "/api/metrics/{metric}/{model}",
    responses=_NOT_FOUND,
    summary="One metric family of a model: f1, reliability, robustness, drift, calibration "
    "(answer runs), f1, corruption, drift, reliability, robustness (cleaning runs); admins only",
)
async def metrics_for_model(
    container: ContainerDep,
    admin: AdminDep,
    metric: Literal["f1", "reliability", "robustness", "drift", "calibration", "corruption"],
    model: ModelName,
    run_id: MetricRunId = None,
    kind: MetricKind = None,
) -> dict[str, Any]:
    if kind is None and (metric == "corruption" or (run_id or "").startswith("clean_")):
        kind = "cleaning"
    if kind == "cleaning":
        return await container.cleaning_metrics.for_model(admin, metric, model, run_id)
    try:
        return await container.run_metrics.for_model(admin, metric, model, run_id)
    except NotFound as not_an_answer_model:
        if kind == "answers":
            raise
        try:  # no answer run of this model: its cleaning run's, if it has one
            return await container.cleaning_metrics.for_model(admin, metric, model, run_id)
        except NotFound:
            raise not_an_answer_model from None
