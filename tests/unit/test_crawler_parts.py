"""The website reader's parts without a network: robots.txt rules, URL keys and scope, what a
page says to a crawler, sitemaps fed in pieces, and the version it stores."""

from __future__ import annotations

import gzip

import pytest

from services.crawler.guard import normalise_host, public
from services.crawler.pages import Scope, normalise, read_page, robots_directives
from services.crawler.reader import _file_name, _sniffed, _Validators
from services.crawler.robots import parse_robots
from services.crawler.sitemap import SitemapError, SitemapParser


def test_robots_longest_match_wins_and_allow_wins_a_tie() -> None:
    rules = parse_robots(
        "User-agent: *\nDisallow: /docs\nAllow: /docs/public\nDisallow: /x\nAllow: /x\n"
    )
    assert not rules.allowed("/docs/secret.html")
    assert rules.allowed("/docs/public/a.html")
    assert rules.allowed("/x/y")  # same length: Allow
    assert rules.allowed("/robots.txt") and rules.allowed("/other")


def test_robots_wildcards_and_end_anchor() -> None:
    rules = parse_robots("User-agent: *\nDisallow: /*.pdf$\nDisallow: /*?print=\n")
    assert not rules.allowed("/a/b.pdf")
    assert rules.allowed("/a/b.pdf.html")
    assert not rules.allowed("/page?print=1")
    assert rules.allowed("/page?x=1")


def test_robots_our_group_beats_the_star_group_and_groups_merge() -> None:
    text = (
        "User-agent: *\nDisallow: /\n\n"
        "User-agent: other\nUser-agent: Almanac/1.0\nDisallow: /private/\nCrawl-delay: 3\n\n"
        "User-agent: almanac\nDisallow: /drafts/\n"
        "Sitemap: https://example.org/sitemap.xml\n"
    )
    rules = parse_robots(text)
    assert rules.allowed("/docs/") and not rules.allowed("/private/a")
    assert not rules.allowed("/drafts/b")
    assert rules.crawl_delay == 3
    assert rules.sitemaps == ["https://example.org/sitemap.xml"]


def test_robots_empty_disallow_comments_and_junk() -> None:
    rules = parse_robots("# hi\nUser-agent: *  # all\nDisallow:\nCrawl-delay: soon\nnonsense\n")
    assert rules.allowed("/anything") and rules.crawl_delay is None
    assert parse_robots("").allowed("/a")


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("HTTP://Example.ORG:80/a#top", "http://example.org/a"),
        ("https://example.org:443", "https://example.org/"),
        ("https://example.org:8443/a/./b/../c?q=1", "https://example.org:8443/a/c?q=1"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ],
)
def test_a_url_is_keyed_without_fragment_default_port_or_dot_segments(url: str, key: str) -> None:
    assert normalise(url) == key


def test_the_scope_is_the_start_urls_host_and_folder() -> None:
    scope = Scope.of("http://example.org/docs/index.html")
    assert scope.contains("http://example.org/docs/a/b.html")
    assert scope.contains("https://example.org/docs/a.html")  # the site moved to https
    assert not scope.contains("http://example.org/docs-old/a.html")
    assert not scope.contains("http://example.org/other.html")
    assert not scope.contains("http://www.example.org/docs/a.html")
    assert not scope.contains("http://example.org:8080/docs/a.html")
    assert not scope.contains("ftp://example.org/docs/a.html")
    assert Scope.of("http://example.org:8080/docs").prefix == "/"


def test_a_pages_links_and_robots_tags() -> None:
    facts = read_page(
        "http://example.org/docs/a/index.html",
        '<html><head><base href="/docs/b/"><meta name="ROBOTS" content="noindex, follow">'
        '</head><body><a href="x.html#s">x</a><a href="../y.html">y</a>'
        '<a rel="nofollow" href="z.html">z</a><a href="mailto:a@b">m</a>'
        '<a href="http://[bad">bad</a><area href="/docs/map.html"><a href="x.html">again</a>'
        "</body></html>",
    )
    assert facts.links == [
        "http://example.org/docs/b/x.html",
        "http://example.org/docs/y.html",
        "http://example.org/docs/map.html",
    ]
    assert facts.noindex and not facts.nofollow
    assert robots_directives("none") == (True, True)
    assert robots_directives("googlebot: noindex") == (False, False)
    assert robots_directives("almanac: noindex") == (True, False)


