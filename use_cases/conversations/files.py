"""Files attached to a chat: upload, list, read, download, delete; their passages are found
by that chat's turns and by nothing else.

Rules:
- Only the chat's owner reaches its files (an admin acts for a user through the `user_id`
  the presentation layer resolves); anyone else, and a chat that does not exist, gets the
  same 404 as a missing chat (`chat_not_found`). A file id that is malformed, unknown, or
  another chat's is a 404 of the file. A download by file id alone (no chat named) finds
  the file in whichever of the user's chats holds it; another user's file is a 404 of it.
- The file name is reduced to its last path part (`/` and `\\` both separate), control
  characters and surrounding spaces removed; an empty name, or one over `MAX_NAME_CHARS`, is
  refused (422). The name gives the type, as for documents.
- More than `max_bytes` is refused (413); the presentation layer reads at most `read_limit`.
- One user's attachments are read a few at a time, the others waiting their turn, and a
  bounded number of bytes of them may be in flight (429 past it): `UploadLimits`,
  use_cases/conversations/upload_limits.py. The cap is taken before anything else.
- The cheap checks come first, before anything is parsed or written: whether the bytes are
  an image (PNG, JPEG, GIF or WebP by their magic number, whatever the name says; past the
  pixel budget, a decompression bomb, 413), else the type and whether the bytes are text
  (the document loaders' `check`: binary bytes posing as text are 415; SVG is refused, as
  XML that may carry scripts).
- An image has no text: it is stored with the media type its bytes showed, and with one
  chunk, its description, when the chat's model can read images and described it
  (`DescribeImage`, use_cases/conversations/image_description.py); else with no chunk
  (nothing of it is searched) and a note saying why. The model is asked after the checks
  and before anything is written; its failure stores the file without a description.
- The same bytes again in the same chat are not stored twice: the existing file is
  returned (`created` False; the API answers 200 instead of 201). The same bytes in another
  chat are another file: each chat owns its copy.
- The file is parsed, chunked and embedded as documents are (the knowledge base's loaders,
  chunker and embedder; more than `max_chunks` chunks is 413), before anything is written.
  Its chunks are charged to the user's budget of chunks embedded per minute before they are
  embedded (`ChunkBudget`, use_cases/conversations/chunk_budget.py: 429 when the budget
  does not hold them now, 413 when it never could).
  Then its bytes are written (whole or not at all), then its row and chunks in one
  transaction; if that fails the bytes are removed again. Nothing half-written survives a
  failure: no row without bytes, no bytes without a row (a crash between the two leaves
  bytes no row names, which nothing serves).
- Deleting a file removes its row and chunks, then its bytes; deleting the chat does the
  same for all of its files (`ForgetChatFiles`, called by chat deletion).
- Search: a chat turn's retriever is the knowledge base's fused with this chat's files
  (`scoped_retriever`, services/conversations/file_search.py); global search never sees them.
"""

from __future__ import annotations

import asyncio
import hashlib
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from use_cases.chat.manage_chats import chat_not_found
from use_cases.chat.ports import HistoryStore
from use_cases.conversations.chunk_budget import ChunkBudget
from use_cases.conversations.file_ports import ChatFileStore, FileBytes, ImageReader
from use_cases.conversations.files_domain import (
    ChatFile,
    Description,
    FileChunk,
    ImageInfo,
    is_file_id,
)
from use_cases.conversations.image_description import DescribeImage
from use_cases.conversations.upload_limits import UploadLimits
from use_cases.knowledge.domain import Vectors, embedding_text
from use_cases.knowledge.ports import Chunker, DocumentLoader, Embedder
from use_cases.shared.clock import Clock
from use_cases.shared.errors import Conflict, InvalidRequest, NotFound, PayloadTooLarge

MAX_NAME_CHARS = 255
NOT_DESCRIBED = "Not described: no model reads images here."


@dataclass(frozen=True)
class AttachRequest:
    user_id: str
    chat_id: str
    filename: str
    data: bytes


@dataclass(frozen=True)
class Attached:
    file: ChatFile
    created: bool
    """False when the chat already held these bytes (that file is returned)."""


@dataclass(frozen=True)
class FileContent:
    file: ChatFile
    data: bytes


def file_not_found(file_id: str) -> NotFound:
    return NotFound(f"No file with id {file_id} in this chat.")


