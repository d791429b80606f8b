"""The attached-file use cases on fakes: who reaches a chat's files, what is refused before
anything is written, that a failure leaves nothing behind, and how a turn's search fuses the
chat's files with the knowledge base."""

from __future__ import annotations

import pytest

from backend.api.routes.conversation_files import content_disposition
from services.budgets import InputBudget
from services.conversations.file_search import ScopedRetriever
from services.conversations.image_reader import PillowImageReader
from tests.fakes import InMemoryHistoryStore, InMemoryRetriever, SteppingClock, search_hit
from tests.fakes.conversation_files import InMemoryChatFileStore, InMemoryFileBytes
from tests.fakes.knowledge import HashingEmbedder, SentenceChunker, TextLoader
from tests.image_samples import image_bytes, png_claiming
from use_cases.conversations.files import (
    AttachFile,
    AttachRequest,
    ForgetChatFiles,
    GetFile,
    ListFiles,
    ReadFile,
    RemoveFile,
    clean_name,
)
from use_cases.knowledge.domain import HitScores, SearchHit
from use_cases.shared.errors import (
    InputTooCostly,
    InvalidDocument,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    UnsupportedDocument,
)

NOTE = b"# Beehives\nThe rooftop beehives are inspected every Thursday. Honey is shared."


class World:
    def __init__(
        self, *, max_bytes: int = 1_000, max_chunks: int = 10, max_pixels: int = 10_000
    ) -> None:
        self.history = InMemoryHistoryStore()
        self.store = InMemoryChatFileStore()
        self.disk = InMemoryFileBytes()
        self.history.get_or_create_chat("c1", "ana", "hello")
        self.history.get_or_create_chat("c2", "ana", "hello again")
        self.history.get_or_create_chat("b1", "bob", "bob's")
        self.attach = AttachFile(
            self.history,
            self.store,
            self.disk,
            TextLoader(),
            PillowImageReader(InputBudget(max_image_pixels=max_pixels)),
            SentenceChunker(),
            HashingEmbedder(),
            SteppingClock(),
            max_bytes=max_bytes,
            max_chunks=max_chunks,
        )

    def nothing_written(self) -> bool:
        return not self.store.files and not self.store.chunks and not self.disk.files


async def test_a_file_is_stored_once_per_chat_with_its_chunks_and_bytes() -> None:
    world = World()
    first = await world.attach.execute(AttachRequest("ana", "c1", "notes.txt", NOTE))
    again = await world.attach.execute(AttachRequest("ana", "c1", "copy.txt", NOTE))
    elsewhere = await world.attach.execute(AttachRequest("ana", "c2", "notes.txt", NOTE))

    assert first.created and not again.created and elsewhere.created
    assert again.file == first.file  # the existing file, under its first name
    assert elsewhere.file.id != first.file.id  # each chat owns its copy
    assert first.file.chunk_count == 2 == len(world.store.chunks[first.file.id])
    assert world.disk.get("c1", first.file.id) == NOTE
    assert [f.id for f in await ListFiles(world.history, world.store).execute("ana", "c1")] == [
        first.file.id
    ]
    read = await ReadFile(world.history, world.store, world.disk).execute(
        "ana", "c1", first.file.id
    )
    assert read.data == NOTE and read.file.media_type == "text/plain"


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("notes.exe", NOTE, UnsupportedDocument),
        ("notes.txt", b"   ", InvalidDocument),
        ("notes.txt", b"x" * 1_001, PayloadTooLarge),
        ("notes.txt", b". ".join([b"word"] * 20), PayloadTooLarge),  # 20 chunks > 10
        ("dir/", NOTE, InvalidRequest),
        ("", NOTE, InvalidRequest),
    ],
)
async def test_refused_uploads_write_nothing(name: str, data: bytes, error: type) -> None:
    world = World()
    with pytest.raises(error):
        await world.attach.execute(AttachRequest("ana", "c1", name, data))
    assert world.nothing_written()


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
async def test_an_image_is_told_by_its_bytes_and_stored_whole_with_nothing_to_search(
    fmt: str, media_type: str
) -> None:
    world = World()
    data = image_bytes(fmt)
    # The name says text and the fake loader reads only .txt: the bytes decide all the same.
    attached = await world.attach.execute(AttachRequest("ana", "c1", "scan.txt", data))

    assert attached.created and attached.file.media_type == media_type
    assert attached.file.chunk_count == 0 and world.store.chunks[attached.file.id] == []
    assert attached.file.description is None
    read = await ReadFile(world.history, world.store, world.disk).execute(
        "ana", "c1", attached.file.id
    )
    assert read.data == data


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (png_claiming(200, 100), InputTooCostly),  # 20,000 pixels > the budget of 10,000
        (image_bytes("GIF", (50, 50), frames=5), InputTooCostly),  # 12,500 pixels in all
        (image_bytes("PNG")[:-20], InvalidDocument),  # cut short
    ],
)
async def test_an_image_past_the_pixel_budget_or_broken_is_refused_and_nothing_written(
    data: bytes, error: type
) -> None:
    world = World()
    with pytest.raises(error):
        await world.attach.execute(AttachRequest("ana", "c1", "picture.png", data))
    assert world.nothing_written()


