"""Admin actions on the knowledge base and the tables, each checked and audited.

Rules:
- Only admins ingest, replace and delete documents and load and drop tables (`Forbidden`
  otherwise).
- Each document added, replaced or removed by an ingest run is one audit entry
  (`document.ingest`, `document.replace`, `document.delete`, target `document:ID`); unchanged
  and failed files change nothing and are not recorded. A table load is `table.load`, a
  drop `table.drop` (target `table:NAME`, `after` None).
- `before`/`after` are small summaries (id, source, title, category, date, content hash,
  chunks, the document it supersedes; or a table's name, rows and columns), never the
  content. A replacement's `before` is the version it replaced (same id and source).
- An upload that becomes a background job is recorded when the job completes, as the action
  of the admin who uploaded (see use_cases/admin/uploads.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from use_cases.access.audit import (
    DOCUMENT_DELETE,
    DOCUMENT_INGEST,
    DOCUMENT_REPLACE,
    TABLE_DROP,
    TABLE_LOAD,
    RecordAudit,
)
from use_cases.access.domain import Caller, require_admin
from use_cases.knowledge.documents import RemoveDocument
from use_cases.knowledge.domain import DocumentRecord, IngestItem, IngestReport
from use_cases.knowledge.ingest import IngestDocuments, IngestRequest
from use_cases.knowledge.ports import KnowledgeStore
from use_cases.shared.errors import NotFound
from use_cases.tables.domain import TableSchema
from use_cases.tables.tables import (
    DropTable,
    LoadedTable,
    LoadTable,
    LoadTableRequest,
    LoadWorkbook,
    LoadWorkbookRequest,
)

_ACTION_BY_STATUS = {
    "added": DOCUMENT_INGEST,
    "updated": DOCUMENT_REPLACE,
    "removed": DOCUMENT_DELETE,
}


class IngestAsAdmin:
    """`IngestDocuments` for an admin, with one audit entry per document it changed."""

    def __init__(self, ingest: IngestDocuments, store: KnowledgeStore, audit: RecordAudit) -> None:
        self._ingest = ingest
        self._store = store
        self._audit = audit

    async def execute(self, actor: Caller, request: IngestRequest) -> IngestReport:
        require_admin(actor, "Adding or replacing documents")
        return await asyncio.to_thread(self.run, actor, request)

    def check(self, actor: Caller, request: IngestRequest) -> IngestItem | None:
        """`IngestDocuments.check` for an admin: the cheap checks of one input, nothing written."""
        require_admin(actor, "Adding or replacing documents")
        return self._ingest.check(request)

    def run(self, actor: Caller, request: IngestRequest) -> IngestReport:
        """Synchronous body (the CLI and background jobs call it from their own thread)."""
        require_admin(actor, "Adding or replacing documents")
        prunable = self._prunable(request)
        report = self._ingest.run(request)
        for item in report.items:
            action = _ACTION_BY_STATUS.get(item.status)
            if action is None:
                continue
            if item.status == "removed":
                pruned = prunable.get(item.document_id) if item.document_id is not None else None
                snapshot_before: Any = (
                    document_snapshot(pruned)
                    if pruned
                    else {"id": item.document_id, "source": item.source}
                )
                snapshot_after = None
            else:
                # An update names the version it replaced; the stored record is the new one.
                snapshot_before = document_snapshot(item.replaced) if item.replaced else None
                current = (
                    self._store.get_record(item.document_id)
                    if item.document_id is not None
                    else None
                )
                snapshot_after = document_snapshot(current) if current else None
            self._audit.record(
                actor,
                action,
                f"document:{item.document_id}",
                before=snapshot_before,
                after=snapshot_after,
            )
        return report

    def _prunable(self, request: IngestRequest) -> dict[int, DocumentRecord]:
        """The documents `--prune` may remove, as they are before the run (for the audit)."""
        if not request.prune_prefixes:
            return {}
        found = {}
        for document_id, _, origin in self._store.list_origins():
            if origin.startswith(request.prune_prefixes):
                record = self._store.get_record(document_id)
                if record is not None:
                    found[document_id] = record
        return found


class RemoveDocumentAsAdmin:
    """`RemoveDocument` for an admin, audited as `document.delete` with what was removed."""

    def __init__(self, remove: RemoveDocument, store: KnowledgeStore, audit: RecordAudit) -> None:
        self._remove = remove
        self._store = store
        self._audit = audit

    async def execute(self, actor: Caller, document_id: int) -> None:
        require_admin(actor, "Deleting documents")
        detail = await asyncio.to_thread(self._store.get_document, document_id)
        if detail is None:
            raise NotFound(f"No document with id {document_id}.")
        await self._remove.execute(document_id)
        await self._audit.execute(
            actor,
            DOCUMENT_DELETE,
            f"document:{document_id}",
            before=document_snapshot(detail.document),
        )


class LoadTableAsAdmin:
    """`LoadTable` for an admin, audited as `table.load` (with the table it replaced)."""

    def __init__(self, load: LoadTable, audit: RecordAudit) -> None:
        self._load = load
        self._audit = audit

    async def execute(self, actor: Caller, request: LoadTableRequest) -> TableSchema:
        require_admin(actor, "Loading tables")
        return await asyncio.to_thread(self.run, actor, request)

    def run(self, actor: Caller, request: LoadTableRequest) -> TableSchema:
        """Synchronous body (the CLI calls it from its own thread)."""
        return self.run_loaded(actor, request).schema

    def run_loaded(self, actor: Caller, request: LoadTableRequest) -> LoadedTable:
        """`run`, also telling which table the load replaced (for an upload's answer)."""
        require_admin(actor, "Loading tables")
        loaded = self._load.run(request)
        self._audit.record(
            actor,
            TABLE_LOAD,
            f"table:{loaded.schema.name}",
            before=table_snapshot(loaded.replaced) if loaded.replaced else None,
            after={**table_snapshot(loaded.schema), "file": Path(request.file).name},
        )
        return loaded


class LoadWorkbookAsAdmin:
    """`LoadWorkbook` for an admin: each table it loads audited as `table.load`."""

    def __init__(self, load: LoadWorkbook, audit: RecordAudit) -> None:
        self._load = load
        self._audit = audit

    async def execute(self, actor: Caller, request: LoadWorkbookRequest) -> list[LoadedTable]:
        require_admin(actor, "Loading tables")
        return await asyncio.to_thread(self.run, actor, request)

    def run(self, actor: Caller, request: LoadWorkbookRequest) -> list[LoadedTable]:
        """Synchronous body (the CLI calls it from its own thread)."""
        require_admin(actor, "Loading tables")
        loaded = self._load.run(request)
        for table in loaded:
            self._audit.record(
                actor,
                TABLE_LOAD,
                f"table:{table.schema.name}",
                before=table_snapshot(table.replaced) if table.replaced else None,
                after={**table_snapshot(table.schema), "file": Path(request.file).name},
            )
        return loaded


class DropTableAsAdmin:
    """`DropTable` for an admin, audited as `table.drop` (with the table as it was)."""

    def __init__(self, drop: DropTable, audit: RecordAudit) -> None:
        self._drop = drop
        self._audit = audit

    async def execute(self, actor: Caller, name: str) -> TableSchema:
        require_admin(actor, "Deleting tables")
        return await asyncio.to_thread(self.run, actor, name)

    def run(self, actor: Caller, name: str) -> TableSchema:
        require_admin(actor, "Deleting tables")
        dropped = self._drop.run(name)
        self._audit.record(
            actor, TABLE_DROP, f"table:{dropped.name}", before=table_snapshot(dropped)
        )
        return dropped


def document_snapshot(document: DocumentRecord) -> dict[str, Any]:
    return {
        "id": document.id,
        "source": document.source,
        "title": document.title,
        "category": document.category,
        "updated_at": document.updated_at,
        "content_hash": document.content_hash,
        "chunks": document.chunk_count,
        "supersedes_id": document.supersedes_id,
    }


def table_snapshot(schema: TableSchema) -> dict[str, Any]:
    return {
        "name": schema.name,
        "rows": schema.row_count,
        "columns": [column.name for column in schema.columns],
    }
