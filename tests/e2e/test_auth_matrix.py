"""Every route of the app x {no key, user key, another user's key, admin key}.

The expectation table must name every route the app has (and nothing else), mounts included,
so a new endpoint cannot ship without someone deciding who may call it. The resource routes act
on a chat of user `ana` ("user"); `bob` is the other user; `root` is an admin. Refusals are
problem documents; the OpenAPI description documents the 401 of every protected operation and
the 403 of every admin-only one.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from backend.api.app import create_app
from backend.api.docs_pages import ASSETS_DIR, ASSETS_URL
from backend.api.problems import PROBLEM_MEDIA_TYPE
from backend.api.routes.web import ASSETS_URL as WEB_ASSETS_URL
from backend.api.routes.web import versioned_url
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, make_settings
from tests.conversation_exports import chatgpt_export
from use_cases.access.domain import CLI_ADMIN, Caller
from use_cases.admin.uploads import UploadRequest
from use_cases.advice.domain import AdviceRequest
from use_cases.chat.domain import ConversationMessage, NewMessage
from use_cases.chat.responses import FeedbackRequest, ResponseRecord
from use_cases.conversations.drafts import DraftRequest
from use_cases.conversations.files import AttachRequest
from use_cases.knowledge.ingest import IngestRequest, IngestSource
from use_cases.prompts.domain import CHAT

ROLES = ("no key", "user", "other user", "admin")
QUESTION = "How often must passwords be rotated?"
JOB_BYTES = 2000  # uploads larger than this become background jobs
SHARE_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "conversations"


@dataclass(frozen=True)
class Call:
    """How to call a route, and the status expected for each of ROLES in order."""

    expect: tuple[int, int, int, int]
    json: Callable[[], Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    upload: bool = False
    upload_suffix: str = ".md"
    path: str | None = None  # what to request, when not the route's own path (a mount)


PUBLIC = (200, 200, 200, 200)
#: The routes that sign a browser in: public, though they may answer 401 or 403 (a key or an
#: account refused), which is not about the caller's own key.
SIGNING_IN = {("POST", "/api/session"), ("GET", "/api/auth/login"), ("GET", "/api/auth/callback")}
EVERY_CALLER = (401, 200, 200, 200)
OWNER_ONLY = (401, 200, 404, 404)
ADMIN_ONLY = (401, 403, 403, 200)


DRAFT = "/api/conversations/{chat_id}/project-draft"


def _use_chat_body() -> dict[str, Any]:
    text = {"type": "text", "text": QUESTION}
    return {
        "trigger": "submit-message",
        "id": f"ui-{uuid.uuid4().hex[:12]}",
        "messages": [{"id": "m1", "role": "user", "parts": [text]}],
    }


def _off_list_link() -> dict[str, Any]:
    return {"url": "https://example.com/share/matrix"}


def _slack_thread() -> dict[str, Any]:
    """A Slack thread never imported before (a thread imported again is 200, not 201: the
    two Slack routes would otherwise depend on which runs first)."""
    text = (SHARE_FIXTURES / "slack-thread.json").read_text()
    thread = f"17321{uuid.uuid4().int % 10**5:05d}.000100"
    payload: dict[str, Any] = json.loads(text.replace("1732100000.000100", thread))
    payload["permalink"] = payload["permalink"].replace(
        "p1732100000000100", f"p{thread.replace('.', '')}"
    )
    return payload


#: Deleting the built-in prompts' rows is refused once past the role check.
BUILT_IN_KEPT = (401, 403, 403, 409)


def _described() -> dict[str, Any]:
    return {"description": f"Matrix {uuid.uuid4().hex}"}


def _item() -> dict[str, Any]:
    return {"question": f"Matrix {uuid.uuid4().hex}?", "kind": "refuse"}


def _advice_body() -> dict[str, Any]:
    return {"conversation": [{"role": "user", "content": QUESTION}]}


EXPECTED: dict[tuple[str, str], Call] = {
    ("GET", "/health"): Call(PUBLIC),  # with authentication on: status and version only
    ("GET", "/health/details"): Call(ADMIN_ONLY),
    ("GET", "/metrics"): Call(ADMIN_ONLY),
    # The MCP server: any caller with a key. The matrix's app runs no lifespan, so past the key
    # check the server is not running there (503); tests/e2e/test_mcp_server.py drives it.
    ("POST", "/mcp"): Call(
        (401, 503, 503, 503), json=lambda: {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    ),
    ("GET", "/openapi.json"): Call(PUBLIC),
    ("GET", "/docs"): Call(PUBLIC),
    ("GET", "/redoc"): Call(PUBLIC),
    ("MOUNT", ASSETS_URL): Call(PUBLIC, path=f"{ASSETS_URL}/swagger-ui-bundle.js"),
    ("GET", "/api/search"): Call(EVERY_CALLER, params={"q": "password rotation"}),
    ("GET", "/api/documents"): Call(EVERY_CALLER),
    ("GET", "/api/documents/conflicts"): Call(ADMIN_ONLY),
    ("GET", "/api/documents/problems"): Call(ADMIN_ONLY),
    ("GET", "/api/documents/types"): Call(EVERY_CALLER),
    ("GET", "/api/documents/{document_id}"): Call(EVERY_CALLER),
    ("POST", "/api/documents"): Call((401, 403, 403, 201), upload=True),
    ("PUT", "/api/documents/{document_id}"): Call((401, 403, 403, 200), upload=True),
    ("DELETE", "/api/documents/{document_id}"): Call((401, 403, 403, 204)),
    ("GET", "/api/collections"): Call(ADMIN_ONLY),
    ("POST", "/api/collections"): Call(
        (401, 403, 403, 201), json=lambda: {"name": f"matrix-{uuid.uuid4().hex[:8]}"}
    ),
    # No collection "nothing": 404 for the admin once the role is checked.
    ("GET", "/api/collections/{name}"): Call((401, 403, 403, 404), path="/api/collections/nothing"),
    ("DELETE", "/api/collections/{name}"): Call(
        (401, 403, 403, 404), path="/api/collections/nothing"
    ),
    ("POST", "/api/collections/{name}/grants"): Call(
        (401, 403, 403, 404), path="/api/collections/nothing/grants", json=lambda: {"group": "g"}
    ),
    ("POST", "/api/collections/{name}/revoke"): Call(
        (401, 403, 403, 404), path="/api/collections/nothing/revoke", json=lambda: {"group": "g"}
    ),
    ("GET", "/api/collections/access/{document_id}"): Call(ADMIN_ONLY),
    # A job is root's (the admin who uploaded): users are told it does not exist.
    ("GET", "/api/jobs/{job_id}"): Call((401, 404, 404, 200)),
    # Tables: what the SQL tool sees (names, columns, samples) is for admins, like loading.
    ("GET", "/api/tables"): Call(EVERY_CALLER),
    ("GET", "/api/tables/types"): Call(EVERY_CALLER),
    ("POST", "/api/tables"): Call((401, 403, 403, 201), upload=True, upload_suffix=".csv"),
    ("GET", "/api/tables/{table}/rows"): Call(EVERY_CALLER),
    ("DELETE", "/api/tables/{table}"): Call((401, 403, 403, 204)),
    ("POST", "/chat"): Call(EVERY_CALLER, json=lambda: {"message": QUESTION}),
    ("POST", "/chat/stream"): Call(EVERY_CALLER, json=lambda: {"message": QUESTION}),
    ("POST", "/api/chat"): Call(EVERY_CALLER, json=_use_chat_body),
    ("GET", "/chats"): Call(EVERY_CALLER),
    ("GET", "/chats/{chat_id}/messages"): Call(OWNER_ONLY),
    ("GET", "/chats/{chat_id}/export"): Call(OWNER_ONLY),
    ("PATCH", "/chats/{chat_id}"): Call(OWNER_ONLY, json=lambda: {"title": "Renamed"}),
    ("DELETE", "/chats/{chat_id}"): Call((401, 204, 404, 404)),
    # Project drafts: the conversation's owner only (ana's chat has a draft already).
    ("POST", f"{DRAFT}"): Call((401, 201, 404, 404)),
    ("GET", f"{DRAFT}"): Call(OWNER_ONLY),
    ("PATCH", f"{DRAFT}"): Call(OWNER_ONLY, json=lambda: {"title": "Renamed"}),
    ("POST", f"{DRAFT}/turns"): Call(OWNER_ONLY, json=lambda: {"message": "add a goal: tea"}),
    ("GET", f"{DRAFT}/versions"): Call(OWNER_ONLY),
    ("GET", f"{DRAFT}/versions/{{number}}"): Call(OWNER_ONLY),
    ("POST", f"{DRAFT}/versions/{{number}}/activate"): Call(OWNER_ONLY),
    ("GET", f"{DRAFT}/export"): Call(OWNER_ONLY),
    # Files attached to ana's chat: hers alone (an admin's own request names no user).
    ("POST", "/api/conversations/{chat_id}/files"): Call((401, 201, 404, 404), upload=True),
    ("GET", "/api/conversations/{chat_id}/files"): Call(OWNER_ONLY),
    ("GET", "/api/conversations/{chat_id}/files/{file_id}"): Call(OWNER_ONLY),
    ("GET", "/api/conversations/{chat_id}/files/{file_id}/content"): Call(OWNER_ONLY),
    ("DELETE", "/api/conversations/{chat_id}/files/{file_id}"): Call((401, 204, 404, 404)),
    # Conversation imports: into the caller's own chats (a link off the allow-list is 422
    # once the caller is known); an import job is its uploader's (and admins'); Slack threads
    # come through an admin key (the service integration).
    ("POST", "/api/conversations/import"): Call((401, 422, 422, 422), json=_off_list_link),
    ("POST", "/api/conversations/import/stream"): Call((401, 422, 422, 422), json=_off_list_link),
    ("POST", "/api/conversations/import/file"): Call(
        (401, 202, 202, 202), upload=True, upload_suffix=".json"
    ),
    ("GET", "/api/conversations/import/jobs/{job_id}"): Call((401, 200, 404, 200)),
    ("POST", "/api/conversations/import/slack"): Call((401, 403, 403, 201), json=_slack_thread),
    ("GET", "/api/conversations/{chat_id}/summary"): Call(OWNER_ONLY),
    ("POST", "/api/conversations/{chat_id}/summary"): Call(OWNER_ONLY),
    ("PATCH", "/api/conversations/{chat_id}/summary"): Call(
        OWNER_ONLY, json=lambda: {"text": "Edited."}
    ),
    # Whether a request is signed in (routes/oidc.py): public.
    ("GET", "/api/auth/status"): Call(PUBLIC),
    # Signing in with an OpenID Connect provider: public; not set up here (501 for all).
    ("GET", "/api/auth/login"): Call((501, 501, 501, 501)),
    ("GET", "/api/auth/callback"): Call((501, 501, 501, 501), params={"code": "c", "state": "s"}),
    # The conversation backend's conversation API (compat/conversations_002.py): the same owners.
    ("GET", "/api/auth/me"): Call(EVERY_CALLER),
    ("POST", "/api/auth/logout"): Call(EVERY_CALLER),
    ("DELETE", "/api/auth/cleanup"): Call(ADMIN_ONLY),
    ("GET", "/api/conversations"): Call(EVERY_CALLER),
    ("GET", "/api/conversations/"): Call(EVERY_CALLER),
    ("GET", "/api/conversations/{chat_id}"): Call(OWNER_ONLY),
    ("PATCH", "/api/conversations/{chat_id}"): Call(OWNER_ONLY, json=lambda: {"title": "Renamed"}),
    ("DELETE", "/api/conversations/{chat_id}"): Call((401, 204, 404, 404)),
    ("GET", "/api/conversations/{chat_id}/imported_chat_summary"): Call(OWNER_ONLY),
    ("GET", "/api/conversations/files/{file_id}/download"): Call(OWNER_ONLY),
    ("POST", "/api/conversations/import-slack"): Call((401, 403, 403, 201), json=_slack_thread),
    ("GET", f"{DRAFT}/chat"): Call(OWNER_ONLY),
    ("POST", f"{DRAFT}/chat/stream"): Call(OWNER_ONLY, json=lambda: {"message": "add a goal: tea"}),
    # No project tracker is configured: 501 for every caller (before the chat is looked up).
    ("POST", "/api/conversations/{chat_id}/project"): Call((401, 501, 501, 501)),
    ("GET", "/api/conversations/{chat_id}/project"): Call((401, 501, 501, 501)),
    ("GET", "/api/search/"): Call(EVERY_CALLER, params={"q": "password rotation"}),
    ("GET", "/model"): Call(EVERY_CALLER),
    # The OpenAI-compatible API: stateless, so each caller's answer is their own.
    ("GET", "/v1/models"): Call(EVERY_CALLER),
    ("GET", "/v1/models/{model_id:path}"): Call(EVERY_CALLER),
    ("POST", "/v1/chat/completions"): Call(
        EVERY_CALLER,
        json=lambda: {"model": "almanac", "messages": [{"role": "user", "content": QUESTION}]},
    ),
    ("GET", "/api/v1/settings/default-model"): Call(EVERY_CALLER),
    ("GET", "/api/audit"): Call(ADMIN_ONLY),
    # Deleting a user's data: the matrix's "nobody" has none (404 for the admin).
    ("DELETE", "/api/users/{user_id}"): Call((401, 403, 403, 404), path="/api/users/nobody"),
    # Synced sources, admins only: the matrix's "nobody" source does not exist (404 for the
    # admin); a source (an S3 prefix) is added under a fresh name, never synced.
    ("GET", "/api/sources"): Call(ADMIN_ONLY),
    ("POST", "/api/sources"): Call(
        (401, 403, 403, 201),
        json=lambda: {"name": f"matrix-{uuid.uuid4().hex[:12]}", "s3": "s3://matrix/docs/"},
    ),
    ("GET", "/api/sources/{name}"): Call((401, 403, 403, 404), path="/api/sources/nobody"),
    ("DELETE", "/api/sources/{name}"): Call((401, 403, 403, 404), path="/api/sources/nobody"),
    ("POST", "/api/sources/{name}/sync"): Call(
        (401, 403, 403, 404), path="/api/sources/nobody/sync"
    ),
    ("GET", "/api/sources/{name}/jobs/{job_id}"): Call(
        (401, 403, 403, 404), path="/api/sources/nobody/jobs/j1"
    ),
    ("GET", "/api/sources/{name}/history"): Call(
        (401, 403, 403, 404), path="/api/sources/nobody/history"
    ),
    ("GET", "/api/llm-prompts/{prompt_type}"): Call(ADMIN_ONLY),
    ("GET", "/api/llm-prompts/{prompt_type}/default"): Call(ADMIN_ONLY),
    ("POST", "/api/llm-prompts/{prompt_type}"): Call(
        (401, 403, 403, 201), json=lambda: {"text": f"Matrix prompt {uuid.uuid4().hex}."}
    ),
    ("GET", "/api/llm-prompts/{prompt_type}/versions"): Call(ADMIN_ONLY),
    ("POST", "/api/llm-prompts/{prompt_type}/versions/{version}/activate"): Call(ADMIN_ONLY),
    ("DELETE", "/api/llm-prompts/{prompt_type}"): Call(ADMIN_ONLY),
    ("POST", "/advice"): Call(EVERY_CALLER, json=_advice_body),
    ("POST", "/advice-non-streaming"): Call(EVERY_CALLER, json=_advice_body),
    ("GET", "/advice/threads"): Call(EVERY_CALLER),
    ("GET", "/advice/threads/{thread_id}"): Call(OWNER_ONLY),
    ("DELETE", "/advice/threads/{thread_id}"): Call((401, 204, 404, 404)),
    ("GET", "/api/llm-defaults/providers"): Call(ADMIN_ONLY),
    ("GET", "/api/llm-defaults/{prompt_type}"): Call(ADMIN_ONLY),
    ("PUT", "/api/llm-defaults/{prompt_type}"): Call(
        ADMIN_ONLY, json=lambda: {"model": "offline-extractive"}
    ),
    # Search discipline; the web app's page and files (its data comes from the API).
    ("GET", "/"): Call(PUBLIC),
    ("MOUNT", WEB_ASSETS_URL): Call(PUBLIC, path=f"{WEB_ASSETS_URL}/js/main.js"),
    ("MOUNT", versioned_url()): Call(PUBLIC, path=f"{versioned_url()}/js/main.js"),
    ("GET", "/api/me"): Call(EVERY_CALLER),
    # Signing in is public (the key comes in the body: a blank one is a missing key), and
    # signing out ends whatever session the cookie names, if any (none here).
    ("POST", "/api/session"): Call((401, 401, 401, 401), json=lambda: {"key": " "}),
    ("DELETE", "/api/session"): Call((204, 204, 204, 204)),
    ("POST", "/search-discipline"): Call(EVERY_CALLER, params={"query": QUESTION}),
    # Feedback is the asker's: ana's response is unknown to everyone else, admins included.
    ("POST", "/feedback"): Call(OWNER_ONLY, json=lambda: {"response_id": "{response_id}"}),
    ("DELETE", "/feedback/{response_id}"): Call(OWNER_ONLY),
    # Reads: a user's own figures, an admin's everyone's. Tuning and recalibrating: admins.
    ("GET", "/confidence/stats"): Call(EVERY_CALLER),
    ("GET", "/confidence/recent"): Call(EVERY_CALLER),
    ("GET", "/confidence/brier-score"): Call(EVERY_CALLER),
    ("GET", "/confidence/calibration"): Call(EVERY_CALLER),
    ("GET", "/confidence/reliability-diagram.svg"): Call(EVERY_CALLER),
    ("GET", "/confidence/phrase-status"): Call(EVERY_CALLER),
    ("POST", "/confidence/auto-tune"): Call(ADMIN_ONLY),
    # 409 for the admin: the matrix's log has too little feedback to recalibrate.
    ("POST", "/confidence/recalibrate"): Call((401, 403, 403, 409)),
    # Evaluation: admins only, but anyone may see which models can be run. The admin's run
    # needs a completed run of the matrix for the metrics rows (`_eval_run`).
    ("GET", "/api/v1/datasets/{dataset_id}"): Call(ADMIN_ONLY),
    ("POST", "/api/v1/datasets/upload"): Call(
        (401, 403, 403, 201), upload=True, upload_suffix=".jsonl"
    ),
    ("POST", "/api/v1/benchmark-runs"): Call(
        (401, 403, 403, 202), json=lambda: {"task_id": "answers", "limit": 1}
    ),
    ("GET", "/api/v1/eval-runs/compare"): Call(ADMIN_ONLY, params={"a": "{run_id}", "b": "latest"}),
    ("GET", "/api/v1/eval-runs/{run_id}/export"): Call(ADMIN_ONLY, params={"format": "csv"}),
    ("GET", "/api/v1/eval-runs/{run_id}/report"): Call(ADMIN_ONLY),
    # 409 for the admin: the matrix's evaluation run has completed.
    ("POST", "/api/v1/eval-runs/{run_id}/cancel"): Call((401, 403, 403, 409)),
    ("DELETE", "/api/v1/eval-runs/{run_id}"): Call((401, 403, 403, 204)),
    ("GET", "/api/models"): Call(EVERY_CALLER),
    ("GET", "/api/v1/eval-metrics/overview"): Call(ADMIN_ONLY),
    ("GET", "/api/v1/eval-metrics/dimension/{name}"): Call(ADMIN_ONLY),
    ("GET", "/api/v1/eval-metrics/{metric}/{model}"): Call(ADMIN_ONLY),
    # The prompt playground: admins only; it stores nothing.
    ("POST", "/api/playground/run"): Call(
        ADMIN_ONLY, json=lambda: {"question": QUESTION, "models": ["offline-extractive"]}
    ),
    ("POST", "/api/v1/playground/run"): Call(
        ADMIN_ONLY, json=lambda: {"question": QUESTION, "models": ["offline-extractive"]}
    ),
    # The prompt library: admins only, reads included, like /api/llm-prompts.
    ("GET", "/api/v1/projects"): Call(ADMIN_ONLY),
    ("POST", "/api/v1/projects"): Call(
        (401, 403, 403, 201), json=lambda: {"name": f"Matrix {uuid.uuid4().hex}"}
    ),
    ("GET", "/api/v1/projects/{project_id}"): Call(ADMIN_ONLY),
    ("GET", "/api/v1/projects/{project_id}/use-cases"): Call(ADMIN_ONLY),
    ("POST", "/api/v1/projects/{project_id}/use-cases"): Call(
        (401, 403, 403, 201), json=lambda: {"name": f"matrix {uuid.uuid4().hex}"}
    ),
    ("GET", "/api/v1/use-cases/{use_case_id}"): Call(ADMIN_ONLY),
    # Updates and deletes: the built-in prompts' rows are kept (409 for an admin).
    ("PATCH", "/api/v1/projects/{project_id}"): Call(ADMIN_ONLY, json=_described),
    ("PUT", "/api/v1/projects/{project_id}"): Call(ADMIN_ONLY, json=_described),
    ("DELETE", "/api/v1/projects/{project_id}"): Call(BUILT_IN_KEPT),
    ("PATCH", "/api/v1/use-cases/{use_case_id}"): Call(ADMIN_ONLY, json=_described),
    ("PUT", "/api/v1/use-cases/{use_case_id}"): Call(ADMIN_ONLY, json=_described),
    ("DELETE", "/api/v1/use-cases/{use_case_id}"): Call(BUILT_IN_KEPT),
    ("GET", "/api/v1/use-cases/{use_case_id}/prompts"): Call(ADMIN_ONLY),
    ("POST", "/api/v1/use-cases/{use_case_id}/prompts"): Call(
        (401, 403, 403, 201), json=lambda: {"name": f"matrix {uuid.uuid4().hex}"}
    ),
    ("PATCH", "/api/v1/prompts/{prompt_id}"): Call(ADMIN_ONLY, json=_described),
    ("PUT", "/api/v1/prompts/{prompt_id}"): Call(ADMIN_ONLY, json=_described),
    ("DELETE", "/api/v1/prompts/{prompt_id}"): Call(BUILT_IN_KEPT),
    ("GET", "/api/v1/prompts"): Call(ADMIN_ONLY, params={"tag": "built-in"}),
    ("POST", "/api/v1/prompts"): Call(
        (401, 403, 403, 201),
        json=lambda: {"use_case_id": "uc_chat", "name": f"matrix {uuid.uuid4().hex}"},
    ),
    ("GET", "/api/v1/prompts/{prompt_id}"): Call(ADMIN_ONLY),
    ("GET", "/api/v1/prompts/{prompt_id}/versions"): Call(ADMIN_ONLY),
    ("POST", "/api/v1/prompts/{prompt_id}/versions"): Call(
        (401, 403, 403, 201),
        json=lambda: {"text": f"Matrix draft {uuid.uuid4().hex}.", "activate": False},
    ),
    ("GET", "/api/v1/prompts/{prompt_id}/versions/{version}"): Call(ADMIN_ONLY),
    ("POST", "/api/v1/prompts/{prompt_id}/versions/{version}/activate"): Call(ADMIN_ONLY),
    # Versions without a completed run: the admin gets past the role check to a 404.
    ("GET", "/api/v1/prompts/{prompt_id}/compare"): Call(
        (401, 403, 403, 404), params={"a": "1", "b": "2"}
    ),
    ("GET", "/api/v1/datasets"): Call(ADMIN_ONLY),
    # Datasets and their items: each call gets a dataset of its own, one item `q1`.
    ("POST", "/api/v1/datasets"): Call(
        (401, 403, 403, 201), json=lambda: {"name": f"matrix {uuid.uuid4().hex}"}
    ),
    ("PATCH", "/api/v1/datasets/{dataset_id}"): Call(ADMIN_ONLY, json=_described),
    ("PUT", "/api/v1/datasets/{dataset_id}"): Call(ADMIN_ONLY, json=_described),
    ("DELETE", "/api/v1/datasets/{dataset_id}"): Call((401, 403, 403, 204)),
    ("GET", "/api/v1/datasets/{dataset_id}/items"): Call(ADMIN_ONLY),
    ("POST", "/api/v1/datasets/{dataset_id}/items"): Call((401, 403, 403, 201), json=_item),
    ("GET", "/api/v1/datasets/{dataset_id}/items/{item_id}"): Call(ADMIN_ONLY),
    ("PATCH", "/api/v1/datasets/{dataset_id}/items/{item_id}"): Call(
        ADMIN_ONLY, json=lambda: {"tags": ["matrix"]}
    ),
    ("PUT", "/api/v1/datasets/{dataset_id}/items/{item_id}"): Call(ADMIN_ONLY, json=_item),
    ("DELETE", "/api/v1/datasets/{dataset_id}/items/{item_id}"): Call((401, 403, 403, 204)),
    ("GET", "/api/v1/eval-runs"): Call(ADMIN_ONLY),
    ("GET", "/api/v1/eval-runs/{run_id}"): Call(ADMIN_ONLY),
    ("POST", "/api/v1/eval-runs"): Call(
        (401, 403, 403, 202),
        json=lambda: {
            "prompt_id": "prm_chat",
            "version": "{version}",
            "dataset": "answers",
            "models": ["offline-extractive"],
            "limit": 1,
        },
    ),
    # Data-cleaning benchmarks: admins only, like evaluation runs.
    ("GET", "/api/cleaning/tables"): Call(ADMIN_ONLY),
    ("GET", "/api/cleaning/tasks"): Call(ADMIN_ONLY, params={"difficulty": "easy"}),
    ("POST", "/api/cleaning/runs"): Call(
        (401, 403, 403, 202),
        json=lambda: {
            "tables": ["services"],
            "dimensions": ["uniqueness"],
            "difficulties": ["easy"],
        },
    ),
    ("GET", "/api/cleaning/runs"): Call(ADMIN_ONLY),
    ("GET", "/api/cleaning/runs/{run_id}"): Call(ADMIN_ONLY),
    ("GET", "/api/cleaning/runs/{run_id}/export"): Call(ADMIN_ONLY, params={"format": "csv"}),
    ("GET", "/api/cleaning/runs/{run_id}/report"): Call(ADMIN_ONLY),
    # 409 for the admin: the matrix's cleaning run has completed.
    ("POST", "/api/cleaning/runs/{run_id}/cancel"): Call((401, 403, 403, 409)),
    ("DELETE", "/api/cleaning/runs/{run_id}"): Call((401, 403, 403, 204)),
    ("GET", "/api/cleaning/metrics/overview"): Call(ADMIN_ONLY),
    ("GET", "/api/cleaning/metrics/dimension/{name}"): Call(ADMIN_ONLY),
    ("GET", "/api/cleaning/metrics/{metric}/{model}"): Call(ADMIN_ONLY),
    # The data-cleaning benchmark's paths for the cleaning benchmark: admins only, the same.
    ("GET", "/api/tasks"): Call(ADMIN_ONLY, params={"difficulty": "easy"}),
    ("GET", "/api/tasks/{task_id}"): Call(ADMIN_ONLY),
    ("POST", "/api/benchmark/run"): Call(
        (401, 403, 403, 202),
        json=lambda: {"model": "offline-rules", "tables": ["services"], "difficulties": ["easy"]},
    ),
    ("GET", "/api/results/{run_id}"): Call(ADMIN_ONLY),
    ("GET", "/api/metrics/overview"): Call(ADMIN_ONLY),
    ("GET", "/api/metrics/dimension/{name}"): Call(ADMIN_ONLY),
    ("GET", "/api/metrics/{metric}/{model}"): Call(ADMIN_ONLY),
}


#: Chat turns whose body may name a `user_id`: 403 unless it is the caller's or they are admin.
NAMES_A_USER = {("POST", "/chat"), ("POST", "/chat/stream"), ("POST", "/api/chat")}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route, docs and mounts included (HEAD rides along with GET).

    `iter_route_contexts` flattens the routers FastAPI keeps as included (prefixes applied)."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        methods = route.methods or {"MOUNT"}
        found.update((method, str(route.path)) for method in methods if method != "HEAD")
    return found


@dataclass
class World:
    container: Container
    headers: dict[str, dict[str, str]]
    #: One app for the whole matrix: a fresh one per call would spend most of the matrix's
    #: time in FastAPI building its routes' contexts again at each app's first request.
    app: FastAPI


@pytest.fixture(scope="session")  # once per worker, however the tests are spread
def world(sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One auth-enabled data dir for the whole matrix; each call makes its own chat/document."""
    data_dir = tmp_path_factory.mktemp("auth-matrix") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    container = bootstrap(
        make_settings(data_dir, auth_enabled=True, upload_job_bytes=JOB_BYTES), clock=FixedClock()
    )

    async def keys() -> dict[str, dict[str, str]]:
        headers: dict[str, dict[str, str]] = {"no key": {}}
        for role, user, kind in (("user", "ana", "user"), ("other user", "bob", "user")):
            created = await container.access.create_key.execute(CLI_ADMIN, user_id=user, role=kind)
            headers[role] = {"Authorization": f"Bearer {created.secret}"}
        admin = await container.access.create_key.execute(CLI_ADMIN, user_id="root", role="admin")
        headers["admin"] = {"X-API-Key": admin.secret}  # the other header, for coverage
        return headers

    yield World(container, asyncio.run(keys()), create_app(container=container))
    container.close()


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        yield http


