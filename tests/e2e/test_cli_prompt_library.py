"""`almanac projects`, `almanac use-cases` and `almanac prompts library`: the done-when of
the prompt library through the CLI (a project, two use cases, tagged prompts, three versions,
a run, the version's statistics updated), acting as the local admin, on SQLite and on
PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from backend.cli.main import app

runner = CliRunner()


def _ok(*args: str, stdin: str | None = None) -> str:
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def _json(*args: str, stdin: str | None = None) -> Any:
    return json.loads(_ok(*args, "--json", stdin=stdin))


def test_a_project_tree_is_built_versioned_run_and_its_stats_follow(
    env: None, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "postgresql":  # the app database in PostgreSQL (its knowledge base empty)
        monkeypatch.setenv("DATABASE_URL", str(request.getfixturevalue("pg_url")))
    project = _json("projects", "create", "Support", "--description", "Help desk")
    triage = _json("use-cases", "create", project["id"], "triage")
    replies = _json("use-cases", "create", project["id"], "replies")
    short = _json("prompts", "library", "create", triage["id"], "short", "-t", "terse", "-t", "en")
    _json("prompts", "library", "create", replies["id"], "polite", "--tag", "en")
    assert short["tags"] == ["terse", "en"]

    assert "Created version 1" in _ok(
        "prompts", "library", "add-version", short["id"], stdin="One."
    )
    assert "(a draft)" in _ok(
        "prompts", "library", "add-version", short["id"], "--draft", stdin="For {{team}}."
    )
    assert "Created version 3" in _ok(
        "prompts", "library", "add-version", short["id"], stdin="Three."
    )
    assert "is active now" in _ok("prompts", "library", "activate", short["id"], "1")

    shown = _ok("projects", "show", project["id"])
    assert "triage" in shown and "replies" in shown and "2 of 2 use cases" in shown
    listed = _json("prompts", "library", "list", "--tag", "en")
    assert listed["total"] == 2
    assert "1 of 1 prompts" in _ok("use-cases", "show", triage["id"])

    ran = _ok(
        "prompts", "library", "run", short["id"], "3", "--dataset", "answers",
        "--model", "offline-extractive", "--limit", "1", "--temperature", "0", "--seed", "7",
    )  # fmt: skip
    assert "completed, 1 items" in ran and "Version 3 of" in ran and "1 runs" in ran

    versions = _json("prompts", "library", "show", short["id"])["versions"]
    assert versions["active"] == 1 and versions["total"] == 3
    stats = {v["version"]: v["stats"] for v in versions["items"]}
    assert stats[3]["runs"] == 1 and stats[3]["cases"] == 1
    assert stats[3]["pass_rate"] in (0.0, 1.0) and stats[3]["last_completed_run_id"]
    assert stats[1]["runs"] == 0 and stats[2]["runs"] == 0
    table = _ok("prompts", "library", "show", short["id"])
    assert "3 of 3 versions" in table


def test_errors_are_one_line_and_exit_1(env: None) -> None:
    result = runner.invoke(app, ["projects", "create", "Default"])
    assert result.exit_code == 1 and "named 'Default' already" in result.stderr
    result = runner.invoke(app, ["prompts", "library", "compare", "prm_chat", "1", "2"])
    assert result.exit_code == 1 and "no version 1" in result.stderr
    assert "prm_chat" in _ok("prompts", "library", "list", "--use-case", "uc_chat")


def _fails(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    return result.stderr


def test_the_library_is_updated_and_deleted_like_over_the_api(env: None) -> None:
    project = _json("projects", "create", "Support")
    triage = _json("use-cases", "create", project["id"], "triage")
    replies = _json("use-cases", "create", project["id"], "replies")
    short = _json("prompts", "library", "create", triage["id"], "short", "-t", "en")
    _json("prompts", "library", "create", replies["id"], "polite")

    renamed = _json("projects", "update", project["id"], "--name", "Help desk", "-d", "Tickets")
    assert (renamed["name"], renamed["description"]) == ("Help desk", "Tickets")
    assert "Updated use case" in _ok("use-cases", "update", triage["id"], "--name", "sorting")
    assert _json("use-cases", "show", triage["id"])["name"] == "sorting"
    tagged = _json("prompts", "library", "update", short["id"], "--tag", "Terse", "--tag", "fr")
    assert tagged["tags"] == ["terse", "fr"] and tagged["name"] == "short"
    assert "[terse, fr]" not in _ok("prompts", "library", "update", short["id"], "--no-tags")
    assert _json("prompts", "library", "show", short["id"])["tags"] == []

    assert "named 'Default' already" in _fails(
        "projects", "update", project["id"], "--name", "Default"
    )
    assert "Nothing to change" in _fails("use-cases", "update", triage["id"])
    assert "No prompt" in _fails("prompts", "library", "update", "prm_000000000000", "--name", "x")
    assert "built in" in _fails("prompts", "library", "delete", "prm_chat", "--yes")
    assert "built-in prompt" in _fails("use-cases", "delete", "uc_chat", "--yes")
    assert "built-in prompt" in _fails("projects", "delete", "proj_default", "--yes")

    kept = runner.invoke(app, ["projects", "delete", project["id"]], input="n\n")
    assert kept.exit_code == 1 and _json("projects", "show", project["id"])["name"] == "Help desk"
    assert f"Deleted use case {replies['id']} with 1 prompt." in _ok(
        "use-cases", "delete", replies["id"], "--yes"
    )
    assert _ok("prompts", "library", "delete", short["id"], "-y") == (
        f"Deleted prompt {short['id']}.\n"
    )
    _json("prompts", "library", "create", triage["id"], "again")
    deleted = runner.invoke(app, ["projects", "delete", project["id"]], input="y\n")
    assert deleted.exit_code == 0, deleted.output
    assert f"Deleted project {project['id']} with 1 use case and 1 prompt." in deleted.stdout
    assert "No project" in _fails("projects", "show", project["id"])
    assert "No use case" in _fails("use-cases", "show", triage["id"])

    audit = json.loads(_ok("audit", "--json", "--limit", "500"))["entries"]
    actions = [
        (e["action"], e["actor_user_id"])
        for e in audit
        if e["action"].endswith((".update", ".delete"))
    ]
    assert actions == [
        ("project.delete", "cli"), ("library_prompt.delete", "cli"), ("use_case.delete", "cli"),
        ("library_prompt.update", "cli"), ("library_prompt.update", "cli"),
        ("use_case.update", "cli"), ("project.update", "cli"),
    ]  # fmt: skip
