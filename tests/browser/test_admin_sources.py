"""The Sources page in a real browser: a folder declared through the form, synced now with its
progress followed to the one-line summary, a change and a deletion carried by the next sync,
a failed item and a failed listing shown with their reasons, the history, and removal after a
confirmation; a website (a real one on loopback) declared, scheduled and synced through the
form; a refused source says why and stores nothing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from backend.config import Settings
from tests.browser.conftest import assert_accessible, shot
from tests.conftest import make_settings
from tests.website_server import Site, website


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    """Website sources may read 127.0.0.1 (the test's site) at once."""
    return make_settings(data_dir, source_allowed_hosts="127.0.0.1", source_request_delay_s=0)


@pytest.fixture
def site() -> Iterator[Site]:
    with website() as served:
        served.robots = "User-agent: *\nDisallow: /handbook/drafts/\n"
        served.html(
            "/handbook/",
            '<a href="parking.html">Parking</a> <a href="travel.html">Travel</a> '
            '<a href="drafts/plan.html">Plan</a>',
        )
        served.html("/handbook/parking.html", "<h1>Parking</h1><p>Visitors park in bay 7.</p>")
        served.html("/handbook/travel.html", "<h1>Travel</h1><p>Tickets are refunded.</p>")
        served.html("/handbook/drafts/plan.html", "<h1>Plan</h1><p>Not published yet.</p>")
        yield served


def _folder(root: Path) -> Path:
    folder = root / "handbook"
    (folder / "policies").mkdir(parents=True)
    (folder / "travel.md").write_text("# Travel\n\nTrain tickets are refunded within 30 days.\n")
    (folder / "policies" / "parking.md").write_text("# Parking\n\nVisitors park in bay 7.\n")
    return folder


def _open(page: Any, url: str) -> None:
    page.goto(f"{url}/#/admin/sources")
    page.get_by_role("heading", level=1, name="Sources").wait_for()


def _add(page: Any, name: str, location: str, every: str = "", kind: str = "Folder") -> None:
    form = page.locator("form.sources-add")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Kind").select_option(label=kind)
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


def test_a_website_is_added_with_a_schedule_and_synced_within_robots_txt(
    page: Any, app_url: str, site: Site
) -> None:
    _open(page, app_url)
    form = page.locator("form.sources-add")
    form.get_by_label("Kind").select_option(label="Website")
    note = form.locator(".sources-site-note")
    expect(note).to_contain_text("robots.txt")
    form.get_by_label("Location").fill(f"{site.base}/handbook/sitemap.xml")
    expect(note).to_contain_text("Read as a sitemap")
    form.get_by_label("Location").fill(f"{site.base}/handbook/")
    expect(note).to_contain_text("Read as a start page")
    assert_accessible(page)

    _add(page, "intranet", f"{site.base}/handbook/", "1h", kind="Website")
    row = page.locator('.sources-table tr[data-name="intranet"]')
    expect(row).to_contain_text(f"Website: {site.base}/handbook/")
    assert "when asked" not in row.inner_text()  # scheduled: its next sync is shown
    [stored] = httpx.get(f"{app_url}/api/sources").json()
    assert (stored["kind"], stored["location"], stored["every_s"]) == (
        "url",
        f"{site.base}/handbook/",
        3600,
    )

    row.get_by_role("button", name="Sync intranet now").click()
    page.get_by_text("intranet: 3 added").wait_for()  # the start page and its two pages
    assert "/handbook/drafts/plan.html" not in site.paths()  # disallowed: never fetched
    expect(row.locator("td.num")).to_have_text("3")
    shot(page, "admin-sources-website")


def test_a_refused_source_says_why_and_stores_nothing(
    page: Any, app_url: str, tmp_path: Path
) -> None:
    _open(page, app_url)
    _add(page, "missing", str(tmp_path / "nowhere"))

    alert = page.locator("form.sources-add").get_by_role("alert")
    alert.wait_for()
    assert "is not a folder" in alert.inner_text()
    assert httpx.get(f"{app_url}/api/sources").json() == []
