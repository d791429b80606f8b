"""Every page of docs/ is reachable from docs/README.md, and every relative link in the
README and docs/ points at a file that exists and, with an anchor, at a heading it has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend.config import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs"
INDEX = DOCS / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", flags=re.M | re.S)
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", flags=re.M)


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if p != INDEX and "examples" not in p.parts)


def _prose(path: Path) -> str:
    """The page without its code blocks (a link inside an example is no link)."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def _links(path: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(_prose(path))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto:
    ]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as dashes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(_prose(path)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def test_slugs_are_the_ones_github_makes() -> None:
    assert slug("Answer quality on documents nobody here wrote (round 14)") == (
        "answer-quality-on-documents-nobody-here-wrote-round-14"
    )
    assert slug("After a crash (`kill -9`)") == "after-a-crash-kill--9"
    assert slug("Second session: the reader's belief") == "second-session-the-readers-belief"


def test_every_page_of_docs_is_linked_from_the_docs_index() -> None:
    linked = {(INDEX.parent / t.split("#")[0]).resolve() for t in _links(INDEX)}
    missing = [p.name for p in _pages() if p.resolve() not in linked]
    assert not missing, f"not listed in docs/README.md: {missing}"


def test_the_readme_links_the_docs_index() -> None:
    assert "docs/README.md" in _links(PROJECT_ROOT / "README.md")


@pytest.mark.parametrize(
    "page",
    [PROJECT_ROOT / "README.md", INDEX, *_pages()],
    ids=lambda p: p.relative_to(PROJECT_ROOT).as_posix(),
)
def test_every_relative_link_resolves_to_a_file_and_a_heading(page: Path) -> None:
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or (anchor and file.suffix == ".md" and anchor not in anchors(file)):
            broken.append(target)
    assert not broken, f"{page.relative_to(PROJECT_ROOT)}: {broken}"


def test_the_readme_stays_a_front_door() -> None:
    """The pitch, the two commands, "try it", current figures and an index: the rest goes in
    docs/ (the guide, benchmarks, history)."""
    assert len((PROJECT_ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 150
