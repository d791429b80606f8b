"""Small images made in memory for the attachment tests (Pillow writes them), and a PNG
whose header claims far more pixels than its bytes hold (a decompression bomb's shape)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def image_bytes(fmt: str, size: tuple[int, int] = (8, 6), frames: int = 1) -> bytes:
    """An RGB image of `size` in Pillow's format `fmt` (PNG, JPEG, GIF, WEBP); `frames` > 1
    makes an animation of that many distinct frames (GIF, WEBP)."""
    shots = [Image.new("RGB", size, (40 * i % 256, 120, 200)) for i in range(frames)]
    out = io.BytesIO()
    if frames > 1:
        shots[0].save(out, fmt, save_all=True, append_images=shots[1:])
    else:
        shots[0].save(out, fmt)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG of a few hundred bytes whose header says `width` x `height` one-bit
    pixels: its one row of data would inflate to gigabytes if it were decoded whole."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + (width + 7) // 8), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )
