"""HTTP shapes of `/api/tables`: the structured tables the SQL tool reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from use_cases.tables.domain import TableSchema
from use_cases.tables.tables import LoadedTable, TableRowsPage


class ColumnOut(BaseModel):
    name: str = Field(description="The column as the SQL tool names it.", examples=["team"])
    type: str = Field(examples=["TEXT"])
    samples: list[str] = Field(
        description="A few distinct values, as the model is shown them.",
        examples=[["Site Reliability", "Finance"]],
    )


class TableOut(BaseModel):
    name: str = Field(examples=["directory"])
    rows: int = Field(examples=[42])
    columns: list[ColumnOut]
    collection: str | None = Field(
        default=None,
        description="The collection the table belongs to; null: the default collection, "
        "which every user reads.",
        examples=[None],
    )

    @classmethod
    def of(cls, schema: TableSchema, names: Mapping[int, str] | None = None) -> TableOut:
        collection = None
        if schema.collection_id is not None:
            collection = (names or {}).get(schema.collection_id, f"#{schema.collection_id}")
        return cls(
            name=schema.name,
            rows=schema.row_count,
            columns=[
                ColumnOut(name=c.name, type=c.type, samples=list(c.samples)) for c in schema.columns
            ],
            collection=collection,
        )


class TableTypesOut(BaseModel):
    """The file types a table upload accepts (`GET /api/tables/types`)."""

    extensions: list[str] = Field(
        examples=[[".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".xlsx", ".xlsm", ".ods"]],
        description="The file name endings a table upload may have, lower case with their "
        "dot; another type is refused (415).",
    )
    workbooks: list[str] = Field(
        examples=[[".xlsx", ".xlsm", ".ods"]],
        description="Those of workbooks: a workbook loads a table per sheet with data.",
    )


class TableListOut(BaseModel):
    tables: list[TableOut]

    @classmethod
    def of(cls, schemas: list[TableSchema], names: Mapping[int, str] | None = None) -> TableListOut:
        return cls(tables=[TableOut.of(s, names) for s in schemas])


class TableLoadOut(BaseModel):
    status: str = Field(
        description="`created` or `replaced` (of the first table, for a workbook).",
        examples=["created"],
    )
    table: TableOut = Field(description="The table loaded (a workbook's first sheet's).")
    replaced: TableOut | None = Field(
        default=None, description="For `replaced`: the table as it was before."
    )
    tables: list[TableOut] = Field(
        default_factory=list,
        description="Every table the file loaded: the one of a CSV, TSV or JSON-lines file, "
        "one per sheet with data of a workbook.",
    )

    @classmethod
    def of(
        cls, loaded: Sequence[LoadedTable], names: Mapping[int, str] | None = None
    ) -> TableLoadOut:
        first = loaded[0]
        return cls(
            status="replaced" if first.replaced else "created",
            table=TableOut.of(first.schema, names),
            replaced=TableOut.of(first.replaced, names) if first.replaced else None,
            tables=[TableOut.of(table.schema, names) for table in loaded],
        )


class TableRowsOut(BaseModel):
    name: str = Field(examples=["directory"])
    columns: list[str] = Field(examples=[["name", "team", "manager"]])
    rows: list[list[Any]] = Field(
        description="The page's rows in stored order, each a list of values in column order."
    )
    total: int = Field(description="All the table's rows.", examples=[42])
    offset: int = Field(examples=[0])

    @classmethod
    def of(cls, page: TableRowsPage) -> TableRowsOut:
        return cls(
            name=page.name,
            columns=list(page.columns),
            rows=[list(row) for row in page.rows],
            total=page.total,
            offset=page.offset,
        )
