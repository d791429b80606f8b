"""Loaders: what a user sees when files of each supported type are ingested."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.constants import PageLabelStyle

from services.budgets import BUDGET
from services.knowledge.loaders import (
    SUPPORTED_EXTENSIONS,
    FileLoader,
    HtmlLoader,
    MarkdownLoader,
    PdfLoader,
    PlainTextLoader,
)
from services.knowledge.loaders.pdf import join_broken_words
from tests import hostile_inputs
from use_cases.knowledge.domain import ParsedDocument
from use_cases.knowledge.ports import DocumentLoader
from use_cases.shared.errors import InputTooCostly, InvalidDocument, UnsupportedDocument

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "docs"


@pytest.fixture(scope="module")
def loader() -> FileLoader:
    return FileLoader()


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def paths(document: ParsedDocument) -> list[tuple[str, ...]]:
    return [section.heading_path for section in document.sections]


def text_of(document: ParsedDocument) -> str:
    return "\n".join(section.text for section in document.sections)


# --- a tiny, real PDF writer (no dev dependency needed) ------------------------------------


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def make_pdf(
    pages: list[str], info: dict[str, str] | None = None, margin: list[str] | None = None
) -> bytes:
    """A minimal valid PDF: one Helvetica text object per page (lines split on newlines);
    an empty string gives a page without text, like a scanned image. `margin`: per page, a
    note set in the right margin beside the body's second line (as LaTeX's marginal notes)."""
    first_page = 4
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        (
            "<< /Type /Pages /Kids ["
            + " ".join(f"{first_page + 2 * index} 0 R" for index in range(len(pages)))
            + f"] /Count {len(pages)} >>"
        ).encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, text in enumerate(pages):
        shown = " T* ".join(f"{_pdf_string(line)} Tj" for line in text.split("\n"))
        stream = f"BT /F1 12 Tf 14 TL 72 720 Td {shown} ET".encode() if text else b""
        if margin and margin[index]:
            stream += f" BT /F1 9 Tf 480 706 Td {_pdf_string(margin[index])} Tj ET".encode()
        objects.append(
            (
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                f"/Resources << /Font << /F1 3 0 R >> >> "
                f"/Contents {first_page + 2 * index + 1} 0 R >>"
            ).encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    info_ref = ""
    if info:
        entries = " ".join(f"/{key} {_pdf_string(value)}" for key, value in info.items())
        objects.append(f"<< {entries} >>".encode())
        info_ref = f" /Info {len(objects)} 0 R"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info_ref} >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


def rewrite_pdf(data: bytes, change: Callable[[PdfWriter], object]) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    change(writer)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


HANDBOOK = make_pdf(
    ["Employee Handbook\nWelcome to the company.", "Expenses\nKeep every receipt."],
    {"Title": "Employee Handbook", "ModDate": "D:20240131120000+01'00'", "Author": "HR"},
)


# --- dispatching ---------------------------------------------------------------------------


def test_file_loader_is_a_document_loader_for_every_supported_extension(
    loader: FileLoader,
) -> None:
    as_port: DocumentLoader = loader  # type-checks against the Protocol
    for ext in SUPPORTED_EXTENSIONS:
        assert as_port.supports(f"docs/file{ext}")
        assert as_port.supports(f"FILE{ext.upper()}")
    # Which extensions they are is pinned by the file-types table of docs/guide.md
    # (tests/unit/test_docs_formats.py), the one place a new loader is documented.
    assert len(set(SUPPORTED_EXTENSIONS)) == len(SUPPORTED_EXTENSIONS)
    assert all(ext.startswith(".") and ext == ext.lower() for ext in SUPPORTED_EXTENSIONS)


def test_unknown_extension_is_unsupported_and_the_error_lists_supported_types(
    loader: FileLoader,
) -> None:
    assert not loader.supports("setup.exe")
    with pytest.raises(UnsupportedDocument) as raised:
        loader.load("setup.exe", b"MZ\x90\x00 something")
    assert ".exe" in raised.value.detail
    for ext in SUPPORTED_EXTENSIONS:
        assert ext in raised.value.detail


def test_a_file_without_extension_is_unsupported(loader: FileLoader) -> None:
    with pytest.raises(UnsupportedDocument, match="without an extension"):
        loader.load("README", b"hello")


@pytest.mark.parametrize("name", ["empty.md", "empty.txt", "empty.html", "empty.pdf"])
def test_an_empty_file_is_invalid_and_says_so(loader: FileLoader, name: str) -> None:
    with pytest.raises(InvalidDocument, match=f"{name} is empty"):
        loader.load(name, b"")


@pytest.mark.parametrize("name", ["blank.md", "blank.txt", "blank.html", "blank.markdown"])
def test_a_whitespace_only_file_is_invalid_as_empty(loader: FileLoader, name: str) -> None:
    with pytest.raises(InvalidDocument, match="is empty"):
        loader.load(name, b"  \n\t\r\n  \n")


def test_each_per_format_loader_rejects_empty_input_on_its_own() -> None:
    for single, name in (
        (MarkdownLoader(), "a.md"),
        (PlainTextLoader(), "a.txt"),
        (HtmlLoader(), "a.html"),
        (PdfLoader(), "a.pdf"),
    ):
        assert single.supports(name)
        with pytest.raises(InvalidDocument):
            single.load(name, b"   ")


# --- Markdown ------------------------------------------------------------------------------


def test_markdown_front_matter_sets_title_category_date_and_metadata(loader: FileLoader) -> None:
    document = loader.load("security/password-policy.md", fixture_bytes("password-policy.md"))

    assert document.title == "Password Policy"
    assert document.category == "security"
    assert document.updated_at == date(2024, 3, 5)
    assert document.media_type == "text/markdown"
    assert document.metadata == {
        "owner": "IT Security",
        "tags": "passwords, accounts",
        "version": "3",
    }


def test_markdown_front_matter_with_a_few_small_aliases_reads_as_written(
    loader: FileLoader,
) -> None:
    data = (
        b"---\ntitle: Rota\ncategory: ops\nupdated: 2024-03-05\nowner: &team Platform\n"
        b"reviewers: [*team, Security]\nescalation: *team\n---\n# Rota\n\nWho is on call.\n"
    )
    document = loader.load("rota.md", data)
    assert (document.title, document.category, document.updated_at) == (
        "Rota",
        "ops",
        date(2024, 3, 5),
    )
    assert document.metadata == {
        "owner": "Platform",
        "reviewers": "Platform, Security",
        "escalation": "Platform",
    }


@pytest.mark.parametrize(
    ("string", "aliases"),
    [(1024 * 1024, 500), (4096, 500), (64, 100_000)],
    ids=["500 aliases of 1 MiB", "500 aliases of 4 KiB", "100,000 aliases of 64 bytes"],
)
def test_markdown_front_matter_expanding_past_its_budget_through_aliases_is_refused(
    loader: FileLoader, string: int, aliases: int
) -> None:
    """Measured on PyYAML's node graph before any object is built (so also in process, as
    bootstrap reads the bundled sample); each case expands to 2 MiB or more (1 MiB budget)."""
    data = hostile_inputs.yaml_alias_markdown(string, aliases)
    with pytest.raises(InputTooCostly, match=f"more than {BUDGET.max_yaml_expanded:,} bytes"):
        loader.load("aliases.md", data)


def test_markdown_front_matter_aliases_of_aliases_are_measured_without_expanding() -> None:
    """Nine levels of ten aliases each stand for 10^9 copies of "lol": refused, and measured
    in as many steps as the graph has edges (each node once)."""
    lines = ["---", "a0: &a0 lol"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 10)]
    data = ("\n".join([*lines, "---", "# Laughs", "", "text", ""])).encode()
    with pytest.raises(InputTooCostly, match="aliases"):
        MarkdownLoader().load("laughs.md", data)


def test_markdown_heading_paths_follow_the_heading_stack(loader: FileLoader) -> None:
    document = loader.load("password-policy.md", fixture_bytes("password-policy.md"))

    assert paths(document) == [
        ("Password Policy",),  # text before the first heading: the title path
        ("Password Policy",),  # the H1 is the root of the path, not duplicated
        ("Password Policy", "Rotation", "Service accounts"),
        ("Password Policy", "Rotation", "People"),
        ("Password Policy", "Length"),
    ]
    assert document.sections[0].text.startswith("This policy applies")
    assert document.sections[-1].text == "Passwords must be at least 14 characters long."


def test_markdown_hash_lines_inside_code_fences_are_not_headings(loader: FileLoader) -> None:
    document = loader.load("password-policy.md", fixture_bytes("password-policy.md"))

    service = document.sections[2]
    assert "# Rotate a service account by hand (not a heading)" in service.text
    assert "vault rotate svc-build" in service.text
    assert all("Rotate a service account" not in part for p in paths(document) for part in p)


def test_markdown_hash_lines_inside_raw_html_blocks_are_not_headings(loader: FileLoader) -> None:
    data = (
        b"# Setup\n\nInstall it.\n\n"
        b"<details>\n<summary>Shell script</summary>\n# install.sh: run as root\n"
        b"## not a heading either\n</details>\n\n"
        b"<!--\n# a comment line\n-->\n\n## Use\n\nRun it.\n"
    )
    document = loader.load("setup.md", data)
    assert paths(document) == [("Setup",), ("Setup", "Use")]
    setup = document.sections[0].text
    assert "<summary>Shell script</summary>\n# install.sh: run as root\n" in setup
    assert "## not a heading either" in setup


def test_markdown_a_fence_closes_only_on_a_fence_line_commonmark_accepts(
    loader: FileLoader,
) -> None:
    # Indented four spaces, "```" does not close the block: the "#" lines below it are code.
    data = b"# Build\n\n```sh\n# step one\n    ```\n# step two\n```\n\n## Test\n\nRun it.\n"
    document = loader.load("build.md", data)
    assert paths(document) == [("Build",), ("Build", "Test")]
    assert "    ```\n# step two\n```" in document.sections[0].text


def test_markdown_headings_are_the_top_level_ones_not_quoted_or_listed(loader: FileLoader) -> None:
    data = b"# Notes\n\n> # Quoted title\n\n- # Listed title\n\nAfter.\n"
    document = loader.load("notes.md", data)
    assert paths(document) == [("Notes",)]
    assert "> # Quoted title\n\n- # Listed title\n\nAfter." in document.sections[0].text


def test_markdown_section_texts_are_the_source_between_its_headings(loader: FileLoader) -> None:
    """Every character of the body but heading lines and relative link definitions is kept,
    in order, so chunks stay exact substrings of what the file says."""
    data = (
        b"Lead  \n\n# A\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n<div>\n# d\n</div>\n\n"
        b"Para one\nstill one\n---\n\n    # indented code\n\n[r]: ./r.md\n\n## B ##\n\ntail\n"
    )
    document = loader.load("exact.md", data)
    body = data.decode()
    for section in document.sections:
        assert section.text in body
    assert paths(document) == [("A",), ("A",), ("A", "Para one still one"), ("A", "B")]


def test_markdown_link_definitions_to_relative_addresses_are_dropped(loader: FileLoader) -> None:
    data = (
        b"# Guide\n\nSee [the setup page][setup] or [Python].\n\n"
        b"[setup]: ../setup.md#install\n"
        b'  [python]: <https://www.python.org> "Python"\n\n'
        b"```\n[kept]: ./inside-code\n```\n"
    )
    text = loader.load("guide.md", data).sections[0].text
    # a renderer hides every definition; one leading out stays findable, as the reST
    # loader keeps "name: address"
    assert "../setup.md" not in text
    assert '  [python]: <https://www.python.org> "Python"' in text
    assert "[kept]: ./inside-code" in text  # code is never touched
    assert "See [the setup page][setup] or [Python]." in text  # the raw Markdown, as stored


def test_markdown_heading_with_only_subheadings_gives_no_empty_section(
    loader: FileLoader,
) -> None:
    document = loader.load("password-policy.md", fixture_bytes("password-policy.md"))

    assert ("Password Policy", "Rotation") not in paths(document)
    assert all(section.text.strip() for section in document.sections)


@pytest.mark.parametrize(
    ("front_matter", "expected"),
    [
        ("updated: 2024-01-15", date(2024, 1, 15)),
        ("last_updated: '2024-01-16'", date(2024, 1, 16)),
        ("date: 2024-01-17T08:00:00Z", date(2024, 1, 17)),
        ("date: March 18, 2024", date(2024, 3, 18)),
        ("updated: 2024/01/19", date(2024, 1, 19)),
        ("updated: sometime soon", None),
    ],
)
def test_markdown_updated_date_accepts_dates_and_date_strings(
    loader: FileLoader, front_matter: str, expected: date | None
) -> None:
    data = f"---\n{front_matter}\n---\n# Doc\n\nBody.\n".encode()
    assert loader.load("doc.md", data).updated_at == expected


def test_markdown_unreadable_date_is_kept_as_metadata(loader: FileLoader) -> None:
    document = loader.load("doc.md", b"---\nupdated: sometime soon\n---\nBody text.\n")
    assert document.updated_at is None
    assert document.metadata["updated"] == "sometime soon"


def test_markdown_updated_wins_over_date(loader: FileLoader) -> None:
    data = b"---\ndate: 2020-01-01\nupdated: 2024-05-06\n---\nBody.\n"
    document = loader.load("doc.md", data)
    assert document.updated_at == date(2024, 5, 6)
    assert document.metadata["date"] == "2020-01-01"


def test_markdown_invalid_front_matter_is_reported_clearly(loader: FileLoader) -> None:
    with pytest.raises(InvalidDocument, match=r"doc\.md has invalid YAML front matter"):
        loader.load("doc.md", b"---\ntitle: [unclosed\n---\nBody.\n")


def test_markdown_title_falls_back_to_first_h1_then_file_name(loader: FileLoader) -> None:
    with_h1 = loader.load("x.md", b"Intro line.\n\n# Onboarding Guide\n\nWelcome.\n")
    assert with_h1.title == "Onboarding Guide"
    assert paths(with_h1) == [("Onboarding Guide",), ("Onboarding Guide",)]

    without = loader.load("team/expense_claims-v2.markdown", b"## Limits\n\nUp to 50 EUR.\n")
    assert without.title == "Expense claims v2"
    assert paths(without) == [("Limits",)]
    assert without.category is None


def test_markdown_heading_text_is_plain_text(loader: FileLoader) -> None:
    data = b"# The **Big** [Guide](http://x) `v2` ##\n\nBody.\n\n## C# tips {#tips}\n\nMore.\n"
    document = loader.load("g.md", data)
    assert document.title == "The Big Guide v2"
    assert paths(document)[1] == ("The Big Guide v2", "C# tips")


def test_markdown_setext_headings_split_sections(loader: FileLoader) -> None:
    data = b"Guide\n=====\n\nIntro.\n\nSetup\n-----\n\nInstall it.\n"
    document = loader.load("guide.md", data)
    assert document.title == "Guide"
    assert paths(document) == [("Guide",), ("Guide", "Setup")]


def test_markdown_with_only_front_matter_has_no_content(loader: FileLoader) -> None:
    with pytest.raises(InvalidDocument, match="has no text content"):
        loader.load("x.md", b"---\ntitle: Nothing here\n---\n\n")


def test_markdown_with_a_byte_order_mark_still_reads_front_matter(loader: FileLoader) -> None:
    data = "\ufeff---\r\ntitle: BOM doc\r\n---\r\nBody text.\r\n".encode()
    document = loader.load("bom.md", data)
    assert document.title == "BOM doc"
    assert document.sections[0].text == "Body text."


# --- plain text ----------------------------------------------------------------------------


def test_text_file_is_one_section_titled_by_its_short_first_line(loader: FileLoader) -> None:
    document = loader.load("notes/meeting-notes.txt", fixture_bytes("meeting-notes.txt"))

    assert document.title == "Security meeting notes"
    assert document.media_type == "text/plain"
    assert len(document.sections) == 1
    assert document.sections[0].heading_path == ("Security meeting notes",)
    assert "service accounts to the vault" in document.sections[0].text


def test_a_manuals_text_dump_is_sectioned_by_its_numbered_headings_not_its_list(
    loader: FileLoader,
) -> None:
    name = "tool-manual-dump.txt"
    document = loader.load(name, fixture_bytes(name))
    assert document.title == "The Ledger Tool Manual"
    paths = [section.heading_path for section in document.sections]
    assert paths == [
        ("The Ledger Tool Manual",),  # the title and table of contents before chapter 1
        ("Chapter 1. Introduction",),
        ("Chapter 1. Introduction", "1. What Ledger Is"),
        ("Chapter 2. Getting Started", "1. Installing"),
        ("Chapter 2. Getting Started", "2. First Run", "2.1. Opening a Journal"),
    ]
    # The numbered steps after the last heading are a list in its text, not headings; the
    # example keeps its indentation (the text is read as it is).
    last = document.sections[-1].text
    assert "1. Open a terminal\n\n2. Run the command above\n\n3. Read the balance" in last
    assert "\n    ledger -f journal.txt balance\n" in last
    # Two numbered lines are a list, not a document's headings.
    listed = loader.load("steps.txt", b"Steps\n\n1. Open it\n\nThen wait.\n\n2. Close it\n")
    assert len(listed.sections) == 1


def test_text_file_whose_first_line_is_a_sentence_is_titled_by_file_name(
    loader: FileLoader,
) -> None:
    document = loader.load("on_call_rota.txt", b"Alice covers weekends this month.\nBob next.")
    assert document.title == "On call rota"


def test_undecodable_text_falls_back_to_cp1252_instead_of_failing(loader: FileLoader) -> None:
    document = loader.load("cafe.txt", fixture_bytes("cafe-cp1252.txt"))

    assert document.title == "Café menu – prices"
    assert "crème brûlée" in document.sections[0].text
    assert "\r" not in document.sections[0].text


def test_utf16_text_with_a_byte_order_mark_is_decoded(loader: FileLoader) -> None:
    document = loader.load("u16.txt", "Überblick\n\nInhalt hier.".encode("utf-16"))
    assert document.title == "Überblick"


# --- content, not extension ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["photo.md", "notes.txt", "page.html"])
def test_binary_content_under_a_text_extension_is_unsupported(
    loader: FileLoader, name: str
) -> None:
    with pytest.raises(UnsupportedDocument, match="not a text file: it contains NUL bytes"):
        loader.load(name, HANDBOOK.replace(b"Employee", b"\x00\x01\x02\x03") * 4)


def test_binary_content_without_nul_bytes_is_caught_by_its_control_characters(
    loader: FileLoader,
) -> None:
    noise = bytes(b for b in range(1, 256)) * 200  # every byte value but NUL
    with pytest.raises(UnsupportedDocument, match="control characters"):
        loader.load("firmware.md", noise)


def test_text_with_a_few_control_characters_is_still_text(loader: FileLoader) -> None:
    log = b"# Build log\n\n" + b"step \x1b[32mok\x1b[0m done, form feed \x0c here\n" * 40
    assert loader.load("build.md", log).title == "Build log"


def test_a_multi_byte_character_cut_by_the_sniffed_sample_is_not_held_against_the_file(
    loader: FileLoader,
) -> None:
    text = ("# Café\n\n" + "é" * 40_000).encode()  # 2 bytes each: the sample ends mid-é
    assert loader.load("cafe.md", text).title == "Café"


# --- HTML ----------------------------------------------------------------------------------


def test_html_drops_scripts_styles_navigation_and_footer(loader: FileLoader) -> None:
    document = loader.load("leave-policy.html", fixture_bytes("leave-policy.html"))
    text = text_of(document)

    for hidden in ("track everything", "font-family", "tracking pixel", "Home", "Copyright"):
        assert hidden not in text
    assert "Everyone gets paid leave. This page explains how much." in text


def test_html_title_meta_and_heading_sections(loader: FileLoader) -> None:
    document = loader.load("leave-policy.html", fixture_bytes("leave-policy.html"))

    assert document.title == "Leave Policy"
    assert document.category == "hr"
    assert document.updated_at == date(2024, 2, 1)
    assert document.media_type == "text/html"
    assert document.metadata == {"author": "People Team", "lang": "en"}
    assert paths(document) == [
        ("Leave Policy",),
        ("Leave Policy", "Annual leave"),
        ("Leave Policy", "Sick leave"),
    ]


def test_html_lists_and_tables_keep_their_rows(loader: FileLoader) -> None:
    document = loader.load("leave-policy.html", fixture_bytes("leave-policy.html"))
    annual = document.sections[1].text

    assert "- 25 days per year\n- Up to 5 days carry over" in annual
    assert "| Years of service | Days |\n| 0-4 | 25 |\n| 5+ | 28 |" in annual


def test_html_ordered_lists_keep_their_numbers_and_hidden_elements_are_dropped(
    loader: FileLoader,
) -> None:
    data = (
        b"<h1>Steps</h1><ol start='3'><li>Open the vault</li><li>Rotate</li></ol>"
        b"<div hidden>secret draft</div><p aria-hidden='true'>icon</p>"
    )
    document = loader.load("steps.html", data)
    assert document.sections[0].text == "3. Open the vault\n4. Rotate"


def test_html_list_items_are_numbered_by_their_value_and_reversed_lists_count_down(
    loader: FileLoader,
) -> None:
    # SQLite documents a setting's values 0-3 as <li value=0..3>: the number is the value.
    data = (
        b"<h1>Settings</h1><ol><li value='0'>Always on disk</li><li>On disk by default</li>"
        b"<li value='3'>Always in memory</li><li value='x'>Bad value</li></ol>"
        b"<p>Countdown:</p><ol reversed><li>three</li><li>two</li><li>one</li></ol>"
    )
    document = loader.load("settings.html", data)
    assert document.sections[0].text == (
        "0. Always on disk\n1. On disk by default\n3. Always in memory\n4. Bad value"
        "\n\nCountdown:\n\n3. three\n2. two\n1. one"
    )


def test_html_list_items_with_a_bold_title_paragraph_are_sections_of_their_own(
    loader: FileLoader,
) -> None:
    # SQLite's limits page: <ol><li><p><b>Maximum Number Of Columns</b></p><p>...</p></li>
    data = (
        b"<h1>Limits</h1><p>Limits are sizes.</p><ol>"
        b"<li><p><b>Maximum Number Of Columns</b></p><p>The default is 2000.</p></li>"
        b"<li><p><b>Maximum Database Size</b></p><p>Pages are 4096 bytes.</p>"
        b"<p>At most 4294967294 pages.</p></li></ol>"
        b"<ul><li><p><b>Short item</b></p></li><li><p><b>Tip</b> <i>and more</i></p><p>x</p></li>"
        b"<li><p><b>Bulleted title</b></p><p>Its text.</p></li></ul><p>After the lists.</p>"
    )
    document = loader.load("limits.html", data)
    assert [(s.heading_path, s.text) for s in document.sections] == [
        (("Limits",), "Limits are sizes."),
        (("Limits", "1. Maximum Number Of Columns"), "The default is 2000."),
        (
            ("Limits", "2. Maximum Database Size"),
            "Pages are 4096 bytes.\n\nAt most 4294967294 pages.",
        ),
        # a bold item alone, or a paragraph only partly bold, is no title
        (("Limits",), "- Short item\n\n- Tip and more\n\nx"),
        (("Limits", "Bulleted title"), "Its text."),
        (("Limits",), "After the lists."),
    ]


def test_html_title_falls_back_to_h1_and_reads_last_modified(loader: FileLoader) -> None:
    data = (
        b'<meta http-equiv="last-modified" content="Wed, 21 Oct 2015 07:28:00 GMT">'
        b"<h1>Runbook</h1><p>Restart the service.</p>"
    )
    document = loader.load("runbook.htm", data)
    assert document.title == "Runbook"
    assert document.updated_at == date(2015, 10, 21)
    assert paths(document) == [("Runbook",)]


def test_html_with_no_visible_text_is_invalid(loader: FileLoader) -> None:
    with pytest.raises(InvalidDocument):
        loader.load("blank.html", b"<html><head><script>x()</script></head><body> </body></html>")


def test_html_a_title_banner_among_misnested_tags_is_dropped_once() -> None:
    """html.parser's tree of misnested tags can link a string before the first heading that
    a title banner dropped before holds: that wiped string is passed over, not read."""
    body = (
        "<h1>Rules</h1><span role='main'>Rules<ol><span value='3'><table hidden><div star"
        "t='2'></div><ol value='3'>\n<blockquote hidden></blockquote></ol></table>Rules<bl"
        "ockquote></blockquote>beta</span>Rules<i>  <pre><tr id='n'><small role='main'></"
        "small><div value='3'>&amp;é\nRules</div></tr></pre><p value='3'>¶alpha</p><a><ul "
        "value='3'>\ngamma deltaalpha<h2 id='n'>¶</h2></ul></a></i>alpha</ol><a id='n' hre"
        "f='/page'><i class='note'></i>Rules¶<td>beta<td id='n'></td><h2><ol id='n'>beta&"
        "amp;</ol><pre role='main'>é\n<tr role='main'>gamma delta    gamma delta</tr></pre"
        "></h2></td></a></span>¶beta"
    )
    page = (
        f"<html><head><meta charset='utf-8'><title>Rules</title></head><body>{body}</body></html>"
    )
    document = FileLoader().load("misnested.html", page.encode())
    assert document.title == "Rules"
    assert "beta" in "\n".join(section.text for section in document.sections)


# --- PDF -----------------------------------------------------------------------------------


def test_pdf_has_a_section_per_page_with_title_and_date_from_its_metadata(
    loader: FileLoader,
) -> None:
    document = loader.load("handbook.pdf", HANDBOOK)

    assert document.title == "Employee Handbook"
    assert document.updated_at == date(2024, 1, 31)
    assert document.media_type == "application/pdf"
    assert document.metadata == {"author": "HR", "pages": "2"}
    assert paths(document) == [("Page 1",), ("Page 2",)]
    assert "Welcome to the company." in document.sections[0].text
    assert "Keep every receipt." in document.sections[1].text


def test_pdf_without_title_metadata_is_titled_by_its_first_line(loader: FileLoader) -> None:
    document = loader.load("scan_2024.pdf", make_pdf(["Travel Policy\nBook trains early."]))
    assert document.title == "Travel Policy"
    assert document.updated_at is None


def test_pdf_bookmarks_and_page_labels_name_the_sections(loader: FileLoader) -> None:
    def add_outline(writer: PdfWriter) -> None:
        chapter = writer.add_outline_item(title="Welcome", page_number=0)
        writer.add_outline_item(title="Receipts", page_number=1, parent=chapter)
        writer.add_outline_item(title="Money", page_number=1)
        writer.set_page_label(0, 1, style=PageLabelStyle.LOWERCASE_ROMAN)
        writer.set_page_label(1, 1, style=PageLabelStyle.DECIMAL, start=7)

    document = loader.load("handbook.pdf", rewrite_pdf(HANDBOOK, add_outline))
    # page 7: the first bookmark starting on it, in outline order
    assert paths(document) == [("Welcome", "Page i"), ("Welcome", "Receipts", "Page 7")]


def test_a_pdf_page_is_split_where_a_bookmarks_title_starts_a_line(loader: FileLoader) -> None:
    pages = [
        "2 Writing classes\nThis section covers general points.\n2.1 Old versions\n"
        "Upgrade old style files first.\n2.2 Using `docstrip'\nUse docstrip for big packages.",
        "It strips comments.\n2.3 Command names\nThere are three types of command.",
    ]

    def add_outline(writer: PdfWriter) -> None:
        chapter = writer.add_outline_item(title="2 Writing classes", page_number=0)
        writer.add_outline_item(title="2.1 Old versions", page_number=0, parent=chapter)
        writer.add_outline_item(title="Using \u2018docstrip\u2019", page_number=0, parent=chapter)
        writer.add_outline_item(title="Not printed on the page", page_number=1, parent=chapter)
        writer.add_outline_item(title="2.3 Command names", page_number=1, parent=chapter)

    document = loader.load("clsguide.pdf", rewrite_pdf(make_pdf(pages), add_outline))
    chapter = "2 Writing classes"
    assert [(s.heading_path, s.text) for s in document.sections] == [
        ((chapter, "Page 1"), "This section covers general points."),
        ((chapter, "2.1 Old versions", "Page 1"), "Upgrade old style files first."),
        # the bookmark without its number, its quotes plain: the page's line all the same
        ((chapter, "Using \u2018docstrip\u2019", "Page 1"), "Use docstrip for big packages."),
        # above the next title found: the bookmark before it, though its title is not printed
        ((chapter, "Not printed on the page", "Page 2"), "It strips comments."),
        ((chapter, "2.3 Command names", "Page 2"), "There are three types of command."),
    ]


def test_numbered_headings_below_a_bookmark_head_their_text_over_the_page(
    loader: FileLoader,
) -> None:
    pages = [
        "2.7 General style\nSome advice.\n2.7.1 Loading other files\nUse these commands.",
        "They load files.\n2.7.2 Make it portable\nUse short names.\n3. Not a heading\n2.8 Other",
        "Text under the next bookmark.",
    ]

    def add_outline(writer: PdfWriter) -> None:
        writer.add_outline_item(title="2.7 General style", page_number=0)
        writer.add_outline_item(title="2.8 Other", page_number=1)

    document = loader.load("clsguide.pdf", rewrite_pdf(make_pdf(pages), add_outline))
    style, files = "2.7 General style", "2.7.1 Loading other files"
    assert [(s.heading_path, s.text) for s in document.sections] == [
        ((style, "Page 1"), "Some advice."),
        ((style, files, "Page 1"), "Use these commands."),
        ((style, files, "Page 2"), "They load files."),  # the heading goes on over the page
        ((style, "2.7.2 Make it portable", "Page 2"), "Use short names.\n3. Not a heading"),
        (("2.8 Other", "Page 3"), "Text under the next bookmark."),
    ]


def test_a_pdf_page_without_its_bookmarks_titles_is_one_section() -> None:
    from services.knowledge.loaders.pdf import split_at_titles

    text = "Intro text.\nMore text."
    assert split_at_titles(text, ("A",), [("B",), ("C",)]) == [(("B",), text)]
    assert split_at_titles(text, ("A",), []) == [(("A",), text)]
    assert split_at_titles("", ("A",), [("B",)]) == []
    # a title on the page's first line leaves nothing above it
    assert split_at_titles("B\nBody.", ("A",), [("B",)]) == [(("B",), "Body.")]


def test_marginal_notes_of_a_pdf_stay_out_of_the_sentences_beside_them(
    loader: FileLoader,
) -> None:
    body = "Loading classes\nThe following commands can be used when you want\nto load a class."
    data = make_pdf([body] * 4, margin=["New feature", "New feature", "", "New description"])
    text = text_of(loader.load("guide.pdf", data))
    assert "New" not in text
    assert text.count("when you want") == 4
    assert "feature" not in text and "description" not in text


def test_words_far_right_on_a_page_or_two_are_body_text(loader: FileLoader) -> None:
    body = "Slots\nThe table lists the slots\nof the encoding."
    data = make_pdf([body] * 3, margin=["Slot 140", "", ""])
    text = text_of(loader.load("guide.pdf", data))
    assert "Slot 140" in text  # one page only: a table's column, not a column of notes


def test_words_hyphenated_at_a_line_end_are_whole_again(loader: FileLoader) -> None:
    body = (
        "Optional ar-\nguments are read first; the hook must not be used for type-\n\n"
        "setting. A user-\ndefined command, as user-defined ones are, and a Foo-\nbar-\n"
        "nowhere code -NoValue-\nwill stay."
    )
    text = text_of(loader.load("guide.pdf", make_pdf([body])))
    assert "Optional arguments are read first" in text  # an English word
    assert "for typesetting." in text  # across the blank line a column break leaves
    assert "A user-defined command" in text  # the document's own compound keeps its hyphen
    assert "Foo-\nbar-\nnowhere" in text  # neither a word nor a compound: left as printed
    assert "-NoValue-\nwill" in text  # a hyphen of the word itself, not a break


def test_a_sentence_a_page_break_cut_is_whole_on_its_first_page(loader: FileLoader) -> None:
    pages = [
        "7 Symbols\nThe original definition remains available; and to fully revert there\n1",
        "is also a declaration. The latter also changes the footnote symbols.\n2",
        "A new page starts a sentence.\nIt ends without a stop\n3",
        "Capitalised Heading\nNothing is carried over a capital.\n4",
    ]
    document = loader.load("guide.pdf", make_pdf(pages))
    texts = [section.text for section in document.sections]
    assert texts[0].endswith("to fully revert there\nis also a declaration.")
    assert texts[1] == "The latter also changes the footnote symbols."
    assert texts[2].endswith("It ends without a stop")  # page number gone, nothing carried
    assert texts[3].startswith("Capitalised Heading")
    assert not any(text.rstrip().endswith(("1", "2", "3", "4")) for text in texts)


def test_a_page_number_is_dropped_only_when_it_is_the_pages_own() -> None:
    from services.knowledge.loaders.pdf import whole_sentences

    assert whole_sentences(["Total rows\n42", "Page two.\nii"], ["1", "ii"]) == [
        "Total rows\n42",  # a number, but not this page's: content
        "Page two.",
    ]
    # a continuation without a sentence end within reach stays where it is
    long = "and " + "more words " * 60
    assert whole_sentences(["It goes on", long], ["1", "2"]) == ["It goes on", long]


def test_a_pdf_definition_list_keeps_each_term_with_its_description(loader: FileLoader) -> None:
    # LaTeX's font guide prints its size functions as "term Description" with only a gap
    body = (
        "4.4 Size functions\n"
        "The following size functions are defined:\n"
        "sub Tries to load a font from a different font shape declaration given by\n"
        "the argument.\n"
        "ssub Silent variant of sub, only loggings.\n"
        "alias Same as ssub but with a different logging message. Intended for cases\n"
        "where only the name changes.\n"
        "O Given as O{default}, is like o.\n"
        "A Note on shapes follows.\n"
        "The Font is loaded as it is given by\n"
        "fixed Load the font as is.\n"
    )
    text = text_of(loader.load("fntguide.pdf", make_pdf([body])))
    assert "sub — Tries to load a font" in text
    assert "ssub — Silent variant of sub, only loggings." in text
    assert "alias — Same as ssub but" in text and "\nwhere only the name changes." in text
    assert "O — Given as O{default}" in text
    assert "A Note on shapes follows." in text  # an article, not a term
    assert "The Font is loaded" in text  # a function word, not a term
    assert "given by\nfixed Load" in text  # the sentence before goes on: no new item


def test_a_hyphenated_word_is_joined_by_the_documents_own_words_too() -> None:
    known = {"almanacs"}.__contains__
    assert join_broken_words("two alma-\nnacs and sub-\nsections", known) == (
        "two almanacs and sub-\nsections"
    )


def test_pdf_with_only_blank_pages_says_it_has_no_text(
    loader: FileLoader,
) -> None:
    with pytest.raises(InvalidDocument, match="no extractable text"):
        loader.load("scanned.pdf", make_pdf(["", ""]))


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_pdf_is_invalid_with_a_clear_message(loader: FileLoader, keep: float) -> None:
    with pytest.raises(InvalidDocument) as raised:
        loader.load("broken.pdf", HANDBOOK[: int(len(HANDBOOK) * keep)])
    assert (
        raised.value.detail
        == "broken.pdf could not be read as a PDF; it may be corrupt or truncated"
    )


def test_a_file_that_is_not_a_pdf_at_all_is_invalid(loader: FileLoader) -> None:
    with pytest.raises(InvalidDocument, match="is not a PDF file"):
        loader.load("fake.pdf", b"just some text pretending")


def test_password_protected_pdf_is_invalid(loader: FileLoader) -> None:
    locked = rewrite_pdf(HANDBOOK, lambda w: w.encrypt("secret", algorithm="RC4-128"))
    with pytest.raises(InvalidDocument, match="password-protected"):
        loader.load("locked.pdf", locked)


def test_pdf_restricted_only_by_an_owner_password_is_still_read(loader: FileLoader) -> None:
    restricted = rewrite_pdf(
        HANDBOOK, lambda w: w.encrypt("", owner_password="owner", algorithm="RC4-128")
    )
    document = loader.load("restricted.pdf", restricted)
    assert "Welcome to the company." in document.sections[0].text


# --- determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["password-policy.md", "leave-policy.html", "meeting-notes.txt", "cafe-cp1252.txt"]
)
def test_loading_the_same_bytes_twice_gives_the_same_document(
    loader: FileLoader, name: str
) -> None:
    data = fixture_bytes(name)
    assert loader.load(name, data) == loader.load(name, data)


def test_rest_inline_markup_reads_as_rest_renders_it(loader: FileLoader) -> None:
    text = (
        "Guide\n=====\n\n"
        "Read `the primer <https://example.org/primer>`_ and the `Quick\n"
        "reference`_ first; configparser_ reads it [#]_, see [CIT2002]_.\n"
        "Use :pep:`8` and :sub:`2` with the `default role`, an _`inline target`,\n"
        "the `:raw:`_ role and `\\<literal>`_, but ``keep `this`_`` and *that*.\n\n"
        "Code::\n\n    x = `y`_\n\n"
        ".. [#] A footnote.\n"
        ".. _configparser: https://docs.python.org/3/library/configparser.html\n"
        ".. _Quick reference: configparser_\n"
    )
    document = loader.load("guide.rst", text.encode())
    assert document.title == "Guide"
    body = text_of(document)
    assert (
        "Read the primer and the Quick\nreference first; configparser reads it, see [CIT2002]."
        in (body)
    )
    assert "Use PEP 8 and 2 with the default role, an inline target," in body
    assert "the :raw: role and <literal>, but ``keep `this`_`` and *that*." in body
    assert "x = `y`_" in body  # a literal block is code
    assert "A footnote." in body and "[#]" not in body
    assert "configparser: https://docs.python.org/3/library/configparser.html" in body
    assert "Quick reference:" not in body  # an indirect target is no text


#: Files whose reading once took minutes: reST bodies whose inline markup patterns
#: backtracked from every character, and HTML whose navigation rules read every nested block
#: to its end. Each must come back whole (none is markup or chrome).
HOSTILE_REST = {
    "spaces": "` " + " " * 100_000 + "x",  # an opening backquote, then a line of spaces
    "dots": "a." * 100_000,  # one "word" of dots
    "backquotes": "`a " * 30_000,  # backquotes that never close
    "underscores": "a_" * 100_000 + "b",  # one identifier, no reference
}
#: 3,000 unclosed <div>s, each a sentence (more than a bar's label) with a "next" link.
NESTED_LINE = "A sentence longer than any label of a bar."
HOSTILE_HTML = {
    "nested": "<html><body><h1>T</h1>"
    + f"<div>{NESTED_LINE} <a href='#a' rel='next'>on</a>" * 3_000,
}
_READ_HOSTILE = """
import json, sys
from services.knowledge.loaders import FileLoader
files = json.loads(sys.stdin.read())
texts = {}
for name, data in files.items():
    document = FileLoader().load(name, data.encode())
    texts[name] = "\\n\\n".join(s.text for s in document.sections)
