"""One user's attachments are read one at a time and within a cap on the bytes of theirs in
flight (a 3 MB attachment cost 257 CPU-s to embed, with no cap per user), through
the real app: while a user's file is held in its embedding, their next one waits its turn
(or, past the byte cap, is refused with 429), and another user's goes straight through."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, make_settings
from use_cases.access.domain import CLI_ADMIN

#: Longest a safety net waits for the other side (far past what the waits take).
WAIT_S = 120
#: CHAT_FILE_USER_IN_FLIGHT_BYTES here: one file of `SIZE` bytes and a half fit.
CAP = 1000
SIZE = 600
HOLD = "heldinembedding"


def note(word: str, size: int = SIZE) -> bytes:
    text = f"# Notes {word}\n\nThe {word} hives are inspected on Thursdays.\n"
    return (text + "x" * (size - len(text) - 1) + "\n").encode()


class HeldEmbedder:
    """The real embedder, except that texts naming `HOLD` wait for `release`."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.holding = threading.Event()
        self.release = threading.Event()

    def embed_documents(self, texts: Sequence[str]) -> Any:
        if any(HOLD in text for text in texts):
            self.holding.set()
            self.release.wait(WAIT_S)
        return self._real.embed_documents(texts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture(scope="module")
def world(
    sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Container, dict[str, dict[str, str]], dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("user-limits") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    settings = make_settings(
        data_dir,
        auth_enabled=True,
        chat_file_user_concurrency=1,
        chat_file_user_in_flight_bytes=CAP,
    )
    container = bootstrap(settings, clock=FixedClock())

    async def keys() -> dict[str, dict[str, str]]:
        headers = {}
        for user in ("ann", "bob"):
            created = await container.access.create_key.execute(
                CLI_ADMIN, user_id=user, role="user"
            )
            headers[user] = {"Authorization": f"Bearer {created.secret}"}
        return headers

    history = container.adapters.history
    chats = {}
    for user in ("ann", "bob"):
        history.ensure_user(user)
        chats[user] = history.get_or_create_chat(None, user, "Notes").id
    yield container, asyncio.run(keys()), chats
    container.close()


@pytest.fixture
async def http(world: tuple[Container, Any, Any]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container=world[0]))
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as client:
        yield client


@pytest.fixture
def held(
    world: tuple[Container, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[HeldEmbedder]:
    attach = world[0].conversation_files.attach_file
    embedder = HeldEmbedder(attach._embedder)
    monkeypatch.setattr(attach, "_embedder", embedder)
    yield embedder
    embedder.release.set()


async def _held_upload(
    http: httpx.AsyncClient, world: Any, held: HeldEmbedder, user: str, word: str
) -> asyncio.Task[httpx.Response]:
    """`user`'s upload of a note on `word`, started and held in its embedding."""
    task = asyncio.create_task(attach(http, world, user, note(f"{HOLD} {word}")))
    if not await asyncio.to_thread(held.holding.wait, WAIT_S):
        pytest.fail("the held upload never reached its embedding")
    return task


async def attach(http: httpx.AsyncClient, world: Any, user: str, data: bytes) -> httpx.Response:
    _, keys, chats = world
    return await http.post(
        f"/api/conversations/{chats[user]}/files",
        files={"file": ("notes.md", data, "text/markdown")},
        headers=keys[user],
    )


async def test_a_users_second_file_waits_its_turn_while_another_users_goes_through(
    http: httpx.AsyncClient, world: Any, held: HeldEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    attach_file = world[0].conversation_files.attach_file
    prepared: list[str] = []
    real_prepare = attach_file._prepare

    def recording(request: Any) -> Any:
        prepared.append(request.filename + ":" + request.data.decode().split("\n", 1)[0])
        return real_prepare(request)

    monkeypatch.setattr(attach_file, "_prepare", recording)
    first = await _held_upload(http, world, held, "ann", "first")
    second = asyncio.create_task(attach(http, world, "ann", note("second", 300)))
    try:
        other = await attach(http, world, "bob", note("bobs"))
        assert other.status_code == 201, other.text  # bob's is read while ann's is held
        assert not second.done()
        assert prepared == [f"notes.md:# Notes {HOLD} first", "notes.md:# Notes bobs"]
    finally:
        held.release.set()
    assert (await first).status_code == 201
    assert (await second).status_code == 201  # then ann's second, in its turn
    assert prepared[-1] == "notes.md:# Notes second"


async def test_a_users_bytes_in_flight_past_the_cap_are_a_429_naming_it(
    http: httpx.AsyncClient, world: Any, held: HeldEmbedder
) -> None:
    first = await _held_upload(http, world, held, "ann", "capped")
    try:
        refused = await attach(http, world, "ann", note("again"))
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert int(refused.headers["retry-after"]) >= 1
        problem = refused.json()
        assert problem["code"] == "too_much_in_flight"
        assert "CHAT_FILE_USER_IN_FLIGHT_BYTES" in problem["detail"]
        assert f"{CAP:,} bytes" in problem["detail"]
        other = await attach(http, world, "bob", note("bob again"))
        assert other.status_code == 201, other.text
    finally:
        held.release.set()
    assert (await first).status_code == 201
    again = await attach(http, world, "ann", note("again"))  # the bytes are free again
    assert again.status_code == 201, again.text