def clean_name(filename: str) -> str:
    """The last path part of `filename`, without control characters or outer spaces."""
    last = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in last if unicodedata.category(ch)[0] != "C").strip()
    if not name or name in {".", ".."}:
        raise InvalidRequest("The upload has no file name; the type is taken from it.")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidRequest(f"The file name has {len(name)} characters; at most {MAX_NAME_CHARS}.")
    return name


class _ChatAccess:
    def __init__(self, history: HistoryStore, files: ChatFileStore) -> None:
        self._history = history
        self._files = files

    def _owned(self, user_id: str, chat_id: str) -> None:
        chat = self._history.get_chat(chat_id)
        if chat is None or chat.user_id != user_id:
            raise chat_not_found(chat_id)

    def _file(self, user_id: str, chat_id: str | None, file_id: str) -> ChatFile:
        """The file, in `chat_id` (its 404 first), or in whichever chat of the user's holds
        it when `chat_id` is None (another user's file is as missing as an unknown one)."""
        if chat_id is None:
            found = self._files.find(file_id) if is_file_id(file_id) else None
            chat = self._history.get_chat(found.chat_id) if found is not None else None
            if found is None or chat is None or chat.user_id != user_id:
                raise file_not_found(file_id)
            return found
        self._owned(user_id, chat_id)
        found = self._files.get(chat_id, file_id) if is_file_id(file_id) else None
        if found is None:
            raise file_not_found(file_id)
        return found


@dataclass(frozen=True)
class _Prepared:
    """An upload checked and cut into chunks, nothing written yet."""

    name: str
    data: bytes
    sha256: str
    media_type: str
    chunks: list[FileChunk]
    image: ImageInfo | None = None


class AttachFile(_ChatAccess):
    """Checks, parses, indexes and stores one file for a chat; the module docstring has the
    rules."""

    def __init__(
        self,
        history: HistoryStore,
        files: ChatFileStore,
        storage: FileBytes,
        loader: DocumentLoader,
        images: ImageReader,
        chunker: Chunker,
        embedder: Embedder,
        clock: Clock,
        *,
        max_bytes: int,
        max_chunks: int,
        describe: DescribeImage | None = None,
        limits: UploadLimits | None = None,
        budget: ChunkBudget | None = None,
    ) -> None:
        super().__init__(history, files)
        self._describe = describe
        self._budget = budget
        self._limits = limits
        self._storage = storage
        self._loader = loader
        self._images = images
        self._chunker = chunker
        self._embedder = embedder
        self._clock = clock
        self._max_bytes = max_bytes
        self._max_chunks = max_chunks

    @property
    def read_limit(self) -> int:
        """Bytes of an upload to read: one past the limit, enough to refuse it."""
        return self._max_bytes + 1

    async def execute(self, request: AttachRequest) -> Attached:
        if self._limits is None:
            return await self._attach(request)
        async with self._limits.admit(request.user_id, len(request.data)):
            return await self._attach(request)

    async def _attach(self, request: AttachRequest) -> Attached:
        prepared = await asyncio.to_thread(self._prepare, request)
        if isinstance(prepared, Attached):
            return prepared
        description = None
        if prepared.image is not None:
            description = (
                await self._describe.execute(request.chat_id, prepared.image, prepared.data)
                if self._describe is not None
                else Description(None, NOT_DESCRIBED)
            )
        return await asyncio.to_thread(self._store, request, prepared, description)

    def _prepare(self, request: AttachRequest) -> _Prepared | Attached:
        """The checks, then the parse and chunks of a text file (an image has none); the
        file already holding these bytes when there is one."""
        self._owned(request.user_id, request.chat_id)
        name = clean_name(request.filename)
        data = request.data
        if len(data) > self._max_bytes:
            raise PayloadTooLarge(
                f"{name} is larger than the {self._max_bytes:,}-byte limit of an attached "
                "file (CHAT_FILE_MAX_BYTES)."
            )
        image = self._images.identify(data)
        if image is None:
            self._loader.check(name, data)
        sha256 = hashlib.sha256(data).hexdigest()
        existing = self._files.find_by_hash(request.chat_id, sha256)
        if existing is not None:
            return Attached(existing, created=False)
        if image is not None:
            return _Prepared(name, data, sha256, image.media_type, [], image)
        parsed = self._loader.load(name, data)
        chunks = [
            FileChunk(section, draft.heading_path, draft.text, chunk)
            for section, draft in enumerate(self._chunker.chunk(parsed))
            for chunk in draft.chunks
        ]
        if len(chunks) > self._max_chunks:
            raise PayloadTooLarge(
                f"{name} makes {len(chunks):,} chunks; an attached file may make at most "
                f"{self._max_chunks:,} (MAX_DOCUMENT_CHUNKS)."
            )
        if self._budget is not None:
            self._budget.check(name, len(chunks))
        return _Prepared(name, data, sha256, parsed.media_type, chunks)

    def _store(
        self, request: AttachRequest, prepared: _Prepared, description: Description | None
    ) -> Attached:
        chunks = prepared.chunks
        if description is not None and description.text:
            chunks = [FileChunk(0, (), description.text, description.text)]
        if self._budget is not None:
            self._budget.spend(request.user_id, prepared.name, len(chunks))
        vectors = self._embed(prepared.name, chunks)
        file = ChatFile(
            id=uuid.uuid4().hex,
            chat_id=request.chat_id,
            user_id=request.user_id,
            name=prepared.name,
            media_type=prepared.media_type,
            size_bytes=len(prepared.data),
            sha256=prepared.sha256,
            chunk_count=len(chunks),
            created_at=self._clock.now(),
            description=description.text if description else None,
            description_note=description.note if description else None,
        )
        self._storage.put(file.chat_id, file.id, prepared.data)
        try:
            self._files.add(file, chunks, vectors)
        except Conflict:  # the same bytes, attached by a concurrent request
            self._storage.delete(file.chat_id, file.id)
            raced = self._files.find_by_hash(request.chat_id, prepared.sha256)
            if raced is None:
                raise
            return Attached(raced, created=False)
        except BaseException:
            self._storage.delete(file.chat_id, file.id)
            raise
        return Attached(file, created=True)

    def _embed(self, name: str, chunks: Sequence[FileChunk]) -> Vectors:
        texts = [embedding_text(name, c.heading_path, c.chunk_text) for c in chunks]
        return self._embedder.embed_documents(texts) if texts else []


