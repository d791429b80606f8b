"""Conversation import: share links, export files (a background job) and Slack threads into
the users' chats (`use_cases/conversations/imports.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.config import ConversationImportSettings, DocumentSettings
from backend.features.adapters import Wiring
from services.budgets import BUDGET
from services.conversations.import_formats import ConversationFormatReader
from services.conversations.import_jobs import IMPORT_LIMITS, QueuedImportJobs
from services.conversations.share_fetcher import ShareFetcher
from use_cases.conversations.import_domain import Summarise
from use_cases.conversations.imports import (
    CONVERSATION_IMPORT,
    GetImportJob,
    ImportExportFile,
    ImportFromUrl,
    ImportSlackThread,
)


@dataclass(frozen=True)
class ConversationImport:
    """The import use cases the routes and the CLI call."""

    from_url: ImportFromUrl
    from_file: ImportExportFile
    from_slack: ImportSlackThread
    get_job: GetImportJob


def build(
    w: Wiring,
    *,
    settings: ConversationImportSettings,
    documents: DocumentSettings,
    summarise: Summarise | None = None,
) -> ConversationImport:
    """`summarise(chat_id)`: the summariser a URL import runs last, when there is one."""
    a = w.adapters
    fetcher = ShareFetcher(
        settings.allowed_host_list,
        max_bytes=settings.max_page_bytes,
        timeout_s=settings.timeout_s,
        allow_http=settings.allow_http,
        allow_private=settings.allow_private_hosts,
    )
    formats = ConversationFormatReader(cpu_s=documents.parse_cpu_seconds)
    jobs = QueuedImportJobs(a.jobs)
    cap = BUDGET.max_chat_messages
    from_file = ImportExportFile(
        formats, a.history, jobs, max_bytes=documents.max_upload_bytes, max_messages=cap
    )
    # One import at a time per process: it is a run of short write transactions.
    a.jobs.register(CONVERSATION_IMPORT, from_file.run_job, concurrency=1, limits=IMPORT_LIMITS)
    return ConversationImport(
        from_url=ImportFromUrl(fetcher, formats, a.history, summarise=summarise, max_messages=cap),
        from_file=from_file,
        from_slack=ImportSlackThread(formats, a.history, max_messages=cap),
        get_job=GetImportJob(jobs),
    )