print(json.dumps(texts))
"""


def _read_in_a_child(files: dict[str, str]) -> dict[str, str]:
    """Each file's text, read in a child process with a deadline (a regular expression holds
    the interpreter, so no thread could bound it): a rule that reads a file in more than one
    pass again fails the test instead of stalling the suite."""
    done = subprocess.run(
        [sys.executable, "-c", _READ_HOSTILE],
        input=json.dumps(files),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    texts: dict[str, str] = json.loads(done.stdout)
    return texts


def test_rest_inline_markup_of_a_hostile_file_is_read_in_one_pass() -> None:
    files = {f"{name}.rst": f"Title\n=====\n\n{body}\n" for name, body in HOSTILE_REST.items()}
    texts = _read_in_a_child(files)  # ~1 s in all
    assert {name: texts[f"{name}.rst"].strip() for name in HOSTILE_REST} == {
        name: body.strip() for name, body in HOSTILE_REST.items()
    }


def test_html_navigation_rules_read_a_deeply_nested_page_once() -> None:
    texts = _read_in_a_child({f"{name}.html": page for name, page in HOSTILE_HTML.items()})
    assert texts["nested.html"].split() == f"{NESTED_LINE} on".split() * 3_000  # ~2 s


def test_a_page_of_preformatted_prose_reads_as_text_and_code_stays_code(loader: FileLoader) -> None:
    """A help page or FAQ written as one `<pre>` (Vim's help, man2html) is prose: its
    paragraphs are the page's text, so their sentences can answer; a short `<pre>` or one
    of code, however long and commented, stays a code block."""
    name = "editor-faq-preformatted.html"
    text = loader.load(name, fixture_bytes(name)).sections[0].text
    assert "```" not in text
    assert "Press u in normal mode to undo the last change." in text
    code = "\n".join(
        f"# step {i}: copy the files to the server and restart it\nrsync -a build/ host:/srv/{i}"
        for i in range(30)
    )
    page = f"<html><body><h1>Deploy</h1><pre>{code}</pre></body></html>".encode()
    assert "```\n# step 0" in loader.load("deploy.html", page).sections[0].text
