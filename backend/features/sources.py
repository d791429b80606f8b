"""Synced sources: folders, S3 buckets and websites kept in sync with the knowledge base, on
demand or on a schedule (`use_cases/sources`, docs/sources.md, docs/websites.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backend.config import Settings, WebsiteSourceSettings
from backend.features.access import AccessUseCases
from backend.features.adapters import Wiring
from backend.features.knowledge import KnowledgeUseCases
from services.crawler import CrawlLimits, WebsiteReader
from services.sources.kinds import SourceContext
from services.sources.registry import SourceRegistry
from use_cases.sources.manage import (
    SOURCE_SCHEDULE,
    SOURCE_SYNC,
    GetSyncJob,
    ManageSources,
    QueueDueSyncs,
    QueueSourceSync,
)
from use_cases.sources.sync import SyncSource


@dataclass(frozen=True)
class SourceUseCases:
    sources: ManageSources
    sync: SyncSource
    """One sync now, in the caller's thread (`almanac sources sync`)."""
    queue_sync: QueueSourceSync
    """One sync as a background job (`POST /api/sources/{name}/sync`)."""
    get_sync_job: GetSyncJob
    queue_due: QueueDueSyncs


def build(
    w: Wiring, access: AccessUseCases, knowledge: KnowledgeUseCases, settings: Settings
) -> SourceUseCases:
    """`settings` whole: a source kind from a plugin reads its own settings from it
    (`SourceContext.settings`); the built-in kinds read the groups named here."""
    a = w.adapters
    chat_files = settings.chat_files
    kinds = SourceRegistry(
        SourceContext(
            supports=a.loader.supports,
            max_item_bytes=settings.source_sync.max_item_bytes,
            folder_roots=settings.source_sync.folder_roots,
            s3_endpoint_url=chat_files.s3_endpoint_url,
            s3_region=chat_files.s3_region,
            crawl_limits=crawl_limits(settings.website_sources),
            allowed_hosts=settings.website_sources.allowed_host_list,
            settings=settings,
        )
    )
    store = a.source_store
    # Each file is parsed in a child process under the parse budgets, as an admin's are.
    sync = SyncSource(store, kinds, knowledge.budgeted_ingest, a.store, w.clock)
    queue_sync = QueueSourceSync(a.jobs, sync, store)
    # One sync at a time per process: it embeds on every core, as an ingest does.
    a.jobs.register(SOURCE_SYNC, queue_sync.run_job, concurrency=1)
    queue_due = QueueDueSyncs(queue_sync, store, w.clock)
    every = settings.source_sync.schedule_check_seconds
    if every > 0 and a.scheduler is not None:
        a.scheduler.every(SOURCE_SCHEDULE, every, queue_due.run)
    return SourceUseCases(
        sources=ManageSources(store, kinds, a.store, w.clock, access.audit),
        sync=sync,
        queue_sync=queue_sync,
        get_sync_job=GetSyncJob(a.jobs),
        queue_due=queue_due,
    )


def crawl_limits(settings: WebsiteSourceSettings) -> CrawlLimits:
    return CrawlLimits(
        max_pages=settings.max_pages,
        max_depth=settings.max_depth,
        page_max_bytes=settings.page_max_bytes,
        page_timeout_s=settings.page_timeout_s,
        request_delay_s=settings.request_delay_s,
        sitemap_max_bytes=settings.sitemap_max_bytes,
    )


def website_reader(
    url: str, settings: WebsiteSourceSettings, accepts: Callable[[str], bool] | None = None
) -> WebsiteReader:
    """The reader of the website at `url` (a start page, or a sitemap ending in .xml)."""
    return WebsiteReader(
        url,
        crawl_limits(settings),
        allowed_hosts=settings.allowed_host_list,
        accepts=accepts,
    )
