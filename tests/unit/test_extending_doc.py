"""docs/extending.md stays true: its Python blocks run as written (in order, in one
namespace), and every file it names exists, but those it tells a newcomer to create."""

from __future__ import annotations

import re
import textwrap

from backend.config import PROJECT_ROOT

DOC = (PROJECT_ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", flags=re.M | re.S)
PATH = re.compile(r"`((?:backend|use_cases|services|tests|docs|sample_data)/[\w./-]+)`")
#: The files the loader walk-through has a newcomer write.
TO_CREATE = {
    "services/knowledge/loaders/docx.py",
    "tests/unit/test_docx_loader.py",
    "tests/fixtures/docx/",
}


def test_the_python_blocks_run_as_written() -> None:
    blocks = [textwrap.dedent(code) for _, code in BLOCK.findall(DOC)]
    assert len(blocks) >= 2
    namespace: dict[str, object] = {"__name__": "extending_doc"}
    for number, code in enumerate(blocks, start=1):
        exec(compile(code, f"docs/extending.md, Python block {number}", "exec"), namespace)
    assert namespace["document"].title == "Parking"  # type: ignore[attr-defined]


def test_the_docx_example_refuses_what_is_no_word_document() -> None:
    namespace: dict[str, object] = {"__name__": "extending_doc"}
    exec(textwrap.dedent(BLOCK.findall(DOC)[0][1]), namespace)
    loader = namespace["DocxLoader"]()  # type: ignore[operator]
    invalid = namespace["InvalidDocument"]
    for data in (b"", b"%PDF-1.7 not a zip", _zip_without_text()):
        try:
            loader.load("notes.docx", data)
        except invalid as error:  # type: ignore[misc]
            assert "notes.docx" in str(error)
        else:
            raise AssertionError(f"accepted {data[:20]!r}")


def _zip_without_text() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    return buffer.getvalue()


def test_every_file_the_page_names_exists() -> None:
    named = {path.rstrip(".") for path in PATH.findall(DOC)}
    missing = sorted(p for p in named - TO_CREATE if not (PROJECT_ROOT / p).exists())
    assert not missing, missing
    assert named >= TO_CREATE
