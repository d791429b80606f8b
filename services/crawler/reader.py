"""`WebsiteReader`: a website as a synced source, read from a start page or a sitemap.

Rules (the limits are `CrawlLimits`, set by SOURCE_* settings):
- robots.txt is read first, from the start URL's origin (redirects followed, at most five,
  each through the address check); over `robots_max_bytes` it is cut there and its complete
  lines are used (RFC 9309 asks for at least 500 KiB). A 4xx (none there) allows everything; a
  5xx, a timeout or a refused address fails the listing (`ListingFailed`): nothing is removed.
- A start URL whose path ends in `.xml` or `.xml.gz` is a sitemap (a sitemap index too, its
  sitemaps read in turn, a sitemap's redirect followed within the scope): its pages within
  the scope are the site, no links are followed.
  Any other start URL is a page: links are followed breadth first within the scope
  (pages.py: host and folder) up to `max_depth` links from it.
- At most `max_pages` pages are requested per read. A site with more in scope (or a sitemap
  listing more) is read up to the limit and then the listing fails: the pages read are
  updated, nothing is removed. A sitemap is parsed as it streams in and read no further than
  the limit needs, so a sitemap of a million URLs costs a page limit's worth of parsing.
- Each page: a conditional GET with the validators of the last read (`If-None-Match`,
  `If-Modified-Since`); a 304 is `Unchanged`, and the links stored with the page's version
  are followed as if it had been read. A 200 whose content hash is the stored one is
  `Unchanged` too (a server without validators costs a download, never an embedding).
- Redirects are followed within the scope (at most `max_redirects` hops, a loop is an
  `ItemFailed`); the page's key and link are the URL it ended at (pages.py `normalise`). A
  redirect out of the scope, or to a path robots.txt disallows, leaves the page out (it is
  not this site's page any more). The start page may only redirect within its site.
- Left out, so the sync removes a page it had: 404 and 410, `noindex` (meta robots tag or
  X-Robots-Tag), a type the loaders do not read (`accepts`), a path robots.txt disallows,
  a page no longer linked within the depth. An `ItemFailed` keeps the page's document: any
  other status, a timeout, a page over the byte cap, a refused address; its stored links are
  still followed, so a failing page does not hide the pages below it.
- `max_failures_in_a_row` pages failing in a row on the network (timeouts, refused
  connections, 5xx) means the site is down: the listing fails rather than spend a time limit
  on every remaining page.
- Requests to a site go one at a time (fetch.py `host_turn`), `request_delay_s` apart, or the
  site's robots.txt `Crawl-delay` when longer (capped at `max_crawl_delay_s`).
- `version` is compact JSON (zlib and base64 when long): the ETag, the Last-Modified date,
  the content's SHA-256 and the page's in-scope links as paths.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import mimetypes
import posixpath
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from services.crawler.fetch import (
    Answer,
    BodyTooLarge,
    FetchTimeout,
    Unreadable,
    exchange,
    host_turn,
)
from services.crawler.guard import AddressRefused, GuardedTransport, Resolver, system_resolver
from services.crawler.pages import (
    Scope,
    normalise,
    origin_of,
    read_page,
    robots_directives,
    site_of,
)
from services.crawler.robots import RobotsRules, parse_robots
from services.crawler.sitemap import SitemapError, SitemapParser
from use_cases.sources.ports import Fetched, ItemFailed, ListingFailed, SourceEvent, Unchanged

__all__ = ["CrawlLimits", "WebsiteReader"]

USER_AGENT = "Almanac website source (+https://github.com/)"
_REDIRECTS = (301, 302, 303, 307, 308)
_GONE = (404, 410)
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_ROBOTS_REDIRECTS = 5


@dataclass(frozen=True)
class CrawlLimits:
    """What one read of a website may cost (settings SOURCE_*; backend/config/sources.py)."""

    max_pages: int = 1000
    max_depth: int = 10
    page_max_bytes: int = 20 * 1024 * 1024
    page_timeout_s: float = 30.0
    request_delay_s: float = 1.0
    sitemap_max_bytes: int = 50 * 1024 * 1024
    robots_max_bytes: int = 500 * 1024
    max_redirects: int = 10
    max_crawl_delay_s: float = 60.0
    max_sitemaps: int = 1000
    max_failures_in_a_row: int = 5


@dataclass
class _Validators:
    etag: str = ""
    modified: str = ""
    sha256: str = ""
    links: list[str] = field(default_factory=list)
    """In-scope links as paths (with their query), resolved against the page's origin."""

    def encode(self) -> str:
        data: dict[str, str | list[str]] = {
            "etag": self.etag,
            "modified": self.modified,
            "sha256": self.sha256,
        }
        if self.links:
            data["links"] = self.links
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if len(text) <= 1024:
            return text
        return "z:" + base64.b64encode(zlib.compress(text.encode(), 9)).decode()

    @classmethod
    def decode(cls, version: str | None) -> _Validators:
        """The validators of a stored version; empty ones for a version not ours."""
        if not version:
            return cls()
        try:
            text = version
            if text.startswith("z:"):
                text = zlib.decompress(base64.b64decode(text[2:])).decode()
            data = json.loads(text)
            return cls(
                str(data.get("etag", "")),
                str(data.get("modified", "")),
                str(data.get("sha256", "")),
                [str(link) for link in data.get("links", [])],
            )
        except (ValueError, TypeError, AttributeError, zlib.error):
            return cls()


