"""The cleaning benchmark page (#/admin/cleaning) in a real browser, through Almanac's own cleaning
API (`/api/cleaning/...`; the checks beside it read the data-cleaning benchmark API's paths):
the tasks, a run started from the page and followed to its end (the offline cleaner, in the
live server's background), each task's justification and auditability score, the metrics of
the latest completed run, and cancelling and deleting runs."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, SecuredApp, assert_accessible, shot, sign_in
from tests.narrowing import present

RUN_ID = re.compile(r"#/admin/cleaning/(clean_[0-9a-f]{12})$")


def test_an_admin_starts_a_cleaning_run_and_reads_every_tasks_justification(
    page: Any, app_url: str, tmp_path: Path
) -> None:
    page.goto(app_url + "/#/admin/cleaning")
    page.get_by_role("heading", name="Cleaning benchmark", level=1).wait_for()
    tasks = page.get_by_role("region", name="Tasks")
    expect(tasks.get_by_role("row", name=re.compile(r"services\.accuracy\.easy"))).to_be_visible()
    expect(page.get_by_text("No completed run yet: start one below.")).to_be_visible()
    expect(page.get_by_label("Cleaner")).to_have_value("offline-rules")
    assert_accessible(page)

    page.get_by_label("Table").select_option("services")
    page.get_by_label("Difficulty").select_option("easy")
    page.get_by_role("button", name="Start cleaning run").click()
    page.wait_for_url(RUN_ID)
    run_id = present(RUN_ID.search(page.url))[1]
    page.get_by_role("heading", name=f"Cleaning run {run_id}", level=1).wait_for()
    page.get_by_text("Completed: 4 of 4 tasks").wait_for()  # services x 4 dimensions x easy

    export = httpx.get(f"{app_url}/api/results/{run_id}").json()
    assert {r["table"] for r in export["task_results"]} == {"services"}
    results = page.get_by_role("region", name="Task results (4)")
    for result in export["task_results"]:
        row = results.get_by_role("row", name=re.compile(re.escape(result["task_id"])))
        expect(row).to_contain_text(result["justification"][:60])
        expect(row).to_contain_text(f"{result['auditability_score']:.3f}")
    figures = page.get_by_role("table", name="Each model over every task")
    expect(figures.get_by_role("row", name=re.compile("^offline-rules"))).to_be_visible()
    assert_accessible(page)
    shot(page, "cleaning-run-desktop")

    with page.expect_download() as csv_export:
        page.get_by_role("button", name="Export CSV").click()
    saved = tmp_path / "run.csv"
    csv_export.value.save_as(saved)
    assert csv_export.value.suggested_filename == f"{run_id}.csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert sorted(r["task_id"] for r in rows) == sorted(
        r["task_id"] for r in export["task_results"]
    )
    with page.expect_download() as report:
        page.get_by_role("button", name="Download report (HTML)").click()
    report.value.save_as(tmp_path / "report.html")
    assert run_id in (tmp_path / "report.html").read_text(encoding="utf-8")

    page.get_by_role("link", name="← Cleaning benchmark").click()
    latest = page.get_by_role("region", name="Latest completed run")
    expect(latest.get_by_role("link", name=run_id)).to_be_visible()
    overview = httpx.get(f"{app_url}/api/metrics/overview").json()
    f1 = overview["models"]["offline-rules"]["f1"]
    row = latest.get_by_role("row", name=re.compile("^offline-rules"))
    expect(row).to_contain_text(f"{f1:.3f}")
    runs = page.get_by_role("region", name="Runs")
    expect(
        runs.get_by_role("row", name=re.compile(run_id)).get_by_text("completed")
    ).to_be_visible()
    shot(page, "cleaning-overview-desktop")


def test_an_admin_cancels_a_running_cleaning_run_then_deletes_it(page: Any, app_url: str) -> None:
    # Every task, one at a time, repeated: still running when the page cancels it.
    started = httpx.post(f"{app_url}/api/benchmark/run", json={"concurrency": 1, "repeats": 5})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    page.goto(app_url + "/#/admin/cleaning")
    row = page.get_by_role("region", name="Runs").get_by_role("row", name=re.compile(run_id))
    row.get_by_role("button", name=f"Cancel {run_id}").click()
    expect(row.get_by_text("cancelled", exact=True)).to_be_visible()
    assert httpx.get(f"{app_url}/api/results/{run_id}").json()["status"] == "cancelled"

    row.get_by_role("link", name=run_id).click()
    page.get_by_text(re.compile(r"^Cancelled: \d+ of \d+ tasks")).wait_for()
    page.get_by_role("button", name=f"Delete {run_id}").click()
    dialog = page.get_by_role("dialog", name=f"Delete run {run_id}?")
    dialog.get_by_role("button", name="Delete", exact=True).click()
    page.wait_for_url(re.compile(r"#/admin/cleaning$"))
    page.get_by_role("heading", name="Runs", exact=True).wait_for()
    expect(page.get_by_role("row", name=re.compile(run_id))).to_have_count(0)
    assert httpx.get(f"{app_url}/api/results/{run_id}").status_code == 404


def test_a_user_key_cannot_open_the_cleaning_page(page: Any, secured_app: SecuredApp) -> None:
    sign_in(page, secured_app.url, secured_app.keys["user"])
    page.goto(secured_app.url + "/#/admin/cleaning")
    page.get_by_text("This page is for admins.").wait_for()


def test_the_cleaning_pages_fit_a_phone(new_page: Any, app_url: str) -> None:
    body = {"tables": ["services"], "difficulties": ["easy"]}
    run_id = httpx.post(f"{app_url}/api/benchmark/run", json=body).json()["run_id"]
    page = new_page(viewport=PHONE)
    page.goto(f"{app_url}/#/admin/cleaning/{run_id}")
    page.get_by_text("Completed: 4 of 4 tasks").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page)
    shot(page, "cleaning-run-phone")

    page.goto(app_url + "/#/admin/cleaning")
    page.get_by_role("region", name="Latest completed run").get_by_role("link").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page)
