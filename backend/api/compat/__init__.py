"""The five source documents' routes where they are not Almanac's own API (docs/seeds.md):
one module per document, each a thin adapter over the use cases Almanac's own routes call.
A path a document shares with Almanac, with the same meaning, is Almanac's own route and is
not repeated here. `COMPAT_ROUTES=false` leaves these out (backend/api/app.py) and keeps
Almanac's own API, the web app and the docs."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.compat import (
    advice_000,
    assistant_004,
    cleaning_003,
    conversations_002,
    playground_001,
)

#: Every document's router, in the documents' order; all of them need a caller.
COMPAT_ROUTERS: tuple[APIRouter, ...] = (
    advice_000.router,
    playground_001.router,
    conversations_002.router,
    cleaning_003.router,
    assistant_004.router,
)
