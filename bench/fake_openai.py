"""A minimal, fast OpenAI-compatible server that answers with plain text at a fixed token rate.

    .venv/bin/python -m bench.fake_openai --port 8900 --tokens 20 --interval-ms 10

Endpoints (HTTP/1.1 with keep-alive, loopback only by default):

- `POST /v1/chat/completions` with `"stream": true`: SSE `chat.completion.chunk` events: one
  chunk with the assistant role, then `--tokens` content chunks `--interval-ms` apart (the
  first one interval after the role chunk, on a fixed schedule so delays do not add up), a
  chunk with `finish_reason: "stop"`, a usage chunk when `stream_options.include_usage` is
  set, and `data: [DONE]`. The body is sent with chunked transfer encoding, one HTTP chunk per
  event.
- the same without `stream`: one `chat.completion` JSON after `tokens * interval`.
- `GET /v1/models`: the one model, for sanity checks.
- `POST /v1/embeddings`: a vector of `--embedding-dimension` numbers per input, the same for
  the same text (derived from its hash; they carry no meaning). With `--stall-embeddings WORD`
  a request with an input containing WORD gets no answer (the client's timeout ends it): a
  test can stop an ingestion at a known place, whatever the machine's speed. The stall can be
  watched and lifted: `GET /control/stalled` (requests held now), `POST /control/release`
  (answer them, stall no more), `POST /control/stall` (stall again).

The answer is always plain text (never a tool call), so an agent finishes in one model request.
It is a raw asyncio server (no framework): a few microseconds per request, so what a benchmark
measures through it is the client's overhead, not the fake's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 8 * 1024 * 1024
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


@dataclass(frozen=True)
class FakeConfig:
    tokens: int = 20
    interval_s: float = 0.010
    model: str = "fake-model"
    embedding_dimension: int = 64
    stall_embeddings: str | None = None

    def token(self, index: int) -> str:
        return f"word{index} " if index + 1 < self.tokens else f"word{index}."

    @property
    def answer(self) -> str:
        return "".join(self.token(i) for i in range(self.tokens))


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _sse_chunk(payload: bytes) -> bytes:
    """One SSE event as one HTTP/1.1 chunk."""
    data = b"data: " + payload + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


def _usage(config: FakeConfig, prompt_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": config.tokens,
        "total_tokens": prompt_tokens + config.tokens,
    }


def _prompt_tokens(request: dict[str, Any]) -> int:
    """A rough, cheap stand-in for a token count (characters / 4)."""
    return max(1, len(json.dumps(request.get("messages", []))) // 4)


class FakeOpenAI:
    def __init__(self, config: FakeConfig) -> None:
        self.config = config
        self._stalling = config.stall_embeddings is not None
        self._released = asyncio.Event()
        self._stalled = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed an idle keep-alive connection
                method, target, version, headers = _parse_head(head)
                body = await _read_body(reader, headers)
                connection = headers.get("connection", "").lower()
                keep_alive = (
                    connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
                )
                await self.route(method, target.split("?", 1)[0], body, writer, keep_alive)
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            return
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def route(
        self, method: str, path: str, body: bytes, writer: asyncio.StreamWriter, keep_alive: bool
    ) -> None:
        path = path.rstrip("/")
        if path.startswith("/control/"):
            await self.control(method, path, writer, keep_alive)
        elif path == "/v1/models" and method == "GET":
            models = {
                "object": "list",
                "data": [
                    {"id": self.config.model, "object": "model", "created": 0, "owned_by": "bench"}
                ],
            }
            await _send_json(writer, 200, models, keep_alive)
        elif path in ("/v1/chat/completions", "/v1/embeddings") and method == "POST":
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                await _send_error(writer, 400, "The body is not JSON.", keep_alive)
                return
            if path == "/v1/embeddings":
                await self.embed(request, writer, keep_alive)
            elif request.get("stream"):
                await self.stream(request, writer, keep_alive)
            else:
                await self.complete(request, writer, keep_alive)
        elif path in ("/v1/models", "/v1/chat/completions", "/v1/embeddings"):
            await _send_error(writer, 405, f"{method} is not allowed on {path}.", keep_alive)
        else:
            await _send_error(writer, 404, f"No route {path}.", keep_alive)

    async def embed(
        self, request: dict[str, Any], writer: asyncio.StreamWriter, keep_alive: bool
    ) -> None:
        inputs = request.get("input")
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            await _send_error(
                writer, 400, "input must be a string or a list of strings.", keep_alive
            )
            return
        stall = self.config.stall_embeddings
        if stall and self._stalling and any(stall in text for text in texts):
            self._stalled += 1
            try:  # unanswered until released (or cancelled when the client leaves)
                await self._released.wait()
            finally:
                self._stalled -= 1
        dimension = int(request.get("dimensions") or self.config.embedding_dimension)
        data = [
            {"object": "embedding", "index": i, "embedding": _fake_vector(text, dimension)}
            for i, text in enumerate(texts)
        ]
        tokens = sum(max(1, len(text) // 4) for text in texts)
        response = {
            "object": "list",
            "data": data,
            "model": request.get("model", self.config.model),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        await _send_json(writer, 200, response, keep_alive)

    async def control(
        self, method: str, path: str, writer: asyncio.StreamWriter, keep_alive: bool
    ) -> None:
        """`GET /control/stalled`: embeddings requests held now; `POST /control/release`:
        answer them and stop stalling; `POST /control/stall`: stall again from now on."""
        if path == "/control/stalled" and method == "GET":
            await _send_json(writer, 200, {"stalled": self._stalled}, keep_alive)
        elif path == "/control/release" and method == "POST":
            self._stalling = False
            self._released.set()
            await _send_json(writer, 200, {"released": True}, keep_alive)
        elif path == "/control/stall" and method == "POST":
            self._stalling = True
            self._released = asyncio.Event()
            await _send_json(writer, 200, {"stalling": True}, keep_alive)
        else:
            await _send_error(writer, 404, f"No route {path}.", keep_alive)

    async def complete(
        self, request: dict[str, Any], writer: asyncio.StreamWriter, keep_alive: bool
    ) -> None:
        config = self.config
        await asyncio.sleep(config.tokens * config.interval_s)
        response = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model") or config.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": config.answer, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(config, _prompt_tokens(request)),
        }
        await _send_json(writer, 200, response, keep_alive)

    async def stream(
        self, request: dict[str, Any], writer: asyncio.StreamWriter, keep_alive: bool
    ) -> None:
        config = self.config
        loop = asyncio.get_running_loop()
        started = loop.time()
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": request.get("model") or config.model,
        }
        # Everything around the delta is the same in every chunk: encode it once.
        prefix = _dumps(base)[:-1] + b',"choices":[{"index":0,"delta":'
        suffix = b',"logprobs":null,"finish_reason":null}]}'
        stop = b',"logprobs":null,"finish_reason":"stop"}]}'

        head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
            b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n"
            + (b"" if keep_alive else b"connection: close\r\n")
            + b"\r\n"
        )
        role = _sse_chunk(prefix + b'{"role":"assistant","content":""}' + suffix)
        writer.write(head + role)
        await writer.drain()
        for index in range(config.tokens):
            delay = started + (index + 1) * config.interval_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            delta = b'{"content":' + _dumps(config.token(index)) + b"}"
            writer.write(_sse_chunk(prefix + delta + suffix))
            await writer.drain()
        tail = [_sse_chunk(prefix + b"{}" + stop)]
        if (request.get("stream_options") or {}).get("include_usage"):
            usage: dict[str, Any] = {
                **base,
                "choices": [],
                "usage": _usage(config, _prompt_tokens(request)),
            }
            tail.append(_sse_chunk(_dumps(usage)))
        tail.append(_sse_chunk(b"[DONE]"))
        tail.append(b"0\r\n\r\n")
        writer.write(b"".join(tail))
        await writer.drain()


def _fake_vector(text: str, dimension: int) -> list[float]:
    """`dimension` numbers in [-1, 1] from the text's hash (SHAKE-256, as many bytes as needed)."""
    digest = hashlib.shake_256(text.encode()).digest(dimension)
    return [(byte - 127.5) / 127.5 for byte in digest]


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    if len(head) > MAX_HEADER_BYTES:
        raise ValueError("header too large")
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return method, target, version, headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
            if sum(map(len, parts)) > MAX_BODY_BYTES:
                raise ValueError("body too large")
    length = int(headers.get("content-length", "0") or 0)
    if length > MAX_BODY_BYTES:
        raise ValueError("body too large")
    return await reader.readexactly(length) if length else b""


