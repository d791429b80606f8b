"""The admin data pages in a real browser: Documents (upload with progress, background jobs,
which version is current, delete with a confirmation, refusals shown), Tables (list, load,
refusals shown) and Calibration (figures, the reliability diagram, ECE over time, phrases,
auto-tune with a dry run, recalibration refused without enough feedback)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from backend.bootstrap import Container
from backend.cli.serve_commands import _ingest_knowledge
from backend.config import Settings
from bench.bench_hostile import HOSTILE_DIR
from services.calibration import ResponseLog
from tests.browser.conftest import PHONE, SecuredApp, assert_accessible, shot, sign_in
from tests.conftest import make_settings
from tests.office_files import workbook_by_library
from use_cases.admin.table_uploads import UploadTableAsAdmin
from use_cases.admin.uploads import UploadDocument
from use_cases.confidence.domain import LoggedResponse

JOB_BYTES = 4000  # uploads larger than this become background jobs in these tests

BIKES = b"""---
title: Bike Storage Policy
category: policies
updated: 2026-01-20
---
# Bike Storage Policy

## Where bikes go
Bikes are stored in the basement rack behind door B4; the rack opens with a staff badge.
"""


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return make_settings(data_dir, upload_job_bytes=JOB_BYTES)


def no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def open_page(page: Any, url: str, route: str, heading: str) -> None:
    page.goto(f"{url}/#/admin/{route}")
    page.get_by_role("heading", level=1, name=heading).wait_for()


def choose_file(page: Any, label: str, name: str, data: bytes, mime: str = "text/plain") -> None:
    page.get_by_label(label, exact=True).set_input_files(
        {"name": name, "mimeType": mime, "buffer": data}
    )


# -- Documents ------------------------------------------------------------------------------------


def test_an_uploaded_document_is_listed_as_current_and_findable(
    page: Any, app_url: str, container: Container
) -> None:
    open_page(page, app_url, "documents", "Documents")
    page.locator(".docs-table tbody tr").first.wait_for()
    listed_before = page.locator(".docs-table tbody tr").count()
    assert listed_before > 10  # the sample knowledge base
    # The sample's 2023 password policy is superseded by the 2025 one, and says so.
    page.get_by_label("Filter").fill("password")
    old = page.locator("tr", has=page.get_by_text("policies/password-policy-2023.md", exact=True))
    assert "superseded" in old.inner_text() and "password-policy-2025.md" in old.inner_text()
    page.get_by_label("Filter").fill("")
    shot(page, "admin-documents-desktop")
    assert_accessible(page)

    choose_file(page, "File", "bike-storage.md", BIKES, "text/markdown")
    page.get_by_role("button", name="Upload", exact=True).click()

    page.locator(".data-progress-success", has_text="Added “Bike Storage Policy”").wait_for()
    page.get_by_label("Filter").fill("bike")
    # The list reloads after the upload: wait for the new row before counting what is left.
    page.locator(".docs-table tbody tr", has_text="Bike Storage Policy").wait_for()
    row = page.locator(".docs-table tbody tr")
    assert row.count() == 1
    assert "Bike Storage Policy" in row.inner_text() and "current" in row.inner_text()
    assert "policies" in row.inner_text()
    hits = httpx.get(app_url + "/api/search", params={"q": "where are bikes stored"}).json()
    assert hits["hits"][0]["title"] == "Bike Storage Policy"
    assert_accessible(page)


@pytest.mark.slow
def test_documents_that_disagree_are_found_on_request_and_the_category_is_kept(
    page: Any, app_url: str
) -> None:
    open_page(page, app_url, "documents", "Documents")
    page.get_by_label("Category (optional)").fill("security")
    reference = (HOSTILE_DIR / "password-quick-reference.md").read_bytes()
    choose_file(page, "File", "password-quick-reference.md", reference, "text/markdown")
    page.get_by_role("button", name="Upload", exact=True).click()
    page.locator(".data-progress-success", has_text="Password Quick Reference").wait_for()
    # The next file is likely to go to the same category: the field keeps it.
    assert page.get_by_label("Category (optional)").input_value() == "security"

    page.get_by_role("button", name="Check now").click()
    page.get_by_text("Checking every section of the current documents").wait_for()
    conflict = page.locator(".conflict", has_text="Password Quick Reference")
    conflict.wait_for(timeout=120_000)  # the background scan, polled every 5 s
    text = conflict.inner_text()
    assert "4 characters" in text and "14 characters" in text
    assert "Password and Credential Rotation Policy" in text
    page.get_by_text(re.compile(r"^Checked [\d,]+ sections on ")).wait_for()
    assert_accessible(page)


def test_a_document_is_read_whole_in_a_viewer(page: Any, app_url: str) -> None:
    open_page(page, app_url, "documents", "Documents")
    page.get_by_label("Filter").fill("password-policy-2025")
    view = page.get_by_role("button", name="View Password and Credential Rotation Policy")
    view.click()
    dialog = page.get_by_role("dialog", name="Password and Credential Rotation Policy")
    expect(dialog).to_contain_text("policies/password-policy-2025.md")
    sections = dialog.locator(".docs-view-section")
    expect(sections.first).to_be_visible()
    assert sections.count() > 3  # every section, not one passage
    expect(dialog).to_contain_text("14 characters")
    assert_accessible(page)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(view).to_be_focused()


def test_a_large_upload_is_followed_as_a_background_job_to_completion(
    page: Any, app_url: str
) -> None:
    body = "".join(
        f"\n## Locker bank {n}\nLocker bank {n} is on floor {n % 7} and holds {n * 3} lockers.\n"
        for n in range(1, 120)
    )
    data = b"---\ntitle: Locker Directory\n---\n# Locker Directory\n" + body.encode()
    assert len(data) > JOB_BYTES
    open_page(page, app_url, "documents", "Documents")
    choose_file(page, "File", "lockers.md", data, "text/markdown")

    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/api/jobs/" in r.url else None)
    with page.expect_response(lambda r: r.url.endswith("/api/documents")) as posted:
        page.get_by_role("button", name="Upload", exact=True).click()
    assert posted.value.status == 202
    job_id = posted.value.json()["id"]

    page.locator(".data-progress-success", has_text="processed in the background").wait_for()
    assert polls and all(url.endswith(f"/api/jobs/{job_id}") for url in polls)
    job = httpx.get(f"{app_url}/api/jobs/{job_id}").json()
    assert job["status"] == "done" and job["result"]["status"] == "added"
    assert job["progress"]["chunks_done"] == job["progress"]["chunks_total"] > 1
    page.get_by_label("Filter").fill("locker")
    assert "Locker Directory" in page.locator(".docs-table tbody tr").inner_text()


def test_deleting_a_document_asks_first_and_then_removes_it(page: Any, app_url: str) -> None:
    open_page(page, app_url, "documents", "Documents")
    page.get_by_label("Filter").fill("travel")
    row = page.locator(".docs-table tbody tr").first
    title = row.locator(".docs-title").inner_text()
    document_id = row.get_attribute("data-id")
    delete = row.get_by_role("button", name=f"Delete {title}")

    delete.click()
    dialog = page.get_by_role("dialog", name=f"Delete “{title}”?")
    dialog.wait_for()
    shot(page, "admin-documents-delete-dialog")
    assert_accessible(page)
    dialog.get_by_role("button", name="Cancel").click()
    assert dialog.count() == 0
    assert page.evaluate("document.activeElement.textContent") == "Delete"  # focus is back
    assert httpx.get(f"{app_url}/api/documents/{document_id}").status_code == 200

    delete.click()
    page.get_by_role("dialog").get_by_role("button", name="Delete document").click()
    page.get_by_text(f"Deleted “{title}”.").wait_for()
    # the list reloads after the notice: wait for the row to go (a timeout fails the test)
    page.locator(f'.docs-table tr[data-id="{document_id}"]').wait_for(state="detached")
    assert httpx.get(f"{app_url}/api/documents/{document_id}").status_code == 404


def test_an_unsupported_file_is_refused_with_a_message_naming_the_problem(
    page: Any, app_url: str
) -> None:
    open_page(page, app_url, "documents", "Documents")
    choose_file(page, "File", "photo.png", b"MZ\x90\x00 a program, not a picture", "image/png")
    page.get_by_role("button", name="Upload", exact=True).click()

    alert = page.get_by_role("alert").filter(has_text="photo.png was not stored")
    alert.wait_for()
    assert "Unsupported file type" in alert.inner_text()
    shot(page, "admin-documents-refused")
    assert_accessible(page)


def test_the_file_picker_offers_exactly_the_types_the_server_reads(
    page: Any, app_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server whose loaders read other types than today's: the page asks, it does not know.
    monkeypatch.setattr(UploadDocument, "file_types", property(lambda _: (".md", ".docx")))
    served = httpx.get(f"{app_url}/api/documents/types").json()["extensions"]
    assert served == [".md", ".docx"]

    open_page(page, app_url, "documents", "Documents")
    expect(page.get_by_label("File", exact=True)).to_have_attribute("accept", ".md,.docx")
    expect(page.locator(".docs-upload-form .hint").first).to_have_text(".md, .docx; up to 20 MiB.")
    assert "PDF" not in page.locator(".docs-head").inner_text()  # no list of its own


def test_a_taken_file_name_offers_to_replace_that_document(page: Any, app_url: str) -> None:
    open_page(page, app_url, "documents", "Documents")
    choose_file(page, "File", "bike-storage.md", BIKES, "text/markdown")
    page.get_by_role("button", name="Upload", exact=True).click()
    page.locator(".data-progress-success").wait_for()

    changed = BIKES.replace(b"door B4", b"door C7")
    choose_file(page, "File", "bike-storage.md", changed, "text/markdown")
    page.get_by_role("button", name="Upload", exact=True).click()
    page.get_by_role("alert").filter(has_text="Already there").wait_for()
    page.get_by_role("button", name="Replace “Bike Storage Policy” with this file").click()

    page.locator(".data-progress-success", has_text="Replaced the content").wait_for()
    hit = httpx.get(app_url + "/api/search", params={"q": "bike rack door"}).json()["hits"][0]
    assert "door C7" in hit["text"]


@pytest.fixture
def ingested_folder(settings: Settings, tmp_path: Path) -> Path:
    """A folder ingested into the app's data (as `almanac serve --knowledge` does before it
    serves): one file read, one unreadable, one of a type not read, one lock file."""
    folder = tmp_path / "company"
    (folder / "hr").mkdir(parents=True)
    (folder / "leave.md").write_text("# Leave\n\nAnnual leave is 25 days a year.\n")
    (folder / "broken.docx").write_bytes(b"this is no Word document")
    (folder / "hr" / "receipts.pages").write_bytes(b"PK\x03\x04 not read")
    (folder / "~$leave.docx").write_bytes(b"\x00lock")
    _ingest_knowledge(settings, folder)
    return folder


def test_the_files_left_out_of_the_knowledge_base_are_listed_with_the_reason(
    ingested_folder: Path, page: Any, app_url: str
) -> None:
    open_page(page, app_url, "documents", "Documents")
    section = page.get_by_role("region", name="Files not in the knowledge base", exact=True)
    expect(section.get_by_role("status")).to_have_text("2 files not in the knowledge base.")
    rows = section.locator("tbody tr")
    expect(rows).to_have_count(2)  # the lock file is ignored, not listed
    served = httpx.get(f"{app_url}/api/documents/problems").json()["problems"]
    for problem in served:
        row = section.locator(f'tr[data-source="{problem["source"]}"]')
        expect(row.locator("td").nth(1)).to_have_text(problem["status"])
        expect(row.locator("td").nth(2)).to_have_text(problem["reason"])
        expect(row.locator("td").nth(3)).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"))
    assert {p["source"] for p in served} == {"broken.docx", "hr/receipts.pages"}
    expect(section.locator('tr[data-source="hr/receipts.pages"]')).to_contain_text(
        "supported types"
    )
    shot(page, "admin-documents-problems")
    assert_accessible(page)


def test_with_every_file_read_the_page_says_none_is_left_out(page: Any, app_url: str) -> None:
    open_page(page, app_url, "documents", "Documents")
    section = page.get_by_role("region", name="Files not in the knowledge base", exact=True)
    expect(section.get_by_role("status")).to_have_text(
        "None: every file of the ingested folders is in the knowledge base."
    )
    expect(section.locator("table")).to_have_count(0)


def test_the_documents_page_fits_a_phone(new_page: Any, app_url: str) -> None:
    page = new_page(viewport=PHONE)
    open_page(page, app_url, "documents", "Documents")
    page.locator(".docs-table tbody tr").first.wait_for()
    no_sideways_scroll(page)
    shot(page, "admin-documents-phone")
    assert_accessible(page)


def test_each_document_shows_its_collection_and_one_is_uploaded_into_a_collection(
    page: Any, app_url: str
) -> None:
    made = httpx.post(app_url + "/api/collections", json={"name": "facilities"})
    assert made.status_code == 201, made.text
    open_page(page, app_url, "documents", "Documents")
    page.locator(".docs-table tbody tr").first.wait_for()
    first = page.locator(".docs-table tbody tr").first
    expect(first.locator("td.data-collection")).to_have_text("default")

    choose_file(page, "File", "bike-storage.md", BIKES, "text/markdown")
    page.get_by_label("Collection", exact=True).select_option("facilities")
    page.get_by_role("button", name="Upload", exact=True).click()
    row = page.locator(".docs-table tbody tr", has_text="Bike Storage Policy")
    expect(row.locator("td.data-collection")).to_have_text("facilities")
    expect(page.get_by_role("columnheader", name="Collection")).to_be_visible()
    listed = httpx.get(app_url + "/api/documents", params={"limit": 500}).json()["documents"]
    [stored] = [d for d in listed if d["title"] == "Bike Storage Policy"]
    assert stored["collection"] == "facilities"
    assert_accessible(page)


# -- Tables ---------------------------------------------------------------------------------------


def test_a_loaded_table_is_listed_with_its_columns_and_rows(page: Any, app_url: str) -> None:
    open_page(page, app_url, "tables", "Tables")
    page.locator("tr[data-name='directory']").wait_for()
    shot(page, "admin-tables-desktop")
    assert_accessible(page)

    choose_file(page, "File", "Desk Bookings.csv", b"desk,floor,booked_by\nD1,2,ana\nD2,3,\n")
    assert page.get_by_label("Table name").input_value() == "desk_bookings"  # from the file
    page.get_by_role("button", name="Load table").click()

    page.get_by_text("Loaded table desk_bookings: 2 rows, 3 columns.").first.wait_for()
    row = page.locator("tr[data-name='desk_bookings']")
    assert "desk" in row.inner_text() and "booked_by" in row.inner_text()
    assert row.locator("td.num").inner_text() == "2"
    assert_accessible(page)

    # Loading under a taken name says it replaces the table.
    page.get_by_label("Table name").fill("desk_bookings")
    page.get_by_text("A table named desk_bookings exists (2 rows)").wait_for()
    choose_file(page, "File", "desks.csv", b"desk,floor\nD1,2\nD2,3\nD3,3\n")
    page.get_by_label("Table name").fill("desk_bookings")
    page.get_by_role("button", name="Replace table").click()
    page.get_by_text("Replaced table desk_bookings: 3 rows (was 2).").first.wait_for()


def test_a_table_is_read_page_by_page_and_deleted_after_a_confirmation(
    page: Any, app_url: str
) -> None:
    rows = "".join(f"R{n},{n}\n" for n in range(1, 61))
    loaded = httpx.post(
        app_url + "/api/tables",
        data={"name": "racks"},
        files={"file": ("racks.csv", f"rack,slot\n{rows}".encode())},
    )
    assert loaded.status_code == 201, loaded.text
    open_page(page, app_url, "tables", "Tables")
    page.get_by_role("button", name="Rows of racks").click()
    dialog = page.get_by_role("dialog", name="racks")
    expect(dialog.get_by_role("status")).to_have_text("Rows 1–50 of 60")
    expect(dialog.locator("tbody tr")).to_have_count(50)
    expect(dialog.locator("tbody tr").first).to_contain_text("R1")
    assert_accessible(page)
    dialog.get_by_role("button", name="Next").click()
    expect(dialog.get_by_role("status")).to_have_text("Rows 51–60 of 60")
    expect(dialog.get_by_role("button", name="Next")).to_be_disabled()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.get_by_role("button", name="Delete racks").click()
    confirm = page.get_by_role("dialog", name=re.compile("Delete the table"))
    expect(confirm).to_contain_text("60 rows")
    confirm.get_by_role("button", name="Delete table").click()
    expect(page.locator("tr[data-name='racks']")).to_have_count(0)
    assert "racks" not in {t["name"] for t in httpx.get(app_url + "/api/tables").json()["tables"]}


def test_the_table_file_picker_offers_and_names_the_types_the_server_reads(
    page: Any, app_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server whose table loader reads other types than today's: the page asks.
    monkeypatch.setattr(UploadTableAsAdmin, "file_types", property(lambda _: (".csv", ".ods")))
    monkeypatch.setattr(UploadTableAsAdmin, "workbook_types", property(lambda _: (".ods",)))
    served = httpx.get(f"{app_url}/api/tables/types").json()
    assert served == {"extensions": [".csv", ".ods"], "workbooks": [".ods"]}

    open_page(page, app_url, "tables", "Tables")
    expect(page.get_by_label("File", exact=True)).to_have_attribute("accept", ".csv,.ods")
    expect(page.locator(".tables-form .hint").first).to_have_text(
        ".csv: a header line, or one JSON object per line; "
        "workbooks .ods: a table per sheet, the name a prefix."
    )


def test_a_workbook_is_loaded_as_a_table_per_sheet(page: Any, app_url: str) -> None:
    open_page(page, app_url, "tables", "Tables")
    expect(page.locator(".tables-form .hint").first).to_contain_text(".xlsx")
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    choose_file(page, "File", "Budget.xlsx", workbook_by_library(), mime)
    assert page.get_by_label("Table name").input_value() == "budget"  # the tables' prefix
    page.get_by_role("button", name="Load table").click()
    done = page.locator(".data-progress-success")
    expect(done).to_contain_text("tables from Budget.xlsx, one per sheet: ")

    listed = {t["name"] for t in httpx.get(f"{app_url}/api/tables").json()["tables"]}
    loaded = sorted(name for name in listed if name.startswith("budget_"))
    assert len(loaded) > 1, listed  # the sheets with data
    expect(done).to_contain_text(f"Loaded {len(loaded)} tables from Budget.xlsx")
    for name in loaded:
        expect(done).to_contain_text(name)
    for name in loaded:
        page.locator(f"tr[data-name='{name}']").wait_for()
    assert_accessible(page)


def test_a_bad_table_file_is_refused_and_nothing_changes(page: Any, app_url: str) -> None:
    open_page(page, app_url, "tables", "Tables")
    page.locator("tr[data-name='directory']").wait_for()
    choose_file(page, "File", "desks.csv", b"desk,floor\nD1,2\nD2\n")
    page.get_by_label("Table name").fill("desks")
    page.get_by_role("button", name="Load table").click()

    alert = page.get_by_role("alert").filter(has_text="desks.csv was not loaded")
    alert.wait_for()
    assert "desks.csv, line 3" in alert.inner_text()
    assert page.locator("tr[data-name='desks']").count() == 0
    assert_accessible(page)


def test_each_table_shows_its_collection_and_one_is_loaded_into_a_collection(
    page: Any, app_url: str
) -> None:
    made = httpx.post(app_url + "/api/collections", json={"name": "facilities"})
    assert made.status_code == 201, made.text
    open_page(page, app_url, "tables", "Tables")
    directory = page.locator("tr[data-name='directory']")
    expect(directory.locator("td.tables-collection")).to_have_text("default")

    choose_file(page, "File", "lockers.csv", b"locker,floor\nL1,2\nL2,3\n")
    page.get_by_label("Collection", exact=True).select_option("facilities")
    page.get_by_role("button", name="Load table").click()
    page.get_by_text("Loaded table lockers: 2 rows, 2 columns.").first.wait_for()
    row = page.locator("tr[data-name='lockers']")
    expect(row.locator("td.tables-collection")).to_have_text("facilities")
    expect(page.get_by_role("columnheader", name="Collection")).to_be_visible()
    listed = {
        t["name"]: t["collection"] for t in httpx.get(app_url + "/api/tables").json()["tables"]
    }
    assert listed["lockers"] == "facilities" and listed["directory"] is None
    assert_accessible(page)


def test_the_tables_page_fits_a_phone(new_page: Any, app_url: str) -> None:
    page = new_page(viewport=PHONE)
    open_page(page, app_url, "tables", "Tables")
    page.locator("tr[data-name='directory']").wait_for()
    no_sideways_scroll(page)
    expect(page.locator("tr[data-name='directory'] td.tables-collection")).to_be_visible()
    shot(page, "admin-tables-phone")
    assert_accessible(page)


# -- Calibration ----------------------------------------------------------------------------------


def seed_feedback(container: Container, count: int = 40) -> None:
    """`count` answers with feedback over the four weeks before the fixed clock's today
    (2026-03-02): overconfident, so the high phrases break their promises."""
    rng = random.Random(11)
    log = ResponseLog(container.settings.storage.app_db_path)
    try:
        for n in range(count):
            confidence = rng.choice([0.25, 0.45, 0.65, 0.85, 0.95])
            at = datetime(2026, 3, 2, 9) - timedelta(days=n * 27 / count)
            response_id = f"resp_{n:024x}"
            log.add(
                LoggedResponse(
                    response_id=response_id,
                    user_id="ana",
                    kind="chat",
                    query=f"question {n}",
                    response_text=f"answer {n}",
                    raw_confidence=confidence,
                    confidence=confidence,
                    confidence_phrase="moderate",
                    model="offline-extractive",
                    search_ran=True,
                    latency_ms=10,
                    created_at=at,
                )
            )
            log.put_feedback(response_id, rng.random() < confidence - 0.25, None, at)
    finally:
        log.close()


@pytest.fixture
def seeded(container: Container) -> Iterator[Container]:
    seed_feedback(container)
    yield container


def test_calibration_shows_figures_the_diagram_and_ece_over_time(
    page: Any, app_url: str, seeded: Container
) -> None:
    open_page(page, app_url, "calibration", "Calibration")
    diagram = page.get_by_role("img", name="Reliability diagram for the last 30 days")
    diagram.wait_for()
    page.wait_for_function(
        "() => document.querySelector('.calib-diagram-img').complete"
        " && document.querySelector('.calib-diagram-img').naturalWidth > 0"
    )
    assert "over 40 answers with feedback" in diagram.get_attribute("alt")
    figures = page.locator(".calib-figures").inner_text()
    assert "Answers logged" in figures and "40 with feedback" in figures
    assert "Brier score" in figures and "raw, before recalibration" in figures
    assert page.locator(".calib-chart circle").count() >= 4  # one point a week
    weeks = page.get_by_role("table", name="ECE and Brier score per week")
    assert weeks.locator("tbody tr").count() >= 4
    assert "very high" in page.locator(".calib-phrases").inner_text()
    assert (
        "50 needed for a fit"
        in page.locator(".calib-section", has_text="Recalibration").inner_text()
    )
    shot(page, "admin-calibration-desktop")
    assert_accessible(page)

    page.get_by_label("Window").select_option("7")
    page.get_by_role("img", name="Reliability diagram for the last 7 days").wait_for()
    alt = page.locator(".calib-diagram-img").get_attribute("alt")
    found = re.search(r"over (\d+) answers with feedback", alt)
    assert found and 0 < int(found.group(1)) < 40  # only the last week's


def test_auto_tune_suggests_in_a_dry_run_and_applies_after_confirmation(
    page: Any, app_url: str, seeded: Container
) -> None:
    open_page(page, app_url, "calibration", "Calibration")
    page.get_by_role("button", name="Suggest thresholds (dry run)").click()
    page.get_by_role("table", name="Lower bound of each phrase").wait_for()
    assert_accessible(page)
    status = httpx.get(app_url + "/confidence/phrase-status").json()
    assert status["thresholds"]["version"] == 0  # a dry run changes nothing

    page.get_by_role("button", name="Apply these thresholds…").click()
    page.get_by_role("dialog").get_by_role("button", name="Apply").click()
    page.get_by_text("In force: version 1").wait_for()
    assert httpx.get(app_url + "/confidence/phrase-status").json()["thresholds"]["version"] == 1


def test_recalibrating_without_enough_feedback_says_so(
    page: Any, app_url: str, seeded: Container
) -> None:
    open_page(page, app_url, "calibration", "Calibration")
    page.get_by_role("button", name="Recalibrate now…").click()
    page.get_by_role("dialog").get_by_role("button", name="Recalibrate").click()
    page.get_by_text("Not enough feedback yet.").wait_for()
    assert_accessible(page)


def test_the_calibration_page_fits_a_phone(new_page: Any, app_url: str, seeded: Container) -> None:
    page = new_page(viewport=PHONE)
    open_page(page, app_url, "calibration", "Calibration")
    page.wait_for_function("() => document.querySelector('.calib-diagram-img')?.naturalWidth > 0")
    no_sideways_scroll(page)
    shot(page, "admin-calibration-phone")
    assert_accessible(page)


def test_a_calibration_window_without_feedback_explains_the_empty_figures(
    page: Any, app_url: str
) -> None:
    open_page(page, app_url, "calibration", "Calibration")
    page.locator(".calib-message").wait_for()
    page.get_by_text("No week in this window has answers with feedback yet.").wait_for()
    page.wait_for_function("() => document.querySelector('.calib-diagram-img')?.naturalWidth > 0")
    assert_accessible(page)


# -- Who may use them -----------------------------------------------------------------------------


def test_a_users_key_is_told_the_data_pages_are_for_admins(
    page: Any, secured_app: SecuredApp
) -> None:
    sign_in(page, secured_app.url, secured_app.keys["user"])
    for route, title in (
        ("documents", "Documents"),
        ("tables", "Tables"),
        ("calibration", "Calibration"),
    ):
        page.goto(f"{secured_app.url}/#/admin/{route}")
        page.get_by_role("heading", level=1, name=title).wait_for()
        page.get_by_text("This page is for admins.").wait_for()


def test_dates_read_alike_on_every_page_and_counts_agree_with_their_nouns(
    new_page: Any, app_url: str
) -> None:
    """Admin pages showed dates as M/D/YYYY (a calendar date west of Greenwich as
    the day before) while the chat shows ISO dates, and said "1 chunks"."""
    page = new_page(timezone_id="America/Los_Angeles", locale="en-US")
    open_page(page, app_url, "documents", "Documents")
    page.get_by_label("Filter").fill("password-policy-2023")
    row = page.locator("tr", has=page.get_by_text("policies/password-policy-2023.md", exact=True))
    updated = row.locator("td[data-label=Updated]").inner_text()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", updated), updated
    assert updated == "2023-06-12"  # the day the document's front matter says, not the day before
    shown = page.evaluate(
        """async () => {
            const { formatDate, plural } = await import('/app/js/dom.js');
            return [formatDate('2025-09-15'), formatDate('2025-09-15T21:30:00Z', true),
                    plural(1, 'chunk'), plural(2, 'chunk'), plural(1200, 'row')];
        }"""
    )
    assert shown == ["2025-09-15", "2025-09-15 14:30", "1 chunk", "2 chunks", "1,200 rows"]
