"""The website source's reader against a real local website (tests/website_server.py): a first
read, a change, a deletion, an idle re-read of 304s, robots.txt, sitemaps, redirects, noindex,
the address checks, and the limits that bound a hostile or broken site."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.config import Settings
from backend.features.sources import website_reader
from services.crawler import AddressRefused, CrawlLimits, GuardedTransport, WebsiteReader
from services.knowledge.loaders import FileLoader
from tests.website_server import HUGE_SITEMAP_URLS, Site, tls_context, website
from use_cases.sources.ports import Fetched, ItemFailed, ListingFailed, SourceEvent, Unchanged

LIMITS = CrawlLimits(
    request_delay_s=0.0, page_timeout_s=1.5, page_max_bytes=256 * 1024, max_failures_in_a_row=3
)
PDF = open("tests/fixtures/pdf/typst.pdf", "rb").read()  # noqa: SIM115


def reader(site: Site, path: str = "/docs/index.html", **options: Any) -> WebsiteReader:
    limits = options.pop("limits", LIMITS)
    options.setdefault("allowed_hosts", ["127.0.0.1"])
    return WebsiteReader(site.base + path, limits, **options)


def read_all(
    source: WebsiteReader, previous: Mapping[str, str] | None = None
) -> tuple[list[SourceEvent], ListingFailed | None]:
    events: list[SourceEvent] = []
    try:
        for event in source.read(previous or {}):
            events.append(event)
    except ListingFailed as exc:
        return events, exc
    return events, None


def versions(
    events: list[SourceEvent], previous: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What a sync would store after these events: the new versions over the kept ones."""
    stored = dict(previous or {})
    seen = {event.key for event in events}
    stored = {key: version for key, version in stored.items() if key in seen}
    stored.update({e.key: e.version for e in events if isinstance(e, Fetched)})
    return stored


def by_kind(events: list[SourceEvent]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"fetched": set(), "unchanged": set(), "failed": set()}
    for event in events:
        kind = {Fetched: "fetched", Unchanged: "unchanged", ItemFailed: "failed"}[type(event)]
        out[kind].add(event.key.rsplit("/", 1)[-1] or "/")
    return out


@pytest.fixture
def site() -> Iterator[Site]:
    with website() as running:
        running.robots = "User-agent: *\nDisallow: /docs/private/\n"
        running.html(
            "/docs/index.html",
            '<h1>Home</h1><a href="a.html">A</a> <a href="b.html#part">B</a>'
            ' <a href="hidden.html">hidden</a> <a href="private/secret.html">secret</a>'
            ' <a href="moved.html">moved</a> <a href="guide.pdf">guide</a>'
            ' <a href="../outside.html">outside</a>'
            f' <a href="http://localhost:{running.port}/docs/other.html">other host</a>'
            ' <a href="mailto:x@example.com">mail</a>',
        )
        running.html("/docs/a.html", '<h1>A</h1><p>Alpha text.</p><a href="c.html">C</a>')
        running.html("/docs/b.html", "<h1>B</h1><p>Beta text.</p>")
        running.html("/docs/c.html", "<h1>C</h1><p>Gamma text.</p>")
        running.html(
            "/docs/hidden.html",
            '<p>Not for the index.</p><a href="behind.html">behind</a>',
            head='<meta name="robots" content="noindex">',
        )
        running.html("/docs/behind.html", "<h1>Behind</h1><p>Reached through a noindex page.</p>")
        running.html("/docs/private/secret.html", "<p>Secret.</p>")
        running.html("/docs/new.html", "<h1>New</h1><p>Where moved.html went.</p>")
        running.html("/outside.html", "<p>Outside the folder.</p>")
        running.redirects["/docs/moved.html"] = "/docs/new.html"
        running.pages["/docs/guide.pdf"] = ("application/pdf", PDF)
        yield running


