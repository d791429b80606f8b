"""sitemap.xml read as it streams in: the `<loc>` of each `<url>`, or of each `<sitemap>` of
a sitemap index, up to a count.

Rules:
- Parsed incrementally with expat, chunk by chunk as the response arrives; the caller stops
  feeding (and closes the response) once it has the URLs it can use, so a sitemap of a
  million URLs costs what the page limit allows, not its size.
- A document type declaration or an entity declaration is refused (`SitemapError`): sitemaps
  have none, and entities are how an XML file expands to gigabytes in memory.
- A gzipped sitemap (`.xml.gz`, recognised by its magic bytes) is inflated chunk by chunk,
  each inflation step bounded, so a small compressed file cannot expand past the byte cap
  unnoticed.
- Whether it is an index (`<sitemapindex>`) or a list of pages (`<urlset>`) is read from the
  root element; anything else is a `SitemapError`.
"""

from __future__ import annotations

import zlib
from xml.parsers import expat

__all__ = ["SitemapError", "SitemapParser"]

_GZIP_MAGIC = b"\x1f\x8b"


class SitemapError(ValueError):
    """A sitemap that is not one, or one that is malformed."""


class SitemapParser:
    """Feed bytes with `feed`; `locations` grows; `is_index` says what they are."""

    def __init__(self, *, max_bytes: int) -> None:
        self.locations: list[str] = []
        self.is_index: bool | None = None
        self.inflated = 0
        self._max_bytes = max_bytes
        self._inflater: zlib._Decompress | None = None
        self._started = False
        self._depth = 0
        self._in_loc = False
        self._text: list[str] = []
        self._parser = expat.ParserCreate(namespace_separator=" ")
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._parser.CharacterDataHandler = self._chars
        self._parser.StartDoctypeDeclHandler = self._refuse
        self._parser.EntityDeclHandler = self._refuse

    def feed(self, chunk: bytes) -> None:
        if not self._started:
            self._started = True
            if chunk.startswith(_GZIP_MAGIC):
                self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self._inflater is not None:
            while chunk:
                part = self._inflater.decompress(chunk, 64 * 1024)
                self._parse(part)
                chunk = self._inflater.unconsumed_tail
        else:
            self._parse(chunk)

    def close(self) -> None:
        """The end of the document: a truncated or malformed one raises `SitemapError`."""
        self._parse(b"", final=True)
        if self.is_index is None:
            raise SitemapError("The sitemap has no <urlset> or <sitemapindex>.")

    def _parse(self, data: bytes, final: bool = False) -> None:
        self.inflated += len(data)
        if self.inflated > self._max_bytes:
            raise SitemapError(f"The sitemap is larger than {self._max_bytes:,} bytes.")
        try:
            self._parser.Parse(data, final)
        except expat.ExpatError as exc:
            raise SitemapError(f"The sitemap is not well-formed XML: {exc}.") from None

    def _start(self, name: str, attributes: object) -> None:
        local = name.rsplit(" ", 1)[-1]
        self._depth += 1
        if self._depth == 1:
            if local not in ("urlset", "sitemapindex"):
                raise SitemapError(f"<{local}> is not a sitemap's root element.")
            self.is_index = local == "sitemapindex"
        elif self._depth == 3 and local == "loc":
            self._in_loc = True
            self._text = []

    def _end(self, name: str) -> None:
        if self._in_loc and self._depth == 3:
            self._in_loc = False
            location = "".join(self._text).strip()
            if location:
                self.locations.append(location)
        self._depth -= 1

    def _chars(self, data: str) -> None:
        if self._in_loc:
            self._text.append(data)

    def _refuse(self, *args: object) -> None:
        raise SitemapError("The sitemap declares a document type or entities: not read.")
