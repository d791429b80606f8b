"""`GET /`: the web app's page, and its files under `/app` (public: the page holds no data;
everything it shows comes from the API with the caller's key).

The app is the project's own plain HTML, CSS and JavaScript modules in `backend/web/static`:
no build step, no third-party code, nothing fetched from elsewhere. Its policy allows only
those files (`script-src 'self'`, no inline script or style), calls to this API, and pictures
the page makes itself (`blob:` for the reliability diagram fetched with the key).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parents[2] / "web" / "static"
ASSETS_URL = "/app"

APP_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "frame-src blob:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

router = APIRouter(tags=["web app"])


@router.get("/", include_in_schema=False)
async def web_app() -> FileResponse:
    return FileResponse(
        WEB_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": APP_CSP, "Cache-Control": "no-cache"},
    )


class _AppFiles(StaticFiles):
    """The app's files, revalidated on every load (an upgrade is seen at once)."""

    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def install_web_app(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(ASSETS_URL, _AppFiles(directory=WEB_DIR), name="web-app")