class ListFiles(_ChatAccess):
    async def execute(self, user_id: str, chat_id: str) -> list[ChatFile]:
        def run() -> list[ChatFile]:
            self._owned(user_id, chat_id)
            return self._files.list(chat_id)

        return await asyncio.to_thread(run)


class GetFile(_ChatAccess):
    async def execute(self, user_id: str, chat_id: str, file_id: str) -> ChatFile:
        return await asyncio.to_thread(self._file, user_id, chat_id, file_id)


class ReadFile(_ChatAccess):
    """The file's metadata and bytes, for a download."""

    def __init__(self, history: HistoryStore, files: ChatFileStore, storage: FileBytes) -> None:
        super().__init__(history, files)
        self._storage = storage

    async def execute(self, user_id: str, chat_id: str | None, file_id: str) -> FileContent:
        """`chat_id` None: the file is found by its id alone (`GET /files/{id}/download`)."""

        def run() -> FileContent:
            file = self._file(user_id, chat_id, file_id)
            data = self._storage.get(file.chat_id, file.id)
            if data is None:
                raise NotFound(f"The bytes of file {file_id} are gone; attach it again.")
            return FileContent(file, data)

        return await asyncio.to_thread(run)


class RemoveFile(_ChatAccess):
    def __init__(self, history: HistoryStore, files: ChatFileStore, storage: FileBytes) -> None:
        super().__init__(history, files)
        self._storage = storage

    async def execute(self, user_id: str, chat_id: str, file_id: str) -> None:
        def run() -> None:
            file = self._file(user_id, chat_id, file_id)
            self._files.delete(chat_id, file.id)
            self._storage.delete(chat_id, file.id)

        await asyncio.to_thread(run)


class ForgetChatFiles:
    """What chat deletion calls (in a worker thread): the chat's files, chunks and bytes go."""

    def __init__(self, files: ChatFileStore, storage: FileBytes) -> None:
        self._files = files
        self._storage = storage

    def execute(self, chat_id: str) -> None:
        self._files.delete_chat(chat_id)
        self._storage.delete_chat(chat_id)
