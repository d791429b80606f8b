"""The JSON depth budget (services/budgets.py): nesting is counted over the bytes
before any parser sees them, the same however the text is cut into pieces, with brackets
inside strings (and escaped quotes) not counted; an export, a whole text and a ZIP's member
nested past the limit are refused with `InputTooCostly` naming the limit."""

from __future__ import annotations

import io
import json
import random
import tracemalloc

import pytest

from services.budgets import (
    BUDGET,
    BoundedReader,
    JsonDepth,
    loads_bounded,
    stream_json_items,
)
from services.conversations.import_formats import ConversationFormatReader
from tests import hostile_inputs
from tests.conversation_exports import chatgpt_export
from use_cases.shared.errors import InputTooCostly

reader = ConversationFormatReader()


def _deepest(text: bytes) -> int:
    """The reference: one byte at a time."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text.decode():
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _fits(text: bytes, limit: int, cuts: list[int]) -> bool:
    depth = JsonDepth(limit, "x")
    try:
        for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True):
            depth.feed(text[start:end])
    except InputTooCostly:
        return False
    return True


_OUTSIDE = ["[", "]", "{", "}", "1", ",", ":", None]
_INSIDE = ["a", "[", "]", "{", "}", '\\"', "\\\\", "\\n", "\\u005b"]


def _text(rnd: random.Random) -> bytes:
    """Brackets and strings (holding brackets, escaped quotes and backslashes), maybe ending
    inside a string: what a valid JSON text's prefix is made of."""
    parts = []
    for _ in range(rnd.randint(0, 30)):
        part = rnd.choice(_OUTSIDE)
        if part is None:
            part = '"' + "".join(rnd.choices(_INSIDE, k=rnd.randint(0, 6))) + '"'
        parts.append(part)
    if rnd.random() < 0.2:
        parts.append('"' + "".join(rnd.choices(_INSIDE, k=rnd.randint(0, 6))))
    return "".join(parts).encode()


def test_the_depth_is_counted_alike_however_the_text_is_cut() -> None:
    rnd = random.Random(74)
    for _ in range(3000):
        text = _text(rnd)
        deepest = _deepest(text)
        cuts = sorted(rnd.sample(range(len(text) + 1), k=min(len(text) + 1, rnd.randint(0, 8))))
        assert _fits(text, deepest, cuts), (text, cuts, deepest)
        if deepest:
            assert not _fits(text, deepest - 1, cuts), (text, cuts, deepest)


def test_a_cut_between_a_backslash_and_what_it_escapes_is_read_across() -> None:
    text = json.dumps({"a": ['x"[[[', {"b": ["\\", '\\"{', [[1]]]}], "c": "]]]\\"}).encode()
    assert _deepest(text) == 6
    for cut in range(len(text) + 1):
        assert _fits(text, 6, [cut]) and not _fits(text, 5, [cut]), cut


def test_whole_text_past_the_limit_is_refused_before_it_is_parsed() -> None:
    nested = {"a": [[{"b": "[[[["}]]}
    assert loads_bounded(json.dumps(nested), "x", max_depth=4) == nested
    with pytest.raises(InputTooCostly, match="more than 3 deep") as caught:
        loads_bounded('{"a": [[{"b": 1}]]}', "The cookie", max_depth=3)
    assert caught.value.detail.startswith("The cookie nests")
    with pytest.raises(InputTooCostly, match=f"JSON depth limit is {BUDGET.max_json_depth}"):
        loads_bounded(hostile_inputs.deep_json(100_000), "x")  # json.loads: RecursionError
    with pytest.raises(json.JSONDecodeError):
        loads_bounded("{not json", "x")


@pytest.mark.parametrize(
    "export",
    [hostile_inputs.deep_json, hostile_inputs.deep_export_zip],
    ids=["conversations.json", "export ZIP"],
)
def test_a_deep_export_is_refused_before_the_streaming_parser_sees_it(export) -> None:
    """The parser's memory grows with the square of the depth (~24 GB for this one): refused
    with the depth named, having cost next to nothing."""
    data = export(100_000)
    tracemalloc.start()
    try:
        with pytest.raises(InputTooCostly, match="more than 256 deep") as caught:
            reader.parse_export("conversations.json", data)
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    assert "JSON depth limit" in caught.value.detail
    assert peak_mb < 50, f"{peak_mb:.0f} MB to refuse a {len(data):,}-byte export"


def test_a_stream_within_the_limit_is_read_whole_and_the_limit_is_the_callers() -> None:
    payload = b'[{"a": [[1]]}, {"b": "[[[[[["}]'
    stream = BoundedReader(io.BytesIO(payload), len(payload), "x", item_limit=1024)
    assert list(stream_json_items(stream, "x", max_depth=4).items) == [
        {"a": [[1]]},
        {"b": "[[[[[["},
    ]
    stream = BoundedReader(io.BytesIO(payload), len(payload), "x", item_limit=1024)
    with pytest.raises(InputTooCostly):
        list(stream_json_items(stream, "x", max_depth=3).items)


def test_a_real_export_reads_unchanged_under_the_depth_limit() -> None:
    export = chatgpt_export(50, turns=4)
    assert _deepest(export) < 16 < BUDGET.max_json_depth
    assert len(reader.parse_export("conversations.json", export)) == 50
