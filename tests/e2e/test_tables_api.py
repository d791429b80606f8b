"""`GET /api/tables` and `POST /api/tables`: the structured tables over HTTP.

A load goes through the same use case as `almanac tables load`: atomic, audited, and seen by
the SQL tool's next query at once. A bad name or a bad file changes nothing."""

from __future__ import annotations

from pathlib import Path

import httpx

from backend.bootstrap import Container, bootstrap
from tests import hostile_inputs
from tests.conftest import FixedClock, asgi_client, make_settings

ROOMS = b"room,floor,kettles\nA1,1,2\nB2,2,0\nC3,3,1\n"


async def _load(client: httpx.AsyncClient, name: str, filename: str, data: bytes) -> httpx.Response:
    return await client.post("/api/tables", data={"name": name}, files={"file": (filename, data)})


async def _tables(client: httpx.AsyncClient) -> dict[str, dict]:
    response = await client.get("/api/tables")
    assert response.status_code == 200, response.text
    return {t["name"]: t for t in response.json()["tables"]}


async def test_lists_the_sample_tables_with_their_columns_and_rows(
    client: httpx.AsyncClient,
) -> None:
    tables = await _tables(client)
    assert {"directory", "kpi_catalog", "services"} <= tables.keys()
    directory = tables["directory"]
    assert directory["rows"] > 0
    columns = {c["name"]: c for c in directory["columns"]}
    assert "team" in columns and columns["team"]["type"] == "TEXT"
    assert columns["team"]["samples"]  # what the model is shown


async def test_an_uploaded_csv_becomes_a_table_the_sql_tool_queries_and_is_audited(
    client: httpx.AsyncClient, container: Container
) -> None:
    response = await _load(client, "rooms", "rooms.csv", ROOMS)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "created" and body["replaced"] is None
    assert body["table"]["rows"] == 3
    assert [(c["name"], c["type"]) for c in body["table"]["columns"]] == [
        ("room", "TEXT"),
        ("floor", "INTEGER"),
        ("kettles", "INTEGER"),
    ]
    assert (await _tables(client))["rooms"]["rows"] == 3
    result = await container.tables.run_sql.execute("SELECT room FROM rooms WHERE kettles = 0")
    assert result.rows == (("B2",),)
    entry = (await client.get("/api/audit", params={"action": "table.load"})).json()["entries"][0]
    assert entry["target"] == "table:rooms" and entry["before"] is None
    assert entry["after"] == {
        "name": "rooms",
        "rows": 3,
        "columns": ["room", "floor", "kettles"],
        "file": "rooms.csv",
    }


async def test_a_second_load_replaces_the_table_and_says_what_it_was(
    client: httpx.AsyncClient,
) -> None:
    await _load(client, "rooms", "rooms.csv", ROOMS)
    lines = b'{"room": "D4", "kettles": 5}\n{"room": "E5", "kettles": null}\n'

    response = await _load(client, "rooms", "rooms.jsonl", lines)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "replaced"
    assert body["replaced"]["rows"] == 3 and body["table"]["rows"] == 2
    assert [c["name"] for c in (await _tables(client))["rooms"]["columns"]] == ["room", "kettles"]


async def test_a_bad_name_or_a_bad_file_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    await _load(client, "rooms", "rooms.csv", ROOMS)
    before = await _tables(client)

    bad_name = await _load(client, "select", "rooms.csv", ROOMS)
    assert bad_name.status_code == 422
    assert bad_name.json()["code"] == "invalid_request"
    assert "SQL keyword" in bad_name.json()["detail"]

    ragged = await _load(client, "rooms", "rooms.csv", b"room,floor\nA1,1\nB2\n")
    assert ragged.status_code == 422
    assert "rooms.csv, line 3" in ragged.json()["detail"]

    spreadsheet = await _load(client, "rooms", "rooms.numbers", b"PK\x03\x04 not a csv")
    assert spreadsheet.status_code == 415
    assert spreadsheet.json()["code"] == "unsupported_document"
    assert "rooms.numbers" in spreadsheet.json()["detail"]

    broken = await _load(client, "rooms", "rooms.xlsx", b"PK\x03\x04 not a workbook")
    assert broken.status_code == 422
    assert "rooms.xlsx is not a readable workbook" in broken.json()["detail"]

    empty = await _load(client, "rooms", "rooms.csv", b"")
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]

    assert await _tables(client) == before
    audited = (await client.get("/api/audit", params={"action": "table.load"})).json()
    assert audited["total"] == 1  # only the good load