def test_a_first_read_yields_the_sites_pages_within_its_scope(site: Site) -> None:
    events, failed = read_all(reader(site))
    assert failed is None
    assert all(isinstance(e, Fetched) for e in events)
    fetched = {e.key: e for e in events if isinstance(e, Fetched)}
    base = site.base + "/docs/"
    assert set(fetched) == {
        base + name
        for name in ("index.html", "a.html", "b.html", "c.html", "behind.html", "new.html")
    } | {base + "guide.pdf"}
    # the redirect's target is the key and the link; the name says the type
    assert fetched[base + "new.html"].link == base + "new.html"
    assert fetched[base + "index.html"].name == "index.html"
    assert fetched[base + "guide.pdf"].name == "guide.pdf"
    assert fetched[base + "guide.pdf"].content == PDF
    # any type the loaders read: the PDF and the pages load
    loader = FileLoader()
    page = loader.load("index.html", fetched[base + "a.html"].content)
    assert "Alpha text." in " ".join(section.text for section in page.sections)
    assert loader.load("guide.pdf", PDF).sections
    paths = site.paths()
    assert paths[0] == "/robots.txt"
    assert "/docs/private/secret.html" not in paths  # robots.txt's Disallow
    assert "/outside.html" not in paths and "/docs/other.html" not in paths  # out of scope
    assert "/docs/hidden.html" in paths  # read for its links, not kept (noindex)


def test_an_idle_reread_is_all_304s_and_yields_only_unchanged(site: Site) -> None:
    first, _ = read_all(reader(site))
    stored = versions(first)
    site.clear()
    again, failed = read_all(reader(site), stored)
    assert failed is None
    assert {type(e) for e in again} == {Unchanged}
    assert {e.key for e in again} == set(stored)
    # every page was asked for with its validators, and answered 304: links came from the
    # stored versions (c.html is only linked from a.html, whose body was not sent again)
    pages = [(p, h) for p, h in site.requests if p.endswith((".html", ".pdf"))]
    conditional = [p for p, h in pages if "if-none-match" in h and "if-modified-since" in h]
    assert set(conditional) >= {"/docs/a.html", "/docs/c.html", "/docs/guide.pdf"}


def test_a_change_is_fetched_and_the_rest_is_unchanged(site: Site) -> None:
    stored = versions(read_all(reader(site))[0])
    site.html("/docs/b.html", "<h1>B</h1><p>Beta text, revised.</p>")
    events, failed = read_all(reader(site), stored)
    assert failed is None
    kinds = by_kind(events)
    assert kinds["fetched"] == {"b.html"}
    assert "a.html" in kinds["unchanged"] and not kinds["failed"]
    changed = next(e for e in events if isinstance(e, Fetched))
    assert b"revised" in changed.content and changed.version != stored[changed.key]


def test_deleted_pages_are_not_yielded(site: Site) -> None:
    stored = versions(read_all(reader(site))[0])
    del site.pages["/docs/c.html"]  # 404
    site.statuses["/docs/b.html"] = 410
    site.html("/docs/new.html", "<p>noindex now</p>", head='<meta name="robots" content="noindex">')
    events, failed = read_all(reader(site), stored)
    assert failed is None
    names = {e.key.rsplit("/", 1)[-1] for e in events}
    assert names == {"index.html", "a.html", "behind.html", "guide.pdf"}
    # a page no longer linked is not read at all
    site.html("/docs/index.html", '<a href="b.html">B</a>')
    del site.statuses["/docs/b.html"]
    events, _ = read_all(reader(site), versions(events, stored))
    assert {e.key.rsplit("/", 1)[-1] for e in events} == {"index.html", "b.html"}


def test_a_page_that_fails_keeps_its_document_and_the_pages_below_it(site: Site) -> None:
    stored = versions(read_all(reader(site))[0])
    site.statuses["/docs/a.html"] = 500
    events, failed = read_all(reader(site), stored)
    assert failed is None
    kinds = by_kind(events)
    assert kinds["failed"] == {"a.html"}
    assert "c.html" in kinds["unchanged"]  # reached through a.html's stored links
    reason = next(e.reason for e in events if isinstance(e, ItemFailed))
    assert "500" in reason


