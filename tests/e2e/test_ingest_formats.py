"""A folder of the formats offices keep beside Word and PDF (OpenDocument text and decks,
e-mail, a mailbox, RTF, an e-book, a zip of documents) ingests through `almanac ingest`
with nothing skipped, each file parsed in the parse child as any other, and what is inside
a zip or an e-mail is found by search."""

from __future__ import annotations

import email.utils
import io
import json
import mailbox
import zipfile
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli.main import app
from tests import office_files

runner = CliRunner()
ODT = "application/vnd.oasis.opendocument.text"
ODP = "application/vnd.oasis.opendocument.presentation"


@pytest.fixture
def env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "DATA_DIR": str(data_dir),
        "LOAD_SAMPLE_DATA": "false",
        "LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(data_dir)


def _message(subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "Ana <ana@example.org>"
    message["To"] = "staff@example.org"
    message["Date"] = email.utils.format_datetime(datetime(2025, 3, 4, 9, 0, tzinfo=UTC))
    message.set_content(body)
    return message


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _epub() -> bytes:
    return _zip(
        {
            "mimetype": b"application/epub+zip",
            "META-INF/container.xml": b'<container xmlns="urn:oasis:names:tc:opendocument:xmlns:'
            b'container"><rootfiles><rootfile full-path="book.opf"/></rootfiles></container>',
            "book.opf": b'<package xmlns="http://www.idpf.org/2007/opf"><metadata xmlns:dc="http:'
            b'//purl.org/dc/elements/1.1/"><dc:title>Field manual</dc:title></metadata><manifest>'
            b'<item id="c" href="c.xhtml" media-type="application/xhtml+xml"/></manifest><spine>'
            b'<itemref idref="c"/></spine></package>',
            "c.xhtml": b"<html><body><h1>Ladders</h1><p>Ladders are inspected every spring."
            b"</p></body></html>",
        }
    )


def write_folder(folder: Path) -> None:
    folder.mkdir()
    (folder / "parking.odt").write_bytes(
        office_files.odf_by_hand(
            ODT,
            '<office:text><text:h text:outline-level="1">Parking</text:h>'
            "<text:p>Visitors park in bay 7.</text:p></office:text>",
        )
    )
    (folder / "travel.odp").write_bytes(
        office_files.odf_by_hand(
            ODP,
            '<office:presentation><draw:page><draw:frame presentation:class="title">'
            "<draw:text-box><text:p>Travel</text:p></draw:text-box></draw:frame><draw:frame>"
            "<draw:text-box><text:p>Trains under four hours, never planes.</text:p>"
            "</draw:text-box></draw:frame></draw:page></office:presentation>",
        )
    )
    (folder / "notice.eml").write_bytes(bytes(_message("Canteen", "The canteen closes at 3.")))
    box = mailbox.mbox(folder / "team.mbox")
    box.add(_message("Heating", "The heating is serviced in October."))
    box.add(_message("Lifts", "Lift B is out of order until Friday."))
    box.flush()
    box.close()
    (folder / "memo.rtf").write_bytes(
        rb"{\rtf1\ansi{\info{\title Memo}}Printers are on floor 3.\par}"
    )
    (folder / "manual.epub").write_bytes(_epub())
    (folder / "archive.zip").write_bytes(
        _zip({"policies/keys.md": b"# Keys\n\nSpare keys hang in the porter's lodge.\n"})
    )


def test_a_folder_of_the_new_formats_ingests_with_nothing_skipped_and_is_searchable(
    env: None, tmp_path: Path
) -> None:
    folder = tmp_path / "office"
    write_folder(folder)
    result = runner.invoke(app, ["ingest", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    statuses = {Path(item["source"]).name: item["status"] for item in report["items"]}
    assert statuses == {
        name: "added"
        for name in (
            "parking.odt",
            "travel.odp",
            "notice.eml",
            "team.mbox",
            "memo.rtf",
            "manual.epub",
            "archive.zip",
        )
    }, report["items"]
    assert report["failed"] == 0
    result = runner.invoke(app, ["search", "where do spare keys hang", "--json"])
    hits = json.loads(result.stdout)["hits"]
    assert Path(hits[0]["source"]).name == "archive.zip"
