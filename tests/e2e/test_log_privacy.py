"""What people search for, ask and upload stays out of the log of a real `almanac serve`
(docs/operations.md, "What is logged"): a term planted in a search's query string and filters,
a chat question, an OpenAI-compatible request, an uploaded document and table, and SQL and
searches sent over MCP is nowhere in the server's output at LOG_LEVEL=INFO, the default. With
LOG_REQUEST_CONTENT=true, the debugging aid, it is (so the test can fail)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx
import pytest

from tests.almanac_serve import ServeChild, start_almanac_serve

#: One token (letters only: the same in a URL, a tokenizer and a log), in no sample document.
PLANTED = "zebrafinchquorum"

HANDBOOK = """# Pay bands

Engineers are paid on the bands agreed each April.
"""


def _serve(tmp_path: Path, *, content: bool | None) -> ServeChild:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "handbook.md").write_text(HANDBOOK, encoding="utf-8")
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "INFO",
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "ANSWER_PROCESSES": "false",  # planning on threads: a quicker start
    }
    for name in ("DATA_DIR", "DATABASE_URL", "OPENAI_API_KEY", "DEFAULT_MODEL", "AUTH_ENABLED"):
        env.pop(name, None)
    env.pop("LOG_REQUEST_CONTENT", None)
    if content is not None:
        env["LOG_REQUEST_CONTENT"] = str(content).lower()
    return start_almanac_serve(
        [str(Path(sys.executable).parent / "almanac"), "serve", "--knowledge", str(folder)],
        env=env,
        cwd=tmp_path,
        log=tmp_path / "serve.log",
    )


def _mcp(http: httpx.Client, tool: str, arguments: dict[str, object]) -> str:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    reply = http.post(
        "/mcp",
        content=json.dumps(body),
        headers={
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        },
    )
    assert reply.status_code == 200, reply.text
    return reply.text


def _use_every_way_in(server: ServeChild) -> None:
    """Search, chat, upload and query with PLANTED in each, as a person and an agent would;
    each request is checked to have done its work (a refusal would log nothing to find)."""
    with httpx.Client(base_url=server.url, timeout=120) as http:
        searched = http.get(
            "/api/search",
            params={"q": f"salary of {PLANTED}", "meta": f"owner:{PLANTED}", "category": PLANTED},
        )
        assert searched.status_code == 200, searched.text
        chats = http.get("/api/search", params={"q": PLANTED, "scope": "chats"})
        assert chats.status_code == 200, chats.text
        listed = http.get("/api/documents", params={"source_prefix": PLANTED})
        assert listed.status_code == 200, listed.text

        note = f"# Salaries\n\n{PLANTED} earns 91,000 a year on band four.\n"
        uploaded = http.post("/api/documents", files={"file": ("salaries.md", note.encode())})
        assert uploaded.status_code in (201, 202), uploaded.text
        table = f"name,salary\n{PLANTED},91000\nAna,88000\n"
        loaded = http.post(
            "/api/tables", files={"file": ("pay.csv", table.encode())}, data={"name": "pay"}
        )
        assert loaded.status_code == 201, loaded.text

        asked = http.post("/chat", json={"message": f"What does {PLANTED} earn?"})
        assert asked.status_code == 200, asked.text
        completed = http.post(
            "/v1/chat/completions",
            json={
                "model": "almanac",
                "messages": [{"role": "user", "content": f"What band is {PLANTED} on?"}],
            },
        )
        assert completed.status_code == 200, completed.text

        sql = f"SELECT salary FROM pay WHERE name = '{PLANTED}'"
        assert "91000" in _mcp(http, "lookup_structured_data", {"sql": sql})
        assert "salaries.md" in _mcp(http, "search_knowledge_base", {"query": PLANTED})


@pytest.mark.slow
def test_nothing_people_search_for_ask_or_upload_is_in_the_servers_log(tmp_path: Path) -> None:
    server = _serve(tmp_path, content=None)
    try:
        _use_every_way_in(server)
    finally:
        server.stop()
    output = server.output()
    # The requests were logged (method, path, status) ...
    assert "POST /chat -> 200" in output and "POST /mcp -> 200" in output, output[-4000:]
    assert "POST /v1/chat/completions -> 200" in output and "POST /api/tables -> 201" in output
    # ... and nothing of what they carried, a query string only by its length.
    leaked = [line for line in output.splitlines() if PLANTED in line.lower()]
    assert leaked == [], "what someone searched for, asked or uploaded is logged"
    assert "GET /api/search?[" in output


@pytest.mark.slow
def test_log_request_content_logs_the_query_strings_for_debugging(tmp_path: Path) -> None:
    server = _serve(tmp_path, content=True)
    try:
        _use_every_way_in(server)
    finally:
        server.stop()
    output = server.output()
    assert f"GET /api/search?q=salary+of+{PLANTED}&meta=owner%3A{PLANTED}" in output, output[-4000:]