def _anas_chat(container: Container) -> str:
    chat = container.adapters.history.get_or_create_chat(None, "ana", QUESTION)
    container.adapters.history.append_message(chat.id, NewMessage("user", QUESTION))
    return chat.id


async def _anas_file(container: Container, chat_id: str) -> str:
    name = f"matrix-{uuid.uuid4().hex[:8]}.md"
    text = f"# Matrix file {name}\n\nThe matrix file {name} is attached.\n"
    attached = await container.conversation_files.attach_file.execute(
        AttachRequest("ana", chat_id, name, text.encode())
    )
    return attached.file.id


async def _anas_advice_thread(container: Container) -> str:
    thread_id = f"matrix-{uuid.uuid4().hex[:12]}"
    request = AdviceRequest("ana", (ConversationMessage("user", QUESTION),), thread_id=thread_id)
    await container.advice.advice.execute(request)
    return thread_id


def _anas_response(container: Container, *, rated: bool = False) -> str:
    record = ResponseRecord("ana", "chat", QUESTION, "Every 90 days [1].", "test", True, 5)
    response_id = container.calibration.record_response.record(record).response_id
    if rated:  # her verdict given, so that it can be withdrawn
        container.calibration.feedback.record("ana", FeedbackRequest(response_id, True))
    return response_id


