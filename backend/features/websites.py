"""Website sources' reader, built from the SOURCE_* settings (services/crawler).

The sync of synced sources (use_cases/sources) asks this for a source whose origin is a URL;
`accepts` is the loader registry's `supports`, so a page of a type no loader reads is left
out without its body downloaded.
"""

from __future__ import annotations

from collections.abc import Callable

from backend.config import WebsiteSourceSettings
from services.crawler import CrawlLimits, WebsiteReader


def crawl_limits(settings: WebsiteSourceSettings) -> CrawlLimits:
    return CrawlLimits(
        max_pages=settings.source_max_pages,
        max_depth=settings.source_max_depth,
        page_max_bytes=settings.source_page_max_bytes,
        page_timeout_s=settings.source_page_timeout_s,
        request_delay_s=settings.source_request_delay_s,
        sitemap_max_bytes=settings.source_sitemap_max_bytes,
    )


def website_reader(
    url: str, settings: WebsiteSourceSettings, accepts: Callable[[str], bool] | None = None
) -> WebsiteReader:
    """The reader of the website at `url` (a start page, or a sitemap ending in .xml)."""
    return WebsiteReader(
        url,
        crawl_limits(settings),
        allowed_hosts=settings.source_allowed_host_list,
        accepts=accepts,
    )
