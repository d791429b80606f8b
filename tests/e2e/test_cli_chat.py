"""The chat-side CLI: ask, chat (interactive), sql, chats, tables."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from backend.cli.main import app
from tests import office_files

runner = CliRunner()


def test_ask_prints_a_cited_answer_as_json(env: None) -> None:
    result = runner.invoke(
        app, ["ask", "Who is the owner of the incident response runbook?", "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert "Ifeoma Adeyemi" in body["answer"]
    assert body["model"] == "offline-extractive" and body["sources"]


def test_ask_with_a_model_that_is_not_allowed_fails_clearly(env: None) -> None:
    result = runner.invoke(app, ["ask", "hi", "--model", "openai:gpt-9"])
    assert result.exit_code == 1
    assert "not allowed" in result.stderr and "offline-extractive" in result.stderr


def test_interactive_chat_keeps_history_and_can_be_resumed(env: None) -> None:
    result = runner.invoke(
        app, ["chat", "--user", "sam"], input="What is the SEV1 acknowledgement time?\n\n"
    )
    assert result.exit_code == 0, result.output
    assert "5 minutes" in result.stdout
    chats = json.loads(runner.invoke(app, ["chats", "list", "--user", "sam", "--json"]).stdout)
    assert len(chats) == 1
    chat_id = chats[0]["id"]

    result = runner.invoke(
        app, ["chat", "--user", "sam", "--chat-id", chat_id], input="How long do raw pings stay?\n"
    )
    assert result.exit_code == 0 and "Resuming chat" in result.stdout
    shown = json.loads(
        runner.invoke(app, ["chats", "show", chat_id, "--user", "sam", "--json"]).stdout
    )
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant"] * 2

    assert runner.invoke(app, ["chats", "delete", chat_id, "--user", "sam"]).exit_code == 0
    assert json.loads(runner.invoke(app, ["chats", "list", "--user", "sam", "--json"]).stdout) == []


def test_sql_runs_a_select_and_refuses_a_write(env: None) -> None:
    result = runner.invoke(
        app, ["sql", "SELECT name, team FROM directory ORDER BY name LIMIT 2", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["columns"] == ["name", "team"]
    result = runner.invoke(app, ["sql", "DELETE FROM directory"])
    assert result.exit_code == 1 and "Error" in result.stderr


def test_tables_load_and_list(env: None, tmp_path: Path) -> None:
    csv = tmp_path / "offices.csv"
    csv.write_text("city,desks,opened\nRotterdam,120,2015-04-01\nLisbon,45,2021-09-15\n")
    result = runner.invoke(app, ["tables", "load", str(csv), "--name", "offices"])
    assert result.exit_code == 0, result.output
    assert "2 rows" in result.stdout and "desks INTEGER" in result.stdout
    listed = json.loads(runner.invoke(app, ["tables", "list", "--json"]).stdout)
    assert "offices" in [t["name"] for t in listed]
    result = runner.invoke(app, ["sql", "SELECT sum(desks) AS desks FROM offices", "--json"])
    assert json.loads(result.stdout)["rows"] == [[165]]


def test_tables_drop_asks_first_then_deletes_and_refuses_what_is_not_there(
    env: None, tmp_path: Path
) -> None:
    csv = tmp_path / "rooms.csv"
    csv.write_text("room,floor\nA1,1\nB2,2\n")
    assert runner.invoke(app, ["tables", "load", str(csv), "--name", "rooms"]).exit_code == 0
    declined = runner.invoke(app, ["tables", "drop", "rooms"], input="n\n")
    assert declined.exit_code == 1 and "Delete table rooms (2 rows)?" in declined.output
    listed = json.loads(runner.invoke(app, ["tables", "list", "--json"]).stdout)
    assert "rooms" in [t["name"] for t in listed]
    dropped = runner.invoke(app, ["tables", "drop", "ROOMS", "--yes"])
    assert dropped.exit_code == 0, dropped.output
    assert "Deleted table rooms (2 rows)." in dropped.stdout
    listed = json.loads(runner.invoke(app, ["tables", "list", "--json"]).stdout)
    assert "rooms" not in [t["name"] for t in listed]
    gone = runner.invoke(app, ["sql", "SELECT count(*) FROM rooms"])
    assert gone.exit_code == 1
    again = runner.invoke(app, ["tables", "drop", "rooms", "--yes"])
    assert again.exit_code == 1 and "not found" in again.stderr
    bad = runner.invoke(app, ["tables", "drop", "1bad", "--yes"])
    assert bad.exit_code == 1


def test_tables_load_rejects_a_bad_name_and_a_missing_file(env: None, tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("a\n1\n")
    assert runner.invoke(app, ["tables", "load", str(csv), "--name", "1bad"]).exit_code == 1
    result = runner.invoke(app, ["tables", "load", str(tmp_path / "nope.csv"), "--name", "ok"])
    assert result.exit_code == 1 and "does not exist" in result.stderr


def test_tables_load_of_a_workbook_makes_a_table_per_sheet(env: None, tmp_path: Path) -> None:
    workbook = tmp_path / "Sales 2024.xlsx"
    workbook.write_bytes(office_files.workbook_by_library())
    result = runner.invoke(app, ["tables", "load", str(workbook)])
    assert result.exit_code == 0, result.output
    assert "Loaded 3 rows into sales_2024_q1_sales" in result.stdout
    assert "Loaded 2 rows into sales_2024_readings" in result.stdout
    query = "SELECT region FROM sales_2024_q1_sales WHERE units > 5 ORDER BY region"
    result = runner.invoke(app, ["sql", query, "--json"])
    assert json.loads(result.stdout)["rows"] == [["North"], ["South"]]
    named = runner.invoke(app, ["tables", "load", str(workbook), "--name", "q"])
    assert "Loaded 3 rows into q_q1_sales" in named.stdout


def test_tables_load_of_a_csv_without_a_name_says_to_give_one(env: None, tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("a\n1\n")
    result = runner.invoke(app, ["tables", "load", str(csv)])
    assert result.exit_code == 1 and "--name" in result.stderr


def test_ingest_of_a_folder_loads_its_workbooks_as_tables_beside_the_documents(
    env: None, tmp_path: Path
) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "budget.xlsx").write_bytes(office_files.workbook_by_library())
    (folder / "parking.docx").write_bytes(office_files.word_by_library())
    result = runner.invoke(app, ["ingest", str(folder)])
    assert result.exit_code == 0, result.output
    assert "budget.xlsx: table budget_q1_sales (3 rows)" in result.stderr
    found = runner.invoke(app, ["search", "sales report first quarter", "--json"])
    assert json.loads(found.stdout)["hits"][0]["section_path"] == ["Budget", "Sheet Q1 Sales"]
    total = runner.invoke(app, ["sql", "SELECT sum(units) FROM budget_q1_sales", "--json"])
    assert json.loads(total.stdout)["rows"] == [[22]]