def _new_document(container: Container) -> int:
    name = f"matrix-{uuid.uuid4().hex[:8]}.md"
    text = f"# Matrix note {name}\n\nThe matrix note says the kettle is in room {name}.\n"
    source = IngestSource(source=name, name=name, read=lambda: text.encode())
    report = container.admin.admin_ingest.run(CLI_ADMIN, IngestRequest(sources=[source]))
    document_id = report.items[0].document_id
    assert document_id is not None
    return document_id


async def _roots_job(container: Container) -> str:
    """A background upload job created by the admin `root`."""
    name = f"matrix-job-{uuid.uuid4().hex[:8]}.md"
    text = f"# Matrix job {name}\n\n" + f"The job note {name} is long enough. " * 100
    assert len(text) > JOB_BYTES
    root = Caller(user_id="root", role="admin", key_id=None)
    outcome = await container.admin.upload_document.execute(
        root, UploadRequest(name, text.encode())
    )
    assert outcome.job is not None
    return await _finished(outcome.job.id, container.admin.get_job.execute)


async def _anas_import_job(container: Container) -> str:
    """An import job of a one-conversation ChatGPT export, uploaded by the user `ana`."""
    imports = container.conversation_import
    job = await imports.from_file.execute("ana", "conversations.json", chatgpt_export(1))
    return await _finished(job.id, imports.get_job.execute)


