"""Compressed responses for clients that accept them (starlette-compress: zstd, br, gzip).

Rules: every response of a compressible text type (HTML, JavaScript, CSS, JSON, problem
details, SVG, ...) of at least `MINIMUM_BYTES` is compressed with the best encoding the
client accepts (`Accept-Encoding`: zstd, then br, then gzip), and says so in `Vary`. The
streams are never compressed: an answer's events (`text/event-stream`, and the v4 data
stream's `text/plain`) must reach the client one by one, as they are written, and a
compressor holds bytes back until it has enough to encode.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette_compress import CompressMiddleware, remove_compress_type

#: Smaller responses are sent as they are: compressing them saves too little to pay.
MINIMUM_BYTES = 500

#: Content types that stream an answer event by event (see the module docstring).
STREAMED_TYPES = ("text/event-stream", "text/plain")


def install_compression(app: FastAPI) -> None:
    """Compress `app`'s text responses (call it where the middleware belongs in the stack)."""
    for content_type in STREAMED_TYPES:
        remove_compress_type(content_type)  # starlette-compress keeps one list per process
    app.add_middleware(CompressMiddleware, minimum_size=MINIMUM_BYTES)
