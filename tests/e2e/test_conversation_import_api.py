"""Importing conversations through the real ASGI app: share links fetched from a local
server of reconstructed pages (tests/share_pages.py), export files as jobs, Slack threads by
admin keys, and an imported chat continued with POST /chat. One auth-enabled container for
the module: its import settings allow the local server (IMPORT_* settings, no backdoor)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from backend.bootstrap import Container, bootstrap
from tests import hostile_inputs
from tests.conftest import FixedClock, asgi_client, issue_key, make_settings
from tests.conversation_exports import chatgpt_export
from tests.memory_peak import tree_peak
from tests.share_pages import FIXTURES, TEST_PAGE_LIMIT, share_page_server


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    with share_page_server() as url:
        yield url


@pytest.fixture(scope="module")
def imports(
    sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory, pages: str
) -> Iterator[Container]:
    data_dir = tmp_path_factory.mktemp("imports") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    settings = make_settings(
        data_dir,
        auth_enabled=True,
        # The local server's host and port: the allow-list matches both.
        import_allowed_hosts=f"chatgpt.com,{pages.removeprefix('http://')}",
        import_allow_http=True,
        import_allow_private_hosts=True,
        import_max_page_bytes=TEST_PAGE_LIMIT,
        # Long enough for a page on a loaded 2-core machine (0.5 s once timed out a real
        # page in CI), short enough that `/slow` and `/slow-headers` are quick.
        import_timeout_s=3.0,
    )
    built = bootstrap(settings, clock=FixedClock())
    yield built
    built.close()


@pytest.fixture(scope="module")
def keys(imports: Container) -> dict[str, dict[str, str]]:
    async def make() -> dict[str, dict[str, str]]:
        return {
            "ann": await issue_key(imports, "ann"),
            "bob": await issue_key(imports, "bob"),
            "service": await issue_key(imports, "slackbot", role="admin"),
        }

    return asyncio.run(make())


# One app and client for the module (building an app per test cost more than most tests).
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(imports: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(imports) as client:
        yield client


async def chat_count(http: httpx.AsyncClient, key: dict[str, str]) -> int:
    return len((await http.get("/chats?limit=200", headers=key)).json())


@pytest.mark.parametrize(
    ("page", "source", "messages"),
    [
        ("chatgpt-share-next-data.html", "chatgpt", 5),
        ("chatgpt-share-react-router.html", "chatgpt", 5),
        ("claude-share.html", "claude", 4),
        ("grok-share.html", "grok", 3),
    ],
)
async def test_a_share_link_becomes_a_chat_once(
    http: httpx.AsyncClient, pages: str, keys: dict, page: str, source: str, messages: int
) -> None:
    url = f"{pages}/{page}"
    first = await http.post("/api/conversations/import", json={"url": url}, headers=keys["ann"])
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] is True and body["messages"] == messages
    assert body["chat"]["source"] == source and body["chat"]["source_url"] == url
    chat_id = body["chat"]["id"]
    listed = (await http.get("/chats?limit=200", headers=keys["ann"])).json()
    assert {"source": source, "source_url": url}.items() <= next(
        c for c in listed if c["id"] == chat_id
    ).items()
    transcript = (await http.get(f"/chats/{chat_id}/messages", headers=keys["ann"])).json()
    assert transcript["chat"]["source"] == source
    assert len(transcript["messages"]) == messages
    assert transcript["messages"][0]["role"] == "user"

    again = await http.post("/api/conversations/import", json={"url": url}, headers=keys["ann"])
    assert again.status_code == 200
    assert again.json()["created"] is False and again.json()["chat"]["id"] == chat_id
    other = await http.get(f"/chats/{chat_id}/messages", headers=keys["bob"])
    assert other.status_code == 404


@pytest.mark.parametrize(
    ("link", "status", "code"),
    [
        ("https://example.com/share/abc", 422, "host_not_allowed"),
        ("ftp://127.0.0.1/grok-share.html", 422, "host_not_allowed"),
        ("{pages}/redirect-off", 422, "host_not_allowed"),
        ("{pages}/big", 413, "payload_too_large"),
        ("{pages}/slow", 504, "upstream_timeout"),
        ("{pages}/slow-headers", 504, "upstream_timeout"),
        ("{pages}/missing", 502, "upstream_error"),
        ("{pages}/teapot", 502, "upstream_error"),
        ("{other_port}/grok-share.html", 422, "host_not_allowed"),
        ("{pages}/plain.html", 422, "unsupported_page"),
        ("{pages}/chatgpt-share-expired.html", 422, "no_conversation"),
    ],
)
async def test_a_refused_link_is_a_problem_and_writes_nothing(
    http: httpx.AsyncClient, pages: str, keys: dict, link: str, status: int, code: str
) -> None:
    before = await chat_count(http, keys["bob"])
    port = urlsplit(pages).port
    assert port is not None
    other_port = f"http://127.0.0.1:{port + 1}"  # same host, another port
    # `/slow-headers` never ends, each read quick: only a limit on the whole fetch
    # (IMPORT_TIMEOUT_S) gives its 504. The test's own limit is a safety net (40 times that
    # one): a fetch that is never stopped fails here instead of hanging the suite.
    answer = await asyncio.wait_for(
        http.post(
            "/api/conversations/import",
            json={"url": link.format(pages=pages, other_port=other_port)},
            headers=keys["bob"],
        ),
        timeout=120,
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code
    # the upstream status never leaks (a port such as 41801 is not one: word boundaries)
    assert re.search(r"\b(?:418|404)\b", answer.json()["detail"]) is None
    assert await chat_count(http, keys["bob"]) == before


async def test_a_redirect_on_the_allow_list_is_followed_and_the_given_link_kept(
    http: httpx.AsyncClient, pages: str, keys: dict
) -> None:
    link = f"{pages}/redirect-on"
    answer = await http.post("/api/conversations/import", json={"url": link}, headers=keys["bob"])
    assert answer.status_code == 201, answer.text
    assert answer.json()["chat"]["source"] == "grok"
    assert answer.json()["chat"]["source_url"] == link


def _events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


async def test_a_streamed_import_reports_its_stages_then_the_chat(
    http: httpx.AsyncClient, pages: str, keys: dict
) -> None:
    link = f"{pages}/claude-share.html"
    answer = await http.post(
        "/api/conversations/import/stream", json={"url": link}, headers=keys["bob"]
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = _events(answer.text)
    assert [e for e, _ in events] == ["stage", "stage", "stage", "stage", "done"]
    stages = [d["stage"] for _, d in events[:4]]
    assert stages == ["fetching", "parsing", "saving", "summarising"]
    chat = events[-1][1]["chat"]
    assert chat["source"] == "claude"
    # The last stage made the conversation's summary (offline: sentences of its own).
    summary = await http.get(f"/api/conversations/{chat['id']}/summary", headers=keys["bob"])
    assert summary.status_code == 200, summary.text
    assert summary.json()["text"] and summary.json()["edited"] is False


async def test_a_streamed_import_ends_with_an_error_event_when_a_redirect_is_refused(
    http: httpx.AsyncClient, pages: str, keys: dict
) -> None:
    before = await chat_count(http, keys["bob"])
    answer = await http.post(
        "/api/conversations/import/stream",
        json={"url": f"{pages}/redirect-off"},
        headers=keys["bob"],
    )
    events = _events(answer.text)
    assert events[0] == ("stage", {"stage": "fetching"})
    assert events[-1][0] == "error" and events[-1][1]["code"] == "host_not_allowed"
    refused = await http.post(
        "/api/conversations/import/stream",
        json={"url": "https://example.com/x"},
        headers=keys["bob"],
    )
    assert refused.status_code == 422  # refused before any stream starts
    assert await chat_count(http, keys["bob"]) == before


async def _finished(http: httpx.AsyncClient, job: dict, key: dict) -> tuple[dict, list[int]]:
    seen: list[int] = []
    for _ in range(2000):
        state = (await http.get(f"/api/conversations/import/jobs/{job['id']}", headers=key)).json()
        seen.append(state["progress"]["conversations_done"])
        if state["status"] in ("done", "failed"):
            return state, seen
        await asyncio.sleep(0.01)
    raise AssertionError("the import job did not finish")


async def test_a_500_conversation_export_imports_as_a_job_and_again_adds_nothing(
    http: httpx.AsyncClient, keys: dict
) -> None:
    export = chatgpt_export(500)
    before = await chat_count(http, keys["ann"])
    files = {"file": ("conversations.json", export, "application/json")}
    queued = await http.post("/api/conversations/import/file", files=files, headers=keys["ann"])
    assert queued.status_code == 202, queued.text
    assert queued.headers["location"] == f"/api/conversations/import/jobs/{queued.json()['id']}"
    assert (
        await http.get(queued.headers["location"], headers=keys["bob"])
    ).status_code == 404  # someone else's job does not exist
    done, seen = await _finished(http, queued.json(), keys["ann"])
    assert done["status"] == "done", done
    assert seen == sorted(seen)  # progress only grows
    assert done["progress"] == {
        "conversations_done": 500,
        "conversations_total": 500,
        "imported": 500,
        "skipped_duplicates": 0,
    }
    assert len(set(done["result"]["chat_ids"])) == 500
    assert await chat_count(http, keys["ann"]) == min(200, before + 500)

    again = await http.post("/api/conversations/import/file", files=files, headers=keys["ann"])
    done_again, _ = await _finished(http, again.json(), keys["ann"])
    assert done_again["result"]["imported"] == 0
    assert done_again["result"]["skipped_duplicates"] == 500
    assert done_again["result"]["chat_ids"] == done["result"]["chat_ids"]


@pytest.mark.parametrize(
    "content", [b"{broken", b'[{"title": "no mapping"}]', b"[]", b"PK\x03\x04 not a zip"]
)
async def test_a_broken_export_is_refused_before_any_job(
    http: httpx.AsyncClient, keys: dict, content: bytes
) -> None:
    before = await chat_count(http, keys["bob"])
    files = {"file": ("conversations.json", content, "application/json")}
    answer = await http.post("/api/conversations/import/file", files=files, headers=keys["bob"])
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] in ("invalid_export", "no_conversation", "invalid_archive")
    assert await chat_count(http, keys["bob"]) == before


async def test_an_export_starting_with_a_utf8_byte_order_mark_is_read(
    http: httpx.AsyncClient, keys: dict
) -> None:
    """Some editors and exporters write one before UTF-8 text: it was refused as "not JSON"."""
    export = b"\xef\xbb\xbf" + chatgpt_export(3)
    files = {"file": ("conversations.json", export, "application/json")}
    queued = await http.post("/api/conversations/import/file", files=files, headers=keys["ann"])
    assert queued.status_code == 202, queued.text
    done, _ = await _finished(http, queued.json(), keys["ann"])
    assert done["status"] == "done", done
    assert done["result"]["imported"] + done["result"]["skipped_duplicates"] == 3


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16", "utf-32"])
async def test_an_export_in_another_encoding_than_utf8_is_refused_as_not_json(
    http: httpx.AsyncClient, keys: dict, encoding: str
) -> None:
    """JSON is UTF-8 (RFC 8259); other encodings are not read (a depth scan of their bytes
    would miscount the brackets), even nested past the parser's recursion."""
    text = '["\u2200",' + "[" * 5000 + "]" * 5000 + "]"
    files = {"file": ("conversations.json", text.encode(encoding), "application/json")}
    answer = await http.post("/api/conversations/import/file", files=files, headers=keys["bob"])
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_export"


