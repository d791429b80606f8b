"""Synced sources: their schedule and folders, and how a website source reads a site."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from backend.config.base import SettingsGroup


class SourceSyncSettings(SettingsGroup):
    """Synced sources (folders, S3 buckets; docs/sources.md): how often the cluster looks for
    sources whose sync is due, where folder sources may be, and what one item may weigh."""

    model_config = ConfigDict(title="Synced sources")

    @property
    def folder_roots(self) -> tuple[str, ...]:
        """SOURCE_FOLDER_ROOTS as a list."""
        return tuple(p.strip() for p in self.source_folder_roots.split(",") if p.strip())

    schedule_check_seconds: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="How often one process of the cluster looks for sources whose sync is "
        "due (`almanac sources add ... --every`) and queues their syncs as jobs; syncs that "
        "fell due while no server ran are queued at the first look. 0: no scheduled syncs "
        "(`almanac sources sync` and `POST /api/sources/{name}/sync` still run them).",
        validation_alias="source_schedule_check_seconds",
    )
    source_folder_roots: str = Field(
        "",
        max_length=4000,
        description="Folders (absolute paths, comma-separated) under which folder sources "
        "may be declared; over an API key a folder source must be under one of them. Empty: "
        "any folder from the server's own machine (`almanac sources add`, development "
        "mode), none over an API key (an API key must not turn the server's files into "
        "documents).",
    )
    max_item_bytes: int = Field(
        50 * 1024 * 1024,
        ge=1024,
        le=1024 * 1024 * 1024,
        description="The most bytes one file or object of a synced source may have: a bigger "
        "one is reported as a failed item and never downloaded (its document, if any, "
        "stays).",
        validation_alias="source_max_item_bytes",
    )


class WebsiteSourceSettings(SettingsGroup):
    """How a synced source reads a website (`--url`; docs/websites.md): which addresses it may
    reach, and what one page and one sync may cost. The address check is made after DNS
    resolution, on every request and redirect, and the connection goes to the address
    checked."""

    model_config = ConfigDict(title="Website sources")

    allowed_hosts: str = Field(
        "",
        description="Comma-separated hosts (names as written in the source's URL, or IP "
        "addresses; a port given is ignored) that website sources may reach although they "
        "resolve to a loopback, private, link-local or otherwise non-public address: an "
        "intranet's sites. Every other such address is refused. Empty: public addresses only.",
        validation_alias="source_allowed_hosts",
    )
    page_max_bytes: int = Field(
        20 * 1024 * 1024,
        ge=1024,
        description="Largest page or file a website source reads, in bytes (inflated, when "
        "sent compressed); a larger one is reported failed and its document kept.",
        validation_alias="source_page_max_bytes",
    )
    page_timeout_s: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Seconds one request of a website source may take, from connecting to "
        "its last byte (a slow server, a page that never ends); past it the page is reported "
        "failed and its document kept.",
        validation_alias="source_page_timeout_s",
    )
    max_pages: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Most pages one sync of a website source requests. A site (or sitemap) "
        "with more is read up to the limit and the sync reported incomplete: nothing is "
        "removed.",
        validation_alias="source_max_pages",
    )
    max_depth: int = Field(
        10,
        ge=0,
        le=100,
        description="Most links followed from a website source's start page to reach a page "
        "(0: the start page alone). Pages of a sitemap are not followed further.",
        validation_alias="source_max_depth",
    )
    request_delay_s: float = Field(
        1.0,
        ge=0,
        le=600,
        description="Seconds between two requests to the same site (requests to a site are "
        "made one at a time); a longer robots.txt `Crawl-delay` wins, up to 60 s.",
        validation_alias="source_request_delay_s",
    )
    sitemap_max_bytes: int = Field(
        50 * 1024 * 1024,
        ge=1024,
        description="Largest sitemap a website source reads, in bytes (inflated): the "
        "sitemap protocol's own limit is 50 MB. Reading stops earlier once the sitemap has "
        "listed more pages than SOURCE_MAX_PAGES.",
        validation_alias="source_sitemap_max_bytes",
    )

    @property
    def allowed_host_list(self) -> tuple[str, ...]:
        return tuple(h.strip() for h in self.allowed_hosts.split(",") if h.strip())
