"""Optional backends, installed as extras of the package (`pip install 'almanac[postgres]'`,
`'almanac[redis]'`, `'almanac[s3]'`).

Rules: a setting that needs an extra (a postgresql:// `DATABASE_URL`: the `postgres` extra;
`REDIS_URL`: the `redis` extra; `CHAT_FILES_S3_BUCKET`: the `s3` extra) stops the start
with a `ConfigurationError` naming the setting and the extra to install, never an
`ImportError` deep in a request; without the setting, nothing of the extra is imported.
`make install` (and CI) install every extra.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType

from backend.config import Settings
from use_cases.shared.errors import ConfigurationError


def require_extra(extra: str, module: str, setting: str) -> ModuleType:
    """`module`, imported; or a `ConfigurationError` saying `setting` needs `extra`."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != module.split(".")[0]:
            raise  # the extra is there but broken: the real error says more
        raise ConfigurationError(
            f"{setting} is set, and needs the `{extra}` extra, which is not installed: "
            f"pip install 'almanac[{extra}]' (or unset {setting})."
        ) from None


#: The modules of each extra whose absence a setting must report (the first missing is named).
EXTRA_MODULES: dict[str, Sequence[str]] = {
    "postgres": ("psycopg", "psycopg_pool", "pgvector"),
    "redis": ("redis",),
    "s3": ("boto3",),
}


def require_postgres(setting: str = "DATABASE_URL") -> None:
    """The `postgres` extra's modules are importable; or the `ConfigurationError` naming it."""
    for module in EXTRA_MODULES["postgres"]:
        require_extra("postgres", module, setting)


def check_extras(settings: Settings) -> None:
    """Fail now if a setting needs an extra that is not installed."""
    if settings.storage.database_backend == "postgresql":
        require_postgres()
    if settings.storage.redis_url is not None:
        require_extra("redis", "redis", "REDIS_URL")
    if settings.chat_files.s3_bucket is not None:
        require_extra("s3", "boto3", "CHAT_FILES_S3_BUCKET")
