"""The request head's meter (backend/http_server.py): the same verdict however the head's
bytes are cut into pieces, lines counted across pieces, and only the head counted (not the
body after its blank line)."""

from __future__ import annotations

import random

from backend.config import Settings
from backend.http_server import PROTOCOL, BoundedH11Protocol, HeadLimits, HeadMeter


def _verdict(data: bytes, cuts: list[int], max_line: int, max_total: int) -> str | None:
    meter = HeadMeter(max_line, max_total)
    for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
        verdict = meter.feed(data[start:end])
        if verdict is not None:
            return "line" if "line is longer" in verdict else "head"
    return None


def _reference(data: bytes, max_line: int, max_total: int) -> str | None:
    ends = [i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n"), data.find(b"\n\r\n")) if i >= 0]
    head = data[: min(ends)] if ends else data
    if max_total and len(head) > max_total:
        return "head"
    if max_line and max(map(len, head.split(b"\n"))) > max_line:
        return "line"
    return None


def test_the_verdict_does_not_depend_on_how_the_head_is_cut() -> None:
    rnd = random.Random(431)
    for _ in range(3000):
        lines = [b"x" * rnd.randint(0, 40) for _ in range(rnd.randint(1, 8))]
        data = b"\r\n".join(lines)
        if rnd.random() < 0.6:
            data += rnd.choice([b"\r\n\r\n", b"\n\n", b"\r\n\n"]) + b"y" * rnd.randint(0, 200)
        max_line, max_total = rnd.randint(0, 40), rnd.randint(0, 200)
        cuts = sorted(rnd.sample(range(len(data) + 1), k=min(len(data) + 1, rnd.randint(0, 6))))
        expected = _reference(data, max_line, max_total)
        got = _verdict(data, cuts, max_line, max_total)
        assert (got is None) == (expected is None), (data, cuts, max_line, max_total)
        if expected == "line" and not (max_total and len(data) > max_total):
            assert got == "line", (data, cuts, max_line, max_total)


def test_a_body_after_the_head_is_not_counted() -> None:
    meter = HeadMeter(100, 200)
    assert meter.feed(b"POST / HTTP/1.1\r\nHost: a\r\n\r\n" + b"z" * 10_000) is None
    assert meter.done


def test_the_limits_come_from_the_settings_and_name_the_pinned_protocol() -> None:
    settings = Settings(_env_file=None, max_header_bytes=1234, header_timeout_s=3)
    limits = HeadLimits.of(settings.http)
    assert (limits.max_header_bytes, limits.header_timeout_s) == (1234, 3)
    options = limits.uvicorn_options()
    assert options["http"] == PROTOCOL == "backend.http_server:BoundedH11Protocol"
    module, name = PROTOCOL.split(":")
    assert getattr(__import__(module, fromlist=[name]), name) is BoundedH11Protocol
