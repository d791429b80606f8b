"""The Sources page in a real browser: a folder declared through the form, synced now with its
progress followed to the one-line summary, a change and a deletion carried by the next sync,
a failed item and a failed listing shown with their reasons, the history, and removal after a
confirmation; a refused source says why and stores nothing."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx

from tests.browser.conftest import assert_accessible, shot


def _folder(root: Path) -> Path:
    folder = root / "handbook"
    (folder / "policies").mkdir(parents=True)
    (folder / "travel.md").write_text("# Travel\n\nTrain tickets are refunded within 30 days.\n")
    (folder / "policies" / "parking.md").write_text("# Parking\n\nVisitors park in bay 7.\n")
    return folder


def _open(page: Any, url: str) -> None:
    page.goto(f"{url}/#/admin/sources")
    page.get_by_role("heading", level=1, name="Sources").wait_for()


def _add(page: Any, name: str, location: str, every: str = "") -> None:
    form = page.locator("form.sources-add")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Location").fill(location)
    form.get_by_label("Sync every").fill(every)
    form.get_by_role("button", name="Add source").click()


def test_a_folder_is_added_synced_followed_and_removed(
    page: Any, app_url: str, tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    _open(page, app_url)
    page.get_by_text("No sources yet").wait_for()

    _add(page, "handbook", str(folder), "30m")
    row = page.locator('.sources-table tr[data-name="handbook"]')
    row.wait_for()
    assert "when asked" not in row.inner_text()  # scheduled: its next sync is shown

    row.get_by_role("button", name="Sync handbook now").click()
    page.get_by_text("handbook: 2 added, 0 updated, 0 unchanged, 0 removed, 0 failed").wait_for()
    assert row.locator("td.num").inner_text() == "2"
    assert_accessible(page)
    shot(page, "admin-sources")

    (folder / "travel.md").unlink()
    (folder / "policies" / "empty.md").write_text("")
    row.get_by_role("button", name="Sync handbook now").click()
    page.get_by_text("handbook: 0 added, 0 updated, 1 unchanged, 1 removed, 1 failed").wait_for()
    row.get_by_text("1 failed item").click()
    failed = row.locator("details li")
    failed.wait_for()
    assert failed.inner_text().startswith("policies/empty.md: ")

    shutil.rmtree(folder)  # the share is gone: nothing is removed, and the page says why
    row.get_by_role("button", name="Sync handbook now").click()
    page.get_by_text("is not a folder any more").first.wait_for()
    assert row.locator("td.num").inner_text() == "1"

    row.get_by_role("button", name="Syncs of handbook").click()
    history = page.locator(".sources-history")
    history.get_by_role("heading", name="Syncs of handbook").wait_for()
    assert history.locator("tbody tr").count() == 3
    assert_accessible(page)

    row.get_by_role("button", name="Remove handbook").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove source").click()
    page.get_by_text("Removed handbook and 1 document.").wait_for()
    page.get_by_text("No sources yet").wait_for()
    assert httpx.get(f"{app_url}/api/sources").json() == []


def test_a_refused_source_says_why_and_stores_nothing(
    page: Any, app_url: str, tmp_path: Path
) -> None:
    _open(page, app_url)
    _add(page, "missing", str(tmp_path / "nowhere"))

    alert = page.locator("form.sources-add").get_by_role("alert")
    alert.wait_for()
    assert "is not a folder" in alert.inner_text()
    assert httpx.get(f"{app_url}/api/sources").json() == []
