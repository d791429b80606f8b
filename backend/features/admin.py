"""Admin actions: audited writes to the knowledge base and the tables, uploads as background
jobs (`use_cases/admin`, `use_cases/jobs`)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.config import DocumentSettings
from backend.features.access import AccessUseCases
from backend.features.adapters import Wiring
from backend.features.chat import ChatUseCases
from backend.features.knowledge import KnowledgeUseCases
from backend.features.tables import TableUseCases
from services.job_queue import QueueLimits
from services.office.workbooks import WORKBOOK_EXTENSIONS
from services.tables.loader import TableLoader
from use_cases.admin.actions import (
    DropTableAsAdmin,
    IngestAsAdmin,
    LoadTableAsAdmin,
    LoadWorkbookAsAdmin,
    RemoveDocumentAsAdmin,
)
from use_cases.admin.erase_user import EraseUserData
from use_cases.admin.table_uploads import UploadTableAsAdmin
from use_cases.admin.uploads import UploadDocument, result_from_json
from use_cases.jobs.queue import INGEST_UPLOAD, GetJob
from use_cases.tables.tables import DropTable

#: Upload jobs waiting or running (all processes) before an upload is refused (503): 8 of
#: all admins', 4 of one admin's.
UPLOAD_LIMITS = QueueLimits("document uploads", max_pending=8, per_user=4, retry_after_s=30)


@dataclass(frozen=True)
class AdminUseCases:
    admin_ingest: IngestAsAdmin
    admin_remove_document: RemoveDocumentAsAdmin
    admin_load_table: LoadTableAsAdmin
    admin_load_workbook: LoadWorkbookAsAdmin
    drop_table: DropTableAsAdmin
    upload_table: UploadTableAsAdmin
    upload_document: UploadDocument
    get_job: GetJob
    erase_user: EraseUserData


def build(
    w: Wiring,
    access: AccessUseCases,
    knowledge: KnowledgeUseCases,
    tables: TableUseCases,
    chat: ChatUseCases,
    settings: DocumentSettings,
) -> AdminUseCases:
    a, audit = w.adapters, access.audit
    # The CLI's folders, parsed like uploads under the CPU budget.
    admin_ingest = IngestAsAdmin(knowledge.budgeted_ingest, a.store, audit)
    admin_load_table = LoadTableAsAdmin(tables.load_table, audit)
    admin_load_workbook = LoadWorkbookAsAdmin(tables.load_workbook, audit)
    upload_document = UploadDocument(
        admin_ingest,
        a.store,
        a.jobs,
        max_bytes=settings.max_upload_bytes,
        job_bytes=settings.upload_job_bytes,
        file_types=a.loader.extensions,
        collections=knowledge.read_scope,
    )
    # A job taken over: its previous worker's staged rows go before it runs again.
    a.jobs.on_take_over(a.store.discard_job_stages)
    # One ingest at a time per process (CPU-bound).
    a.jobs.register(
        INGEST_UPLOAD,
        upload_document.run_job,
        concurrency=1,
        limits=UPLOAD_LIMITS,
        decode=result_from_json,
    )
    return AdminUseCases(
        admin_ingest=admin_ingest,
        admin_remove_document=RemoveDocumentAsAdmin(knowledge.remove_document, a.store, audit),
        admin_load_table=admin_load_table,
        admin_load_workbook=admin_load_workbook,
        drop_table=DropTableAsAdmin(DropTable(a.tables, a.sql), audit),
        upload_table=UploadTableAsAdmin(
            admin_load_table,
            max_bytes=settings.max_upload_bytes,
            workbooks=admin_load_workbook,
            workbook_suffixes=WORKBOOK_EXTENSIONS,
            file_types=TableLoader.EXTENSIONS,
            collections=knowledge.read_scope,
        ),
        upload_document=upload_document,
        get_job=GetJob(a.jobs),
        erase_user=EraseUserData(
            chat.chats,
            a.history,
            a.advice_thread_store,
            a.response_log,
            a.api_keys,
            audit,
            w.clock,
            memberships=a.collection_store,
        ),
    )