@dataclass
class _Outcome:
    """One page's read: the event to yield (None: left out) and the links it leads to."""

    event: SourceEvent | None
    links: list[str]
    network_failure: bool = False


class WebsiteReader:
    """A `SourceReader` (use_cases/sources/ports.py) of the website at `url`."""

    def __init__(
        self,
        url: str,
        limits: CrawlLimits | None = None,
        *,
        allowed_hosts: Iterable[str] = (),
        accepts: Callable[[str], bool] | None = None,
        resolve: Resolver = system_resolver,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`accepts(name)` says whether the loaders read a file so named (the loader
        registry's `supports`); pages of other types are left out without their body read."""
        self.url = url
        self.limits = limits or CrawlLimits()
        self._allowed_hosts = tuple(allowed_hosts)
        self._accepts = accepts or (lambda name: True)
        self._resolve = resolve
        self._sleep = sleep
        self._clock = clock

    def read(self, previous: Mapping[str, str]) -> Iterator[SourceEvent]:
        """The site's pages, one event each (the module docstring says which). Iterate it off
        any event loop (a job's worker thread): its requests run on a loop of its own, so a
        request's deadline can cancel the read that is waiting."""
        with asyncio.Runner() as runner:
            client = httpx.AsyncClient(
                transport=GuardedTransport(self._allowed_hosts, resolve=self._resolve),
                follow_redirects=False,
                trust_env=False,
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            )
            try:
                yield from _Crawl(self, previous, runner, client).run()
            finally:
                runner.run(client.aclose())


class _Crawl:
    """One read of the site: the state the rules of the module docstring need."""

    def __init__(
        self,
        reader: WebsiteReader,
        previous: Mapping[str, str],
        runner: asyncio.Runner,
        client: httpx.AsyncClient,
    ) -> None:
        self._reader = reader
        self._limits = reader.limits
        self._previous = previous
        self._runner = runner
        self._client = client
        self._delay = self._limits.request_delay_s
        self._robots = RobotsRules.allow_all()
        self._done: set[str] = set()
        self._failures_in_a_row = 0
        self._sitemap_hops = 0
        try:
            self._start = normalise(reader.url)
        except ValueError as exc:
            raise ListingFailed(f"{reader.url!r} is not a website's URL: {exc}") from None
        self._scope = Scope.of(self._start)

    def run(self) -> Iterator[SourceEvent]:
        if urlsplit(self._start).scheme not in ("http", "https"):
            raise ListingFailed(f"Only http and https sites are read, not {self._start}.")
        self._read_robots()
        path = urlsplit(self._start).path.lower()
        if path.endswith((".xml", ".xml.gz")):
            yield from self._from_sitemap()
        else:
            yield from self._from_start_page()

    # -- robots.txt ------------------------------------------------------------------------

    def _read_robots(self) -> None:
        url = origin_of(self._start) + "/robots.txt"
        for _ in range(_ROBOTS_REDIRECTS + 1):
            try:
                answer = self._get(url, {}, max_bytes=self._limits.robots_max_bytes, cut=True)
            except (httpx.HTTPError, httpx.InvalidURL, FetchTimeout, Unreadable) as exc:
                raise ListingFailed(f"robots.txt could not be read ({_why(exc)}).") from None
            if answer.status in _REDIRECTS and answer.headers.get("location"):
                url = urljoin(url, answer.headers["location"])
                continue
            if 200 <= answer.status < 300:
                body = answer.body
                if len(body) >= self._limits.robots_max_bytes:  # cut: its complete lines
                    body = body[: body.rfind(b"\n") + 1]
                self._robots = parse_robots(body.decode("utf-8", errors="replace"))
            elif 400 <= answer.status < 500 and answer.status != 429:
                self._robots = RobotsRules.allow_all()
            else:
                raise ListingFailed(
                    f"robots.txt answered HTTP {answer.status}: the site is not read until it "
                    "can say what may be read."
                )
            delay = min(self._robots.crawl_delay or 0.0, self._limits.max_crawl_delay_s)
            self._delay = max(self._limits.request_delay_s, delay)
            return
        raise ListingFailed(f"robots.txt redirects more than {_ROBOTS_REDIRECTS} times.")

    def _allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        return self._robots.allowed(parts.path + (f"?{parts.query}" if parts.query else ""))

    # -- the start page and its links ------------------------------------------------------

    def _from_start_page(self) -> Iterator[SourceEvent]:
        if not self._allowed(self._start):
            raise ListingFailed(f"robots.txt disallows the start page {self._start}.")
        queue: deque[tuple[str, int]] = deque([(self._start, 0)])
        queued = {self._start}
        requested = 0
        while queue:
            if requested >= self._limits.max_pages:
                raise ListingFailed(
                    f"The page limit ({self._limits.max_pages}, SOURCE_MAX_PAGES) was reached "
                    "with pages of the site left to read: the site was not read to the end, "
                    "so no page was removed."
                )
            url, depth = queue.popleft()
            requested += 1
            outcome = self._page(url, is_start=depth == 0)
            if outcome.event is not None:
                yield outcome.event
            if depth >= self._limits.max_depth:
                continue
            for link in outcome.links:
                if len(queued) > self._limits.max_pages:
                    break  # the limit will be reached with pages left: no need to hold more
                if link not in queued and self._scope.contains(link) and self._allowed(link):
                    queued.add(link)
                    queue.append((link, depth + 1))

    # -- sitemaps --------------------------------------------------------------------------

    def _from_sitemap(self) -> Iterator[SourceEvent]:
        pages = self._sitemap_pages()
        for url in pages[: self._limits.max_pages]:
            outcome = self._page(url, is_start=False)
            if outcome.event is not None:
                yield outcome.event
        if len(pages) > self._limits.max_pages:
            raise ListingFailed(
                f"The sitemap lists more pages than the page limit ({self._limits.max_pages}, "
                "SOURCE_MAX_PAGES): the first were read, no page was removed."
            )

    def _sitemap_pages(self) -> list[str]:
        """The in-scope, allowed pages of the sitemap (and of an index's sitemaps), in order,
        at most one more than the page limit."""
        wanted = self._limits.max_pages + 1
        pages: dict[str, None] = {}
        sitemaps: deque[str] = deque([self._start])
        seen = {self._start}
        read = 0
        while sitemaps and len(pages) < wanted:
            url = sitemaps.popleft()
            read += 1
            if read > self._limits.max_sitemaps:
                raise ListingFailed(f"The sitemap index lists over {read - 1} sitemaps.")
            parser = SitemapParser(max_bytes=self._limits.sitemap_max_bytes)
            taken = 0

            def collect(parser: SitemapParser = parser) -> bool:
                nonlocal taken
                for location in parser.locations[taken:]:
                    taken += 1
                    self._take(location, parser.is_index, pages, sitemaps, seen)
                return len(pages) < wanted

            def sink(chunk: bytes, parser: SitemapParser = parser) -> bool:
                parser.feed(chunk)
                return collect(parser)

            try:
                answer = self._get(url, {}, max_bytes=self._limits.sitemap_max_bytes, sink=sink)
                target = self._redirect_target(url, answer)
                if target is not None:  # http -> https, a moved sitemap: read where it is
                    if target not in seen:
                        seen.add(target)
                        sitemaps.appendleft(target)
                    read -= 1  # a hop, not another sitemap
                    continue
                if answer.status != 200:
                    raise ListingFailed(f"The sitemap {url} answered HTTP {answer.status}.")
                if len(pages) < wanted:  # read to its end: it must be whole
                    parser.close()
                    collect(parser)
            except SitemapError as exc:
                raise ListingFailed(f"The sitemap {url} could not be read: {exc}") from None
            except _SITEMAP_ERRORS as exc:
                raise ListingFailed(f"The sitemap {url} could not be read ({_why(exc)}).") from None
        return list(pages)

    def _redirect_target(self, url: str, answer: Answer) -> str | None:
        """Where a sitemap's redirect leads, within the scope (else `ListingFailed`)."""
        location = answer.headers.get("location")
        if answer.status not in _REDIRECTS or not location:
            return None
        self._sitemap_hops += 1
        try:
            target = normalise(urljoin(url, location))
        except ValueError:
            raise ListingFailed(f"The sitemap {url} redirects to {location[:200]!r}.") from None
        if not self._scope.contains(target) or self._sitemap_hops > self._limits.max_redirects:
            raise ListingFailed(f"The sitemap {url} redirects to {target}: not followed.")
        return target

    def _take(
        self,
        location: str,
        is_index: bool | None,
        pages: dict[str, None],
        sitemaps: deque[str],
        seen: set[str],
    ) -> None:
        try:
            url = normalise(location)
        except ValueError:
            return
        if not self._scope.contains(url):
            return
        if is_index:
            if url not in seen:
                seen.add(url)
                sitemaps.append(url)
        elif self._allowed(url):
            pages[url] = None

    # -- one page --------------------------------------------------------------------------

    def _page(self, url: str, *, is_start: bool) -> _Outcome:
        outcome = self._follow(url, is_start=is_start)
        if outcome.network_failure:
            self._failures_in_a_row += 1
            if self._failures_in_a_row >= self._limits.max_failures_in_a_row:
                raise ListingFailed(
                    f"{self._failures_in_a_row} pages in a row could not be fetched (the last: "
                    f"{outcome.event.reason if isinstance(outcome.event, ItemFailed) else url}"
                    "): the site seems down; no page was removed."
                )
        else:
            self._failures_in_a_row = 0
        if is_start and isinstance(outcome.event, ItemFailed):
            raise ListingFailed(f"The start page could not be read: {outcome.event.reason}")
        return outcome

    def _follow(self, url: str, *, is_start: bool) -> _Outcome:
        hops = [url]
        current = url
        for _ in range(self._limits.max_redirects + 1):
            if current in self._done:  # reached from another link already
                return _Outcome(None, [])
            stored = _Validators.decode(self._previous.get(current))
            headers = {}
            if stored.etag:
                headers["If-None-Match"] = stored.etag
            if stored.modified:
                headers["If-Modified-Since"] = stored.modified
            page = current

            def wanted(answer_headers: httpx.Headers, page: str = page) -> bool:
                kind = _kind(answer_headers)  # no type said: the body tells (_sniffed)
                return not kind or self._reader._accepts(_file_name(page, kind))

            try:
                answer = self._get(
                    current, headers, max_bytes=self._limits.page_max_bytes, wanted=wanted
                )
            except AddressRefused as exc:
                return self._failed(current, stored, str(exc), network=False)
            except (httpx.HTTPError, FetchTimeout) as exc:
                return self._failed(current, stored, _why(exc), network=True)
            except (httpx.InvalidURL, UnicodeError) as exc:  # a link no request can be made of
                return self._failed(current, stored, f"not a URL that can be fetched: {exc}", False)
            except BodyTooLarge as exc:
                reason = f"not read: {exc} (SOURCE_PAGE_MAX_BYTES)"
                return self._failed(current, stored, reason, network=False)
            except Unreadable as exc:
                return self._failed(current, stored, f"not read: {exc}", network=False)
            location = answer.headers.get("location")
            if answer.status in _REDIRECTS and location:
                try:
                    target = normalise(urljoin(current, location))
                except ValueError:
                    reason = f"a redirect to {location[:200]!r}, which is no web page's URL"
                    return self._failed(url, stored, reason, network=False)
                if target in hops:
                    return self._failed(url, stored, "a redirect loop", network=False)
                if not self._scope.contains(target):
                    if is_start:
                        raise ListingFailed(
                            f"The start page redirects to {target}, outside the site: use "
                            "that URL as the source's URL."
                        )
                    return _Outcome(None, [])
                if not self._allowed(target):
                    return _Outcome(None, [])
                hops.append(target)
                current = target
                continue
            self._done.add(current)
            if is_start and answer.status in _GONE:
                raise ListingFailed(f"The start page {current} answered HTTP {answer.status}.")
            return self._answered(current, stored, answer)
        return self._failed(
            url, stored, f"more than {self._limits.max_redirects} redirects", network=False
        )

    def _answered(self, key: str, stored: _Validators, answer: Answer) -> _Outcome:
        if answer.status == 304 and (stored.etag or stored.modified):
            return _Outcome(Unchanged(key), _absolute(key, stored.links))
        if answer.status in _GONE:
            return _Outcome(None, [])
        if not 200 <= answer.status < 300:
            return self._failed(key, stored, f"HTTP {answer.status}", answer.status >= 500)
        kind = _kind(answer.headers) or _sniffed(answer.body)
        name = _file_name(key, kind)
        if not self._reader._accepts(name):  # its body was not read
            return _Outcome(None, [])
        noindex, nofollow = robots_directives(answer.headers.get("x-robots-tag", ""))
        links: list[str] = []
        if kind in _HTML_TYPES or name.endswith((".html", ".htm")):
            facts = read_page(key, answer.body.decode(_charset(answer), errors="replace"))
            noindex |= facts.noindex
            nofollow |= facts.nofollow
            in_scope = [] if nofollow else [u for u in facts.links if self._scope.contains(u)]
            links = in_scope[: self._limits.max_pages + 1]  # more could never be read
        if noindex:
            return _Outcome(None, links)
        sha256 = hashlib.sha256(answer.body).hexdigest()
        if sha256 == stored.sha256:
            return _Outcome(Unchanged(key), links)
        version = _Validators(
            answer.headers.get("etag", ""),
            answer.headers.get("last-modified", ""),
            sha256,
            [_path(link) for link in links],
        )
        return _Outcome(Fetched(key, name, answer.body, version.encode(), link=key), links)

    def _failed(self, key: str, stored: _Validators, reason: str, network: bool) -> _Outcome:
        return _Outcome(ItemFailed(key, reason), _absolute(key, stored.links), network)

    # -- the network -----------------------------------------------------------------------

    def _get(
        self,
        url: str,
        headers: dict[str, str],
        *,
        max_bytes: int,
        sink: Callable[[bytes], bool] | None = None,
        wanted: Callable[[httpx.Headers], bool] | None = None,
        cut: bool = False,
    ) -> Answer:
        """One exchange, in this site's turn. `cut`: a body over `max_bytes` is kept cut
        there instead of refused (robots.txt)."""
        if cut:
            kept = bytearray()
            cap = max_bytes

            def keep(chunk: bytes) -> bool:
                kept.extend(chunk[: cap - len(kept)])
                return len(kept) < cap

            sink, max_bytes = keep, cap + _CUT_SLACK
        with host_turn(
            site_of(url), self._delay, sleep=self._reader._sleep, clock=self._reader._clock
        ):
            answer = self._runner.run(
                exchange(
                    self._client,
                    url,
                    headers,
                    timeout_s=self._limits.page_timeout_s,
                    max_bytes=max_bytes,
                    sink=sink,
                    wanted=wanted,
                )
            )
        if cut:
            return Answer(answer.status, answer.headers, bytes(kept))
        return answer


_SITEMAP_ERRORS = (httpx.HTTPError, httpx.InvalidURL, FetchTimeout, BodyTooLarge, Unreadable)

#: Bytes read past a cut body's cap before the exchange stops (one inflation step).
_CUT_SLACK = 128 * 1024


def _why(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "the server did not answer in time (SOURCE_PAGE_TIMEOUT_S)"
    if isinstance(exc, FetchTimeout):
        return f"{exc} (SOURCE_PAGE_TIMEOUT_S)"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _kind(headers: httpx.Headers) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _sniffed(body: bytes) -> str:
    """The type of a body sent without a Content-Type: HTML when it starts as HTML does."""
    start = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return "text/html" if start.startswith((b"<!doctype html", b"<html")) else ""


def _charset(answer: Answer) -> str:
    for part in answer.headers.get("content-type", "").split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            candidate = value.strip().strip("\"'")
            try:
                "".encode(candidate)
                return candidate
            except LookupError:
                break
    return "utf-8"


def _file_name(url: str, kind: str) -> str:
    """The name the loaders pick a type by: `index.html` for an HTML page, else the URL's
    last segment when it has an extension, else one from the Content-Type."""
    if kind in _HTML_TYPES:
        return "index.html"
    segment = unquote(posixpath.basename(urlsplit(url).path)).strip()
    if "." in segment.strip("."):
        return segment
    guessed = mimetypes.guess_extension(kind) if kind else None
    if kind == "text/plain":
        guessed = ".txt"
    return f"{segment or 'index'}{guessed or ''}"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _absolute(page: str, paths: list[str]) -> list[str]:
    out = []
    for path in paths:
        try:
            out.append(normalise(urljoin(page, path)))
        except ValueError:
            continue
    return out
