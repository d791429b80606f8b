"""Optional backends are extras: without the `redis` extra Almanac starts, and REDIS_URL
then stops the start with an error naming the extra (simulated here by a Python that cannot
import `redis`, in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend.config import PROJECT_ROOT

#: Makes `redis` unimportable in the subprocess, as where the extra is not installed.
WITHOUT_REDIS = """
import importlib.abc, sys

class _NoRedis(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "redis":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, _NoRedis())
"""

BUILD_APP = """
from backend.api.app import create_app
from backend.config import Settings
from use_cases.shared.errors import ConfigurationError

try:
    create_app(Settings())
except ConfigurationError as exc:
    print("refused:", exc.detail)
else:
    print("started")
print("redis imported:", "redis" in sys.modules)
"""


def _python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    environ |= {"DATA_DIR": str(tmp_path / "data"), **env}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_REDIS + code],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=environ,
        timeout=120,
        check=False,
    )


def test_without_the_extra_the_app_starts_and_never_imports_redis(tmp_path: Path) -> None:
    result = _python(BUILD_APP, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["started", "redis imported: False"]


def test_redis_url_without_the_extra_is_refused_naming_the_extra(tmp_path: Path) -> None:
    result = _python(BUILD_APP, tmp_path, REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode == 0, result.stderr
    refused, _ = result.stdout.splitlines()
    assert refused == (
        "refused: REDIS_URL is set, and needs the `redis` extra, which is not installed: "
        "pip install 'almanac[redis]' (or unset REDIS_URL)."
    )


def test_almanac_serve_stops_with_the_same_message_and_no_traceback(tmp_path: Path) -> None:
    serve = "from backend.cli.main import app\nsys.argv = ['almanac', 'serve']\napp()\n"
    result = _python(serve, tmp_path, REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode != 0
    assert "pip install 'almanac[redis]'" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
