"""A real S3-compatible server for the tests, on any machine with only Python: moto's
server (a dev dependency), started once per test session on a free local port and stopped
at the end. It speaks S3's HTTP API, so the adapter under test goes through boto3's real
client, signing and retries included; it accepts any credentials.

`s3_bucket` gives each test a bucket of its own and the AWS environment boto3 reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

#: Credentials the server accepts (any would do); set for each test that asks for a bucket.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "almanac-test",
    "AWS_SECRET_ACCESS_KEY": "almanac-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class S3Bucket:
    endpoint_url: str
    name: str

    def client(self) -> Any:  # botocore generates the client's class at run time
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1")

    def keys(self) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in listed.get("Contents", ()))


@pytest.fixture(scope="session")
def s3_endpoint_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint_url: str, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    bucket = S3Bucket(s3_endpoint_url, f"almanac-{uuid.uuid4().hex[:16]}")
    bucket.client().create_bucket(Bucket=bucket.name)
    return bucket
