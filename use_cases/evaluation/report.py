"""The HTML report of an evaluation run (`almanac eval report RUN_ID --html report.html`).

Rules:
- Reports are admins' (evaluations are managed by admins); the CLI acts as `CLI_ADMIN`.
- The report is drawn from the run's JSON export (`RunExports`, the same document as
  `GET /api/v1/eval-runs/{run_id}`), so it shows exactly the numbers the API and `eval show` give.
  An unknown run is the exporter's `NotFound`.
- A run that is not completed is still reported, as far as it has gone; the report says so.
- The page is self-contained (`RunReportRenderer`): figures and styles inline, no external
  asset, so it can be mailed or attached to a CI job. Drawing is CPU work: it runs in a worker
  thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

from use_cases.access.domain import Caller, require_admin

__all__ = ["RenderRunReport", "RunExports", "RunReportRenderer"]


class RunReportRenderer(Protocol):
    """Renders a run export as one self-contained HTML page."""

    def render_html(self, export: Mapping[str, Any]) -> str: ...


class RunExports(Protocol):
    """The JSON export of a run (status, progress, aggregates, cases); `NotFound` if unknown."""

    async def export(self, caller: Caller, run_id: str) -> Mapping[str, Any]: ...


class RenderRunReport:
    """The HTML report of one run, for an admin."""

    def __init__(self, exports: RunExports, renderer: RunReportRenderer) -> None:
        self._exports = exports
        self._renderer = renderer

    async def execute(self, caller: Caller, run_id: str) -> str:
        require_admin(caller, "Evaluation reports")
        export = await self._exports.export(caller, run_id)
        return await asyncio.to_thread(self._renderer.render_html, export)
