"""A real local website for the website source's tests: a threaded HTTP server on 127.0.0.1
(a free port) whose pages a test sets, changes and deletes while it runs.

What it serves besides the pages a test puts in `site.pages` (path -> (content type, bytes)):
- ETag (a hash of the bytes) and Last-Modified on every page, and 304 to a conditional GET
  whose `If-None-Match` names the current ETag (or, without one, whose `If-Modified-Since`
  is not older than the page): so an unchanged page costs a 304.
- `site.redirects` (path -> location, answered 301), `site.statuses` (path -> a status to
  answer, e.g. 500 or 410), `site.robots` (robots.txt's text; None: 404; an int: that status).
- `/slow/headers`: a byte of the head every 0.2 s, never done; `/slow/body`: a page's head,
  then a byte every 0.2 s, never done; `/endless`: a 200 whose body never ends (64 KiB
  chunks as fast as they are read); `/huge-robots` served as robots.txt when
  `site.robots == "huge"` (10 MB of Disallow lines, one Allow-all `*` group first);
  `/huge-sitemap.xml`: a sitemap of `HUGE_SITEMAP_URLS` pages generated as it is sent.
- Over TLS when `website(tls=...)` is given a server context (`tls_context` makes one for a
  host name, signed by a throw-away authority whose certificate it writes to a file).
- `site.requests`: (path, headers) of every request, for the tests to say what was fetched
  and with which validators; `site.most_in_flight` the most requests it answered at once;
  `site.huge_sitemap_bytes_sent` what the huge sitemap cost.
"""

from __future__ import annotations

import datetime
import hashlib
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HUGE_SITEMAP_URLS = 1_000_000
#: The Last-Modified every page carries (pages changed by a test get a new ETag).
LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)


@dataclass
class Site:
    port: int = 0
    scheme: str = "http"
    pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    robots: str | int | None = None
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    huge_sitemap_bytes_sent: int = 0
    in_flight: int = 0
    answer_delay_s: float = 0.0
    most_in_flight: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def html(self, path: str, body: str, *, head: str = "") -> None:
        page = f"<html><head><title>{path}</title>{head}</head><body>{body}</body></html>"
        self.pages[path] = ("text/html; charset=utf-8", page.encode())

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()


def etag_of(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:16] + '"'


@contextmanager
def website(tls: ssl.SSLContext | None = None) -> Iterator[Site]:
    """The site, served over TLS with `tls` (a server context) when given."""
    site = Site(scheme="https" if tls is not None else "http")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # A head and a body in two writes would otherwise wait for the client's delayed ACK
        # (about 40 ms a page): a cost of this server, not of the reader it tests.
        disable_nagle_algorithm = True

        def log_message(self, *args: object) -> None:  # quiet
            return

        def do_GET(self) -> None:
            with site.lock:
                site.in_flight += 1
                site.most_in_flight = max(site.most_in_flight, site.in_flight)
            try:
                site.stop.wait(site.answer_delay_s)  # a site that takes its time to answer
            finally:
                # Counted until the answer starts: a client that waits for an answer before
                # its next request can send it while this thread still writes the last bytes.
                with site.lock:
                    site.in_flight -= 1
            self._answer()

        def _answer(self) -> None:
            path = self.path
            with site.lock:
                site.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
            if path == "/robots.txt":
                return self._robots()
            if path in site.statuses:
                return self._send(site.statuses[path], "text/plain", b"status")
            if path in site.redirects:
                self.send_response(301)
                self.send_header("Location", site.redirects[path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if path == "/slow/headers":
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not site.stop.wait(0.2):
                    self.wfile.write(b"a")
                    self.wfile.flush()
                return None
            if path == "/slow/body":
                self._head(200, "text/html", None)
                while not site.stop.wait(0.2):
                    self.wfile.write(b"<p>a</p>")
                    self.wfile.flush()
                return None
            if path == "/endless":
                self._head(200, "text/html", None)
                chunk = b"<p>" + b"x" * 65536 + b"</p>"
                try:
                    while not site.stop.is_set():
                        self.wfile.write(chunk)
                except OSError:  # the reader hung up, as it should
                    pass
                return None
            if path == "/huge-sitemap.xml":
                return self._huge_sitemap()
            page = site.pages.get(path)
            if page is None:
                return self._send(404, "text/plain", b"not found")
            kind, data = page
            etag = etag_of(data)
            if self._not_modified(etag):
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            self._send(200, kind, data, etag=etag)
            return None

        def _not_modified(self, etag: str) -> bool:
            match = self.headers.get("If-None-Match")
            if match is not None:
                return etag in [m.strip() for m in match.split(",")]
            since = self.headers.get("If-Modified-Since")
            if since:
                try:
                    return parsedate_to_datetime(since) >= parsedate_to_datetime(LAST_MODIFIED)
                except (TypeError, ValueError):
                    return False
            return False

        def _robots(self) -> None:
            if site.robots is None:
                return self._send(404, "text/plain", b"none")
            if isinstance(site.robots, int):
                return self._send(site.robots, "text/plain", b"status")
            if site.robots == "huge":
                line = b"Disallow: /nothing-here-" + b"x" * 80 + b"\n"
                body = b"User-agent: *\nAllow: /\n" + line * (10_000_000 // len(line))
                return self._send(200, "text/plain", body)
            return self._send(200, "text/plain", site.robots.encode())

        def _huge_sitemap(self) -> None:
            self._head(200, "application/xml", None)
            head = b'<?xml version="1.0"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            try:
                self._chunk(head)
                for start in range(0, HUGE_SITEMAP_URLS, 1000):
                    if site.stop.is_set():
                        break
                    block = "".join(
                        f"<url><loc>{site.base}/p/{n}.html</loc></url>\n"
                        for n in range(start, start + 1000)
                    ).encode()
                    self._chunk(block)
                self._chunk(b"</urlset>\n")
                self._chunk(b"")
            except OSError:  # the reader stopped reading, as it should
                pass

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
            site.huge_sitemap_bytes_sent += len(data)

        def _head(self, status: int, kind: str, length: int | None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            if length is None:
                if self.path == "/huge-sitemap.xml":
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
            else:
                self.send_header("Content-Length", str(length))
            self.end_headers()

        def _send(self, status: int, kind: str, data: bytes, *, etag: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            if etag is not None:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", LAST_MODIFIED)
            self.end_headers()
            self.wfile.write(data)

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            return  # a reader hanging up on a page it refused is what the tests want

    server = Server(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.stop.set()
        server.shutdown()
        server.server_close()


def tls_context(host: str, folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context whose certificate names `host`, signed by a throw-away certificate
    authority, and the file of that authority's certificate (for SSL_CERT_FILE)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name | None,
        signer: ec.EllipticCurvePrivateKey,
    ) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        if issuer is None:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(subject)]), False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("Almanac test authority", ca_key, None, ca_key)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = certificate(host, key, ca.subject, ca_key)
    pem = serialization.Encoding.PEM
    authority = folder / "authority.pem"
    authority.write_bytes(ca.public_bytes(pem))
    chain = folder / "server.pem"
    chain.write_bytes(
        leaf.public_bytes(pem)
        + key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return context, authority