def test_a_site_that_goes_down_mid_crawl_fails_the_listing_and_the_next_read_completes(
    site: Site,
) -> None:
    stored = versions(read_all(reader(site))[0])
    for name in ("a.html", "b.html", "new.html", "guide.pdf", "c.html", "behind.html"):
        site.statuses[f"/docs/{name}"] = 503
    events, failed = read_all(reader(site), stored)
    assert failed is not None and "in a row" in str(failed)
    assert not any(isinstance(e, Fetched) for e in events)
    site.statuses.clear()
    events, failed = read_all(reader(site), stored)
    assert failed is None and {type(e) for e in events} == {Unchanged}
    assert {e.key for e in events} == set(stored)


def test_the_start_page_failing_fails_the_listing(site: Site) -> None:
    site.statuses["/docs/index.html"] = 500
    events, failed = read_all(reader(site))
    assert failed is not None and "start page" in str(failed) and events == []
    site.statuses["/docs/index.html"] = 404
    assert read_all(reader(site))[1] is not None


def test_robots_txt_that_cannot_be_read_fails_the_listing_before_any_page(site: Site) -> None:
    site.robots = 503
    events, failed = read_all(reader(site))
    assert failed is not None and "robots.txt" in str(failed) and events == []
    assert site.paths() == ["/robots.txt"]
    site.robots = None  # 404: everything allowed, the private page too
    events, failed = read_all(reader(site))
    assert failed is None
    assert site.base + "/docs/private/secret.html" in {e.key for e in events}


def test_a_10_mb_robots_txt_is_cut_and_its_readable_part_used(site: Site) -> None:
    site.robots = "huge"
    events, failed = read_all(reader(site))
    assert failed is None and len(events) == 8  # its first group allows everything


def test_crawl_delay_spaces_the_requests(site: Site) -> None:
    site.robots = "User-agent: *\nCrawl-delay: 2\nDisallow: /docs/private/\n"
    waits: list[float] = []
    limits = CrawlLimits(request_delay_s=0.5, page_timeout_s=5)
    # a clock that stands still: each wait is the whole delay, however loaded the machine
    events, failed = read_all(reader(site, limits=limits, sleep=waits.append, clock=lambda: 1000.0))
    assert failed is None and events
    # after robots.txt, every request waited for the site's Crawl-delay (not the shorter 0.5)
    assert len(waits) == len(site.paths()) - 1
    assert set(waits) == {2.0}


def test_the_page_limit_and_the_depth_bound_a_crawl(site: Site) -> None:
    limits = CrawlLimits(request_delay_s=0, max_pages=3)
    events, failed = read_all(reader(site, limits=limits))
    assert failed is not None and "SOURCE_MAX_PAGES" in str(failed)
    assert len(events) == 3
    # a page of 20,000 links: the crawl holds no more of them than the limit can read
    site.html("/docs/b.html", "".join(f'<a href="n{n}.html">{n}</a>' for n in range(20_000)))
    site.clear()
    events, failed = read_all(reader(site, limits=CrawlLimits(request_delay_s=0, max_pages=5)))
    # robots.txt and five pages, moved.html's redirect to new.html a request more
    assert failed is not None and len(site.paths()) == 7
    limits = CrawlLimits(request_delay_s=0, max_depth=1)
    events, failed = read_all(reader(site, limits=limits))
    assert failed is None
    names = {e.key.rsplit("/", 1)[-1] for e in events}
    assert "a.html" in names and "c.html" not in names and "behind.html" not in names