async def _send_json(
    writer: asyncio.StreamWriter, status: int, value: Any, keep_alive: bool
) -> None:
    body = _dumps(value)
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        + ("" if keep_alive else "connection: close\r\n")
        + "\r\n"
    ).encode()
    writer.write(head + body)
    await writer.drain()


async def _send_error(writer: asyncio.StreamWriter, status: int, text: str, keep: bool) -> None:
    error = {"error": {"message": text, "type": "invalid_request_error", "code": None}}
    await _send_json(writer, status, error, keep)


async def serve(host: str, port: int, config: FakeConfig) -> None:
    app = FakeOpenAI(config)
    server = await asyncio.start_server(
        app.handle, host, port, limit=MAX_HEADER_BYTES, reuse_address=True, backlog=512
    )
    bound = server.sockets[0].getsockname()
    print(
        f"fake OpenAI on http://{bound[0]}:{bound[1]}/v1 "
        f"({config.tokens} tokens, {config.interval_s * 1000:g} ms apart)",
        flush=True,
    )
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--tokens", type=int, default=20, help="content chunks per answer")
    parser.add_argument("--interval-ms", type=float, default=10.0, help="time between chunks")
    parser.add_argument("--model", default="fake-model", help="model id for GET /v1/models")
    parser.add_argument("--embedding-dimension", type=int, default=64)
    parser.add_argument(
        "--stall-embeddings",
        metavar="WORD",
        help="never answer an embeddings request with an input containing WORD",
    )
    args = parser.parse_args(argv)
    if args.tokens < 1 or args.interval_ms < 0 or args.embedding_dimension < 1:
        parser.error("--tokens and --embedding-dimension must be >= 1, --interval-ms >= 0")
    config = FakeConfig(
        tokens=args.tokens,
        interval_s=args.interval_ms / 1000,
        model=args.model,
        embedding_dimension=args.embedding_dimension,
        stall_embeddings=args.stall_embeddings,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, config))


if __name__ == "__main__":
    main()
