"""The OpenAI-compatible API under `/v1` (docs/api.md, docs/integrations.md): a presentation
layer beside Almanac's own routes, for the clients that speak OpenAI's Chat Completions API
(Open WebUI, LibreChat, the OpenAI SDKs, the Vercel AI SDK's OpenAI-compatible provider).

- `routes.py`: `GET /v1/models`, `GET /v1/models/{id}`, `POST /v1/chat/completions`, each a
  few lines over the chat use case (`ChatTurns`, a stateless turn) and the model defaults;
- `schemas.py`: OpenAI's request and response shapes, and the mapping of a request onto a
  `ChatRequest` (what OpenAI's API has that Almanac refuses, with a 400 that says so);
- `stream.py`: a turn's events as `chat.completion.chunk` Server-Sent Events;
- `errors.py`: every error under `/v1` in OpenAI's shape (`{"error": {message, type, param,
  code}}`) with OpenAI's status codes, so each SDK raises its own exception class.
"""

from __future__ import annotations

from backend.api.openai_api.errors import OpenAIErrorsMiddleware, install_openai_errors
from backend.api.openai_api.routes import router

__all__ = ["OpenAIErrorsMiddleware", "install_openai_errors", "router"]
