"""In-memory fakes of the attached-file ports (`use_cases/conversations/file_ports.py`),
run against the same contract tests as the real adapters
(tests/integration/test_chat_file_store.py)."""

from __future__ import annotations

from collections.abc import Sequence

from use_cases.conversations.files_domain import ChatFile, FileChunk, is_file_id
from use_cases.knowledge.domain import Vector, Vectors
from use_cases.shared.errors import Conflict


class InMemoryFileBytes:
    """`FileBytes` in a dict. `fail_puts` makes the next writes raise `OSError` (a full disk)."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], bytes] = {}
        self.fail_puts = 0

    def put(self, chat_id: str, file_id: str, data: bytes) -> None:
        if self.fail_puts:
            self.fail_puts -= 1
            raise OSError("No space left on device")
        self.files[(chat_id, file_id)] = data

    def get(self, chat_id: str, file_id: str) -> bytes | None:
        return self.files.get((chat_id, file_id))

    def delete(self, chat_id: str, file_id: str) -> None:
        self.files.pop((chat_id, file_id), None)

    def delete_chat(self, chat_id: str) -> None:
        for key in [k for k in self.files if k[0] == chat_id]:
            del self.files[key]


class InMemoryChatFileStore:
    """`ChatFileStore` in memory. `fail_adds` makes the next adds raise `RuntimeError`
    (the database went away) before anything is stored."""

    def __init__(self) -> None:
        self.files: dict[str, ChatFile] = {}
        self.chunks: dict[str, list[tuple[FileChunk, Vector]]] = {}
        self.fail_adds = 0

    def add(self, file: ChatFile, chunks: Sequence[FileChunk], vectors: Vectors) -> None:
        if self.fail_adds:
            self.fail_adds -= 1
            raise RuntimeError("database is gone")
        if self.find_by_hash(file.chat_id, file.sha256) is not None:
            raise Conflict("This chat already holds a file with these bytes.")
        self.files[file.id] = file
        self.chunks[file.id] = list(zip(chunks, vectors, strict=True))

    def get(self, chat_id: str, file_id: str) -> ChatFile | None:
        found = self.files.get(file_id) if is_file_id(file_id) else None
        return found if found is not None and found.chat_id == chat_id else None

    def find(self, file_id: str) -> ChatFile | None:
        return self.files.get(file_id) if is_file_id(file_id) else None

    def find_by_hash(self, chat_id: str, sha256: str) -> ChatFile | None:
        return next(
            (f for f in self.files.values() if f.chat_id == chat_id and f.sha256 == sha256), None
        )

    def list(self, chat_id: str) -> list[ChatFile]:
        return sorted(
            (f for f in self.files.values() if f.chat_id == chat_id),
            key=lambda f: (f.created_at, f.id),
        )

    def delete(self, chat_id: str, file_id: str) -> bool:
        if self.get(chat_id, file_id) is None:
            return False
        del self.files[file_id]
        self.chunks.pop(file_id, None)
        return True

    def delete_chat(self, chat_id: str) -> int:
        gone = [f.id for f in self.files.values() if f.chat_id == chat_id]
        for file_id in gone:
            del self.files[file_id]
            self.chunks.pop(file_id, None)
        return len(gone)