async def test_failed_database_or_disk_writes_leave_nothing_behind() -> None:
    world = World()
    world.store.fail_adds = 1
    with pytest.raises(RuntimeError):
        await world.attach.execute(AttachRequest("ana", "c1", "notes.txt", NOTE))
    assert world.nothing_written()

    world.disk.fail_puts = 1
    with pytest.raises(OSError):
        await world.attach.execute(AttachRequest("ana", "c1", "notes.txt", NOTE))
    assert world.nothing_written()


async def test_another_users_chat_and_a_missing_chat_are_the_same_404() -> None:
    world = World()
    mine = await world.attach.execute(AttachRequest("ana", "c1", "notes.txt", NOTE))
    for user, chat in (("bob", "c1"), ("ana", "nope"), ("ana", "b1")):
        with pytest.raises(NotFound, match="No chat"):
            await world.attach.execute(AttachRequest(user, chat, "x.txt", NOTE))
        with pytest.raises(NotFound, match="No chat"):
            await ListFiles(world.history, world.store).execute(user, chat)
    # The file id in the user's other chat, or malformed: the file is not found there.
    for file_id in (mine.file.id, "../../app.db", "A" * 32):
        with pytest.raises(NotFound, match="No file"):
            await GetFile(world.history, world.store).execute("ana", "c2", file_id)
    with pytest.raises(NotFound, match="No chat"):
        await RemoveFile(world.history, world.store, world.disk).execute("bob", "c1", mine.file.id)
    assert world.disk.get("c1", mine.file.id) == NOTE


async def test_removing_a_file_or_forgetting_the_chat_removes_rows_and_bytes() -> None:
    world = World()
    one = await world.attach.execute(AttachRequest("ana", "c1", "one.txt", NOTE))
    await world.attach.execute(AttachRequest("ana", "c1", "two.txt", NOTE + b" More."))
    kept = await world.attach.execute(AttachRequest("ana", "c2", "one.txt", NOTE))

    await RemoveFile(world.history, world.store, world.disk).execute("ana", "c1", one.file.id)
    assert [f.name for f in world.store.list("c1")] == ["two.txt"]
    assert world.disk.get("c1", one.file.id) is None

    ForgetChatFiles(world.store, world.disk).execute("c1")
    assert world.store.list("c1") == [] and list(world.disk.files) == [("c2", kept.file.id)]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\win.ini.txt", "win.ini.txt"),
        ("  report\x00\x1b.md ", "report.md"),
    ],
)
def test_file_names_keep_their_last_part_without_control_characters(given: str, kept: str) -> None:
    assert clean_name(given) == kept


def test_file_names_that_are_only_a_path_are_refused() -> None:
    for name in ("..", "a/..", "/", "x" * 256 + ".md"):
        with pytest.raises(InvalidRequest):
            clean_name(name)


class FixedFileSearch:
    def __init__(self, hits: list[SearchHit]) -> None:
        self.hits = hits
        self.asked: list[tuple[str, str, int]] = []

    def search(self, chat_id: str, query: str, k: int) -> list[SearchHit]:
        self.asked.append((chat_id, query, k))
        return self.hits[:k]


def _file_hit(n: int) -> SearchHit:
    return SearchHit(
        chunk_id=n,
        document_id=0,
        source="attachment:notes.md",
        title="notes.md",
        category=None,
        section_path=(),
        updated_at=None,
        chunk_text="beehives",
        section_text="beehives",
        scores=HitScores(fused=0.5, bm25_rank=1, vector_rank=1),
        attachment="f" * 32,
    )


def test_a_turns_search_fuses_the_chats_files_with_the_knowledge_base_files_first_on_a_tie() -> (
    None
):
    base = InMemoryRetriever([search_hit(1, "Beehives policy", "beehives are banned")])
    files = FixedFileSearch([_file_hit(7), _file_hit(8)])
    scoped = ScopedRetriever(base, files, "c1")

    hits = scoped.search("beehives", 3)

    assert [(h.attachment is not None, h.chunk_id) for h in hits] == [
        (True, 7),
        (False, 1),
        (True, 8),
    ]
    assert files.asked == [("c1", "beehives", 3)]
    assert [h.chunk_id for h in scoped.search("beehives", 2)] == [7, 1]


def test_a_category_filter_searches_the_knowledge_base_alone() -> None:
    base = InMemoryRetriever([search_hit(1, "Beehives policy", "beehives are banned")])
    files = FixedFileSearch([_file_hit(7)])
    hits = ScopedRetriever(base, files, "c1").search("beehives", 3, "policies")
    assert [h.chunk_id for h in hits] == [1] and files.asked == []


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("notes.md", "attachment; filename=\"notes.md\"; filename*=UTF-8''notes.md"),
        (
            'Größe "q";.md',
            'attachment; filename="Gr__e _q__.md"; '
            "filename*=UTF-8''Gr%C3%B6%C3%9Fe%20%22q%22%3B.md",
        ),
    ],
)
def test_downloads_are_attachments_with_a_safe_name(name: str, header: str) -> None:
    assert content_disposition(name) == header
    assert content_disposition(name).isascii()
