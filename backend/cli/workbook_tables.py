"""The workbooks among an ingest's sources loaded as tables: one per sheet, the way
`almanac ingest PATH` and `almanac serve --knowledge PATH` both do it.

Rules: a workbook's tables go to the ingest's collection (none chosen: a replaced table
keeps its own, a new one goes to the default); a workbook refused as tables (corrupt, past
a budget) is reported by a line and loads nothing, and the other workbooks still load.
"""

from __future__ import annotations

from pathlib import Path

from backend.bootstrap import Container
from services.office.workbooks import WORKBOOK_EXTENSIONS
from use_cases.access.domain import CLI_ADMIN
from use_cases.knowledge.ingest import CollectionChoice, IngestSource
from use_cases.shared.errors import AlmanacError
from use_cases.tables.domain import KEEP, Placement
from use_cases.tables.tables import LoadWorkbookRequest


def workbook_tables(
    container: Container, sources: list[IngestSource], collection: CollectionChoice | None = None
) -> tuple[list[str], bool]:
    """Each workbook among `sources` loaded as a table per sheet (its description is indexed
    as a document beside them), in the ingest's collection: a line per table or refusal, and
    whether any was refused."""
    placement: Placement = KEEP if collection is None else collection.collection_id
    lines: list[str] = []
    refused = False
    for source in sources:
        if source.origin is None or Path(source.origin).suffix.lower() not in WORKBOOK_EXTENSIONS:
            continue
        try:
            loaded = container.admin.admin_load_workbook.run(
                CLI_ADMIN, LoadWorkbookRequest(Path(source.origin), collection=placement)
            )
        except AlmanacError as exc:
            lines.append(f"{source.source}: no tables loaded: {exc.detail}")
            refused = True
            continue
        lines += [
            f"{source.source}: table {table.schema.name} ({table.schema.row_count} rows)"
            for table in loaded
        ]
    return lines, refused
