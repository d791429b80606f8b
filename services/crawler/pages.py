"""URLs as a website source keys them, the crawl's scope, and what a page says to a crawler.

Rules:
- A URL's key (`normalise`): scheme and host lower case, the default port dropped, an empty
  path made `/`, dot segments resolved (`/docs/../x` is `/x`), the fragment dropped; the
  path and query are otherwise kept as written (a server may tell `/A` from `/a`).
- The scope (`Scope`): the start URL's host and port (http and https both, so a site that
  moves to https stays in scope) and its path prefix: the start URL's folder (`/docs/` for
  `/docs/index.html` and for `/docs/`, `/` for `/docs`), as `wget --no-parent` reads it.
- A page's links (`read_page`): `<a href>` and `<area href>`, resolved against the page's URL
  or its `<base href>`; `rel=nofollow` links are not followed. `<meta name="robots">` (or
  `name="almanac"`) with `noindex` / `none` marks a page not to keep, with `nofollow` / `none`
  one whose links are not followed; an `X-Robots-Tag` header says the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise(url: str) -> str:
    """`url` as a document key (the module docstring says how); ValueError if it has no host."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"{url!r} has no host.")
    if ":" in host:  # IPv6
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, _without_dots(parts.path), parts.query, ""))


def _without_dots(path: str) -> str:
    """RFC 3986's remove_dot_segments: `/docs/../x` is `/x`, which the scope must see."""
    out: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
        elif segment == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    joined = "/".join(out)
    return joined if joined.startswith("/") else "/" + joined


def site_of(url: str) -> tuple[str, int]:
    """(host, port) of a URL, the port defaulted from its scheme."""
    parts = urlsplit(url)
    return (parts.hostname or "").rstrip("."), parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


@dataclass(frozen=True)
class Scope:
    """The pages a crawl from `start` may read: its host and port, its folder."""

    host: str
    port: int
    prefix: str

    @classmethod
    def of(cls, start: str) -> Scope:
        host, port = site_of(start)
        path = urlsplit(start).path or "/"
        return cls(host, port, path[: path.rfind("/") + 1])

    def contains(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS:
            return False
        try:
            host, port = site_of(url)
        except ValueError:  # a port that is no number
            return False
        # Both schemes' default ports: http://h and https://h are one site.
        same_port = port == self.port or (
            port in _DEFAULT_PORTS.values() and self.port in _DEFAULT_PORTS.values()
        )
        return host == self.host and same_port and (parts.path or "/").startswith(self.prefix)


@dataclass
class PageFacts:
    """What a crawler reads in a page: its links, and whether to keep and follow it."""

    links: list[str] = field(default_factory=list)
    noindex: bool = False
    nofollow: bool = False


def robots_directives(value: str) -> tuple[bool, bool]:
    """(noindex, nofollow) of a robots meta tag's or X-Robots-Tag header's value."""
    words = {w.strip().lower() for w in value.replace(";", ",").split(",")}
    # An X-Robots-Tag may name an agent first ("googlebot: noindex"): only ours or none counts.
    named = {w.split(":", 1)[0].strip() for w in words if ":" in w}
    if named and not named & {"almanac"}:
        return False, False
    words = {w.split(":", 1)[-1].strip() for w in words}
    return bool(words & {"noindex", "none"}), bool(words & {"nofollow", "none"})


def read_page(url: str, html: str) -> PageFacts:
    """The links and robots directives of the HTML page at `url`."""
    parser = _LinkParser(url)
    parser.feed(html)
    parser.close()
    return parser.facts


class _LinkParser(HTMLParser):
    def __init__(self, url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.facts = PageFacts()
        self._base = url
        self._hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "base" and values.get("href"):
            self._base = urljoin(self._base, values["href"].strip())
        elif tag in ("a", "area") and values.get("href"):
            if "nofollow" not in values.get("rel", "").lower().split():
                self._hrefs.append(values["href"].strip())
        elif tag == "meta" and values.get("name", "").strip().lower() in ("robots", "almanac"):
            noindex, nofollow = robots_directives(values.get("content", ""))
            self.facts.noindex |= noindex
            self.facts.nofollow |= nofollow

    def close(self) -> None:
        super().close()
        links = []
        for href in self._hrefs:
            try:
                target = urljoin(self._base, href)
                if urlsplit(target).scheme in _DEFAULT_PORTS:
                    links.append(normalise(target))
            except ValueError:  # a malformed link (bad port, no host): not followed
                continue
        self.facts.links = list(dict.fromkeys(links))