async def _finished(job_id: str, get: Callable[[Caller, str], Awaitable[Any]]) -> str:
    """`job_id` once its job has ended. Each case of a job route makes a job, and a user may
    have only a few queued or running (`QueueLimits`): on a slow machine a later case's job
    would otherwise be refused as busy."""
    for _ in range(1200):
        if (await get(CLI_ADMIN, job_id)).status in ("done", "failed"):
            return job_id
        await asyncio.sleep(0.05)
    raise AssertionError(f"The job {job_id} did not end within a minute.")


def _new_prompt_version(container: Container) -> int:
    text = f"Matrix prompt version {uuid.uuid4().hex}."
    change = container.adapters.prompt_store.create_version(CHAT, text, "root", datetime.now(UTC))
    assert change.after is not None
    return change.after.version


def _new_table(container: Container) -> str:
    name = f"matrix_{uuid.uuid4().hex[:12]}"
    csv = Path(tempfile.mkdtemp()) / f"{name}.csv"
    csv.write_text("room,floor\nA1,1\n", encoding="utf-8")
    container.adapters.tables.load(csv, name)
    container.adapters.sql.refresh()
    return name


async def _path(template: str, container: Container) -> str:
    values: dict[str, object] = {}
    if template.startswith("/api/conversations/import/jobs/"):
        values["job_id"] = await _anas_import_job(container)
    elif "{job_id}" in template:
        values["job_id"] = await _roots_job(container)
    if "{prompt_type}" in template:
        values["prompt_type"] = CHAT
    if "{version}" in template:
        values["version"] = _new_prompt_version(container)
    if "{chat_id}" in template:
        values["chat_id"] = _anas_chat(container)
    if "/project-draft" in template:
        await container.conversation_drafts.draft_project.execute(
            DraftRequest("ana", str(values["chat_id"]))
        )
        values["number"] = 1
    if "{file_id}" in template:
        chat_id = str(values.get("chat_id") or _anas_chat(container))  # a download names none
        values["file_id"] = await _anas_file(container, chat_id)
    if template.endswith("summary"):  # read and edited: it exists (made offline)
        await container.conversation_search.conversation_summaries.summarise(str(values["chat_id"]))
    if "{thread_id}" in template:
        values["thread_id"] = await _anas_advice_thread(container)
    if "{response_id}" in template:
        values["response_id"] = _anas_response(container, rated=True)
    if "{document_id}" in template:
        values["document_id"] = _new_document(container)
    if "{model_id:path}" in template:
        template = template.replace("{model_id:path}", "{model_id}")
        values["model_id"] = "offline-extractive"
    cleaning = template.startswith(("/api/tasks", "/api/results", "/api/metrics", "/api/cleaning"))
    if "{dataset_id}" in template:
        values["dataset_id"] = "answers"
    if "{task_id}" in template:
        values["task_id"] = "services.uniqueness.easy"
    metrics = template.startswith(("/api/metrics/", "/api/cleaning/metrics/"))
    if cleaning and ("{run_id}" in template or metrics):
        values["run_id"] = await _cleaning_run(container)
    elif "{run_id}" in template or template.startswith("/api/v1/eval-metrics/"):
        values["run_id"] = await _eval_run(container)
    if "{table}" in template:
        values["table"] = _new_table(container)
    if "{project_id}" in template:
        values["project_id"] = "proj_default"
    if "{use_case_id}" in template:
        values["use_case_id"] = "uc_chat"
    if "{prompt_id}" in template:
        values["prompt_id"] = "prm_chat"
    if "{dataset_id}" in template:
        values["dataset_id"] = await _new_dataset(container)
        values["item_id"] = "q1"
    if "{name}" in template:
        values["name"] = "uniqueness" if cleaning else "kb"
    if "{metric}" in template:
        values["metric"] = "f1"
        values["model"] = "offline-rules" if cleaning else "offline-extractive"
    return template.format(**values)


