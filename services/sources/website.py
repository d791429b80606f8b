"""The `url` kind: a website (a start page, or a sitemap ending in .xml) read by the crawler
(services/crawler), within the SOURCE_* limits and the addresses SOURCE_ALLOWED_HOSTS opens.

Whoever declares the source, every request goes through the crawler's address checks, so an
API key cannot make the server read its own network: only the check of the URL's form
happens here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from services.crawler import WebsiteReader
from services.crawler.pages import normalise
from services.sources.kinds import SourceContext
from use_cases.shared.errors import InvalidRequest
from use_cases.sources.domain import SourceSpec


class WebsiteKind:
    name = "url"

    def __init__(self, context: SourceContext) -> None:
        self._context = context

    def check(self, location: str, *, local: bool) -> str:
        refusal = InvalidRequest(
            f"A website source needs an http(s) URL with a host, not {location!r}."
        )
        try:
            parts = urlsplit(location.strip())
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                raise refusal
            return normalise(location.strip())
        except ValueError:  # a port that is not a number, brackets that do not close
            raise refusal from None

    def reader(self, spec: SourceSpec) -> WebsiteReader:
        return WebsiteReader(
            spec.location,
            self._context.crawl_limits,
            allowed_hosts=self._context.allowed_hosts,
            accepts=self._context.supports,
        )
