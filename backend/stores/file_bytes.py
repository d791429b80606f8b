"""Where the bytes of files attached to chats live: the local disk (`CHAT_FILES_DIR`, the
default) or an S3 bucket (`CHAT_FILES_S3_BUCKET`, the `s3` extra)."""

from __future__ import annotations

from backend.config import Settings
from backend.extras import require_extra
from services.conversations.file_bytes import LocalFileBytes
from use_cases.conversations.file_ports import FileBytes
from use_cases.shared.errors import ConfigurationError


def build_chat_file_bytes(settings: Settings) -> FileBytes:
    """The store the settings name. A bucket that cannot be reached stops the start, naming
    it and S3's reason, rather than failing the first upload."""
    bucket = settings.chat_files.s3_bucket
    if bucket is None:
        return LocalFileBytes(settings.chat_files_path)
    require_extra("s3", "boto3", "CHAT_FILES_S3_BUCKET")
    from botocore.exceptions import BotoCoreError, ClientError

    from services.conversations.file_bytes_s3 import S3FileBytes, s3_client

    client = s3_client(
        endpoint_url=settings.chat_files.s3_endpoint_url, region=settings.chat_files.s3_region
    )
    store = S3FileBytes(client, bucket, settings.chat_files.s3_prefix)
    try:
        store.check()
    except (BotoCoreError, ClientError) as exc:
        raise ConfigurationError(
            f"CHAT_FILES_S3_BUCKET is {bucket!r}, and that bucket cannot be used: {exc}"
        ) from None
    return store
