"""`FileBytes` on the local disk: `<root>/<chat id>/<file id>`.

Chat ids ([A-Za-z0-9_-]{1,64}) and file ids (32 hex digits) are checked again here, so no
name from a request ever reaches a path. A write goes to a temporary file in the same
directory, is flushed to disk, then renamed into place: a reader sees the whole file or none.
One process's disk: replicas that share a PostgreSQL database need a shared directory (or
the S3 adapter, `file_bytes_s3.py`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from use_cases.conversations.files_domain import is_file_id

__all__ = ["LocalFileBytes"]

_CHAT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class LocalFileBytes:
    def __init__(self, root: Path) -> None:
        self._root = root

    def put(self, chat_id: str, file_id: str, data: bytes) -> None:
        path = self._path(chat_id, file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def get(self, chat_id: str, file_id: str) -> bytes | None:
        try:
            return self._path(chat_id, file_id).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, chat_id: str, file_id: str) -> None:
        self._path(chat_id, file_id).unlink(missing_ok=True)

    def delete_chat(self, chat_id: str) -> None:
        shutil.rmtree(self._chat_dir(chat_id), ignore_errors=True)

    def _chat_dir(self, chat_id: str) -> Path:
        if _CHAT_ID.fullmatch(chat_id) is None:
            raise ValueError(f"Not a chat id: {chat_id!r}")
        return self._root / chat_id

    def _path(self, chat_id: str, file_id: str) -> Path:
        if not is_file_id(file_id):
            raise ValueError(f"Not a file id: {file_id!r}")
        return self._chat_dir(chat_id) / file_id
