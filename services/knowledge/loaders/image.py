"""Images (`.png`, `.jpg`/`.jpeg`, `.tif`/`.tiff`, `.webp`): a photographed or scanned page,
read by OCR (services/knowledge/loaders/ocr.py).

- Sections: one per page (a multi-page TIFF's frames are pages), heading path `(title,
  "Page N")`, as a PDF's pages are; a one-page image is one section under its title.
- Title: the file name made readable. The document is marked `extraction: ocr` in its
  metadata, with its page count.
- The kind of image is told by its bytes, not its name; bytes Pillow cannot read as an
  image are `InvalidDocument` (422).
- Budgets: the pixels of every frame together (`max_image_pixels`), read from the header
  before any pixel is decoded (a 30,000 x 30,000 PNG of a few KB is 413 at once); frames
  past `max_ocr_pages` are 413 too.
- Without Tesseract installed, `check` refuses the file with a 415 naming the package.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from services.budgets import BUDGET, InputBudget
from services.knowledge.loaders.common import (
    ensure_not_empty,
    ensure_text,
    extension,
    humanise_stem,
)
from services.knowledge.loaders.ocr import (
    OcrOptions,
    at_resolution,
    lines_text,
    read_pages,
    require_tesseract,
)
from use_cases.knowledge.domain import ParsedDocument, ParsedSection
from use_cases.shared.errors import InputTooCostly, InvalidDocument, UnsupportedDocument

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
_FORMATS = {"PNG", "JPEG", "TIFF", "WEBP", "MPO"}
#: The first bytes of each format read: bytes that start otherwise are no image of ours,
#: whatever the file is called (415), where a damaged image of ours is a 422.
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
#: The key of a document's metadata that says how its text was read.
EXTRACTION_KEY = "extraction"


class ImageLoader:
    """Loads images by OCR (the module docstring has the rules)."""

    extensions = IMAGE_EXTENSIONS
    media_type = "image/png"
    reads_scans = True

    def __init__(self, budget: InputBudget = BUDGET, ocr: OcrOptions | None = None) -> None:
        self._budget = budget
        self._ocr = ocr or OcrOptions()

    def supports(self, name: str) -> bool:
        return extension(name) in IMAGE_EXTENSIONS

    def check(self, name: str, data: bytes) -> None:
        ensure_not_empty(name, data)
        _measure(name, data, self._budget, self._ocr).close()
        require_tesseract(name)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        ensure_not_empty(name, data)
        image = _measure(name, data, self._budget, self._ocr)  # once: `check`'s, without its close
        try:
            require_tesseract(name)
        except UnsupportedDocument:
            image.close()
            raise
        frames = getattr(image, "n_frames", 1)
        try:
            pages = [
                lines_text(lines)
                for lines in read_pages(name, self._frames(name, image), self._ocr, frames)
            ]
        finally:
            image.close()
        title = humanise_stem(name)
        sections = tuple(
            ParsedSection((title, f"Page {number}") if frames > 1 else (title,), text)
            for number, text in enumerate(pages, start=1)
            if text
        )
        ensure_text(name, "".join(section.text for section in sections))
        return ParsedDocument(
            title=title,
            sections=sections,
            media_type=f"image/{(image.format or 'png').lower()}",
            metadata={EXTRACTION_KEY: "ocr", "pages": str(frames)},
        )

    def _frames(self, name: str, image: Any) -> Iterator[Any]:
        """Each frame in grey at the OCR resolution, decoded as OCR asks for it."""
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            yield at_resolution(_greyscale(name, image), self._ocr, self._budget.max_image_pixels)


def _measure(name: str, data: bytes, budget: InputBudget, ocr: OcrOptions) -> Any:
    """The image opened lazily (header only), once its pixels are within budget."""
    from PIL import Image  # imported where it runs

    if not (data.startswith(_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")):
        raise UnsupportedDocument(
            f"{name} is not a PNG, JPEG, TIFF or WebP image (its bytes say so, whatever its "
            "name): refused."
        )
    try:
        with _no_bomb_warning():
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise InputTooCostly(
            f"{name} is an image of more than {budget.max_image_pixels:,} pixels: refused."
        ) from None
    except (OSError, ValueError, SyntaxError):  # Pillow's "cannot identify image file"
        raise InvalidDocument(f"{name} is not a readable image; it may be corrupt.") from None
    if image.format not in _FORMATS:
        image.close()
        raise InvalidDocument(
            f"{name} is a {image.format or 'an unknown'} image; PNG, JPEG, TIFF and WebP are read."
        )
    width, height = image.size
    frames = getattr(image, "n_frames", 1)
    if width * height * frames > budget.max_image_pixels:
        image.close()
        raise InputTooCostly(
            f"{name} is an image of {width:,} x {height:,} pixels"
            + (f" x {frames} pages" if frames > 1 else "")
            + f", more than the {budget.max_image_pixels:,} pixels allowed: refused."
        )
    if frames > ocr.max_pages:
        image.close()
        raise InputTooCostly(ocr.too_many_pages(name, frames, "pages"))
    return image


def _greyscale(name: str, image: Any) -> Any:
    try:
        return image.convert("L")
    except (OSError, ValueError, SyntaxError):  # truncated or corrupt pixel data
        raise InvalidDocument(f"{name} is not a readable image; it may be truncated.") from None


class _no_bomb_warning:
    """Pillow's own bomb check warns (or raises past twice its limit) at 89 megapixels; ours
    is `max_image_pixels`, checked just after."""

    def __enter__(self) -> None:
        import warnings

        from PIL import Image

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._catch.__exit__(exc_type, exc, traceback)
