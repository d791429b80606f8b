"""The `ImageReader` port on Pillow: which image a chat attachment is, by its magic number,
and whether decoding it stays within the pixel budget (services/budgets.py).

Only the header is read (`Image.open` reads no pixel data): the type comes from the format
whose signature the bytes start with (Pillow's plugins check it; bytes that start with one
but that Pillow cannot read are a broken image, 422), the size from the header,
the frame count from the container. Then `verify()` checks the file's structure (PNG chunk
checksums, truncation) without decoding the pixels. Nothing here trusts the file name or the
client's content type. SVG is not among the types: it is XML that may carry scripts, and the
knowledge base's loaders do not read it either, so it is refused as an unsupported type.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from services.budgets import BUDGET, InputBudget
from use_cases.conversations.files_domain import ImageInfo
from use_cases.shared.errors import AlmanacError, InputTooCostly, InvalidDocument

__all__ = ["PillowImageReader"]

#: Pillow's format names of the accepted types, and the media type each is stored as.
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
#: What each type's bytes begin with (WebP: `RIFF`, four bytes of size, then `WEBP`): bytes
#: that begin so but that Pillow cannot read are a broken image, not some other file.
MAGIC = {
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "JPEG": (b"\xff\xd8\xff",),
    "GIF": (b"GIF87a", b"GIF89a"),
}


def claimed_format(data: bytes) -> str | None:
    """The accepted type whose magic number `data` starts with, if any."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for fmt, heads in MAGIC.items() if data.startswith(heads)), None)


class PillowImageReader:
    """`ImageReader` over Pillow; refuses more than `budget.max_image_pixels` pixels."""

    def __init__(self, budget: InputBudget = BUDGET) -> None:
        self._max_pixels = budget.max_image_pixels

    def identify(self, data: bytes) -> ImageInfo | None:
        with warnings.catch_warnings():
            # Pillow's own bomb warning: the budget below is ours, and stricter.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
                    info = ImageInfo(
                        media_type=FORMATS[str(image.format)],
                        width=image.width,
                        height=image.height,
                        frames=max(1, int(getattr(image, "n_frames", 1))),
                    )
                    self._within_budget(info)
                    image.verify()
            except UnidentifiedImageError:
                if (claimed := claimed_format(data)) is None:
                    return None
                raise InvalidDocument(
                    f"The file starts as a {claimed} image but cannot be read as one."
                ) from None
            except Image.DecompressionBombError:
                raise self._too_costly(None) from None
            except AlmanacError:
                raise
            except Exception as exc:  # a broken file: OSError, SyntaxError, struct.error ...
                raise InvalidDocument(f"The image cannot be read ({type(exc).__name__}).") from None
        return info

    def _within_budget(self, info: ImageInfo) -> None:
        if info.pixels > self._max_pixels:
            raise self._too_costly(info)

    def _too_costly(self, info: ImageInfo | None) -> InputTooCostly:
        size = (
            f"{info.width:,} x {info.height:,} pixels"
            + (f" x {info.frames:,} frames" if info.frames > 1 else "")
            if info is not None
            else f"over {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels"
        )
        return InputTooCostly(
            f"The image is {size}; decoding it may cost at most {self._max_pixels:,} pixels "
            "(a decompression bomb is refused)."
        )
