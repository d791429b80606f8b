"""Every reader of JSON a client (or a setting, or a provider) hands the server is planted with
text nested past the parser's recursion, in UTF-8 and in UTF-16/UTF-32, and must refuse it
with its own error (a 4xx at the edge), never let `RecursionError` out; bytes are decoded
strictly as UTF-8 (a byte-order mark dropped) before the depth is scanned, so the scan reads
what the parser reads.

The probe: `'["\u2200",' + '['*5000 + ']'*5000 + ']'` in UTF-16-LE scanned as depth 1 (its
`00 22` looks like a quote), then `json.loads(bytes)` (which detects UTF-16) raised
RecursionError: the sign-in cookie was a 500 with no key."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from backend.api.errors import status_for
from services.admin.oidc import OidcProvider
from services.budgets import BUDGET, json_text, loads_bounded
from services.chat.model_options import parse_model_options
from services.conversations.import_formats import ConversationFormatReader
from services.tables.reading import read_jsonl
from tests.conversation_exports import chatgpt_export
from use_cases.evaluation.domain import parse_dataset
from use_cases.knowledge.instructions import METADATA_KEY, withheld_of
from use_cases.shared.errors import (
    AlmanacError,
    ConfigurationError,
    InputTooCostly,
    UpstreamUnavailable,
)

DEPTH = 5_000
#: The probe's text: a string holding a non-ASCII character, then arrays nested 5,000 deep.
DEEP = '["\u2200",' + "[" * DEPTH + "]" * DEPTH + "]"
ENCODINGS = ["utf-16-le", "utf-16-be", "utf-16", "utf-32"]


def test_the_deep_text_really_is_past_the_parsers_recursion() -> None:
    """What makes every case below mean something: unbounded, each raises RecursionError."""
    for encoding in ["utf-8", *ENCODINGS]:
        with pytest.raises(RecursionError):
            json.loads(DEEP.encode(encoding))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_bytes_in_another_encoding_are_not_json(encoding: str) -> None:
    """Not UTF-8, or (UTF-16 of ASCII is valid UTF-8 with NULs) scanned as the text that
    decoding gives, the one the parser reads: refused either way, never parsed as UTF-16."""
    with pytest.raises((json.JSONDecodeError, InputTooCostly)):
        loads_bounded(DEEP.encode(encoding), "x")
    with pytest.raises(json.JSONDecodeError):
        loads_bounded('{"a": 1}'.encode(encoding), "x")  # even a harmless one: JSON is UTF-8


def test_the_depth_is_scanned_over_the_decoded_text() -> None:
    for text in (DEEP, DEEP.encode(), b"\xef\xbb\xbf" + DEEP.encode(), "\ufeff" + DEEP):
        with pytest.raises(InputTooCostly, match=f"JSON depth limit is {BUDGET.max_json_depth}"):
            loads_bounded(text, "x")


def test_a_utf8_byte_order_mark_is_dropped() -> None:
    assert loads_bounded(b'\xef\xbb\xbf{"a": "\xe2\x88\x80"}', "x") == {"a": "\u2200"}
    assert loads_bounded('\ufeff["b"]', "x") == ["b"]
    assert json_text(b"\xef\xbb\xbf[]") == "[]"
    assert json_text(b"[]\xef\xbb\xbf") == "[]\ufeff"  # only a leading one


def test_the_sign_in_cookie_reader_counts_another_encoding_as_no_cookie() -> None:
    """`backend/api/routes/oidc.py` catches ValueError (JSONDecodeError) and InputTooCostly."""
    for encoding in ENCODINGS:
        with pytest.raises((ValueError, InputTooCostly)):
            loads_bounded(DEEP.encode(encoding), "The sign-in cookie")


@pytest.mark.parametrize("encoding", ["utf-8", *ENCODINGS])
def test_a_jsonl_table_file_is_refused_with_a_4xx(tmp_path: Path, encoding: str) -> None:
    file = tmp_path / "rows.jsonl"
    file.write_bytes(('{"id": 1}\n{"id": 2, "tags": ' + DEEP + "}\n").encode(encoding))
    with pytest.raises(AlmanacError) as caught:
        list(read_jsonl(file).rows())  # counted on reading, then read again
    assert 400 <= status_for(caught.value) < 500


def test_a_jsonl_table_file_may_start_with_a_byte_order_mark(tmp_path: Path) -> None:
    file = tmp_path / "rows.jsonl"
    file.write_bytes(b'\xef\xbb\xbf{"id": 1}\n{"id": 2}\n')
    read = read_jsonl(file)
    assert (read.headers, list(read.rows())) == (["id"], [[1], [2]])


@pytest.mark.parametrize("encoding", ["utf-8", *ENCODINGS])
def test_an_export_file_is_refused_with_a_4xx(encoding: str) -> None:
    with pytest.raises(AlmanacError) as caught:
        ConversationFormatReader().parse_export("conversations.json", DEEP.encode(encoding))
    assert 400 <= status_for(caught.value) < 500


def test_an_export_file_may_start_with_a_byte_order_mark() -> None:
    export = chatgpt_export(3)
    reader = ConversationFormatReader()
    assert len(reader.parse_export("conversations.json", b"\xef\xbb\xbf" + export)) == 3


def test_a_share_pages_embedded_data_is_skipped_not_raised() -> None:
    html = '<html><script type="application/json" id="__NEXT_DATA__">' + DEEP + "</script></html>"
    with pytest.raises(AlmanacError) as caught:
        ConversationFormatReader().parse_page("https://chatgpt.com/share/x", html)
    assert 400 <= status_for(caught.value) < 500


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_evaluation_dataset_is_refused_with_a_4xx(fmt: str) -> None:
    if fmt == "jsonl":
        text = '{"question": "q", "expected_sources": ' + DEEP + "}\n"
    else:
        text = 'question,expected_sources\nq,"' + DEEP.replace('"', '""') + '"\n'
    with pytest.raises(AlmanacError) as caught:
        parse_dataset(text, fmt=fmt, origin="cases")  # type: ignore[arg-type]  # a format as a request names it
    assert 400 <= status_for(caught.value) < 500


def test_a_documents_withheld_instructions_metadata_reads_as_none() -> None:
    assert withheld_of({METADATA_KEY: DEEP}) == []


def test_the_model_options_setting_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="MODEL_OPTIONS is not valid JSON"):
        parse_model_options(DEEP)


def test_a_sign_in_providers_document_is_an_upstream_error() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=DEEP.encode(), headers={"content-type": "text/json"})

    provider = OidcProvider(
        "https://issuer.example", "client", "secret", transport=httpx.MockTransport(reply)
    )
    with pytest.raises(UpstreamUnavailable, match="could not be read"):
        asyncio.run(provider._get_json("https://issuer.example/jwks"))
