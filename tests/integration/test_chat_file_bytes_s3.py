"""Attached files' bytes in S3, through boto3 against a real S3-compatible server (moto's,
started by the tests): the same port contract as the local disk."""

from __future__ import annotations

import inspect

import pytest

from backend.stores.file_bytes import build_chat_file_bytes
from services.conversations import file_bytes_s3
from services.conversations.file_bytes import LocalFileBytes
from services.conversations.file_bytes_s3 import S3FileBytes, s3_client
from tests.conftest import make_settings
from tests.s3_server import S3Bucket
from use_cases.conversations.file_ports import FileBytes
from use_cases.shared.errors import ConfigurationError

A, B = "a" * 32, "b" * 32


def _store(bucket: S3Bucket, prefix: str = "files/") -> S3FileBytes:
    client = s3_client(endpoint_url=bucket.endpoint_url, region=None)
    return S3FileBytes(client, bucket.name, prefix)


def test_the_s3_store_offers_every_port_method() -> None:
    for name, method in inspect.getmembers(FileBytes, inspect.isfunction):
        if not name.startswith("_"):
            assert list(inspect.signature(getattr(S3FileBytes, name)).parameters) == list(
                inspect.signature(method).parameters
            ), name


def test_bytes_are_kept_under_the_chat_read_back_whole_and_replaced_whole(
    s3_bucket: S3Bucket,
) -> None:
    store = _store(s3_bucket)
    store.put("c1", A, b"hello")
    store.put("c1", A, b"hello again")
    store.put("c2", A, b"\x00\xffbinary")

    assert store.get("c1", A) == b"hello again"
    assert store.get("c2", A) == b"\x00\xffbinary"
    assert store.get("c1", B) is None  # never written
    assert s3_bucket.keys() == [f"files/c1/{A}", f"files/c2/{A}"]


def test_no_id_from_a_request_reaches_a_key(s3_bucket: S3Bucket) -> None:
    store = _store(s3_bucket)
    for chat, file_id in (("..", A), ("c1", "../../x"), ("c1/..", A), ("c1", ""), ("", A)):
        with pytest.raises(ValueError):
            store.put(chat, file_id, b"x")
        with pytest.raises(ValueError):
            store.get(chat, file_id)
    with pytest.raises(ValueError):
        store.delete_chat("c1/../c2")
    assert s3_bucket.keys() == []


def test_deleting_a_file_or_a_chat_removes_only_theirs(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_bytes_s3, "_DELETE_BATCH", 2)  # several DeleteObjects calls
    store = _store(s3_bucket)
    ids = [f"{n:032x}" for n in range(5)]
    for file_id in ids:
        store.put("c1", file_id, file_id.encode())
    store.put("c10", A, b"a chat whose id starts like c1's")
    store.put("c2", A, b"other")

    store.delete("c1", ids[0])
    store.delete("c1", B)  # nothing to delete is not an error
    assert store.get("c1", ids[0]) is None and store.get("c1", ids[1]) == ids[1].encode()

    store.delete_chat("c1")
    assert s3_bucket.keys() == [f"files/c10/{A}", f"files/c2/{A}"]
    store.delete_chat("c1")  # again: nothing left, no error


def test_settings_choose_the_bucket_and_a_bucket_that_cannot_be_used_stops_the_start(
    s3_bucket: S3Bucket, tmp_path
) -> None:
    def build(**settings: object) -> FileBytes:
        return build_chat_file_bytes(make_settings(tmp_path / "data", **settings))

    assert isinstance(build(), LocalFileBytes)
    chosen = build(chat_files_s3_bucket=s3_bucket.name, s3_endpoint_url=s3_bucket.endpoint_url)
    assert isinstance(chosen, S3FileBytes)
    chosen.put("c1", A, b"x")
    assert s3_bucket.keys() == [f"chat_files/c1/{A}"]  # the default prefix

    with pytest.raises(ConfigurationError) as refused:
        build(chat_files_s3_bucket="no-such-bucket", s3_endpoint_url=s3_bucket.endpoint_url)
    assert refused.value.detail.startswith(
        "CHAT_FILES_S3_BUCKET is 'no-such-bucket', and that bucket cannot be used: "
    )
    assert "404" in refused.value.detail or "Not Found" in refused.value.detail
