"""The admin pages Evaluation (#/admin/evaluation) and Prompts & models (#/admin/prompts) in a
real browser: a run on the bundled `answers` set with the offline model, followed until it
completes (the run executes in the live server's background), its results and downloads, the
comparison of two runs, prompt versions (draft, activate, a refused activation, revert) and a
default model."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, PageProblems, SecuredApp, assert_accessible, shot, sign_in
from tests.narrowing import present

RUN_ID = re.compile(r"#/admin/evaluation/(run_[0-9a-f]{12})$")
DEFAULT_USER = "default"  # development mode's one user (DEFAULT_USER_ID)


def no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def start_run(url: str, limit: int) -> str:
    """Start a run of the bundled set's dev split over HTTP (development mode: no key)."""
    body = {"task_id": "answers", "tags": ["dev"], "limit": limit}
    response = httpx.post(url + "/api/v1/benchmark-runs", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["run_id"])


def wait_until_completed(page: Any, url: str, run_id: str) -> None:
    """Open a run's page and wait for the page itself to say the run completed."""
    page.goto(f"{url}/#/admin/evaluation/{run_id}")
    page.get_by_text(re.compile(r"^Completed: \d+ of \d+ items")).wait_for()


# --- evaluation ----------------------------------------------------------------------------------


def test_an_admin_starts_a_run_follows_it_and_downloads_its_report(
    page: Any, app_url: str, tmp_path: Path
) -> None:
    page.goto(app_url + "/#/admin/evaluation")
    page.get_by_role("heading", name="Evaluation", level=1).wait_for()
    expect(page.get_by_label("Dataset", exact=True)).to_have_value("answers")
    expect(page.get_by_role("checkbox", name=re.compile("offline-extractive"))).to_be_checked()
    assert_accessible(page)
    shot(page, "eval-overview-empty-desktop")

    page.get_by_label("Split").select_option("dev")
    page.get_by_label("Limit").fill("3")
    page.get_by_role("button", name="Start run").click()

    page.wait_for_url(RUN_ID)
    run_id = present(RUN_ID.search(page.url))[1]
    page.get_by_role("heading", name=f"Run {run_id}", level=1).wait_for()
    expect(page.get_by_role("progressbar", name="Run progress")).to_be_visible()
    page.get_by_text("Completed: 3 of 3 items").wait_for()

    results = page.get_by_role("region", name="Results of offline-extractive")
    expect(results.get_by_text("Correct", exact=True).first).to_be_visible()
    expect(results.get_by_text("Refusal accuracy").first).to_be_visible()
    expect(results.get_by_role("heading", name="By dimension")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^Failures \(\d+\)$"))).to_be_visible()
    assert_accessible(page)
    shot(page, "eval-run-desktop")

    with page.expect_download() as report:
        page.get_by_role("button", name="Download report (HTML)").click()
    saved = tmp_path / "report.html"
    report.value.save_as(saved)
    html = saved.read_text(encoding="utf-8")
    assert report.value.suggested_filename == f"{run_id}-report.html"
    assert run_id in html and "<html" in html.lower()

    with page.expect_download() as export:
        page.get_by_role("button", name="Export CSV").click()
    csv_path = tmp_path / "run.csv"
    export.value.save_as(csv_path)
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert len(rows) == 3 and {r["model"] for r in rows} == {"offline-extractive"}
    # Development mode: the report's own URL opens in a tab, under its own policy.
    link = page.get_by_role("link", name="Open report in a new tab")
    assert link.get_attribute("href") == f"/api/v1/eval-runs/{run_id}/report"

    page.get_by_role("link", name="← All runs").click()
    row = page.get_by_role("row", name=re.compile(run_id))
    expect(row.get_by_text("completed")).to_be_visible()
    expect(row.get_by_role("cell", name=re.compile(r"^\d+(\.\d)?%$")).first).to_be_visible()


def test_two_runs_are_compared_metric_by_metric(page: Any, app_url: str) -> None:
    first = start_run(app_url, 2)
    second = start_run(app_url, 1)
    wait_until_completed(page, app_url, first)
    wait_until_completed(page, app_url, second)

    page.goto(app_url + "/#/admin/evaluation")
    page.get_by_label("Run A (baseline)").select_option(first)
    page.get_by_label("Run B").select_option(second)
    page.get_by_role("button", name="Compare").click()

    table = page.get_by_role("table", name="offline-extractive")
    cases = table.get_by_role("row", name=re.compile("^Cases"))
    expect(cases).to_contain_text("2")
    expect(cases).to_contain_text("−1")
    correct = table.get_by_role("row", name=re.compile("^Correct"))
    expect(correct.get_by_text(re.compile("improved|regressed|unchanged"))).to_be_visible()
    assert_accessible(page)
    shot(page, "eval-compare-desktop")


def test_an_invalid_run_request_is_shown_with_its_detail(page: Any, app_url: str) -> None:
    page.goto(app_url + "/#/admin/evaluation")
    page.get_by_label("Limit").fill("0")
    page.get_by_role("button", name="Start run").click()
    alert = page.locator(".eval-start [role=alert]")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("limit")
    assert page.url.endswith("#/admin/evaluation")  # nothing started, nowhere to go
    assert_accessible(page)
    shot(page, "eval-start-refused-desktop")

    page.goto(app_url + "/#/admin/evaluation/run_000000000000")
    expect(page.get_by_role("alert")).to_contain_text("run_000000000000")


def test_the_evaluation_pages_fit_a_phone(new_page: Any, app_url: str) -> None:
    run_id = start_run(app_url, 2)
    start_run(app_url, 1)
    page = new_page(viewport=PHONE)
    wait_until_completed(page, app_url, run_id)
    no_sideways_scroll(page)
    assert_accessible(page)
    shot(page, "eval-run-phone")

    page.goto(app_url + "/#/admin/evaluation")
    page.get_by_role("button", name="Compare").click()
    page.get_by_role("table", name="offline-extractive").wait_for()
    no_sideways_scroll(page)
    assert_accessible(page)
    shot(page, "eval-overview-phone")


def start_long_run(url: str) -> str:
    """A run of every case of the bundled set, one at a time: it runs for minutes, so it is
    still running when the page cancels it."""
    response = httpx.post(
        url + "/api/v1/benchmark-runs", json={"task_id": "answers", "concurrency": 1}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["run_id"])


def test_an_admin_cancels_a_running_run_in_the_list_then_deletes_it(
    page: Any, app_url: str
) -> None:
    run_id = start_long_run(app_url)
    page.goto(app_url + "/#/admin/evaluation")
    row = page.get_by_role("row", name=re.compile(run_id))
    expect(row.get_by_text(re.compile("^(queued|running)$"))).to_be_visible()
    assert row.get_by_role("button", name=f"Delete {run_id}").count() == 0  # cancel it first
    row.get_by_role("button", name=f"Cancel {run_id}").click()

    expect(row.get_by_text("cancelled", exact=True)).to_be_visible()  # the list was refreshed
    assert httpx.get(f"{app_url}/api/v1/eval-runs/{run_id}").json()["status"] == "cancelled"
    row.get_by_role("button", name=f"Delete {run_id}").click()
    dialog = page.get_by_role("dialog", name=f"Delete run {run_id}?")
    assert_accessible(page)
    dialog.get_by_role("button", name="Cancel", exact=True).click()  # thought better of it
    expect(dialog).to_have_count(0)
    assert httpx.get(f"{app_url}/api/v1/eval-runs/{run_id}").status_code == 200

    row.get_by_role("button", name=f"Delete {run_id}").click()
    dialog.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("row", name=re.compile(run_id))).to_have_count(0)
    assert httpx.get(f"{app_url}/api/v1/eval-runs/{run_id}").status_code == 404


