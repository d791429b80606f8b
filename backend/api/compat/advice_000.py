"""Document 000's API (the advice backend), where it is not Almanac's own: `GET
/api/v1/settings/default-model`, the document's second path for the default model, answered
by Almanac's `GET /model` handler (routes/chat.py). Every other path the document shows
(`/`, `/health`, `/advice`, `/advice-non-streaming`, `/search-discipline`, `/model`,
`/feedback`, `/confidence/...`) is Almanac's own API with the same fields. See docs/seeds.md."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.chat_schemas import ModelOut
from backend.api.routes import chat

router = APIRouter(tags=["advice backend (document 000)"])

router.add_api_route(
    "/api/v1/settings/default-model",
    chat.model,
    methods=["GET"],
    response_model=ModelOut,
    summary="Default model (`GET /model`)",
)
