"""Office files, scans and workbooks over HTTP, as an admin sends them: a Word file and a deck
become searchable documents whose sources name their section or slide, a scan is marked as
read by OCR in the document view, a workbook loads a table per sheet; and every refusal is
a clear 4xx naming the file, with nothing stored and the server's memory within the parse
budget."""

from __future__ import annotations

import io
import os
import time

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont

from backend.bootstrap import Container
from services.knowledge.loaders.ocr import tesseract_available
from tests import office_files
from tests.memory_peak import MiB, tree_peak


async def _upload(client: httpx.AsyncClient, name: str, data: bytes) -> httpx.Response:
    return await client.post("/api/documents", files={"file": (name, data)})


async def test_a_word_file_and_a_deck_become_searchable_documents(
    client: httpx.AsyncClient,
) -> None:
    word = await _upload(client, "parking.docx", office_files.word_by_library())
    assert word.status_code == 201, word.text
    assert word.json()["document"]["title"] == "Parking rules"
    deck = await _upload(client, "travel.pptx", office_files.deck_by_library())
    assert deck.status_code == 201, deck.text
    hits = (await client.get("/api/search", params={"q": "hotel rate in Oslo"})).json()["hits"]
    assert hits[0]["document_id"] == deck.json()["document"]["id"]
    assert hits[0]["section_path"] == ["Travel budget 2025", "Slide 2: Hotel rates"]
    detail = (await client.get(f"/api/documents/{word.json()['document']['id']}")).json()
    assert detail["extraction"] is None
    assert detail["sections"][1]["heading_path"] == ["Visitors", "Bicycles"]


@pytest.mark.skipif(
    not tesseract_available(),
    reason="tesseract is not installed: apt-get install tesseract-ocr (.ci/run installs it)",
)
async def test_a_scanned_notice_is_read_by_ocr_and_its_answers_say_so(
    client: httpx.AsyncClient,
) -> None:
    image = Image.new("L", (1700, 600), 255)
    ImageDraw.Draw(image).text(
        (100, 200), "Visitors park in bay seven.", fill=0, font=ImageFont.load_default(size=48)
    )
    buffer = io.BytesIO()
    scanned = time.strptime("2025-06-01", "%Y-%m-%d")  # the test's clock is in the past
    image.save(buffer, "PDF", resolution=200, creationDate=scanned, modDate=scanned)
    response = await _upload(client, "notice.pdf", buffer.getvalue())
    assert response.status_code == 201, response.text
    detail = (await client.get(f"/api/documents/{response.json()['document']['id']}")).json()
    assert detail["extraction"] == "ocr"
    assert detail["sections"][0]["text"] == "Visitors park in bay seven."
    assert detail["sections"][0]["heading_path"][-1] == "Page 1"
    answer = (await client.post("/chat", json={"message": "Where do visitors park?"})).json()
    scanned_source = [s for s in answer["sources"] if s["source"] == "notice.pdf"]
    assert scanned_source and scanned_source[0]["extraction"] == "ocr", answer["sources"]
    handbook = [s for s in answer["sources"] if s["source"] != "notice.pdf"]
    assert all("extraction" not in s for s in handbook)  # a text file's source says nothing


@pytest.mark.parametrize(
    ("name", "data", "status", "says"),
    [
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), 415, "save it as .docx"),
        (
            "locked.docx",
            office_files.encrypted(office_files.word_by_library()),
            422,
            "locked.docx is password-protected",
        ),
        ("cut.pptx", office_files.deck_by_library()[:3000], 422, "cut.pptx is not a readable"),
    ],
)
async def test_a_legacy_locked_or_truncated_office_file_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, container: Container, name: str, data: bytes, status: int, says: str
) -> None:
    before = container.knowledge.knowledge_stats.run()
    response = await _upload(client, name, data)
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]
    assert "Traceback" not in response.text
    assert container.knowledge.knowledge_stats.run() == before


async def test_an_ooxml_bomb_is_413_within_the_parse_budget_and_nothing_stored(
    client: httpx.AsyncClient, container: Container
) -> None:
    before = container.knowledge.knowledge_stats.run()
    bomb = office_files.with_part(
        office_files.workbook_by_library(),
        "xl/sharedStrings.xml",
        office_files.huge_shared_strings(512 * MiB),
    )
    assert len(bomb) < 2 * MiB
    with tree_peak(os.getpid()) as peak:
        response = await _upload(client, "bomb.xlsx", bomb)
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "input_too_costly"
    assert "bomb.xlsx: its part xl/sharedStrings.xml unpacks to" in response.json()["detail"]
    assert peak.growth < 300 * MiB, peak  # unpacked, it is 512 MiB of XML
    assert container.knowledge.knowledge_stats.run() == before


async def test_a_workbook_loads_a_table_per_sheet_that_sql_reads(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/tables",
        files={"file": ("Sales 2024.xlsx", office_files.workbook_by_library())},
    )
    assert response.status_code == 201, response.text
    tables = {table["name"]: table for table in response.json()["tables"]}
    assert list(tables) == ["sales_2024_q1_sales", "sales_2024_readings"]
    columns = {c["name"]: c["type"] for c in tables["sales_2024_q1_sales"]["columns"]}
    assert columns == {
        "region": "TEXT",
        "units": "INTEGER",
        "revenue": "REAL",
        "closed_on": "DATE",
        "code": "TEXT",  # "007": zero-padded, kept as text as in a CSV
    }
    rows = (await client.get("/api/tables/sales_2024_q1_sales/rows")).json()["rows"]
    assert rows[0] == ["North", 12, 1520.5, "2024-01-05", "007"]
    again = await client.post(
        "/api/tables",
        files={"file": ("sales.xlsx", office_files.workbook_by_library())},
        data={"name": "sales_2024"},
    )
    assert again.status_code == 200, again.text  # every sheet's table replaced
    assert again.json()["status"] == "replaced"


async def test_a_password_protected_workbook_loads_no_table(client: httpx.AsyncClient) -> None:
    before = (await client.get("/api/tables")).json()["tables"]
    response = await client.post(
        "/api/tables",
        files={"file": ("locked.xlsx", office_files.encrypted(office_files.workbook_by_library()))},
    )
    assert response.status_code == 422, response.text
    assert "locked.xlsx is password-protected" in response.json()["detail"]
    assert (await client.get("/api/tables")).json()["tables"] == before