async def _new_dataset(container: Container) -> str:
    from use_cases.evaluation.dataset_items import NewDataset

    first = {"id": "q1", "question": QUESTION, "kind": "refuse"}
    new = NewDataset(f"matrix {uuid.uuid4().hex}", items=(first,))
    return (await container.evaluation.dataset_edits.create(CLI_ADMIN, new)).id


async def _eval_run(container: Container) -> str:
    """A completed one-case run of the bundled set, started by root."""
    from use_cases.evaluation.runs import RunRequest

    root = Caller(user_id="root", role="admin", key_id=None)
    record = await container.evaluation.benchmark.start(
        root, RunRequest(task_id="answers", limit=1, tags=("dev",))
    )
    await container.evaluation.benchmark.execute(record.run_id)
    return record.run_id


async def _cleaning_run(container: Container) -> str:
    """A completed run of the offline cleaner on one task, started by root."""
    from use_cases.cleaning.runs import CleaningRunRequest

    root = Caller(user_id="root", role="admin", key_id=None)
    request = CleaningRunRequest(
        tables=("services",), dimensions=("uniqueness",), difficulties=("easy",)
    )
    run = await container.cleaning.cleaning_runs.start(root, request)
    await container.cleaning.cleaning_runs.execute(run.run_id)
    return run.run_id


