"""Runs as downloads: an export as a JSON or CSV attachment, a report as an HTML page that runs
nothing (evaluation and cleaning runs alike)."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from fastapi.responses import HTMLResponse, JSONResponse

#: The report is self-contained: inline styles and `data:` SVG figures, never a script.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def download_json(export: dict[str, Any]) -> JSONResponse:
    return JSONResponse(export, headers=_attachment(f"{export['run_id']}.json"))


def download_csv(run_id: str, csv_text: str) -> Response:
    return Response(
        csv_text, media_type="text/csv; charset=utf-8", headers=_attachment(f"{run_id}.csv")
    )


def report_page(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP})


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
