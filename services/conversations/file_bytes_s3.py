"""`FileBytes` in an S3 bucket (AWS S3 or any S3-compatible store: MinIO, Ceph, R2 ...):
the object `<prefix><chat id>/<file id>`, through boto3, S3's own client.

Chosen with `CHAT_FILES_S3_BUCKET` (needs the `s3` extra); credentials come from boto3's
usual chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, a profile, an instance role),
never from Almanac's settings. Replicas that share a PostgreSQL database share the bucket,
so they need no shared directory.

Ids are checked again here, as on the local disk, so no name from a request reaches a key.
A `PutObject` is atomic (a reader sees the whole object or none), which is what the port
asks of `put`. boto3 retries throttling and dropped connections itself (its standard retry
mode); an error it gives up on propagates, and the caller reports the upload as failed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from use_cases.conversations.files_domain import is_file_id

if TYPE_CHECKING:  # the `s3` extra: imported when CHAT_FILES_S3_BUCKET is set
    from botocore.client import BaseClient

__all__ = ["S3FileBytes", "s3_client"]

_CHAT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: DeleteObjects takes at most this many keys a call.
_DELETE_BATCH = 1000


def s3_client(*, endpoint_url: str | None, region: str | None) -> BaseClient:
    """An S3 client with boto3's standard retries; `endpoint_url` for an S3-compatible store."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )


class S3FileBytes:
    """`FileBytes` under `prefix` in `bucket`; safe for many threads (boto3 clients are)."""

    def __init__(self, client: BaseClient, bucket: str, prefix: str = "") -> None:
        self._s3: Any = client
        self._bucket = bucket
        self._prefix = prefix

    def check(self) -> None:
        """Raise if the bucket cannot be reached with these credentials (at start-up)."""
        self._s3.head_bucket(Bucket=self._bucket)

    def put(self, chat_id: str, file_id: str, data: bytes) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=self._key(chat_id, file_id), Body=data)

    def get(self, chat_id: str, file_id: str) -> bytes | None:
        try:
            reply = self._s3.get_object(Bucket=self._bucket, Key=self._key(chat_id, file_id))
        except self._s3.exceptions.NoSuchKey:
            return None
        body = reply["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    def delete(self, chat_id: str, file_id: str) -> None:
        # S3 answers a delete of a missing key with success, as the port asks.
        self._s3.delete_object(Bucket=self._bucket, Key=self._key(chat_id, file_id))

    def delete_chat(self, chat_id: str) -> None:
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=self._chat_prefix(chat_id)
        )
        keys = [item["Key"] for page in pages for item in page.get("Contents", ())]
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            reply = self._s3.delete_objects(
                Bucket=self._bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            if reply.get("Errors"):
                first = reply["Errors"][0]
                raise OSError(
                    f"S3 did not delete {len(reply['Errors'])} object(s) of chat {chat_id}: "
                    f"{first.get('Code')} {first.get('Message')}"
                )

    def _chat_prefix(self, chat_id: str) -> str:
        if _CHAT_ID.fullmatch(chat_id) is None:
            raise ValueError(f"Not a chat id: {chat_id!r}")
        return f"{self._prefix}{chat_id}/"

    def _key(self, chat_id: str, file_id: str) -> str:
        if not is_file_id(file_id):
            raise ValueError(f"Not a file id: {file_id!r}")
        return self._chat_prefix(chat_id) + file_id
