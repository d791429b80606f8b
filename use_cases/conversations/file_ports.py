"""Ports of the files attached to a chat: where their bytes live, where their metadata and
scoped index live.

Adapters: `services/conversations/file_bytes.py` (local disk under DATA_DIR),
`services/conversations/file_bytes_s3.py` (an S3 bucket),
`services/conversations/file_store.py` (SQLite or PostgreSQL) and
`services/conversations/image_reader.py` (Pillow). Ports are
synchronous; the use cases run them in worker threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from use_cases.conversations.files_domain import ChatFile, FileChunk, ImageInfo
from use_cases.knowledge.domain import SearchHit, Vectors


class FileBytes(Protocol):
    """The bytes of attached files, by chat and file id (both checked safe by the caller)."""

    def put(self, chat_id: str, file_id: str, data: bytes) -> None:
        """Write whole or not at all (a temporary file renamed into place)."""
        ...

    def get(self, chat_id: str, file_id: str) -> bytes | None: ...

    def delete(self, chat_id: str, file_id: str) -> None:
        """Remove the file's bytes; nothing to remove is not an error."""
        ...

    def delete_chat(self, chat_id: str) -> None:
        """Remove the bytes of every file of the chat."""
        ...


class ImageReader(Protocol):
    """Tells an image by its bytes' magic number, and refuses one too costly to decode."""

    def identify(self, data: bytes) -> ImageInfo | None:
        """The image `data` is (PNG, JPEG, GIF or WebP, by magic number), or None when it is
        none of them. Raises `InputTooCostly` (413) when decoding it would pass the pixel
        budget (a decompression bomb), `InvalidDocument` (422) when its header is broken."""
        ...


class ChatFileStore(Protocol):
    """Metadata and chunks of attached files; every write is one transaction."""

    def add(self, file: ChatFile, chunks: Sequence[FileChunk], vectors: Vectors) -> None:
        """Store the file's row and its chunks together. Raises `Conflict` when the chat
        already holds these bytes (same sha256)."""
        ...

    def get(self, chat_id: str, file_id: str) -> ChatFile | None: ...

    def find(self, file_id: str) -> ChatFile | None:
        """The file of that id, whichever chat holds it (ids are unique)."""
        ...

    def find_by_hash(self, chat_id: str, sha256: str) -> ChatFile | None: ...

    def list(self, chat_id: str) -> list[ChatFile]:
        """Oldest first."""
        ...

    def delete(self, chat_id: str, file_id: str) -> bool: ...

    def delete_chat(self, chat_id: str) -> int:
        """Delete every file of the chat and its chunks; how many files were."""
        ...


class ChatFileSearch(Protocol):
    """Hybrid search (BM25 and vectors, fused as knowledge search fuses them) over the chunks
    of one chat's attached files, and nothing else."""

    def search(self, chat_id: str, query: str, k: int) -> list[SearchHit]: ...
