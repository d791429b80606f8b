"""Structured tables: list them (with columns and row counts) and load one from a file.

Both are admins' only: the names, columns and sample values are what the SQL tool shows the
model, and a table may hold data a user may ask questions about but should not browse
wholesale. Loading is audited (`table.load`), like `almanac tables load`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Response, UploadFile

from backend.api.deps import AdminDep, ContainerDep, PageLimit, PageOffset
from backend.api.openapi import problem_responses
from backend.api.table_schemas import TableListOut, TableLoadOut, TableRowsOut
from use_cases.admin.table_uploads import TableUpload

router = APIRouter(prefix="/api/tables", tags=["tables"])

TableFile = Annotated[
    UploadFile,
    File(
        description="CSV (`.csv`), TSV (`.tsv`, `.tab`), JSON lines (`.jsonl`), or a workbook "
        "(`.xlsx`, `.xlsm`, `.ods`: a table per sheet)."
    ),
]
TableName = Annotated[
    str,
    Form(
        max_length=200,
        description="The table to create or replace: letters, digits and underscores, not "
        "starting with a digit, not an SQL keyword. For a workbook, the prefix of its tables' "
        "names (`NAME_sheet`); empty: the file's name.",
    ),
]


@router.get("", response_model=TableListOut, summary="The tables, their columns and rows; admins")
async def list_tables(container: ContainerDep, admin: AdminDep) -> TableListOut:
    return TableListOut.of(await container.tables.list_tables.execute())


@router.post(
    "",
    response_model=TableLoadOut,
    status_code=201,
    responses={
        200: {"model": TableLoadOut, "description": "A table of that name was replaced."},
        201: {"description": "A new table."},
        **problem_responses(413),
        415: {"description": "Not CSV, TSV, JSON lines or a workbook (`unsupported_document`)."},
        422: {
            "description": "A bad table name, an empty or malformed file (naming the line), "
            "a corrupt or password-protected workbook."
        },
    },
    summary="Create or replace a table from a CSV, TSV or JSON-lines file, or a table per "
    "sheet of a workbook; admins only",
)
async def load_table(
    container: ContainerDep,
    admin: AdminDep,
    response: Response,
    file: TableFile,
    name: TableName = "",
) -> TableLoadOut:
    data = await file.read(container.admin.upload_table.read_limit)
    loaded = await container.admin.upload_table.execute(
        admin, TableUpload(name=name, filename=file.filename or "", data=data)
    )
    response.status_code = 200 if all(table.replaced for table in loaded) else 201
    return TableLoadOut.of(loaded)


TablePath = Annotated[str, Path(max_length=200, description="The table's name (any case).")]


@router.get(
    "/{table}/rows",
    response_model=TableRowsOut,
    responses=problem_responses(404, 422),
    summary="A page of a table's rows, as the SQL tool reads them; admins only",
    description="At most SQL_MAX_ROWS rows (200 by default) come back per page, as for the "
    "SQL tool: page on with `offset` plus the rows received.",
)
async def table_rows(
    container: ContainerDep,
    _: AdminDep,
    table: TablePath,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> TableRowsOut:
    return TableRowsOut.of(await container.tables.table_rows.execute(table, limit, offset))


@router.delete(
    "/{table}",
    status_code=204,
    responses=problem_responses(404, 422),
    summary="Delete a table (the assistant's lookups stop seeing it at once); admins only",
)
async def drop_table(container: ContainerDep, admin: AdminDep, table: TablePath) -> Response:
    await container.admin.drop_table.execute(admin, table)
    return Response(status_code=204)
