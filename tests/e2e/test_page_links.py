"""A synced web page's URL is its citation link wherever its passages are shown: the search
API's hits, an answer's sources (`POST /chat`, its stream, the stored history, the OpenAI-compatible
API's `almanac.sources`). The pages come from a real local website synced
by a website source; a document from a folder has no `link`, and a stored link that is not
http(s) is never shown."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap, start_job_worker
from backend.cli.main import app
from tests.conftest import FixedClock, asgi_client, make_settings, wait_answer_ready
from tests.e2e.test_mcp_server import connected
from tests.live_server import serve
from tests.website_server import Site, website
from use_cases.knowledge.ingest import IngestRequest, IngestSource

QUESTION = "Which bay do visitors park in?"
runner = CliRunner()


@pytest.fixture
def site() -> Iterator[Site]:
    with website() as served:
        served.html("/", '<a href="/parking.html">Parking</a> <a href="/travel.html">Travel</a>')
        served.html(
            "/parking.html",
            "<h1>Visitor parking</h1><p>Visitors park in bay seven, next to the loading dock.</p>",
        )
        served.html(
            "/travel.html", "<h1>Travel</h1><p>Train tickets are refunded within 30 days.</p>"
        )
        yield served


@pytest.fixture
def links_container(data_dir: Path, tmp_path: Path) -> Iterator[Container]:
    """A website source may read 127.0.0.1 at once; folder sources under tmp_path/shares."""
    settings = make_settings(
        data_dir,
        source_allowed_hosts="127.0.0.1",
        source_request_delay_s=0,
        source_folder_roots=str(tmp_path / "shares"),
    )
    built = bootstrap(settings, clock=FixedClock())
    start_job_worker(built)
    yield built
    built.close()


@pytest.fixture
async def http(links_container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(links_container) as client:
        yield client


async def _sync(http: httpx.AsyncClient, body: dict[str, Any]) -> None:
    created = await http.post("/api/sources", json=body)
    assert created.status_code == 201, created.text
    queued = await http.post(f"/api/sources/{body['name']}/sync")
    assert queued.status_code == 202, queued.text
    for _ in range(600):
        job = (await http.get(queued.headers["location"])).json()
        if job["status"] in ("done", "failed"):
            break
        await asyncio.sleep(0.05)
    assert job["status"] == "done", job


async def test_a_synced_page_is_cited_by_its_url_and_a_folder_file_has_no_link(
    http: httpx.AsyncClient, site: Site, tmp_path: Path
) -> None:
    folder = tmp_path / "shares" / "handbook"
    folder.mkdir(parents=True)
    (folder / "lockers.md").write_text("# Lockers\n\nVisitors keep bags in locker room B.\n")
    await _sync(http, {"name": "intranet", "url": f"{site.base}/"})
    await _sync(http, {"name": "handbook", "folder": str(folder)})
    page_url = f"{site.base}/parking.html"

    hits = (await http.get("/api/search", params={"q": QUESTION, "limit": 10})).json()["hits"]
    page_hits = [hit for hit in hits if hit.get("link") == page_url]
    assert page_hits and "bay seven" in page_hits[0]["text"], hits
    lockers = [hit for hit in hits if hit["source"] == "handbook/lockers.md"]
    assert lockers and all("link" not in hit for hit in lockers), hits
    linked = {hit["link"] for hit in hits if "link" in hit}
    assert linked <= {page_url, f"{site.base}/travel.html", f"{site.base}/"}, linked

    answer = (await http.post("/chat", json={"message": QUESTION})).json()
    assert "bay seven" in answer["answer"], answer["answer"]
    cited = [s for s in answer["sources"] if s.get("link") == page_url]
    assert cited and cited[0]["cited"], answer["sources"]
    others = [s for s in answer["sources"] if not str(s["source"]).startswith("intranet/")]
    assert all("link" not in s for s in others), others  # files and the sample: no key

    messages = (await http.get(f"/chats/{answer['chat_id']}/messages")).json()["messages"]
    stored = messages[-1]["sources"]
    # the link is kept with the answer and read back; the rest have none in history too
    assert [s.get("link") for s in stored] == [s.get("link") for s in answer["sources"]]
    assert [s["source"] for s in stored] == [s["source"] for s in answer["sources"]]

    streamed = await http.post("/chat/stream", json={"message": QUESTION})
    [data_line] = [line for line in streamed.text.splitlines() if line.startswith("2:")]
    [data] = json.loads(data_line[2:])
    assert page_url in [s.get("link") for s in data["sources"]], data["sources"]

    completion = await http.post(
        "/v1/chat/completions",
        json={"model": "almanac", "messages": [{"role": "user", "content": QUESTION}]},
    )
    assert completion.status_code == 200, completion.text
    sources = completion.json()["choices"][0]["message"]["almanac"]["sources"]
    page = [s for s in sources if str(s["source"]).startswith("intranet/")]
    assert page and page[0]["link"] == page_url, sources  # the page itself, not this server
    files = [s for s in sources if not str(s["source"]).startswith("intranet/")]
    assert all(s["link"].endswith(f"/api/documents/{s['document_id']}") for s in files), files


@pytest.mark.parametrize(
    "stored",
    [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "https://intranet.example/a page",
        'https://intranet.example/"onmouseover="alert(1)',
        "//intranet.example/no-scheme",
    ],
)
async def test_a_stored_link_that_is_not_plain_http_or_https_is_never_shown(
    links_container: Container, http: httpx.AsyncClient, stored: str
) -> None:
    text = b"# Forklifts\n\nForklift drivers renew their licence every three years.\n"
    read = IngestSource(source="forklifts.md", name="forklifts.md", read=lambda: text, link=stored)
    report = links_container.knowledge.ingest.run(IngestRequest(sources=[read]))
    assert [item.status for item in report.items] == ["added"], report
    wait_answer_ready(links_container, report)
    question = "How often do forklift drivers renew their licence?"
    hits = (await http.get("/api/search", params={"q": question})).json()["hits"]
    forklift = [hit for hit in hits if hit["source"] == "forklifts.md"]
    assert forklift and all("link" not in hit for hit in forklift), hits
    answer = (await http.post("/chat", json={"message": question})).json()
    assert any(s["source"] == "forklifts.md" for s in answer["sources"]), answer["sources"]
    assert stored not in json.dumps(answer) and "link" not in json.dumps(answer["sources"])


def test_the_cli_shows_a_synced_pages_link_under_its_hit_and_its_answer(
    env: None, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("SOURCE_REQUEST_DELAY_S", "0")
    page_url = f"{site.base}/parking.html"
    for args in (
        ("sources", "add", "intranet", "--url", f"{site.base}/"),
        ("sources", "sync", "intranet"),
    ):
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.stderr

    searched = runner.invoke(app, ["search", QUESTION])
    assert searched.exit_code == 0, searched.stderr
    lines = searched.stdout.splitlines()
    assert f"   {page_url}" in lines, searched.stdout

    asked = runner.invoke(app, ["ask", QUESTION])
    assert asked.exit_code == 0, asked.stderr
    assert f"[1] {page_url}" in asked.stdout.splitlines(), asked.stdout
    as_json = json.loads(runner.invoke(app, ["ask", QUESTION, "--json"]).stdout)
    assert [s["link"] for s in as_json["sources"] if "link" in s] == [page_url]


async def test_mcp_search_and_ask_give_a_pages_link(
    links_container: Container, http: httpx.AsyncClient, site: Site
) -> None:
    await _sync(http, {"name": "intranet", "url": f"{site.base}/"})
    page_url = f"{site.base}/parking.html"
    with serve(create_app(container=links_container)) as url:
        async with connected(url, {}) as client:
            search = await client.call_tool("search_knowledge_base", {"query": QUESTION})
            ask = await client.call_tool("ask", {"question": QUESTION})
    assert not search.is_error and search.structured_content is not None
    hits = search.structured_content["hits"]
    assert [h["link"] for h in hits if h["source"] == f"intranet/{page_url}"] == [page_url]
    assert all("link" not in h for h in hits if not h["source"].startswith("intranet/"))
    assert not ask.is_error and ask.structured_content is not None
    sources = ask.structured_content["sources"]
    assert [s["link"] for s in sources if "link" in s] == [page_url], sources
