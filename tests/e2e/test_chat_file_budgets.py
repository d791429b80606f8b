"""What a plain user's attachments may cost, through the real app with authentication on: the
chunks their files embed a minute (CHAT_FILE_USER_CHUNKS_PER_MINUTE: under it a file is
attached, past it 429 with Retry-After, and a file that could never fit 413), and a workbook
of more cells than MAX_WORKBOOK_CELLS (413 naming the setting). A refused file writes
nothing. The budget's buckets are the real in-memory ones, on a clock the test advances."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from services.token_buckets import MemoryTokenBuckets
from tests import hostile_inputs
from tests.conftest import FixedClock, make_settings
from tests.unit.test_rate_limit import ManualClock
from use_cases.access.domain import CLI_ADMIN

#: CHAT_FILE_USER_CHUNKS_PER_MINUTE here: one note of `SECTIONS` chunks fits, two do not.
PER_MINUTE = 10
SECTIONS = 6
#: MAX_WORKBOOK_CELLS here.
CELLS = 100

World = tuple[Container, dict[str, dict[str, str]], ManualClock]


def note(word: str, sections: int = SECTIONS) -> bytes:
    """A note of `sections` short sections: one chunk each."""
    return "".join(
        f"# {word} part {n}\n\nThe {word} hives of part {n} are inspected on day {n}.\n\n"
        for n in range(sections)
    ).encode()


@pytest.fixture(scope="module")
def world(sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("chunk-budget") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    settings = make_settings(
        data_dir,
        auth_enabled=True,
        chat_file_user_chunks_per_minute=PER_MINUTE,
        max_workbook_cells=CELLS,
    )
    container = bootstrap(settings, clock=FixedClock())
    clock = ManualClock()
    # The budget as built, its buckets on a clock the test advances instead of waiting.
    budget = container.conversation_files.attach_file._budget
    assert budget is not None and budget.per_minute == PER_MINUTE
    budget._buckets = MemoryTokenBuckets(clock)

    async def keys() -> dict[str, dict[str, str]]:
        headers = {}
        for user in ("ann", "bob", "cid"):
            created = await container.access.create_key.execute(
                CLI_ADMIN, user_id=user, role="user"
            )
            headers[user] = {"Authorization": f"Bearer {created.secret}"}
        return headers

    yield container, asyncio.run(keys()), clock
    container.close()


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container=world[0]))
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as client:
        yield client


def new_chat(world: World, user: str) -> str:
    history = world[0].adapters.history
    history.ensure_user(user)
    return history.get_or_create_chat(None, user, "Notes").id


async def attach(
    http: httpx.AsyncClient, world: World, user: str, chat: str, name: str, data: bytes
) -> httpx.Response:
    return await http.post(
        f"/api/conversations/{chat}/files",
        files={"file": (name, data, "application/octet-stream")},
        headers=world[1][user],
    )


async def test_a_users_files_past_the_chunk_budget_wait_their_minute(
    http: httpx.AsyncClient, world: World
) -> None:
    chat = new_chat(world, "ann")
    first = await attach(http, world, "ann", chat, "north.md", note("north"))
    assert first.status_code == 201, first.text
    assert first.json()["chunk_count"] == SECTIONS

    second = await attach(http, world, "ann", chat, "south.md", note("south"))
    assert second.status_code == 429, second.text
    problem = second.json()
    assert problem["code"] == "rate_limited"
    assert "CHAT_FILE_USER_CHUNKS_PER_MINUTE" in problem["detail"]
    assert int(second.headers["Retry-After"]) >= 1
    listed = await http.get(f"/api/conversations/{chat}/files", headers=world[1]["ann"])
    assert [f["name"] for f in listed.json()] == ["north.md"]  # nothing of it written

    other = await attach(http, world, "bob", new_chat(world, "bob"), "s.md", note("s"))
    assert other.status_code == 201, other.text  # another user's budget is their own

    world[2].advance(int(second.headers["Retry-After"]))
    again = await attach(http, world, "ann", chat, "south.md", note("south"))
    assert again.status_code == 201, again.text


async def test_a_file_of_more_chunks_than_the_budget_is_413_naming_it(
    http: httpx.AsyncClient, world: World
) -> None:
    chat = new_chat(world, "cid")
    refused = await attach(http, world, "cid", chat, "long.md", note("long", PER_MINUTE + 1))
    assert refused.status_code == 413, refused.text
    assert "CHAT_FILE_USER_CHUNKS_PER_MINUTE" in refused.json()["detail"]


async def test_a_workbook_past_the_cell_budget_is_413_naming_the_setting(
    http: httpx.AsyncClient, world: World
) -> None:
    chat = new_chat(world, "cid")
    data = hostile_inputs.repeated_value_ods(rows=20, columns=10)  # 200 cells, a few hundred B
    refused = await attach(http, world, "cid", chat, "filled.ods", data)
    assert refused.status_code == 413, refused.text
    assert refused.json()["code"] == "input_too_costly"
    assert "MAX_WORKBOOK_CELLS" in refused.json()["detail"]
    far = await attach(http, world, "cid", chat, "far.xlsx", hostile_inputs.far_cell_xlsx())
    assert far.status_code == 201, far.text
    assert far.json()["chunk_count"] == 1  # a far cell is one more column, not 16,384
