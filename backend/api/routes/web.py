"""`GET /`: the web app's page, and its files under `/app` (public: the page holds no data;
everything it shows comes from the API with the caller's key).

Delivery: the page names its files under `/app/<version>/`, where the version is a digest of
every file of the app, so they are cached for a year (`immutable`) and an upgrade changes
every address at once; the page itself is revalidated on each load. It preloads every
JavaScript module (`modulepreload`), so the browser fetches them in parallel instead of
discovering them import by import. Text files, the page included, are compressed for clients
that accept it (`backend/api/compression.py`). `/app/<file>` (no version) still serves the
current files, revalidated on each load.

The app is the project's own plain HTML, CSS and JavaScript modules in `backend/web/static`,
and one vendored library (markdown-it, `js/vendor/`): no build step, nothing fetched from
elsewhere. Its policy allows only
those files (`script-src 'self'`, no inline script or style), calls to this API, and pictures
the page makes itself (`blob:` for the reliability diagram fetched with the key).
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
import re
from pathlib import Path, PurePosixPath

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
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

#: A versioned file's lifetime in caches: a year (its address changes with its content).
IMMUTABLE = "public, max-age=31536000, immutable"
router = APIRouter(tags=["web app"])


def _app_files() -> list[Path]:
    return sorted(p for p in WEB_DIR.rglob("*") if p.is_file())


@functools.cache
def asset_version() -> str:
    """12 hex digits of a digest over every file of the app (names and contents)."""
    digest = hashlib.sha256()
    for path in _app_files():
        digest.update(str(path.relative_to(WEB_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def versioned_url() -> str:
    return f"{ASSETS_URL}/{asset_version()}"


@functools.cache
def _page() -> str:
    """index.html naming the versioned files, with every module preloaded."""
    html = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    html = html.replace(f'"{ASSETS_URL}/', f'"{versioned_url()}/')
    modules = sorted(_static_imports(PRELOADED))
    preload = "".join(
        f'<link rel="modulepreload" href="{versioned_url()}/{name}">\n' for name in modules
    )
    return html.replace("</head>", f"{preload}</head>", 1)


#: The modules of the page a visit opens first (the chat), whose static imports are
#: preloaded too; other pages' modules load when they are opened.
PRELOADED = ("js/main.js", "js/chat.js")
_IMPORT = re.compile(r"""(?:\bfrom|\bimport)\s*["'](\.{1,2}/[^"']+)["']""")


def _static_imports(roots: tuple[str, ...]) -> set[str]:
    """`roots` and every module they import statically, as paths under `WEB_DIR`."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or not (WEB_DIR / name).is_file():
            continue
        seen.add(name)
        folder = PurePosixPath(name).parent
        for target in _IMPORT.findall((WEB_DIR / name).read_text(encoding="utf-8")):
            todo.append(posixpath.normpath(str(folder / target)))
    return seen


@router.get("/", include_in_schema=False)
async def web_app() -> HTMLResponse:
    return HTMLResponse(
        _page(), headers={"Content-Security-Policy": APP_CSP, "Cache-Control": "no-cache"}
    )


class _AppFiles(StaticFiles):
    """The app's files with one cache policy: `no-cache` (revalidated on every load, so an
    upgrade is seen at once) or `IMMUTABLE` under the versioned address."""

    def __init__(self, *, cache_control: str) -> None:
        super().__init__(directory=WEB_DIR)
        self._cache_control = cache_control

    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = self._cache_control
        return response


def install_web_app(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(
        versioned_url(),
        _AppFiles(cache_control=IMMUTABLE),
        name="web-app-versioned",
    )
    app.mount(
        ASSETS_URL,
        _AppFiles(cache_control="no-cache"),
        name="web-app",
    )
