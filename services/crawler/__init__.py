"""Websites as synced sources: `WebsiteReader` implements `SourceReader`
(use_cases/sources/ports.py) over HTTP, with robots.txt, sitemaps, conditional GETs and the
address checks of guard.py. docs/websites.md describes it for administrators."""

from services.crawler.guard import AddressRefused, GuardedTransport
from services.crawler.reader import CrawlLimits, WebsiteReader

__all__ = ["AddressRefused", "CrawlLimits", "GuardedTransport", "WebsiteReader"]
