"""The web app's screenshots in docs/web-app.md, taken by the browser tests.

`make screenshots` runs the browser tests that take them (each `shot(page, NAME)` writes
tests/browser/screenshots/NAME.png) and then this module, which copies the ones the docs
show into docs/images/, reduced to a 128-colour palette (a third of the size; the pages are
flat colours). Run it again after changing the app's look; the docs test checks that every
picture the page names is here.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

from tests.browser.conftest import SCREENSHOTS

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"

#: The screenshots docs/web-app.md shows, by the name the browser tests save them under.
DOC_SHOTS = (
    "chat-answer-desktop",
    "chat-answer-dark",
    "chat-source-dialog-desktop",
    "chat-table-citation-desktop",
    "chat-search-desktop",
    "advice-thread-desktop",
    "admin-tables-desktop",
)


def main() -> int:
    DOCS_IMAGES.mkdir(exist_ok=True)
    missing = [name for name in DOC_SHOTS if not (SCREENSHOTS / f"{name}.png").is_file()]
    if missing:
        print(f"Run the browser tests first; missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    for name in DOC_SHOTS:
        image = Image.open(SCREENSHOTS / f"{name}.png").convert("RGB")
        palette = image.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        palette.save(DOCS_IMAGES / f"{name}.png", optimize=True)
        print(f"docs/images/{name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
