"""What a file attached to a chat is: its metadata, and the chunks its scoped index holds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

#: A file id: 32 lower-case hex digits (a random UUID). Safe as a file name on any disk.
FILE_ID = re.compile(r"[0-9a-f]{32}")

#: The `source` a passage of an attached file is cited with: `attachment:<name>`.
ATTACHMENT_PREFIX = "attachment:"


@dataclass(frozen=True)
class ChatFile:
    id: str
    chat_id: str
    user_id: str
    name: str
    media_type: str
    size_bytes: int
    sha256: str
    chunk_count: int
    created_at: datetime
    description: str | None = None
    """An image's description by a vision-capable model: what is indexed and cited for it.
    None for a text file, and for an image nobody described (`description_note` says why)."""
    description_note: str | None = None
    """Why an image has no description (no vision-capable model, the model failed)."""


@dataclass(frozen=True)
class Description:
    """An image's description (`text`), or why it has none (`note`)."""

    text: str | None
    note: str | None = None


#: The image types a chat accepts, by what their bytes begin with (never by name or the
#: client's content type): the media types `ImageReader` may report.
IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


@dataclass(frozen=True)
class ImageInfo:
    """What an image's header says: its type, and its size in pixels (all frames together
    for an animation), read before anything is decoded."""

    media_type: str
    width: int
    height: int
    frames: int = 1

    @property
    def pixels(self) -> int:
        return self.width * self.height * self.frames


@dataclass(frozen=True)
class FileChunk:
    """One retrieval chunk of an attached file, with its parent section (what the agent
    reads) and that section's place in the file."""

    section: int
    heading_path: tuple[str, ...]
    section_text: str
    chunk_text: str


def is_file_id(value: str) -> bool:
    return FILE_ID.fullmatch(value) is not None