def test_a_sitemap_index_lists_the_pages_and_no_link_is_followed(site: Site) -> None:
    base = site.base
    site.pages["/docs/sitemap.xml"] = (
        "application/xml",
        f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>{base}/docs/pages-1.xml</loc></sitemap>
  <sitemap><loc>{base}/docs/pages-2.xml</loc></sitemap>
</sitemapindex>""".encode(),
    )
    children = ((1, ("a.html", "private/secret.html")), (2, ("b.html", "../outside.html")))
    for number, names in children:
        urls = "".join(f"<url><loc>{base}/docs/{name}</loc></url>" for name in names)
        site.pages[f"/docs/pages-{number}.xml"] = (
            "text/xml",
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode(),
        )
    site.redirects["/docs/sitemap.xml"] = "/docs/sitemap-index.xml"  # moved: followed
    site.pages["/docs/sitemap-index.xml"] = site.pages.pop("/docs/sitemap.xml")
    events, failed = read_all(reader(site, "/docs/sitemap.xml"))
    assert failed is None
    assert {e.key for e in events} == {f"{base}/docs/a.html", f"{base}/docs/b.html"}
    assert "/docs/c.html" not in site.paths()  # a.html's link is not followed
    # a child sitemap that fails fails the listing
    site.statuses["/docs/pages-2.xml"] = 500
    events, failed = read_all(reader(site, "/docs/sitemap.xml"))
    assert failed is not None and "pages-2.xml" in str(failed)


def test_a_sitemap_of_a_million_urls_is_read_only_as_far_as_the_page_limit(site: Site) -> None:
    for number in range(20):
        site.html(f"/p/{number}.html", f"<p>Page {number}.</p>")
    limits = CrawlLimits(request_delay_s=0, max_pages=20)
    events, failed = read_all(reader(site, "/huge-sitemap.xml", limits=limits))
    assert failed is not None and "page limit" in str(failed)
    assert len(events) == 20 and all(isinstance(e, Fetched) for e in events)
    # about 50 MB were on offer; the reader stopped after 21 URLs (what was sent beyond them
    # sat in the sockets' buffers)
    full = HUGE_SITEMAP_URLS * len(f"<url><loc>{site.base}/p/0.html</loc></url>\n")
    assert site.huge_sitemap_bytes_sent < full / 10


def test_hostile_pages_are_bounded_and_reported(site: Site) -> None:
    site.robots = None
    site.html(
        "/index.html",
        '<a href="/slow/headers">1</a><a href="/slow/body">2</a><a href="/endless">3</a>'
        '<a href="/loop-a">4</a><a href="/big.html">5</a><a href="/fine.html">6</a>'
        '<a href="/odd">7</a>',
    )
    site.redirects["/odd"] = "javascript:alert(1)"
    site.redirects["/loop-a"] = "/loop-b"
    site.redirects["/loop-b"] = "/loop-a"
    site.html("/big.html", "<p>" + "x" * (LIMITS.page_max_bytes + 1) + "</p>")
    site.html("/fine.html", "<p>Fine.</p>")
    limits = CrawlLimits(
        request_delay_s=0, page_timeout_s=1.0, page_max_bytes=256 * 1024, max_failures_in_a_row=9
    )
    events, failed = read_all(reader(site, "/index.html", limits=limits))
    assert failed is None
    reasons = {e.key.rsplit("/", 1)[-1]: e.reason for e in events if isinstance(e, ItemFailed)}
    assert set(reasons) == {"headers", "body", "endless", "loop-a", "big.html", "odd"}
    assert "SOURCE_PAGE_TIMEOUT_S" in reasons["headers"]
    assert "SOURCE_PAGE_TIMEOUT_S" in reasons["body"]
    assert "SOURCE_PAGE_MAX_BYTES" in reasons["endless"]
    assert "SOURCE_PAGE_MAX_BYTES" in reasons["big.html"]
    assert "loop" in reasons["loop-a"]
    assert {e.key for e in events if isinstance(e, Fetched)} == {
        site.base + "/index.html",
        site.base + "/fine.html",
    }


def test_loopback_is_refused_unless_the_host_is_allowed(site: Site) -> None:
    events, failed = read_all(reader(site, allowed_hosts=[]))
    assert failed is not None and "SOURCE_ALLOWED_HOSTS" in str(failed) and events == []
    assert site.paths() == []  # refused before connecting
    # allowing 127.0.0.1 does not allow another name for it
    start = f"http://localhost:{site.port}/docs/index.html"
    events, failed = read_all(WebsiteReader(start, LIMITS, allowed_hosts=["127.0.0.1"]))
    assert failed is not None and "localhost" in str(failed) and site.paths() == []


def test_the_connection_goes_to_the_checked_address(site: Site) -> None:
    """`intranet.test` exists in no DNS: the site is only reached when the connection is made
    to the address this resolver gave for the check (no second look-up to rebind)."""
    resolved: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    start = f"http://intranet.test:{site.port}/docs/index.html"
    refused, failed = read_all(WebsiteReader(start, LIMITS, resolve=resolve))
    assert failed is not None and "127.0.0.1" in str(failed)
    assert refused == [] and site.paths() == []
    allowed = WebsiteReader(start, LIMITS, allowed_hosts=["intranet.test"], resolve=resolve)
    events, failed = read_all(allowed)
    assert failed is None and len(events) == 7
    assert {e.key.split("/")[2] for e in events} == {f"intranet.test:{site.port}"}
    assert set(resolved) == {"intranet.test"}


def test_a_redirect_to_a_private_address_is_refused(site: Site) -> None:
    """The crawl follows redirects only within the site; the transport itself, which every
    hop goes through, refuses a non-public address wherever a redirect points."""
    site.redirects["/docs/away.html"] = f"http://localhost:{site.port}/docs/a.html"
    site.html("/docs/index.html", '<a href="away.html">away</a>')
    events, failed = read_all(reader(site))
    assert failed is None and {e.key.rsplit("/", 1)[-1] for e in events} == {"index.html"}
    assert "/docs/a.html" not in site.paths()

    async def follow() -> None:
        transport = GuardedTransport(["127.0.0.1"])
        async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
            await client.get(site.base + "/docs/away.html")

    site.clear()
    with pytest.raises(AddressRefused, match="localhost"):
        asyncio.run(follow())
    assert site.paths() == ["/docs/away.html"]


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/docs/", "file:///etc/passwd", "not a url"])
def test_only_http_and_https_are_read(url: str) -> None:
    events, failed = read_all(WebsiteReader(url, LIMITS, allowed_hosts=["127.0.0.1"]))
    assert failed is not None and events == []


def test_the_settings_build_the_reader_and_types_no_loader_reads_are_left_out(site: Site) -> None:
    settings = Settings(source_allowed_hosts=" 127.0.0.1 ,", source_request_delay_s=0)
    site.html("/docs/index.html", '<a href="a.html">A</a> <a href="data.bin">bin</a>')
    site.pages["/docs/data.bin"] = ("application/octet-stream", b"\x00\x01" + b"z" * 200_000)
    source = website_reader(
        site.base + "/docs/index.html", settings.website_sources, FileLoader().supports
    )
    assert source.limits.max_pages == settings.website_sources.max_pages
    events, failed = read_all(source)
    assert failed is None
    assert {e.key.rsplit("/", 1)[-1] for e in events} == {"index.html", "a.html", "c.html"}
    assert "/docs/data.bin" in site.paths()  # asked for, its type read from the answer's head


def test_https_is_verified_for_the_hosts_name_while_the_socket_goes_to_its_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection is opened to the checked address, yet TLS still sends the host's name
    (SNI) and verifies the certificate for it: a certificate for another name is refused."""
    context, authority = tls_context("intranet.test", tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(authority))

    def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    with website(tls=context) as site:
        site.html("/docs/index.html", "<h1>Over TLS</h1><p>Read.</p>")
        for name, readable in (("intranet.test", True), ("other.test", False)):
            start = f"https://{name}:{site.port}/docs/index.html"
            source = WebsiteReader(start, LIMITS, allowed_hosts=[name], resolve=resolve)
            events, failed = read_all(source)
            if readable:
                assert failed is None and [e.key for e in events] == [start]
            else:
                assert failed is not None and "certificate" in str(failed).lower()


def test_two_crawls_of_one_site_send_one_request_at_a_time(site: Site) -> None:
    site.answer_delay_s = 0.05  # so that two requests at once would overlap
    results: list[tuple[list[SourceEvent], ListingFailed | None]] = []
    crawls = [threading.Thread(target=lambda: results.append(read_all(reader(site)))) for _ in "ab"]
    for crawl in crawls:
        crawl.start()
    for crawl in crawls:
        crawl.join()
    assert [len(events) for events, failed in results if failed is None] == [7, 7]
    assert site.most_in_flight == 1
