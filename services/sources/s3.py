"""An S3 bucket (or a prefix of one) as a synced source: AWS S3 or any S3-compatible store
(MinIO, Ceph, Cloudflare R2), through boto3 (the `s3` extra).

Rules:
- The location is `s3://BUCKET/PREFIX` (the prefix may be empty). Every object under the
  prefix whose type the loaders read is an item, keyed by its key after the prefix; "folder"
  markers (keys ending in `/`) and hidden parts are skipped.
- The listing is paginated (`ListObjectsV2`, `page_size` keys a page) and read as it comes:
  a page that cannot be had fails the listing (`ListingFailed`), so the sync removes nothing.
- An item's version is its ETag and size; an unchanged one is never downloaded. A changed
  one is read with `IfMatch` on the listed ETag, so an object replaced between the listing
  and the read is a failed item (read at the next sync), never a mix of two versions; a body
  shorter or longer than the listed size is refused the same way.
- Credentials come from boto3's own chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, a
  profile, an instance role), never from Almanac's settings, and are never logged: errors
  are reported by their S3 error code and message only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from services.sources.kinds import SourceContext, hidden
from use_cases.shared.errors import InvalidRequest
from use_cases.sources.domain import SourceSpec
from use_cases.sources.ports import (
    Fetched,
    ItemFailed,
    ListingFailed,
    SourceEvent,
    Unchanged,
)

if TYPE_CHECKING:  # the `s3` extra
    from botocore.client import BaseClient

__all__ = ["S3Kind", "S3Reader", "parse_location"]

#: Keys a listing page asks for (S3's own maximum).
PAGE_SIZE = 1000


def parse_location(location: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://BUCKET/PREFIX`, or `InvalidRequest`."""
    parts = urlsplit(location.strip())
    bucket = parts.netloc
    if parts.scheme != "s3" or not bucket or parts.query or parts.fragment:
        raise InvalidRequest(
            f"{location!r} is not an S3 location: write s3://BUCKET or s3://BUCKET/PREFIX."
        )
    if not (3 <= len(bucket) <= 63) or not all(c.isalnum() or c in ".-_" for c in bucket):
        raise InvalidRequest(f"{bucket!r} is not an S3 bucket name.")
    return bucket, parts.path.lstrip("/")


class S3Kind:
    name = "s3"

    def __init__(
        self, context: SourceContext, client: Callable[[], BaseClient] | None = None
    ) -> None:
        self._context = context
        self._client = client

    def check(self, location: str, *, local: bool) -> str:
        bucket, prefix = parse_location(location)
        self._make_client()  # the `s3` extra is missing: say so now, not at the first sync
        return f"s3://{bucket}/{prefix}"

    def reader(self, spec: SourceSpec) -> S3Reader:
        bucket, prefix = parse_location(spec.location)
        return S3Reader(
            self._make_client(),
            bucket,
            prefix,
            self._context.supports,
            self._context.max_item_bytes,
        )

    def _make_client(self) -> Any:
        if self._client is not None:
            return self._client()
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise InvalidRequest(
                "S3 sources need the `s3` extra: pip install 'almanac[s3]'."
            ) from None
        return boto3.client(
            "s3",
            endpoint_url=self._context.s3_endpoint_url,
            region_name=self._context.s3_region,
            config=Config(retries={"mode": "standard", "max_attempts": 5}),
        )


class S3Reader:
    def __init__(
        self,
        client: BaseClient,
        bucket: str,
        prefix: str,
        supports: Callable[[str], bool],
        max_bytes: int,
        *,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._s3: Any = client
        self._bucket = bucket
        self._prefix = prefix
        self._supports = supports
        self._max_bytes = max_bytes
        self._page_size = page_size

    def read(self, previous: Mapping[str, str]) -> Iterator[SourceEvent]:
        for item in self._objects():
            key = str(item["Key"])[len(self._prefix) :]
            name = key.rsplit("/", 1)[-1]
            if not key or key.endswith("/") or hidden(key) or not self._supports(name):
                continue
            size = int(item.get("Size", 0))
            etag = str(item.get("ETag", "")).strip('"')
            version = f"{etag}:{size}"
            if previous.get(key) == version:
                yield Unchanged(key)
            elif size > self._max_bytes:
                yield ItemFailed(key, f"{size:,} bytes, more than the {self._max_bytes:,} allowed")
            else:
                yield self._fetch(key, str(item["Key"]), name, etag, size, version)

    def _objects(self) -> Iterator[Mapping[str, Any]]:
        token: str | None = None
        while True:
            ask: dict[str, Any] = {
                "Bucket": self._bucket,
                "Prefix": self._prefix,
                "MaxKeys": self._page_size,
            }
            if token:
                ask["ContinuationToken"] = token
            try:
                page = self._s3.list_objects_v2(**ask)
            except Exception as exc:  # botocore's errors: a page not had fails the listing
                raise ListingFailed(
                    f"listing s3://{self._bucket}/{self._prefix} failed: {_described(exc)}"
                ) from None
            yield from page.get("Contents", ())
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def _fetch(
        self, key: str, object_key: str, name: str, etag: str, size: int, version: str
    ) -> SourceEvent:
        try:
            reply = self._s3.get_object(Bucket=self._bucket, Key=object_key, IfMatch=f'"{etag}"')
            body = reply["Body"]
            try:
                content = bytes(body.read(self._max_bytes + 1))
            finally:
                body.close()
        except Exception as exc:
            if _code(exc) == "PreconditionFailed":
                return ItemFailed(
                    key, "the object changed while it was read; the next sync reads it"
                )
            return ItemFailed(key, f"cannot read: {_described(exc)}")
        if len(content) != size:
            return ItemFailed(key, "the object changed while it was read; the next sync reads it")
        return Fetched(key=key, name=name, content=content, version=version)


def _code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or "") or None
    return None


def _described(exc: Exception) -> str:
    """An S3 error by its code and message (botocore's text holds no credentials; other
    errors by their type and text, such as a connection refused)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        error = response["Error"]
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip(": ")
    return f"{type(exc).__name__}: {exc}"
