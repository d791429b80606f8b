"""Files attached to a chat, through the real app: the offline model answers from a file in
its chat and cites it, and the file is never reachable from another chat or another user
(the file routes, chat turns, global search, the chat routes, names that try to leave the
chat's directory). One auth-enabled container for the module; each test makes its own chats.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from services.budgets import BUDGET
from tests import hostile_inputs
from tests.conftest import FixedClock, make_settings
from tests.image_samples import image_bytes, png_claiming
from tests.memory_peak import tree_peak
from tests.s3_server import S3Bucket
from use_cases.access.domain import CLI_ADMIN
from use_cases.conversations.files import AttachRequest
from use_cases.shared.errors import InputTooCostly

MiB = 1024 * 1024

NOTE = b"""# Rooftop Beehives

The rooftop beehives are inspected every Thursday morning by the beekeeping volunteers.
Each volunteer looks after two hives, and the honey harvest is shared with the team in
September.
"""
QUESTION = "When are the rooftop beehives inspected?"


class World:
    def __init__(self, container: Container, headers: dict[str, dict[str, str]]) -> None:
        self.container = container
        self.headers = headers


@pytest.fixture(scope="module")
def world(sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("chat-files") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    container = bootstrap(make_settings(data_dir, auth_enabled=True), clock=FixedClock())

    async def keys() -> dict[str, dict[str, str]]:
        headers = {}
        for user, role in (("ana", "user"), ("bob", "user"), ("root", "admin")):
            created = await container.access.create_key.execute(CLI_ADMIN, user_id=user, role=role)
            headers[user] = {"Authorization": f"Bearer {created.secret}"}
        return headers

    yield World(container, asyncio.run(keys()))
    container.close()


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container=world.container))
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
        yield http


async def _chat(client: httpx.AsyncClient, headers: dict[str, str], message: str) -> dict:
    response = await client.post("/chat", json={"message": message}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _ask(
    client: httpx.AsyncClient, headers: dict[str, str], chat_id: str | None = None
) -> dict:
    body = {"message": QUESTION} | ({"chat_id": chat_id} if chat_id else {})
    response = await client.post("/chat", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _attach(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    chat_id: str,
    name: str = "beehives.md",
    data: bytes = NOTE,
) -> httpx.Response:
    return await client.post(
        f"/api/conversations/{chat_id}/files",
        files={"file": (name, data, "text/markdown")},
        headers=headers,
    )


def _from_attachments(reply: dict) -> bool:
    return any(s["source"].startswith("attachment:") for s in reply["sources"]) or (
        "thursday" in reply["answer"].lower()
    )


async def test_a_file_is_answered_from_and_cited_in_its_chat_and_nowhere_else(
    client: httpx.AsyncClient, world: World
) -> None:
    ana, bob, root = world.headers["ana"], world.headers["bob"], world.headers["root"]
    chat_id = (await _chat(client, ana, "What is the minimum password length?"))["chat_id"]

    created = await _attach(client, ana, chat_id)
    assert created.status_code == 201, created.text
    file = created.json()
    assert (file["name"], file["media_type"], file["source"]) == (
        "beehives.md",
        "text/markdown",
        "attachment:beehives.md",
    )
    assert file["created"] is True and file["chunk_count"] >= 1 and len(file["id"]) == 32
    again = await _attach(client, ana, chat_id, name="copy.md")
    assert again.status_code == 200 and again.json()["id"] == file["id"]
    assert again.json()["created"] is False

    listed = await client.get(f"/api/conversations/{chat_id}/files", headers=ana)
    assert [f["id"] for f in listed.json()] == [file["id"]]
    meta = await client.get(f"/api/conversations/{chat_id}/files/{file['id']}", headers=ana)
    assert meta.status_code == 200 and meta.json()["sha256"] == file["sha256"]
    content = await client.get(
        f"/api/conversations/{chat_id}/files/{file['id']}/content", headers=ana
    )
    assert content.status_code == 200 and content.content == NOTE
    assert content.headers["content-type"].startswith("text/markdown")
    assert content.headers["content-disposition"].startswith('attachment; filename="beehives.md"')

    # Asked in its chat: answered from the file, and the file is cited.
    reply = await _ask(client, ana, chat_id)
    assert "thursday" in reply["answer"].lower(), reply["answer"]
    assert "attachment:beehives.md" in {s["source"] for s in reply["sources"]}
    cited = next(s for s in reply["sources"] if s["source"] == "attachment:beehives.md")
    assert cited["title"] == "beehives.md" and cited["document_id"] is None
    messages = await client.get(f"/chats/{chat_id}/messages", headers=ana)
    assert messages.json()["messages"][-1]["sources"][0]["source"] == "attachment:beehives.md"

    # The web app's stream (useChat, `POST /api/chat`) continuing the chat searches it too.
    ui = await client.post(
        "/api/chat",
        json={
            "trigger": "submit-message",
            "id": chat_id,
            "messages": [
                {"id": "m1", "role": "user", "parts": [{"type": "text", "text": QUESTION}]}
            ],
        },
        headers=ana,
    )
    assert ui.status_code == 200 and "Thursday" in ui.text

    # The same user's other chat, another user, an admin's own chat: never from the file.
    assert not _from_attachments(await _ask(client, ana))
    assert not _from_attachments(await _ask(client, bob))
    assert not _from_attachments(await _ask(client, root))

    # Global search does not see attached files.
    search = await client.get("/api/search", params={"q": QUESTION, "limit": 20}, headers=ana)
    assert search.status_code == 200
    assert not [h for h in search.json()["hits"] if "attachment" in str(h.get("source"))]
    assert "beekeeping" not in search.text.lower()  # no passage of the file, under any name


async def test_another_user_and_another_chat_cannot_reach_the_file(
    client: httpx.AsyncClient, world: World
) -> None:
    ana, bob, root = world.headers["ana"], world.headers["bob"], world.headers["root"]
    chat_id = (await _chat(client, ana, "How often must passwords be rotated?"))["chat_id"]
    other_id = (await _chat(client, ana, "Who approves vendor reviews?"))["chat_id"]
    bobs_id = (await _chat(client, bob, "What is the on-call rotation?"))["chat_id"]
    file_id = (await _attach(client, ana, chat_id)).json()["id"]
    base = f"/api/conversations/{chat_id}/files"

    for path in (base, f"{base}/{file_id}", f"{base}/{file_id}/content"):
        response = await client.get(path, headers=bob)
        assert response.status_code == 404, path
        assert response.json()["detail"] == f"No chat with id {chat_id}."  # as a missing chat
    assert (await client.delete(f"{base}/{file_id}", headers=bob)).status_code == 404
    assert (
        await _attach(client, bob, chat_id, name="mine.md", data=b"# Mine\nBob's.")
    ).status_code == 404
    # The file id under the owner's other chat, under bob's chat, and in the chat routes.
    for chat in (other_id, bobs_id):
        for suffix in ("", "/content"):
            path = f"/api/conversations/{chat}/files/{file_id}{suffix}"
            headers = ana if chat == other_id else bob
            assert (await client.get(path, headers=headers)).status_code == 404, path
    assert (await client.get(f"/chats/{chat_id}/messages", headers=bob)).status_code == 404
    # Nor can bob ask in ana's chat, where its search would see the file.
    turn = await client.post("/chat", json={"message": QUESTION, "chat_id": chat_id}, headers=bob)
    assert turn.status_code == 404 and "Thursday" not in turn.text
    assert (await client.get(f"/chats/{file_id}/messages", headers=ana)).status_code == 404
    # Names and ids that try to leave the chat's directory.
    for bad in ("..%2F..%2Fapp.db", "..", "%2E%2E", "app.db", file_id.upper()):
        response = await client.get(f"{base}/{bad}/content", headers=ana)
        assert response.status_code == 404, bad
    traversal = await _attach(client, ana, chat_id, name="../../../app.md", data=b"# App\nNot.")
    assert traversal.status_code == 201 and traversal.json()["name"] == "app.md"
    files_dir = world.container.settings.chat_files_path
    assert sorted(p.name for p in (files_dir / chat_id).iterdir()) == sorted(
        [file_id, traversal.json()["id"]]
    )
    # An admin acting for ana reaches them, as for her chats.
    acting = await client.get(base, params={"user_id": "ana"}, headers=root)
    assert acting.status_code == 200 and len(acting.json()) == 2
    assert (await client.get(base, headers=root)).status_code == 404  # not root's own chat


async def test_refused_uploads_write_nothing(client: httpx.AsyncClient, world: World) -> None:
    ana = world.headers["ana"]
    chat_id = (await _chat(client, ana, "What is the minimum password length?"))["chat_id"]
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    cases = [
        ("image.txt", png, 422, "invalid_document"),  # a PNG's signature, then no PNG
        ("program.exe", b"MZ\x90\x00", 415, "unsupported_document"),
        ("empty.md", b"  \n", 422, None),
        ("big.md", b"# Big\n" + b"word " * (2 * 1024 * 1024 + 20_000), 413, "payload_too_large"),
    ]
    for name, data, status, code in cases:
        response = await _attach(client, ana, chat_id, name=name, data=data)
        assert response.status_code == status, (name, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        if code:
            assert response.json()["code"] == code
    missing = await client.post(f"/api/conversations/{chat_id}/files", headers=ana)
    assert missing.status_code == 422
    assert (await client.get(f"/api/conversations/{chat_id}/files", headers=ana)).json() == []
    assert not (world.container.settings.chat_files_path / chat_id).exists()


async def test_an_image_is_stored_listed_and_downloaded_byte_for_byte_by_what_its_bytes_are(
    client: httpx.AsyncClient, world: World
) -> None:
    ana = world.headers["ana"]
    chat_id = (await _chat(client, ana, "What is the minimum password length?"))["chat_id"]
    base = f"/api/conversations/{chat_id}/files"
    stored = {}
    # The client's name and content type say nothing that counts: the magic number does.
    for fmt, name, claimed in (
        ("PNG", "roof.png", "image/png"),
        ("JPEG", "roof.png", "text/plain"),
        ("GIF", "plan", "application/octet-stream"),
        ("WEBP", "hives.md", "text/markdown"),
    ):
        data = image_bytes(fmt)
        response = await client.post(base, files={"file": (name, data, claimed)}, headers=ana)
        assert response.status_code == 201, response.text
        stored[response.json()["id"]] = (data, f"image/{fmt.lower()}")
        assert response.json()["chunk_count"] == 0 and response.json()["description"] is None

    listed = (await client.get(base, headers=ana)).json()
    assert {f["id"]: f["media_type"] for f in listed} == {k: v[1] for k, v in stored.items()}
    assert all(f["file_type"] == f["media_type"] and f["description"] is None for f in listed)
    for file_id, (data, media_type) in stored.items():
        for path in (f"{base}/{file_id}/content", f"/api/conversations/files/{file_id}/download"):
            download = await client.get(path, headers=ana)
            assert download.status_code == 200 and download.content == data
            assert download.headers["content-type"] == media_type
            assert download.headers["x-content-type-options"] == "nosniff"
            assert download.headers["content-disposition"].startswith("attachment;")
    # An image is no text: nothing of it reaches the chat's search.
    assert world.container.adapters.chat_files.chunks(chat_id)[0] == []


async def test_an_image_bomb_svg_or_broken_image_is_a_problem_and_writes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    ana = world.headers["ana"]
    chat_id = (await _chat(client, ana, "What is the minimum password length?"))["chat_id"]
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    cases = [
        # 92 bytes whose header claims 40,000 x 40,000 pixels: refused before any decoding.
        ("bomb.png", png_claiming(40_000, 40_000), 413, "input_too_costly"),
        ("wide.png", png_claiming(16_000, 8_000), 413, "input_too_costly"),
        ("logo.svg", svg, 415, "unsupported_document"),
        ("cut.jpg", image_bytes("JPEG")[:60], 422, "invalid_document"),
    ]
    for name, data, status, code in cases:
        response = await _attach(client, ana, chat_id, name=name, data=data)
        assert response.status_code == status, (name, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code, response.text
        assert "Traceback" not in response.text
    assert (await client.get(f"/api/conversations/{chat_id}/files", headers=ana)).json() == []
    assert not (world.container.settings.chat_files_path / chat_id).exists()


async def test_a_fan_out_pdf_is_refused_by_its_content_budget_and_writes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    """What the refusal costs the server is measured by bench/bench_hostile_inputs.py."""
    ana = world.headers["ana"]
    chat_id = (await _chat(client, ana, "What is the minimum password length?"))["chat_id"]
    # ~8 KB, 20 MiB of drawn page content: refused by the PDF content budget before PDFium
    # reads a page (the CPU budget, tests/integration/test_parse_pool.py, is the backstop:
    # its refusal would name seconds of CPU).
    pdf = hostile_inputs.fan_out_pdf(pages=40, content=MiB // 2)
    assert len(pdf) < 10_000
    response = await client.post(
        f"/api/conversations/{chat_id}/files",
        files={"file": ("fan-out.pdf", pdf, "application/pdf")},
        headers=ana,
    )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "input_too_costly"
    detail = response.json()["detail"]
    assert f"more than {BUDGET.max_pdf_content:,} bytes of page content" in detail
    assert "of CPU" not in detail
    assert (await client.get(f"/api/conversations/{chat_id}/files", headers=ana)).json() == []
    assert not (world.container.settings.chat_files_path / chat_id).exists()


async def test_a_front_matter_repeating_a_mib_through_500_aliases_is_413_at_little_cost(
    client: httpx.AsyncClient, world: World
) -> None:
    """A 1 MB Markdown file whose YAML front matter repeats a 1 MiB string through
    500 aliases was accepted (201) and raised the server's peak by 1.5 GB. The front matter's
    expansion is measured before any object is built and refused past its budget; the whole
    process tree (this process, the fork server, the parse child) grows by tens of MB."""
    ana = world.headers["ana"]
    chat_id = (await _chat(client, ana, "What is the minimum password length?"))["chat_id"]
    markdown = hostile_inputs.yaml_alias_markdown(MiB, 500)
    with tree_peak(os.getpid()) as peak:
        response = await _attach(client, ana, chat_id, name="aliases.md", data=markdown)
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "input_too_costly"
    detail = response.json()["detail"]
    assert f"more than {BUDGET.max_yaml_expanded:,} bytes once its aliases are resolved" in detail
    assert peak.growth < 300 * MiB, peak
    assert (await client.get(f"/api/conversations/{chat_id}/files", headers=ana)).json() == []


async def test_a_pdf_whose_xmp_inflates_to_a_gib_is_413_at_little_cost(
    client: httpx.AsyncClient, world: World
) -> None:
    """A PDF whose `/Metadata` stream inflates to gigabytes took the parse child to
    4 GB (PDFium parses the XMP as XML when it opens the file: ~7 times its size), unseen by
    the content budget. The XMP is charged with the page content now and refused after
    inflating 16 MiB of it, before PDFium opens the file (1 GiB here: ~9 GB unbounded)."""
    ana = world.headers["ana"]
    chat_id = (await _chat(client, ana, "What is the minimum password length?"))["chat_id"]
    pdf = hostile_inputs.metadata_bomb_pdf(1024 * MiB)
    assert len(pdf) < 2 * MiB
    with tree_peak(os.getpid()) as peak:
        response = await client.post(
            f"/api/conversations/{chat_id}/files",
            files={"file": ("xmp.pdf", pdf, "application/pdf")},
            headers=ana,
        )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "input_too_costly"
    detail = response.json()["detail"]
    assert f"more than {BUDGET.max_pdf_content:,} bytes of page content and metadata" in detail
    assert peak.growth < 300 * MiB, peak
    assert (await client.get(f"/api/conversations/{chat_id}/files", headers=ana)).json() == []


@pytest.mark.parametrize("stream", ["/ToUnicode", "/FontFile2"])
async def test_a_pdf_whose_font_stream_inflates_to_300_mib_is_413_at_little_cost(
    client: httpx.AsyncClient, world: World, stream: str
) -> None:
    """A 1.6 KB PDF whose ToUnicode map inflated to 300 MiB was accepted as an attachment at
    +640 MB (PDFium inflates a font's side streams when it loads the font). They are charged
    with the page content now, refused before PDFium opens the file."""
    ana = world.headers["ana"]
    chat_id = (await _chat(client, ana, "What is the minimum password length?"))["chat_id"]
    pdf = hostile_inputs.font_stream_bomb_pdf(stream, 300 * MiB)
    with tree_peak(os.getpid()) as peak:
        response = await client.post(
            f"/api/conversations/{chat_id}/files",
            files={"file": ("font.pdf", pdf, "application/pdf")},
            headers=ana,
        )
    assert response.status_code == 413, response.text
    assert f"more than {BUDGET.max_pdf_content:,} bytes" in response.json()["detail"]
    assert peak.growth < 300 * MiB, peak


def test_an_attachment_is_parsed_under_the_lower_memory_budget_of_chat_files(
    tmp_path: Path,
) -> None:
    """Any user may attach a file, so its parse has less memory than an admin's upload
    (CHAT_FILE_PARSE_MEMORY_MB, 320 MiB, against PARSE_MEMORY_MB, 1,024): an 8 MB Markdown
    file that needs ~180 MiB to read is refused at 128 and names that budget."""
    settings = make_settings(
        tmp_path / "data", load_sample_data=False, chat_file_parse_memory_mb=128
    )
    assert settings.chat_files.parse_memory_mb < settings.documents.parse_memory_mb
    container = bootstrap(settings, clock=FixedClock())
    para = "The quick brown fox jumps over the lazy dog near the river bank today. " * 8
    big = "# Title\n\n" + "".join(f"## Part {i}\n\n{para}\n\n" for i in range(20_000))
    try:
        user = container.settings.auth.default_user_id
        chat = container.adapters.history.get_or_create_chat(None, user, "offline-extractive")
        with pytest.raises(
            InputTooCostly,
            match=r"more than 128 MiB of memory to read \(CHAT_FILE_PARSE_MEMORY_MB\)",
        ):
            asyncio.run(
                container.conversation_files.attach_file.execute(
                    AttachRequest(user, chat.id, "big.md", big.encode()[: 8 * MiB])
                )
            )
    finally:
        container.close()


async def test_deleting_the_file_or_the_chat_removes_its_passages_and_bytes(
    client: httpx.AsyncClient, world: World
) -> None:
    ana = world.headers["ana"]
    chat_id = (await _chat(client, ana, "What is the minimum password length?"))["chat_id"]
    file_id = (await _attach(client, ana, chat_id)).json()["id"]
    files_dir = world.container.settings.chat_files_path / chat_id

    deleted = await client.delete(f"/api/conversations/{chat_id}/files/{file_id}", headers=ana)
    assert deleted.status_code == 204
    assert not (files_dir / file_id).exists()
    assert not _from_attachments(await _ask(client, ana, chat_id))
    gone = await client.get(f"/api/conversations/{chat_id}/files/{file_id}", headers=ana)
    assert gone.status_code == 404

    file_id = (await _attach(client, ana, chat_id)).json()["id"]
    assert (files_dir / file_id).exists()
    assert (await client.delete(f"/chats/{chat_id}", headers=ana)).status_code == 204
    assert not files_dir.exists()
    assert world.container.adapters.chat_files.list(chat_id) == []
    assert world.container.adapters.chat_files.chunks(chat_id)[0] == []


async def test_on_postgresql_a_file_is_answered_in_its_chat_only_and_goes_with_the_chat(
    pg_url: str, tmp_path: Path
) -> None:
    """The same path on PostgreSQL (an empty knowledge base: only the file can answer)."""
    container = bootstrap(
        make_settings(tmp_path / "data", database_url=pg_url, load_sample_data=False),
        clock=FixedClock(),
    )
    try:
        transport = httpx.ASGITransport(app=create_app(container=container))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            chat_id = (await _chat(client, {}, "Hello?"))["chat_id"]
            created = await _attach(client, {}, chat_id)
            assert created.status_code == 201, created.text
            assert (await _attach(client, {}, chat_id)).status_code == 200

            reply = await _ask(client, {}, chat_id)
            assert "thursday" in reply["answer"].lower(), reply["answer"]
            assert reply["sources"][0]["source"] == "attachment:beehives.md"
            assert not _from_attachments(await _ask(client, {}))

            assert (await client.delete(f"/chats/{chat_id}")).status_code == 204
            assert container.adapters.chat_files.chunks(chat_id)[0] == []
            assert not (container.settings.chat_files_path / chat_id).exists()
    finally:
        container.close()


async def test_with_an_s3_bucket_the_bytes_live_there_and_go_with_the_file_and_the_chat(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    """CHAT_FILES_S3_BUCKET: uploads, downloads and deletes go to the bucket (a real
    S3-compatible server), nothing to the local disk; answers come from the file as before."""
    settings = make_settings(
        tmp_path / "data",
        load_sample_data=False,
        chat_files_s3_bucket=s3_bucket.name,
        s3_endpoint_url=s3_bucket.endpoint_url,
    )
    container = bootstrap(settings, clock=FixedClock())
    try:
        transport = httpx.ASGITransport(app=create_app(container=container))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            chat_id = (await _chat(client, {}, "Hello?"))["chat_id"]
            first = (await _attach(client, {}, chat_id)).json()["id"]
            second = (await _attach(client, {}, chat_id, "other.md", NOTE + b"\nMore.")).json()
            assert s3_bucket.keys() == sorted(
                f"chat_files/{chat_id}/{file_id}" for file_id in (first, second["id"])
            )
            assert not settings.chat_files_path.exists()

            base = f"/api/conversations/{chat_id}/files"
            assert (await client.get(f"{base}/{first}/content")).content == NOTE
            reply = await _ask(client, {}, chat_id)
            assert "thursday" in reply["answer"].lower(), reply["answer"]

            photo = image_bytes("WEBP")
            image = (await _attach(client, {}, chat_id, "hives.webp", photo)).json()
            assert image["media_type"] == "image/webp" and image["chunk_count"] == 0
            stored = s3_bucket.keys()  # a listing of the bucket, not a dict's keys
            assert f"chat_files/{chat_id}/{image['id']}" in stored
            assert (await client.get(f"{base}/{image['id']}/content")).content == photo
            assert (await client.delete(f"{base}/{image['id']}")).status_code == 204

            assert (await client.delete(f"{base}/{first}")).status_code == 204
            assert s3_bucket.keys() == [f"chat_files/{chat_id}/{second['id']}"]
            assert (await client.delete(f"/chats/{chat_id}")).status_code == 204
            assert s3_bucket.keys() == []
    finally:
        container.close()
