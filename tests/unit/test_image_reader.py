"""The Pillow image reader: an image is told by its magic number, never by a name; a broken
one is `InvalidDocument` (422) and one past the pixel budget `InputTooCostly` (413), and no
other exception ever leaves it (mutated and cut-short images of each type, seeded)."""

from __future__ import annotations

import random

import pytest

from services.budgets import InputBudget
from services.conversations.image_reader import PillowImageReader
from tests.image_samples import image_bytes, png_claiming
from use_cases.shared.errors import InputTooCostly, InvalidDocument

READER = PillowImageReader()


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_each_type_is_told_by_its_bytes_with_its_size(fmt: str, media_type: str) -> None:
    info = READER.identify(image_bytes(fmt, (30, 20)))
    assert info is not None and (info.media_type, info.width, info.height) == (media_type, 30, 20)


def test_an_animation_counts_every_frame_against_the_budget() -> None:
    gif = image_bytes("GIF", (10, 10), frames=4)
    info = PillowImageReader(InputBudget(max_image_pixels=400)).identify(gif)
    assert info is not None and (info.frames, info.pixels) == (4, 400)
    with pytest.raises(InputTooCostly, match="4 frames"):
        PillowImageReader(InputBudget(max_image_pixels=399)).identify(gif)


@pytest.mark.parametrize(
    "data",
    [b"# Notes\nplain text", b"MZ\x90\x00", b'<svg xmlns="http://www.w3.org/2000/svg"/>', b""],
)
def test_what_is_no_image_is_none(data: bytes) -> None:
    assert READER.identify(data) is None


def test_a_bomb_is_refused_from_its_header_and_a_broken_image_is_invalid() -> None:
    with pytest.raises(InputTooCostly, match="decompression bomb"):
        READER.identify(png_claiming(40_000, 40_000))
    with pytest.raises(InvalidDocument, match="PNG"):
        READER.identify(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_mutated_or_cut_images_raise_nothing_but_the_two_problems(fmt: str) -> None:
    rng = random.Random(fmt)
    base = image_bytes(fmt, (20, 10), frames=3 if fmt in ("GIF", "WEBP") else 1)
    outcomes: set[str] = set()
    for i in range(300):
        data = bytearray(base[: rng.randrange(4, len(base))] if i % 2 else base)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            outcomes.add("image" if READER.identify(bytes(data)) else "none")
        except Exception as exc:  # the point: which exceptions leave it
            outcomes.add(type(exc).__name__)
    assert outcomes <= {"image", "none", "InvalidDocument", "InputTooCostly"}
    assert "InvalidDocument" in outcomes