MiB = 1024 * 1024
HOSTILE_EXPORTS = {
    "zip bomb of {}": (hostile_inputs.zip_bomb, 422, "invalid_export"),
    "zip bomb of conversations": (
        lambda: hostile_inputs.empty_conversation_bomb(40 * MiB),  # ~100 KB
        413,
        "input_too_costly",
    ),
    "one huge conversation": (hostile_inputs.nested_item_bomb, 413, "input_too_costly"),
    **{
        f"{kind} zip": (make, 422, "invalid_archive")
        for kind, (make, _) in hostile_inputs.MALFORMED_ZIPS.items()
    },
}


@pytest.mark.parametrize("kind", list(HOSTILE_EXPORTS))
async def test_a_hostile_export_is_refused_cheaply_and_writes_nothing(
    http: httpx.AsyncClient, keys: dict, kind: str
) -> None:
    """Refused, twice alike, within a bounded peak of memory; the CPU the refusal costs is
    measured by bench/bench_hostile_inputs.py (a CPU-time bound here would hold or not
    with the machine's speed)."""
    make, status, code = HOSTILE_EXPORTS[kind]
    data = make()
    assert len(data) <= 110_000
    before = await chat_count(http, keys["bob"])
    files = {"file": ("export.zip", data, "application/zip")}
    answer = await http.post("/api/conversations/import/file", files=files, headers=keys["bob"])
    tracemalloc.start()
    try:
        again = await http.post("/api/conversations/import/file", files=files, headers=keys["bob"])
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    for refused in (answer, again):
        assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text
        assert "location" not in refused.headers
    assert peak_mb < 200, f"{peak_mb:.0f} MB for a {len(data):,}-byte upload"
    assert await chat_count(http, keys["bob"]) == before


@pytest.mark.parametrize(
    ("filename", "make"),
    [
        ("conversations.json", hostile_inputs.deep_json),
        ("export.zip", hostile_inputs.deep_export_zip),
    ],
)
async def test_a_deeply_nested_export_is_refused_with_413_in_bounded_memory(
    http: httpx.AsyncClient, keys: dict, filename: str, make
) -> None:
    """Arrays nested 100,000 deep (200 KB, or a few hundred bytes zipped): unbounded, the
    streaming parser's memory grows with the square of the depth (0.95 GB at 20,000, ~24 GB
    here); the depth is counted over the bytes before the parser sees them."""
    data = make(100_000)
    before = await chat_count(http, keys["bob"])
    files = {"file": (filename, data, "application/octet-stream")}
    with tree_peak(os.getpid()) as peak:
        answer = await http.post("/api/conversations/import/file", files=files, headers=keys["bob"])
    assert (answer.status_code, answer.json()["code"]) == (413, "input_too_costly"), answer.text
    assert "the JSON depth limit is 256 levels" in answer.json()["detail"]
    assert peak.growth < 300 * MiB, peak
    assert await chat_count(http, keys["bob"]) == before


async def test_a_claude_export_file_imports(http: httpx.AsyncClient, keys: dict) -> None:
    data = (FIXTURES / "claude-export-conversations.json").read_bytes()
    files = {"file": ("conversations.json", data, "application/json")}
    queued = await http.post("/api/conversations/import/file", files=files, headers=keys["bob"])
    done, _ = await _finished(http, queued.json(), keys["bob"])
    assert done["result"]["imported"] == 2
    chats = (await http.get("/chats", headers=keys["bob"])).json()
    assert {c["source"] for c in chats if c["id"] in done["result"]["chat_ids"]} == {
        "claude-export"
    }


