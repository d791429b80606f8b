"""Document 004's API (the knowledge assistant): nothing of its own. Every path the document
shows is Almanac's own API with the document's fields (docs/seeds.md, "004"): `POST /chat`
and `POST /chat/stream` (routes/chat.py, the JSON answer and the Vercel AI data stream v4),
`GET /chats` and `GET /chats/{chat_id}/messages` (the same module), `GET /health` and `GET
/docs`. So they stay when COMPAT_ROUTES is off; this router is empty, kept so that each
document has its module and a client's question "where is document 004?" has one answer."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["knowledge assistant (document 004)"])
