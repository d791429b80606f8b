"""The pictures docs/web-app.md shows are in docs/images, and each is one the browser tests
take (`make screenshots` refreshes them), so none is stale by name or missing."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_picture_of_the_web_app_page_is_there_and_taken_by_a_browser_test() -> None:
    from tests.browser.doc_screenshots import DOC_SHOTS

    page = (DOCS / "web-app.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]+\]\(images/([\w-]+)\.png\)", page)
    assert sorted(shown) == sorted(DOC_SHOTS)
    browser_tests = "".join(
        p.read_text() for p in (DOCS.parent / "tests" / "browser").glob("test_*.py")
    )
    for name in shown:
        assert (DOCS / "images" / f"{name}.png").stat().st_size > 10_000, name
        assert f'"{name}"' in browser_tests, f"no browser test takes {name}"
