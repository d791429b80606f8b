"""The official MCP TypeScript SDK's client (npm `@modelcontextprotocol/sdk`, pinned in
tests/js_mcp/package.json), run by node against Almanac's MCP server.

`run_ts_client("http", url, key)` or `run_ts_client("stdio", command, *args)` returns the JSON
`tests/js_mcp/mcp_client.mjs` printed (what the client listed, called and read). Its own
node_modules are installed from its lockfile on first use, beside (not inside) the Vercel AI
clients' tests/js, so the two sets of pins move independently. Node and npm are required: a
missing tool is a RuntimeError naming it, never a skip.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from tests.js_clients import NODE_TIMEOUT_S, NPM_CI_TIMEOUT_S, _require

JS_MCP_DIR = Path(__file__).resolve().parent / "js_mcp"
CLIENT_SCRIPT = JS_MCP_DIR / "mcp_client.mjs"

_lock = threading.Lock()


def _stale() -> bool:
    marker = JS_MCP_DIR / "node_modules" / ".package-lock.json"
    lockfile = JS_MCP_DIR / "package-lock.json"
    return not marker.is_file() or marker.stat().st_mtime < lockfile.stat().st_mtime


def ensure_mcp_node_modules() -> None:
    """`npm ci` in tests/js_mcp when its node_modules is missing or older than the lockfile
    (an exclusive file lock keeps parallel test workers from installing twice)."""
    with _lock:
        npm = _require("npm")
        _require("node")
        if not _stale():
            return
        digest = hashlib.sha256(str(JS_MCP_DIR).encode()).hexdigest()[:16]
        with (Path(tempfile.gettempdir()) / f"almanac-npm-ci-{digest}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _stale():
                return
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"],
                cwd=JS_MCP_DIR,
                capture_output=True,
                text=True,
                timeout=NPM_CI_TIMEOUT_S,
                check=False,
            )
            if proc.returncode != 0:
                raise RuntimeError(
                    f"`npm ci` failed in {JS_MCP_DIR} (exit {proc.returncode}):\n"
                    f"{proc.stdout}\n{proc.stderr}"
                )


def run_ts_client(
    mode: str, target: str, *args: str, env: dict[str, str] | None = None, timeout: float = 0
) -> dict[str, Any]:
    """Run the TypeScript client (see the module docstring); `env` is added to node's
    environment (a stdio server inherits it)."""
    ensure_mcp_node_modules()
    proc = subprocess.run(
        [_require("node"), str(CLIENT_SCRIPT), mode, target, *args],
        cwd=JS_MCP_DIR,
        capture_output=True,
        text=True,
        timeout=timeout or NODE_TIMEOUT_S * 3,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"the MCP TypeScript client failed (exit {proc.returncode}):\n{proc.stderr}"
        )
    return json.loads(proc.stdout)
