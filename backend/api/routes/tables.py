"""Structured tables: list them (with columns and row counts), read their rows, load one
from a file.

Listing and reading rows are every caller's, within what they may read: an admin sees every
table, a user the tables of the default collection and of the collections granted to them or
their groups (the same tables the SQL tool lets their chats query; a table of another
collection is a 404, as a missing one is). Loading and deleting are admins' only, and
audited (`table.load`, `table.drop`), like `almanac tables load`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Response, UploadFile

from backend.api.deps import AdminDep, CallerDep, ContainerDep, PageLimit, PageOffset
from backend.api.openapi import problem_responses
from backend.api.table_schemas import TableListOut, TableLoadOut, TableRowsOut, TableTypesOut
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


TableCollection = Annotated[
    str,
    Form(
        max_length=200,
        description="The collection the tables go to (`default`: the default one); empty: a "
        "new table goes to the default collection, a replaced one keeps its own. A name that "
        "is no collection is a 422, with nothing stored.",
    ),
]


@router.get(
    "", response_model=TableListOut, summary="The tables the caller may read, with their columns"
)
async def list_tables(container: ContainerDep, caller: CallerDep) -> TableListOut:
    scopes = container.knowledge.read_scope
    collections = await asyncio.to_thread(scopes.collections_of, caller)
    tables = await container.tables.list_tables.execute(collections)
    return TableListOut.of(tables, await asyncio.to_thread(scopes.names))


@router.get(
    "/types",
    response_model=TableTypesOut,
    summary="The file types a table upload accepts",
    description="The web app's table form offers these; the table loader decides.",
)
async def table_types(container: ContainerDep) -> TableTypesOut:
    upload = container.admin.upload_table
    return TableTypesOut(extensions=list(upload.file_types), workbooks=list(upload.workbook_types))


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
            "description": "A bad table name, a collection that does not exist, an empty or "
            "malformed file (naming the line), a corrupt or password-protected workbook."
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
    collection: TableCollection = "",
) -> TableLoadOut:
    data = await file.read(container.admin.upload_table.read_limit)
    upload = TableUpload(name=name, filename=file.filename or "", data=data, collection=collection)
    loaded = await container.admin.upload_table.execute(admin, upload)
    response.status_code = 200 if all(table.replaced for table in loaded) else 201
    names = await asyncio.to_thread(container.knowledge.read_scope.names)
    return TableLoadOut.of(loaded, names)


TablePath = Annotated[str, Path(max_length=200, description="The table's name (any case).")]


@router.get(
    "/{table}/rows",
    response_model=TableRowsOut,
    responses=problem_responses(404, 422),
    summary="A page of a table's rows, as the SQL tool reads them; a table the caller may "
    "not read is a 404",
    description="At most SQL_MAX_ROWS rows (200 by default) come back per page, as for the "
    "SQL tool: page on with `offset` plus the rows received.",
)
async def table_rows(
    container: ContainerDep,
    caller: CallerDep,
    table: TablePath,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> TableRowsOut:
    collections = await asyncio.to_thread(container.knowledge.read_scope.collections_of, caller)
    page = await container.tables.table_rows.execute(table, limit, offset, collections)
    return TableRowsOut.of(page)


@router.delete(
    "/{table}",
    status_code=204,
    responses=problem_responses(404, 422),
    summary="Delete a table (the assistant's lookups stop seeing it at once); admins only",
)
async def drop_table(container: ContainerDep, admin: AdminDep, table: TablePath) -> Response:
    await container.admin.drop_table.execute(admin, table)
    return Response(status_code=204)