def test_a_run_page_cancels_its_run_and_deletes_it(page: Any, app_url: str) -> None:
    run_id = start_long_run(app_url)
    page.goto(f"{app_url}/#/admin/evaluation/{run_id}")
    page.get_by_role("button", name=f"Cancel {run_id}").click()
    page.get_by_text(re.compile(r"^Cancelled: \d+ of \d+ items")).wait_for()
    expect(page.get_by_text(f"cancelled by {DEFAULT_USER}")).to_be_visible()  # who, and why
    shot(page, "eval-run-cancelled-desktop")

    page.get_by_role("button", name=f"Delete {run_id}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True).click()
    page.wait_for_url(re.compile(r"#/admin/evaluation$"))
    page.get_by_role("heading", name="Runs", exact=True).wait_for()
    expect(page.get_by_role("row", name=re.compile(run_id))).to_have_count(0)
    assert httpx.get(f"{app_url}/api/v1/eval-runs/{run_id}").status_code == 404


def test_a_user_key_cannot_open_the_evaluation_page(page: Any, secured_app: SecuredApp) -> None:
    sign_in(page, secured_app.url, secured_app.keys["user"])
    page.goto(secured_app.url + "/#/admin/evaluation")
    page.get_by_text("This page is for admins.").wait_for()


def test_with_keys_the_report_is_a_download_not_a_link(
    page: Any, secured_app: SecuredApp, tmp_path: Path
) -> None:
    sign_in(page, secured_app.url, secured_app.keys["admin"])
    key = secured_app.keys["admin"]
    response = httpx.post(
        secured_app.url + "/api/v1/benchmark-runs",
        json={"task_id": "answers", "tags": ["dev"], "limit": 1},
        headers={"Authorization": f"Bearer {key}"},
    )
    run_id = response.json()["run_id"]
    page.goto(f"{secured_app.url}/#/admin/evaluation/{run_id}")
    page.get_by_text("Completed: 1 of 1 items").wait_for()
    assert page.get_by_role("link", name="Open report in a new tab").count() == 0
    with page.expect_download() as report:
        page.get_by_role("button", name="Download report (HTML)").click()
    report.value.save_as(tmp_path / "r.html")
    assert run_id in (tmp_path / "r.html").read_text(encoding="utf-8")


# --- prompts & models ---------------------------------------------------------------------------


def chat_section(page: Any) -> Any:
    return page.get_by_role("region", name="Chat prompt")


def test_an_admin_drafts_activates_and_reverts_a_prompt_version(
    page: Any, app_url: str, problems: PageProblems
) -> None:
    page.goto(app_url + "/#/admin/prompts")
    page.get_by_role("heading", name="Prompts & models", level=1).wait_for()
    chat = chat_section(page)
    expect(chat.get_by_text("Default", exact=True)).to_be_visible()
    assert page.get_by_role("region", name="Advice prompt").count() == 1
    assert_accessible(page)
    shot(page, "prompts-desktop")

    text = "You are Almanac. Answer from the knowledge base only, citing sources. Today: {{today}}."
    chat.get_by_label("Text of the new version").fill(text)
    chat.get_by_role("button", name="Save as draft").click()
    row = chat.get_by_role("row", name=re.compile(r"^1 draft"))
    expect(row).to_be_visible()
    expect(chat.get_by_text("Default", exact=True)).to_be_visible()  # a draft is not in force

    chat.get_by_role("button", name="Activate version 1").click()
    expect(chat.get_by_text("Version 1", exact=True)).to_be_visible()
    expect(chat.get_by_role("row", name=re.compile(r"^1 active"))).to_be_visible()

    # A version whose variable the service cannot fill is kept as a draft, and refused in force.
    chat.get_by_label("Text of the new version").fill("You answer for the {{team}} team.")
    chat.get_by_role("button", name="Save as draft").click()
    chat.get_by_role("button", name="Activate version 2").click()
    alert = chat.get_by_role("alert")
    expect(alert).to_contain_text("team")
    expect(alert).to_contain_text("Cannot activate version 2")
    expect(chat.get_by_text("Version 1", exact=True)).to_be_visible()
    assert_accessible(page)
    shot(page, "prompts-refused-desktop")

    chat.get_by_role("button", name="Revert to the default").click()
    dialog = page.get_by_role("dialog", name=re.compile("Revert the chat prompt"))
    expect(dialog).to_be_visible()
    assert_accessible(page)
    dialog.get_by_role("button", name="Revert").click()
    expect(chat.get_by_text("Default", exact=True)).to_be_visible()
    expect(chat.get_by_role("row", name=re.compile(r"^1 draft"))).to_be_visible()  # kept
    assert httpx.get(app_url + "/api/llm-prompts/chat").json()["version"] == "default"


def test_a_draft_is_tried_beside_the_prompt_in_force(page: Any, app_url: str) -> None:
    page.goto(app_url + "/#/admin/prompts")
    chat = chat_section(page)
    chat.get_by_label("Text of the new version").fill("Answer briefly from the knowledge base.")
    chat.get_by_label("Question").fill("How often must passwords be rotated?")
    chat.get_by_role("button", name="Try it").click()
    expect(chat.get_by_role("heading", name="This text")).to_be_visible()
    expect(chat.get_by_role("heading", name="The prompt in force")).to_be_visible()
    output = chat.locator(".prompts-try-output").first
    expect(output).not_to_be_empty()
    # The answer's Markdown is rendered (its Sources list is a list), not shown as source.
    expect(output.locator("strong", has_text="Sources")).to_be_visible()
    expect(output).not_to_contain_text("**Sources**")
    # The offline model never reads a system prompt: the page says why both columns agree.
    expect(chat.locator(".prompts-try-offline")).to_contain_text("does not read the system prompt")
    assert_accessible(page)


def test_an_admin_sets_and_clears_a_default_model(new_page: Any, app_url: str) -> None:
    page = new_page(viewport=PHONE)
    page.goto(app_url + "/#/admin/prompts")
    providers = page.get_by_role("table", name="Providers")
    expect(providers.get_by_role("cell", name="offline-extractive")).to_be_visible()

    page.get_by_label("Chat default model").select_option("offline-extractive")
    form = page.locator("form.prompts-default").filter(has=page.get_by_label("Chat default model"))
    form.get_by_role("button", name="Save").click()
    status = form.get_by_role("status")
    expect(status).to_contain_text("In force: offline-extractive (this setting)")
    assert httpx.get(app_url + "/api/llm-defaults/chat").json()["model"] == "offline-extractive"
    no_sideways_scroll(page)
    assert_accessible(page)
    shot(page, "prompts-phone")

    page.get_by_label("Chat default model").select_option("")
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_role("status")).to_contain_text("DEFAULT_MODEL")
    assert httpx.get(app_url + "/api/llm-defaults/chat").json()["model"] is None