def _sitemap(urls: int, index: bool = False) -> bytes:
    tag, root = ("sitemap", "sitemapindex") if index else ("url", "urlset")
    items = "".join(f"<{tag}><loc> https://e.org/{n}.html </loc></{tag}>" for n in range(urls))
    return (
        f'<?xml version="1.0"?><{root} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{items}</{root}>"
    ).encode()


@pytest.mark.parametrize("compressed", [False, True])
def test_a_sitemap_fed_in_small_pieces_lists_its_pages(compressed: bool) -> None:
    data = _sitemap(500)
    data = gzip.compress(data) if compressed else data
    parser = SitemapParser(max_bytes=10**6)
    for start in range(0, len(data), 7):
        parser.feed(data[start : start + 7])
    parser.close()
    assert parser.is_index is False
    assert parser.locations == [f"https://e.org/{n}.html" for n in range(500)]


def test_a_sitemap_index_and_the_refusals() -> None:
    parser = SitemapParser(max_bytes=10**6)
    parser.feed(_sitemap(3, index=True))
    parser.close()
    assert parser.is_index and len(parser.locations) == 3
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset></urlset>'
    with pytest.raises(SitemapError, match="document type"):
        SitemapParser(max_bytes=10**6).feed(bomb)
    with pytest.raises(SitemapError, match="root"):
        SitemapParser(max_bytes=10**6).feed(b"<html><body/></html>")
    with pytest.raises(SitemapError, match="larger"):
        SitemapParser(max_bytes=1000).feed(gzip.compress(_sitemap(1000)))
    truncated = SitemapParser(max_bytes=10**6)
    truncated.feed(_sitemap(10)[:-20])
    with pytest.raises(SitemapError, match="well-formed"):
        truncated.close()


def test_the_version_round_trips_and_is_compressed_when_long() -> None:
    short = _Validators('"abc"', "Tue, 14 Nov 2023 22:13:20 GMT", "0" * 64, ["/a.html"])
    assert _Validators.decode(short.encode()) == short
    long = _Validators("", "", "f" * 64, [f"/docs/page-{n}.html" for n in range(500)])
    encoded = long.encode()
    assert encoded.startswith("z:") and len(encoded) < 4000
    assert _Validators.decode(encoded) == long
    assert _Validators.decode("not ours") == _Validators()
    assert _Validators.decode(None) == _Validators()


@pytest.mark.parametrize(
    ("url", "kind", "name"),
    [
        ("http://e.org/docs/guide.pdf", "application/pdf", "guide.pdf"),
        ("http://e.org/docs/guide.html", "text/html", "index.html"),
        ("http://e.org/docs/", "text/html", "index.html"),
        ("http://e.org/files/report", "application/pdf", "report.pdf"),
        ("http://e.org/files/notes", "text/plain", "notes.txt"),
        ("http://e.org/files/r%C3%A9sum%C3%A9.docx", "application/octet-stream", "résumé.docx"),
    ],
)
def test_the_file_name_tells_the_loaders_the_type(url: str, kind: str, name: str) -> None:
    assert _file_name(url, kind) == name


@pytest.mark.parametrize(
    ("entry", "host"),
    [
        ("Wiki.Example.", "wiki.example"),
        ("wiki.example:8080", "wiki.example"),
        ("[::1]:8080", "::1"),
        ("::1", "::1"),
        (" 10.0.0.5 ", "10.0.0.5"),
    ],
)
def test_an_allowed_host_is_compared_without_case_dot_brackets_or_port(
    entry: str, host: str
) -> None:
    assert normalise_host(entry) == host


def test_the_website_reader_is_a_source_reader() -> None:
    from services.crawler import WebsiteReader
    from use_cases.sources.ports import SourceReader

    reader: SourceReader = WebsiteReader("https://example.org/docs/")
    assert callable(reader.read)


def test_a_body_without_a_content_type_is_html_when_it_starts_as_html() -> None:
    assert _sniffed(b"\xef\xbb\xbf\n  <!DOCTYPE html><html>") == "text/html"
    assert _sniffed(b"<HTML><body>") == "text/html"
    assert _sniffed(b"%PDF-1.7") == ""


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "255.255.255.255", "224.0.0.1", "198.18.0.1", "::1", "::", "fd00::1",
        "fe80::1", "ff0e::1", "::ffff:127.0.0.1", "64:ff9b::a00:1", "2002:a00:1::",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "64:ff9b::808:808"])
def test_public_addresses_are_reached(address: str) -> None:
    assert public(address)
