"""Run our streams through the real Vercel AI SDK JavaScript clients (see tests/js/README.md).

`parse_v4(body)` checks a data stream protocol v4 body with npm `ai@4`; `parse_ui_stream(body)`
checks a UI message stream (SSE) body with npm `ai` (current major) or `ai@5`;
`read_event_source(body)` reads an SSE body with Node's WHATWG `EventSource`;
`openai_clients(url, key, question)` asks Almanac's `/v1` through npm `openai` and
`@ai-sdk/openai-compatible` with `ai`. All raise
`AssertionError` carrying node's stderr when the client rejects the stream, and return the
JSON the script printed otherwise. Node and npm are required: a missing tool is a RuntimeError,
never a skip.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

JS_DIR = Path(__file__).resolve().parent / "js"
V4_SCRIPT = JS_DIR / "parse_data_stream_v4.mjs"
UI_SCRIPT = JS_DIR / "parse_ui_message_stream.mjs"
EVENT_SOURCE_SCRIPT = JS_DIR / "read_event_source.mjs"
OPENAI_CLIENTS_SCRIPT = JS_DIR / "openai_clients.mjs"
NODE_TIMEOUT_S = 60
NPM_CI_TIMEOUT_S = 600

UIClient = Literal["current", "v5"]

_ready = False
_ready_lock = threading.Lock()


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RuntimeError(
            f"`{tool}` is not on PATH: the JS conformance tests need Node.js (>= 20) and npm "
            f"to run the Vercel AI SDK clients in {JS_DIR}. Install Node.js (it ships npm)."
        )
    return path


def _node_modules_stale() -> bool:
    # npm writes node_modules/.package-lock.json on every install; compare it with the lockfile.
    marker = JS_DIR / "node_modules" / ".package-lock.json"
    lockfile = JS_DIR / "package-lock.json"
    if not marker.is_file():
        return True
    return marker.stat().st_mtime < lockfile.stat().st_mtime


def ensure_node_modules() -> None:
    """Install tests/js/node_modules from the lockfile if missing or older than it.

    Safe to call from several processes at once (an exclusive file lock guards `npm ci`).
    """
    global _ready
    with _ready_lock:
        if _ready:
            return
        _require("node")
        npm = _require("npm")
        if _node_modules_stale():
            digest = hashlib.sha256(str(JS_DIR).encode()).hexdigest()[:16]
            lock_path = Path(tempfile.gettempdir()) / f"almanac-npm-ci-{digest}.lock"
            with lock_path.open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if _node_modules_stale():  # another process may have installed meanwhile
                    proc = subprocess.run(
                        [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"],
                        cwd=JS_DIR,
                        capture_output=True,
                        text=True,
                        timeout=NPM_CI_TIMEOUT_S,
                        check=False,
                    )
                    if proc.returncode != 0:
                        raise RuntimeError(
                            f"`npm ci` failed in {JS_DIR} (exit {proc.returncode}):\n"
                            f"{proc.stdout}\n{proc.stderr}"
                        )
        _ready = True


def _run(
    script: Path, body: str | bytes, args: list[str], node_flags: tuple[str, ...] = ()
) -> dict[str, Any]:
    ensure_node_modules()
    data = body.encode("utf-8") if isinstance(body, str) else body
    proc = subprocess.run(
        [_require("node"), *node_flags, str(script), *args],
        cwd=JS_DIR,
        input=data,
        capture_output=True,
        timeout=NODE_TIMEOUT_S,
        check=False,
    )
    stderr = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        raise AssertionError(
            f"{script.name} {' '.join(args)} rejected the stream (exit {proc.returncode}):\n"
            f"{stderr}\n--- stream (first 2000 chars) ---\n"
            f"{data[:2000].decode('utf-8', 'replace')}"
        )
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(
            f"{script.name} printed no JSON (stdout={proc.stdout[:500]!r}, stderr={stderr})"
        ) from exc


def parse_v4(body: str | bytes, *, allow_errors: bool = True) -> dict[str, Any]:
    """Check a v4 data stream body with ai@4; return the parse summary.

    Keys: text, parts [{type, value}], toolCalls, toolResults, data, annotations, reasoning,
    sources, errors (the `3:` values), finishSteps, finishReason, usage, message (the assistant
    message useChat would hold). `allow_errors=False` also rejects any `3:` error part.
    """
    return _run(V4_SCRIPT, body, [] if allow_errors else ["--reject-error-parts"])


def parse_ui_stream(
    body: str | bytes, *, allow_errors: bool = False, client: UIClient = "current"
) -> dict[str, Any]:
    """Check a UI message stream (SSE) body with npm `ai` ("current") or `ai@5` ("v5").

    Keys: client, chunks (schema-validated chunks, in order), messages (final UIMessage per
    message id, with parts), errors (errorText of "error" chunks; any such chunk fails unless
    `allow_errors=True`).
    """
    args = ["--client", client]
    if allow_errors:
        args.append("--allow-error-chunks")
    return _run(UI_SCRIPT, body, args)


def read_event_source(body: str | bytes) -> dict[str, Any]:
    """Read an SSE body with Node's WHATWG `EventSource` (served once from a local server).

    Keys: messages (the data of each `message` event, in order), data (their concatenation),
    end (the data of the first `end` event, where the reader closes). Rejected when the body
    ends without an `end` event (an EventSource would reconnect).
    """
    return _run(EVENT_SOURCE_SCRIPT, body, [], ("--experimental-eventsource", "--no-warnings"))


def openai_clients(base_url: str, key: str, question: str) -> dict[str, Any]:
    """Ask Almanac's `/v1` at `base_url` through npm `openai` and the Vercel AI SDK's
    `@ai-sdk/openai-compatible` (tests/js/openai_clients.mjs): what each client got."""
    return _run(
        OPENAI_CLIENTS_SCRIPT, b"", ["--base-url", base_url, "--key", key, "--question", question]
    )


@dataclass(frozen=True)
class JsClients:
    """What the `js_clients` fixture yields: the parsers, with node_modules installed."""

    js_dir: Path = JS_DIR

    @staticmethod
    def parse_v4(body: str | bytes, *, allow_errors: bool = True) -> dict[str, Any]:
        return parse_v4(body, allow_errors=allow_errors)

    @staticmethod
    def parse_ui_stream(
        body: str | bytes, *, allow_errors: bool = False, client: UIClient = "current"
    ) -> dict[str, Any]:
        return parse_ui_stream(body, allow_errors=allow_errors, client=client)

    @staticmethod
    def read_event_source(body: str | bytes) -> dict[str, Any]:
        return read_event_source(body)


@pytest.fixture(scope="session")
def js_clients() -> JsClients:
    """Session fixture: installs tests/js/node_modules once, returns the JS client parsers."""
    ensure_node_modules()
    return JsClients()