def test_every_route_has_an_expectation_and_every_expectation_a_route(world: World) -> None:
    routes = app_routes(create_app(container=world.container))
    assert routes - EXPECTED.keys() == set(), "add the new route(s) to EXPECTED"
    assert EXPECTED.keys() - routes == set(), "remove the stale row(s) from EXPECTED"
    assert len(routes) == len(EXPECTED)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", list(EXPECTED), ids=lambda r: f"{r[0]} {r[1]}")
async def test_route_answers_each_kind_of_caller_as_expected(
    route: tuple[str, str], role: str, world: World, client: httpx.AsyncClient
) -> None:
    method, template = route
    call = EXPECTED[route]
    params = dict(call.params)
    for name, value in params.items():
        if value == "{run_id}":  # a query parameter naming a run: a real completed one
            params[name] = await _eval_run(world.container)
    request: dict[str, Any] = {"headers": world.headers[role], "params": params}
    if call.json is not None:
        request["json"] = call.json()
        if request["json"].get("response_id") == "{response_id}":
            request["json"] = {"response_id": _anas_response(world.container), "outcome": True}
        if request["json"].get("version") == "{version}":  # a library run of a real version
            request["json"]["version"] = _new_prompt_version(world.container)
    if call.upload:
        name = f"upload-{uuid.uuid4().hex[:8]}{call.upload_suffix}"
        text = f"# {name}\n\nUploaded in the matrix.\n"
        if call.upload_suffix == ".jsonl":  # an evaluation dataset of one case
            text = json.dumps({"question": f"What is {name}?", "kind": "kb", "expect_any": ["x"]})
        if call.upload_suffix == ".json":  # a ChatGPT export of one conversation
            text = chatgpt_export(1).decode()
        if call.upload_suffix == ".csv":  # a new table each time
            text = "room,kettles\nA1,2\n"
            request["data"] = {"name": f"matrix_{uuid.uuid4().hex[:8]}"}
        request["files"] = {"file": (name, text.encode())}
    path = call.path or await _path(template, world.container)
    response = await client.request("GET" if method == "MOUNT" else method, path, **request)
    expected = call.expect[ROLES.index(role)]
    assert response.status_code == expected, response.text
    if expected in (401, 403) and path.startswith("/v1/"):  # OpenAI's error shape
        assert response.json()["error"]["code"] == (
            "invalid_api_key" if expected == 401 else "forbidden"
        )
        assert "Missing API key" in response.json()["error"]["message"]
    elif expected in (401, 403):
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.json()["code"] == ("unauthorized" if expected == 401 else "forbidden")
        if expected == 401:
            assert "Missing API key" in response.json()["detail"]
    if expected == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    if expected == 403:
        assert "admin role" in response.json()["detail"]


@pytest.mark.parametrize("asset", sorted(p.name for p in ASSETS_DIR.iterdir()))
async def test_every_docs_asset_loads_without_a_key(asset: str, client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{ASSETS_URL}/{asset}")).status_code == 200


async def test_openapi_documents_401_on_protected_and_403_on_admin_only_operations(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for (method, path), call in EXPECTED.items():
        # OpenAPI writes a path parameter without its converter (`{model_id:path}`).
        operation = paths.get(path.replace(":path}", "}"), {}).get(method.lower())
        if operation is None:  # the docs pages and their assets are not API operations
            assert call.expect == PUBLIC, (method, path)
            continue
        responses = operation["responses"]
        if (method, path) in SIGNING_IN:  # public; their 401 and 403 are about the sign-in
            assert "security" not in operation, (method, path)
            continue
        assert ("401" in responses) == (call.expect[0] == 401), (method, path)
        may_refuse = 403 in call.expect or (method, path) in NAMES_A_USER
        assert ("403" in responses) == may_refuse, (method, path)
        if "401" in responses:
            assert "WWW-Authenticate" in responses["401"]["headers"]
            assert operation["security"] == [{"Bearer": []}, {"ApiKey": []}]
