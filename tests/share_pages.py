"""A tiny threaded HTTP server on 127.0.0.1 serving the reconstructed share pages of
tests/fixtures/conversations, plus the misbehaving answers an importer must refuse:
`/redirect-off` (to `localhost`, a host off the tests' allow-list), `/redirect-on` (to a page
on the same host), `/big` (a page over the tests' byte limit), `/slow` (headers, then nothing
until the server stops), `/slow-headers` (a byte of its headers every 0.2 s, never done),
`/missing` (404), `/teapot` (418) and `/unclosed-scripts/N` (a page of N bytes of unclosed
`<script>` tags, tests/hostile_inputs.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

from tests.hostile_inputs import unclosed_script_page

FIXTURES = Path(__file__).parent / "fixtures" / "conversations"
#: The byte limit the tests configure (IMPORT_MAX_PAGE_BYTES); `/big` is over it.
TEST_PAGE_LIMIT = 64 * 1024


@contextmanager
def share_page_server() -> Iterator[str]:
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            return

        def do_GET(self) -> None:
            port = cast(tuple[str, int], self.server.server_address)[1]  # a TCP server's
            path = self.path.split("?", 1)[0]
            if path == "/redirect-off":
                self._redirect(f"http://localhost:{port}/grok-share.html")
            elif path == "/redirect-on":
                self._redirect("/grok-share.html")
            elif path == "/big":
                self._send(b"<html>" + b"x" * (TEST_PAGE_LIMIT + 1) + b"</html>")
            elif path == "/slow":
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"<html>")
                self.wfile.flush()
                stop.wait(10)  # released when the server stops
            elif path == "/slow-headers":  # each read is quick; the whole never ends
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not stop.wait(0.2):
                    self.wfile.write(b"a")
                    self.wfile.flush()
            elif path == "/teapot":
                self.send_error(418)
            elif path.startswith("/unclosed-scripts/") and path.rsplit("/", 1)[1].isdigit():
                self._send(unclosed_script_page(int(path.rsplit("/", 1)[1])))
            elif (FIXTURES / path.lstrip("/")).is_file() and ".." not in path:
                self._send((FIXTURES / path.lstrip("/")).read_bytes())
            else:
                self.send_error(404)

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
