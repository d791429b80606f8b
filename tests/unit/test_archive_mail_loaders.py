"""Zip archives and e-mail (`.zip`, `.eml`, `.mbox`) as a user sees them once loaded: each
member or attachment read by its own loader as sections headed by where it stands, from two
producers each (Python's zipfile and Info-ZIP's `zip`; Python's `email` package and a message
as a mail client writes one; Python's `mailbox` and an mboxrd file), and the hostile ones:
bombs, traversal names, too many members, nesting past one level."""

from __future__ import annotations

import email.utils
import io
import mailbox
import secrets
import shutil
import subprocess
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from services.budgets import BUDGET
from services.knowledge.loaders import FileLoader
from tests.inflation import counting_inflation
from use_cases.knowledge.domain import ParsedDocument
from use_cases.shared.errors import InputTooCostly, InvalidDocument, UnsupportedDocument

PARKING = b"# Parking\n\nVisitors park in bay 7.\n"
NOTES = b"Team notes\n\nThe coffee machine is on floor 2.\n"


@pytest.fixture(scope="module")
def loader() -> FileLoader:
    return FileLoader()


def sections(document: ParsedDocument) -> dict[tuple[str, ...], str]:
    return {section.heading_path: section.text for section in document.sections}


def packed(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# --- zip -------------------------------------------------------------------------------------


def test_a_zip_from_pythons_zipfile_reads_each_member_by_its_own_loader(
    loader: FileLoader,
) -> None:
    data = packed(
        {
            "policies/": b"",
            "policies/parking.md": PARKING,
            "notes.txt": NOTES,
            "inner.zip": packed({"faq.md": b"# FAQ\n\nAsk the front desk.\n"}),
            "tool.exe": b"MZ\x00\x00",
            "__MACOSX/policies/._parking.md": b"\x00\x05\x16\x07",
        }
    )
    document = loader.load("handbook.zip", data)
    assert document.title == "Handbook"
    assert document.media_type == "application/zip"
    assert sections(document) == {
        ("handbook.zip/policies/parking.md", "Parking"): "Visitors park in bay 7.",
        ("handbook.zip/notes.txt", "Team notes"): NOTES.decode().strip(),
        ("handbook.zip/inner.zip/faq.md", "FAQ"): "Ask the front desk.",
    }
    assert document.metadata["members"] == "4"
    assert document.metadata["skipped"] == "tool.exe (.exe: not a type Almanac reads)"


def test_a_zip_from_info_zip_reads_alike(loader: FileLoader, tmp_path: Path) -> None:
    zip_command = shutil.which("zip")
    if zip_command is None:
        pytest.skip("Info-ZIP's zip is not installed: apt-get install zip")
    folder = tmp_path / "handbook"
    (folder / "policies").mkdir(parents=True)
    (folder / "policies" / "parking.md").write_bytes(PARKING)
    (folder / "notes.txt").write_bytes(NOTES)
    subprocess.run([zip_command, "-qr", "../handbook.zip", "."], cwd=folder, check=True)
    document = loader.load("handbook.zip", (tmp_path / "handbook.zip").read_bytes())
    assert sections(document) == {
        ("handbook.zip/policies/parking.md", "Parking"): "Visitors park in bay 7.",
        ("handbook.zip/notes.txt", "Team notes"): NOTES.decode().strip(),
    }


def test_a_member_that_fails_is_skipped_and_named_and_the_rest_is_read(
    loader: FileLoader,
) -> None:
    document = loader.load("mixed.zip", packed({"empty.md": b"", "notes.txt": NOTES}))
    assert list(sections(document)) == [("mixed.zip/notes.txt", "Team notes")]
    assert document.metadata["skipped"] == "empty.md (is empty)"
    with pytest.raises(InvalidDocument, match=r"no member with readable text.*empty\.md"):
        loader.load("hollow.zip", packed({"empty.md": b""}))


def test_archives_nest_one_level_not_two(loader: FileLoader) -> None:
    innermost = packed({"deep.md": PARKING})
    data = packed({"a.zip": packed({"b.zip": innermost, "n.txt": NOTES})})
    document = loader.load("outer.zip", data)
    assert list(sections(document)) == [("outer.zip/a.zip/n.txt", "Team notes")]
    assert (
        document.metadata["skipped"] == "a.zip/b.zip (a container nested more than one level deep)"
    )


@pytest.mark.parametrize(
    "name", ["../evil.md", "/etc/cron.d/evil.md", "a/../../evil.md", "C:/x.md"]
)
def test_a_member_name_leading_out_of_the_archive_refuses_it(loader: FileLoader, name: str) -> None:
    data = packed({"ok.md": PARKING, name: PARKING})
    with pytest.raises(InvalidDocument, match="unsafe name"):
        loader.check("evil.zip", data)
    with pytest.raises(InvalidDocument, match="unsafe name"):
        loader.load("evil.zip", data)


def test_a_zip_bomb_is_413_from_its_directory_before_anything_is_inflated(
    loader: FileLoader,
) -> None:
    bomb = packed({"zeros.txt": b"0" * (50 * 1024 * 1024)})  # packs ~1,000 times
    with counting_inflation() as inflation, pytest.raises(InputTooCostly) as refused:
        loader.load("bomb.zip", bomb)
    assert "ARCHIVE_MAX_RATIO" in refused.value.detail
    assert inflation.bytes == 0


def test_member_count_and_total_size_are_budgeted_nested_archives_included() -> None:
    few = FileLoader(budget=replace(BUDGET, max_archive_members=3))
    inner = packed({f"{n}.txt": NOTES for n in range(3)})
    with pytest.raises(InputTooCostly, match="ARCHIVE_MAX_MEMBERS"):
        few.load("many.zip", packed({f"{n}.txt": NOTES for n in range(4)}))
    with pytest.raises(InputTooCostly, match="ARCHIVE_MAX_MEMBERS"):
        few.load("nested.zip", packed({"inner.zip": inner}))  # 1 + 3 members
    small = FileLoader(budget=replace(BUDGET, max_archive_unpacked=2 * 1024 * 1024))
    big = {f"{n}.txt": secrets.token_hex(700_000).encode() for n in range(2)}  # packs ~2 times
    with pytest.raises(InputTooCostly, match="ARCHIVE_MAX_UNPACKED_MB"):
        small.load("big.zip", packed(big))


def test_a_corrupt_zip_is_422(loader: FileLoader) -> None:
    data = packed({"notes.txt": NOTES})
    with pytest.raises(InvalidDocument, match=r"cut\.zip is not a readable zip archive"):
        loader.load("cut.zip", data[: len(data) // 2])


# --- e-mail ----------------------------------------------------------------------------------


def message_by_library() -> EmailMessage:
    """A message as Python's `email` package writes one: plain and HTML bodies, a Markdown
    attachment, a zip of a text file, and a program."""
    message = EmailMessage()
    message["Subject"] = "Parking from Monday"
    message["From"] = "Ana López <ana@example.org>"
    message["To"] = "staff@example.org"
    message["Cc"] = "Bob <bob@example.org>"
    message["Date"] = email.utils.format_datetime(datetime(2025, 3, 4, 9, 30, tzinfo=UTC))
    message.set_content("Visitors park in bay 7 from Monday.\n\nAna\n")
    message.add_alternative("<p>Visitors park in <b>bay 7</b> from Monday.</p>", subtype="html")
    message.add_attachment(PARKING, maintype="text", subtype="markdown", filename="rules.md")
    message.add_attachment(
        packed({"notes.txt": NOTES}), maintype="application", subtype="zip", filename="n.zip"
    )
    message.add_attachment(
        b"MZ\x00", maintype="application", subtype="x-msdownload", filename="a.exe"
    )
    return message


def test_an_email_from_pythons_email_package_reads_with_headers_body_and_attachments(
    loader: FileLoader,
) -> None:
    document = loader.load("parking.eml", bytes(message_by_library()))
    assert document.title == "Parking from Monday"
    assert str(document.updated_at) == "2025-03-04"
    assert document.media_type == "message/rfc822"
    assert document.metadata["from"] == "Ana López <ana@example.org>"
    assert document.metadata["to"] == "staff@example.org"
    assert document.metadata["cc"] == "Bob <bob@example.org>"
    assert sections(document) == {
        ("Parking from Monday",): "From: Ana López <ana@example.org>\nTo: staff@example.org\n"
        "Cc: Bob <bob@example.org>\nDate: Tue, 04 Mar 2025 09:30:00 +0000\n\n"
        "Visitors park in bay 7 from Monday.\n\nAna",
        ("Parking from Monday", "Attachment: rules.md", "Parking"): "Visitors park in bay 7.",
        ("Parking from Monday", "Attachment: n.zip/notes.txt", "Team notes"): (
            NOTES.decode().strip()
        ),
    }
    assert document.metadata["skipped"] == "a.exe (.exe: not a type Almanac reads)"


#: A message as a mail client writes one: an encoded subject, an HTML-only body in
#: quoted-printable, an inline logo (part of the body) and a forwarded message.
CLIENT_MESSAGE = b"""\
Return-Path: <it@example.org>
Message-ID: <42@mail.example.org>
Date: Wed, 5 Mar 2025 16:02:11 +0100
From: =?UTF-8?Q?IT_S=C3=A9curit=C3=A9?= <it@example.org>
To: all@example.org
Subject: =?UTF-8?Q?Mots_de_passe_=E2=80=93_rotation?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed"

--mixed
Content-Type: multipart/related; boundary="related"

--related
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

<html><body><h1>Rotation</h1><p>Les mots de passe changent tous les 90=C2=A0jours=
.</p><img src=3D"cid:logo"></body></html>
--related
Content-Type: image/png
Content-ID: <logo>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--related--

--mixed
Content-Type: message/rfc822
Content-Disposition: attachment; filename="earlier.eml"

Subject: Earlier notice
From: it@example.org
Date: Mon, 3 Mar 2025 08:00:00 +0100

Rotation starts in March.
--mixed--
"""


def test_an_email_as_a_mail_client_writes_it_reads_its_html_body_and_forwarded_mail(
    loader: FileLoader,
) -> None:
    document = loader.load("notice.eml", CLIENT_MESSAGE)
    assert document.title == "Mots de passe – rotation"
    assert str(document.updated_at) == "2025-03-05"
    assert document.metadata["message_id"] == "<42@mail.example.org>"
    read = sections(document)
    body = read[("Mots de passe – rotation",)]
    assert body.startswith("From: IT Sécurité <it@example.org>\nTo: all@example.org\n")
    assert "Les mots de passe changent tous les 90 jours." in body
    forwarded = read[("Mots de passe – rotation", "Attachment: earlier.eml", "Earlier notice")]
    assert forwarded.endswith("Rotation starts in March.")
    assert "skipped" not in document.metadata  # the inline logo is the body's


def test_a_mailbox_from_pythons_mailbox_module_reads_every_message(
    loader: FileLoader, tmp_path: Path
) -> None:
    box = mailbox.mbox(tmp_path / "team.mbox")
    box.add(message_by_library())
    second = EmailMessage()
    second["Subject"] = "Re: Parking from Monday"
    second["From"] = "bob@example.org"
    second["Date"] = "Thu, 06 Mar 2025 10:00:00 +0000"
    second.set_content("From now on I cycle.\n")
    box.add(second)
    box.flush()
    box.close()
    document = loader.load("team.mbox", (tmp_path / "team.mbox").read_bytes())
    assert document.metadata["messages"] == "2"
    assert str(document.updated_at) == "2025-03-06"
    read = sections(document)
    assert ("Parking from Monday", "Attachment: rules.md", "Parking") in read
    assert read[("Re: Parking from Monday",)].endswith("From now on I cycle.")  # unescaped


def test_an_mboxrd_file_splits_at_from_lines_after_a_blank_line_only(loader: FileLoader) -> None:
    data = (
        b"From a@x Tue Mar  4 09:30:00 2025\nSubject: One\nDate: Tue, 4 Mar 2025 09:30:00 +0000\n"
        b"\nFirst body.\n>From the desk, a quoted line.\nFrom inside a paragraph.\n\n"
        b"From b@x Wed Mar  5 09:30:00 2025\nSubject: Two\n\nSecond body.\n"
    )
    read = sections(loader.load("box.mbox", data))
    assert list(read) == [("One",), ("Two",)]
    assert "First body.\nFrom the desk, a quoted line.\nFrom inside a paragraph." in read[("One",)]


def test_mail_hostile_inputs_are_refused_or_bounded(loader: FileLoader) -> None:
    with pytest.raises(InvalidDocument, match="not a mailbox"):
        loader.load("x.mbox", b"Subject: no separator\n\nbody\n")
    with pytest.raises(UnsupportedDocument, match="not a text file"):
        loader.load("x.eml", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    few = FileLoader(budget=replace(BUDGET, max_archive_members=2))
    three = b"".join(
        b"From a@x Tue Mar  4 09:30:00 2025\nSubject: %d\n\nBody.\n\n" % n for n in range(3)
    )
    with pytest.raises(InputTooCostly, match="ARCHIVE_MAX_MEMBERS"):
        few.load("many.mbox", three)
    bomb = EmailMessage()
    bomb["Subject"] = "Bomb"
    bomb.set_content("See attached.")
    bomb.add_attachment(
        packed({"zeros.txt": b"0" * (50 * 1024 * 1024)}),
        maintype="application",
        subtype="zip",
        filename="z.zip",
    )
    with pytest.raises(InputTooCostly, match="ARCHIVE_MAX_RATIO"):
        loader.load("bomb.eml", bytes(bomb))


def test_an_email_nesting_its_parts_thousands_deep_is_refused_not_a_crash(
    loader: FileLoader,
) -> None:
    depth = 2000
    opened = b"".join(
        b'--b%d\nContent-Type: multipart/mixed; boundary="b%d"\n\n' % (n, n + 1)
        for n in range(depth)
    )
    closed = b"".join(b"--b%d--\n" % n for n in range(depth, -1, -1))
    data = (
        b'Subject: deep\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b0"\n\n'
        + opened
        + b"--b%d\nContent-Type: text/plain\n\nhello\n" % depth
        + closed
    )
    with pytest.raises((InvalidDocument, InputTooCostly), match=r"deep\.eml"):
        loader.load("deep.eml", data)
