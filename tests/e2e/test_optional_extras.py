"""Optional backends are extras: without the `postgres`, `redis` or `s3` extra Almanac starts
and answers on SQLite, and a setting that needs a missing extra (a postgresql:// DATABASE_URL,
REDIS_URL, CHAT_FILES_S3_BUCKET) stops the start with an error naming the extra (simulated
here by a Python that cannot import the extra's modules, in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.config import PROJECT_ROOT

#: The top-level modules each extra installs (psycopg-binary and psycopg-pool come with
#: `psycopg[binary,pool]`).
EXTRAS = {
    "postgres": ("psycopg", "psycopg_binary", "psycopg_pool", "pgvector"),
    "redis": ("redis",),
    "s3": ("boto3", "botocore", "s3transfer"),
}

#: Makes the modules named in BLOCKED unimportable in the subprocess, as where the extras
#: are not installed.
WITHOUT = """
import importlib.abc, sys

class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, _NotInstalled())
"""

#: Without any extra: the app starts and imports none of them; each setting that needs one
#: stops it, naming the extra (one process for all: a cold start of the backend costs seconds).
BUILD_APP = """
import os
from backend.api.app import create_app
from backend.config import Settings
from use_cases.shared.errors import ConfigurationError

for setting, value in [(None, None), *SETTINGS]:
    if setting:
        os.environ[setting] = value
    try:
        create_app(Settings())
    except ConfigurationError as exc:
        print("refused:", exc.detail)
    else:
        print("started")
    if setting:
        del os.environ[setting]
print("imported:", sorted(name for name in BLOCKED if name in sys.modules))
"""

#: The SQLite app's first start (the bundled sample loads), a question answered offline
#: with citations, and which of the extras' modules were imported meanwhile.
ANSWER = """
import json
from fastapi.testclient import TestClient
from backend.api.app import create_app
from backend.config import Settings

with TestClient(create_app(Settings()), base_url="http://localhost") as client:
    reply = client.post("/chat", json={"message": "How often must passwords be rotated?"})
print(json.dumps({
    "status": reply.status_code,
    "reply": reply.json(),
    "imported": sorted(name for name in BLOCKED if name in sys.modules),
}))
"""

#: `almanac serve` with each setting that needs a missing extra, one after the other.
SERVE = """
import os
from backend.cli.main import app
for setting, value in SETTINGS:
    os.environ[setting] = value
    sys.argv = ['almanac', 'serve']
    print(f"== {setting}", file=sys.stderr, flush=True)
    try:
        app()
    except SystemExit as exc:
        print(f"{setting} exit {exc.code}", flush=True)
    else:
        print(f"{setting} served", flush=True)
    del os.environ[setting]
"""

#: (extra, setting, value): a setting that needs the extra.
NEEDS_AN_EXTRA = [
    ("postgres", "DATABASE_URL", "postgresql://almanac@127.0.0.1:5432/almanac"),
    ("redis", "REDIS_URL", "redis://127.0.0.1:6379/0"),
    ("s3", "CHAT_FILES_S3_BUCKET", "almanac-files"),
]
ALL_EXTRAS = tuple(module for modules in EXTRAS.values() for module in modules)


def _python(
    code: str, tmp_path: Path, *, without: tuple[str, ...], **env: str
) -> subprocess.CompletedProcess[str]:
    unset = {"REDIS_URL", "DATABASE_URL", "API_KEY", "CHAT_FILES_S3_BUCKET"}
    environ = {k: v for k, v in os.environ.items() if k not in unset}
    environ |= {"DATA_DIR": str(tmp_path / "data"), **env}
    blocked = f"BLOCKED = {set(without)!r}\n"
    blocked += f"SETTINGS = {[(setting, value) for _, setting, value in NEEDS_AN_EXTRA]!r}\n"
    return subprocess.run(
        [sys.executable, "-c", blocked + WITHOUT + code],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=environ,
        timeout=300,
        check=False,
    )


def test_without_the_extras_the_app_starts_never_imports_them_and_refuses_what_needs_one(
    tmp_path: Path,
) -> None:
    result = _python(BUILD_APP, tmp_path, without=ALL_EXTRAS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "started",
        *(
            f"refused: {setting} is set, and needs the `{extra}` extra, which is not installed: "
            f"pip install 'almanac[{extra}]' (or unset {setting})."
            for extra, setting, _ in NEEDS_AN_EXTRA
        ),
        "imported: []",
    ]


@pytest.mark.slow
def test_without_the_postgres_extra_the_sqlite_app_answers_with_citations(
    tmp_path: Path,
) -> None:
    result = _python(ANSWER, tmp_path, without=EXTRAS["postgres"] + EXTRAS["redis"])
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["status"] == 200, outcome
    reply = outcome["reply"]
    assert not reply["not_found"], reply
    assert "Change only on compromise" in reply["answer"] and "[1]" in reply["answer"], reply
    assert "password-policy-2025.md" in json.dumps(reply["sources"]), reply["sources"]
    assert outcome["imported"] == []


def test_almanac_serve_stops_with_the_same_message_and_no_traceback(tmp_path: Path) -> None:
    result = _python(SERVE, tmp_path, without=ALL_EXTRAS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:-1] == [
        f"{setting} exit 1" for _, setting, _ in NEEDS_AN_EXTRA
    ]
    errors = result.stderr.split("== ")[1:]
    assert len(errors) == len(NEEDS_AN_EXTRA)
    for (extra, setting, _), error in zip(NEEDS_AN_EXTRA, errors, strict=True):
        assert error.startswith(setting), error
        assert f"pip install 'almanac[{extra}]'" in error, error
    assert "Traceback" not in result.stderr