# --- the prompt library -------------------------------------------------------------------------


def test_an_admin_browses_the_library_down_to_a_versions_run_statistics(
    page: Any, app_url: str, problems: PageProblems
) -> None:
    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(app_url + path, json=body)
        assert response.status_code in (201, 202), response.text
        return response.json()

    hostile = '<img src=x onerror="document.title=1">'
    project = post("/api/v1/projects", {"name": "Support", "description": hostile})
    use_case = post(f"/api/v1/projects/{project['id']}/use-cases", {"name": "triage"})
    prompt = post(
        "/api/v1/prompts",
        {"use_case_id": use_case["id"], "name": "short answers", "tags": ["terse", "<b>x</b>"]},
    )
    post(f"/api/v1/prompts/{prompt['id']}/versions", {"text": "Answer in one sentence."})
    post(f"/api/v1/prompts/{prompt['id']}/versions", {"text": "Answer <em>briefly</em>."})
    run = post(
        "/api/v1/eval-runs",
        {"prompt_id": prompt["id"], "version": 2, "dataset": "answers", "tags": ["dev"],
         "limit": 1, "models": ["offline-extractive"]},
    )  # fmt: skip
    wait_until_completed(page, app_url, run["run_id"])

    page.goto(app_url + "/#/admin/prompts")
    library = page.get_by_role("region", name="Library")
    library.get_by_text("Support", exact=True).click()
    expect(library.get_by_text(f" — {hostile}")).to_be_visible()  # shown as text, not markup
    library.get_by_text("triage", exact=True).click()
    library.get_by_text("short answers", exact=True).click()
    expect(library.get_by_text("<b>x</b>", exact=True)).to_be_visible()
    versions = library.get_by_role("table", name="Versions of short answers")
    expect(versions.get_by_role("row", name=re.compile(r"^2 active 1 "))).to_be_visible()
    expect(versions.get_by_role("row", name=re.compile(r"^1 draft 0 "))).to_be_visible()
    assert page.title() != "1" and page.locator("img[src=x]").count() == 0
    library.get_by_text("Default", exact=True).click()
    expect(library.get_by_text("chat", exact=True)).to_be_visible()
    assert_accessible(page)
