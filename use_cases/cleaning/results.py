"""The export of a cleaning run (the JSON of `GET /api/results/{run_id}`) and its metrics cut
for `/api/metrics/...`: the overview, one dimension, one metric family of a model (shapes in
docs/cleaning.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from use_cases.access.domain import Caller
from use_cases.cleaning.domain import DIFFICULTIES, DIMENSIONS
from use_cases.cleaning.metrics import model_aggregates
from use_cases.cleaning.ports import CleaningRun
from use_cases.shared.errors import NotFound

CLEANING_METRICS = ("f1", "corruption", "drift", "reliability", "robustness")


def build_export(run: CleaningRun, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    models = {m: i for i, m in enumerate(run.models)}
    tasks = {t: i for i, t in enumerate(run.task_ids)}
    ordered = sorted(
        rows,
        key=lambda r: (models.get(r["model"], 99), tasks.get(r["task_id"], 10**6), r["repeat"]),
    )
    failed = sum(1 for r in ordered if not r.get("valid"))
    done = min(len(ordered), run.total)
    return {
        "run_id": run.run_id,
        "kind": "cleaning",
        "model": run.models[0] if len(run.models) == 1 else None,
        "models": list(run.models),
        "timestamp": run.created_at,
        "status": run.status,
        "progress": {
            "total": run.total,
            "done": done,
            "completed": done - min(failed, done),
            "failed": min(failed, done),
            "percent": round(100 * done / run.total, 1) if run.total else 100.0,
        },
        "settings": dict(run.settings),
        "created_by": run.created_by,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error,
        "aggregates": model_aggregates(ordered),
        "task_results": ordered,
    }


class CleaningExports(Protocol):
    async def export(self, caller: Caller, run_id: str) -> dict[str, Any]: ...


class CleaningMetrics:
    """The metrics of a cleaning run (`run_id`, else the latest completed cleaning run): every
    model's overall figures, one dimension's, or one metric family of one model; every figure
    is the export's."""

    def __init__(self, runs: CleaningExports) -> None:
        self._runs = runs

    async def overview(self, caller: Caller, run_id: str | None) -> dict[str, Any]:
        export = await self._runs.export(caller, run_id or "latest-completed")
        return {
            **_head(export),
            "models": {m: a["overall"] for m, a in export["aggregates"].items()},
        }

    async def dimension(self, caller: Caller, name: str, run_id: str | None) -> dict[str, Any]:
        if name not in DIMENSIONS:
            raise NotFound(f"No dimension {name!r}; dimensions are {', '.join(DIMENSIONS)}.")
        export = await self._runs.export(caller, run_id or "latest-completed")
        found = {
            m: a["by_dimension"][name]
            for m, a in export["aggregates"].items()
            if name in a["by_dimension"]
        }
        if not found:
            raise NotFound(
                f"Cleaning run {export['run_id']} ran no {name} task; it ran "
                f"{', '.join(export['settings'].get('dimensions') or ())}."
            )
        return {**_head(export), "dimension": name, "models": found}

    async def for_model(
        self, caller: Caller, metric: str, model: str, run_id: str | None
    ) -> dict[str, Any]:
        if metric not in CLEANING_METRICS:
            raise NotFound(
                f"No cleaning metric {metric!r}; metrics are {', '.join(CLEANING_METRICS)}."
            )
        export = await self._runs.export(caller, run_id or "latest-completed")
        block = export["aggregates"].get(model)
        if block is None:
            raise NotFound(
                f"Cleaning run {export['run_id']} did not run model {model!r}; it ran "
                f"{', '.join(export['models'])}."
            )
        head = {**_head(export), "model": model, "metric": metric}
        return await asyncio.to_thread(_cut, head, metric, block)


def _head(export: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "run_id": export["run_id"],
        "kind": "cleaning",
        "status": export["status"],
        "timestamp": export["timestamp"],
        "finished_at": export["finished_at"],
    }


_KEYS = {
    "f1": ("tasks", "precision", "recall", "f1", "tp", "fp", "fn"),
    "corruption": ("tasks", "corruption_rate"),
    "drift": ("tasks", "drift_score", "drift_dirty"),
}


def _cut(head: dict[str, Any], metric: str, block: Mapping[str, Any]) -> dict[str, Any]:
    if metric in ("reliability", "robustness"):
        return {**head, **block[metric]}
    keys = _KEYS[metric]
    overall = block["overall"]

    def pick(figures: Mapping[str, Any]) -> dict[str, Any]:
        return {k: figures.get(k) for k in keys}

    dims, levels = block["by_dimension"], block["by_difficulty"]
    return {
        **head,
        **pick(overall),
        "by_dimension": {d: pick(dims[d]) for d in DIMENSIONS if d in dims},
        "by_difficulty": {d: pick(levels[d]) for d in DIFFICULTIES if d in levels},
    }


class CleaningReportRenderer(Protocol):
    """Renders a cleaning run export as one self-contained HTML page."""

    def render_html(self, export: Mapping[str, Any]) -> str: ...


class RenderCleaningReport:
    """The HTML report of one cleaning run, for an admin: drawn from the export (the numbers
    of `GET /api/results/{run_id}`), in a worker thread (it is CPU work)."""

    def __init__(self, runs: CleaningExports, renderer: CleaningReportRenderer) -> None:
        self._runs = runs
        self._renderer = renderer

    async def execute(self, caller: Caller, run_id: str) -> str:
        export = await self._runs.export(caller, run_id)
        return await asyncio.to_thread(self._renderer.render_html, export)
