"""Every file the docs name exists: a `path/to/file.py` in README.md or docs/*.md, or in a
docstring or comment of the production code, is a file of this repository. A reference may
be written from the repository root (`services/knowledge/hybrid.py`) or from a folder the
text is about (`loaders/pdf_text.py`): then some file's path ends with it. `*` stands for
any name (`tests/seeds/test_seed_*.py`). Paths that climb (`../page.html`) and example data
(`policies/a.md`) are not references to the repository."""

from __future__ import annotations

import re
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = ("backend", "use_cases", "services", "bench", "training")
TREE_ROOTS = (*SOURCE_ROOTS, "tests", "docs", "sample_data", ".ci", "tools")
SKIPPED_PARTS = {"__pycache__", "node_modules", ".venv"}

# A path of at least two parts ending in a code file's extension, or a doc under docs/.
REFERENCE = re.compile(
    r"(?<![\w./*-])"
    r"((?:[\w.*-]+/)+[\w.*-]+\.(?:py|js|css|html|toml)(?:\.j2)?|docs/[\w.*/-]+\.md)"
    r"(?!\.?[\w/-])"
)

# Known stale references in files being rewritten; each goes when that rewrite lands.
# (folder or file that mentions it, the path it names)
BEING_REWRITTEN: set[tuple[str, str]] = set()


# Files a walkthrough has the reader create: they name what does not exist yet, on purpose.
# (doc, the file it walks the reader through writing)
WALKED_THROUGH = {
    ("docs/extending.md", "services/knowledge/loaders/docx.py"),
    ("docs/extending.md", "tests/unit/test_docx_loader.py"),
}


def repository_files(repo: Path = REPO) -> list[str]:
    files = [path.name for path in repo.iterdir() if path.is_file()]
    for root in TREE_ROOTS:
        for path in (repo / root).rglob("*"):
            if path.is_file() and not SKIPPED_PARTS.intersection(path.parts):
                files.append(path.relative_to(repo).as_posix())
    return files


def references(text: str) -> Iterator[str]:
    for match in REFERENCE.finditer(text):
        if not {".", ".."}.intersection(match.group(1).split("/")):
            yield match.group(1)


def resolves(reference: str, files: list[str]) -> bool:
    pattern = reference if "*" in reference else None
    for file in files:
        if pattern is None and (file == reference or file.endswith("/" + reference)):
            return True
        if pattern is not None and (fnmatch(file, pattern) or fnmatch(file, "*/" + pattern)):
            return True
    return False


def missing(texts: dict[str, str], files: list[str]) -> list[tuple[str, str]]:
    return [
        (name, reference)
        for name, text in sorted(texts.items())
        for reference in references(text)
        if not resolves(reference, files)
    ]


def docs() -> dict[str, str]:
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    return {page.relative_to(REPO).as_posix(): page.read_text(encoding="utf-8") for page in pages}


def code() -> dict[str, str]:
    texts = {}
    for root in SOURCE_ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            if not SKIPPED_PARTS.intersection(path.parts):
                texts[path.relative_to(REPO).as_posix()] = path.read_text(encoding="utf-8")
    return texts


def test_every_file_the_docs_name_exists() -> None:
    stale = [found for found in missing(docs(), repository_files()) if found not in WALKED_THROUGH]
    assert stale == []


def test_every_file_the_code_names_exists() -> None:
    stale = [
        (name, reference)
        for name, reference in missing(code(), repository_files())
        if not any(name.startswith(where) and reference == path for where, path in BEING_REWRITTEN)
    ]
    assert stale == []


def test_a_reference_to_a_missing_file_is_found() -> None:
    files = ["backend/api/streams.py", "services/knowledge/loaders/pdf_text.py"]
    files.append("services/evaluation/templates/run.html.j2")
    text = (
        "The encoders (`backend/api/streaming.py`) and `backend/api/streams.py`; the text"
        " layer in `loaders/pdf_text.py`, `loaders/pdf_txt.py`; see docs/PITFALLS.md;"
        " `backend/api/*.py`, `templates/run.html.j2`; `policies/a.md` and `../page.html`."
    )
    assert missing({"doc.md": text}, files) == [
        ("doc.md", "backend/api/streaming.py"),
        ("doc.md", "loaders/pdf_txt.py"),
        ("doc.md", "docs/PITFALLS.md"),
    ]