async def test_the_table_file_types_are_those_the_table_loader_reads(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/tables/types")
    assert response.status_code == 200, response.text
    types = response.json()
    refused = await _load(client, "rooms", "rooms.numbers", b"PK\x03\x04 not a csv")
    supported = refused.json()["detail"].split("supported files are ")[1].rstrip(".")
    assert sorted(types["extensions"]) == supported.split(", ")  # the loader's own list
    assert {".csv", ".jsonl"} <= set(types["extensions"])
    assert types["workbooks"] and set(types["workbooks"]) < set(types["extensions"])
    for workbook in types["workbooks"]:  # each is read as a workbook, not refused as a type
        broken = await _load(client, "rooms", f"rooms{workbook}", b"PK\x03\x04 not a workbook")
        assert broken.status_code == 422, broken.text
        assert "is not a readable workbook" in broken.json()["detail"]


async def test_a_json_line_nested_past_the_depth_limit_is_refused_with_413(
    client: httpx.AsyncClient,
) -> None:
    """A line of arrays nested 30,000 deep: json.loads raised RecursionError (a 500)."""
    response = await _load(client, "deep", "deep.jsonl", hostile_inputs.deep_jsonl(30_000))
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "input_too_costly"
    assert "deep.jsonl, line 2 nests" in response.json()["detail"]
    assert "the JSON depth limit is 256 levels" in response.json()["detail"]
    assert "deep" not in await _tables(client)


async def test_a_path_in_the_file_name_is_reduced_to_its_last_part(
    client: httpx.AsyncClient,
) -> None:
    response = await _load(client, "rooms", "../../etc/rooms.csv", ROOMS)

    assert response.status_code == 201, response.text
    entry = (await client.get("/api/audit", params={"action": "table.load"})).json()["entries"][0]
    assert entry["after"]["file"] == "rooms.csv"


async def test_a_file_over_the_upload_limit_is_refused_with_413(data_dir: Path) -> None:
    container = bootstrap(make_settings(data_dir, max_upload_bytes=100), clock=FixedClock())
    try:
        async with asgi_client(container) as client:
            big = b"room,note\n" + b"A1,a note that makes the file long\n" * 10
            response = await _load(client, "notes", "notes.csv", big)
            assert response.status_code == 413, response.text
            assert response.json()["code"] == "payload_too_large"
            assert "MAX_UPLOAD_BYTES" in response.json()["detail"]
            assert "notes" not in await _tables(client)
    finally:
        container.close()


async def test_a_table_is_read_page_by_page_and_deleted_with_an_audit_entry(
    client: httpx.AsyncClient, container: Container
) -> None:
    assert (await _load(client, "rooms", "rooms.csv", ROOMS)).status_code == 201
    page = await client.get("/api/tables/Rooms/rows", params={"limit": 2})
    assert page.status_code == 200, page.text
    assert page.json() == {
        "name": "rooms",
        "columns": ["room", "floor", "kettles"],
        "rows": [["A1", 1, 2], ["B2", 2, 0]],
        "total": 3,
        "offset": 0,
    }
    rest = (await client.get("/api/tables/rooms/rows", params={"offset": 2})).json()
    assert rest["rows"] == [["C3", 3, 1]] and rest["offset"] == 2

    assert (await client.delete("/api/tables/rooms")).status_code == 204
    assert "rooms" not in await _tables(client)
    gone = await client.get("/api/tables/rooms/rows")
    assert gone.status_code == 404 and "rooms" in gone.json()["detail"]
    assert (await client.delete("/api/tables/rooms")).status_code == 404
    assert "rooms" not in {s.name for s in container.adapters.sql.schemas()}  # the SQL tool
    entry = (await client.get("/api/audit", params={"action": "table.drop"})).json()["entries"]
    assert [e["target"] for e in entry] == ["table:rooms"]
    assert entry[0]["before"]["rows"] == 3 and entry[0]["after"] is None


async def test_reading_or_deleting_a_table_by_a_bad_name_is_refused(
    client: httpx.AsyncClient,
) -> None:
    for name in ("sqlite_master", "select", "1abc", "a-b"):
        assert (await client.get(f"/api/tables/{name}/rows")).status_code == 422, name
        assert (await client.delete(f"/api/tables/{name}")).status_code == 422, name
    too_many = await client.get("/api/tables/directory/rows", params={"limit": 501})
    assert too_many.status_code == 422
    assert "directory" in await _tables(client)


async def test_a_load_into_a_collection_places_the_table_and_a_reload_keeps_it(
    client: httpx.AsyncClient,
) -> None:
    made = await client.post("/api/collections", json={"name": "facilities"})
    assert made.status_code == 201, made.text
    loaded = await client.post(
        "/api/tables",
        data={"name": "rooms", "collection": "facilities"},
        files={"file": ("rooms.csv", ROOMS)},
    )
    assert loaded.status_code == 201, loaded.text
    assert loaded.json()["table"]["collection"] == "facilities"
    again = await _load(client, "rooms", "rooms.csv", ROOMS)  # no collection: keeps its own
    assert again.json()["table"]["collection"] == "facilities"
    assert again.json()["replaced"]["collection"] == "facilities"
    assert (await _tables(client))["rooms"]["collection"] == "facilities"
    moved = await client.post(
        "/api/tables",
        data={"name": "rooms", "collection": "default"},
        files={"file": ("rooms.csv", ROOMS)},
    )
    assert moved.json()["table"]["collection"] is None
    assert (await _tables(client))["directory"]["collection"] is None


async def test_a_load_naming_an_unknown_collection_is_refused_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    before = await _tables(client)
    for collection in ("nosuch", "Not A Name"):
        refused = await client.post(
            "/api/tables",
            data={"name": "rooms", "collection": collection},
            files={"file": ("rooms.csv", ROOMS)},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "invalid_request"
        assert "collection" in refused.json()["detail"].lower()
    assert await _tables(client) == before