async def test_a_slack_thread_is_imported_only_with_an_admin_key(
    http: httpx.AsyncClient, keys: dict
) -> None:
    payload = json.loads((FIXTURES / "slack-thread.json").read_text())
    refused = await http.post("/api/conversations/import/slack", json=payload, headers=keys["ann"])
    assert refused.status_code == 403
    answer = await http.post(
        "/api/conversations/import/slack",
        json={**payload, "user_id": "ann"},
        headers=keys["service"],
    )
    assert answer.status_code == 201, answer.text
    chat = answer.json()["chat"]
    assert chat["source"] == "slack" and chat["source_url"] == payload["permalink"]
    transcript = (await http.get(f"/chats/{chat['id']}/messages", headers=keys["ann"])).json()
    assert [m["role"] for m in transcript["messages"]] == ["user", "assistant", "user"]
    again = await http.post(
        "/api/conversations/import/slack",
        json={**payload, "user_id": "ann"},
        headers=keys["service"],
    )
    assert again.status_code == 200 and again.json()["chat"]["id"] == chat["id"]


async def test_an_imported_chat_is_continued_with_its_history(
    http: httpx.AsyncClient, pages: str, keys: dict
) -> None:
    link = f"{pages}/chatgpt-share-next-data.html"
    imported = await http.post("/api/conversations/import", json={"url": link}, headers=keys["bob"])
    chat_id = imported.json()["chat"]["id"]
    turn = await http.post(
        "/chat",
        json={"message": "How do I rotate passwords?", "chat_id": chat_id},
        headers=keys["bob"],
    )
    assert turn.status_code == 200, turn.text
    assert turn.json()["chat_id"] == chat_id
    messages = (await http.get(f"/chats/{chat_id}/messages", headers=keys["bob"])).json()
    contents = [m["content"] for m in messages["messages"]]
    assert len(contents) == 7
    assert contents[0].startswith("How often should I water")
    assert contents[5] == "How do I rotate passwords?"
