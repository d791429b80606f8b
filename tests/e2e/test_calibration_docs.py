"""The `curl` examples of docs/calibration.md run against a live server (development mode),
with the example `response_id` they use logged as an answer of the local user."""

from __future__ import annotations

import re

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.config import PROJECT_ROOT
from services.calibration import ResponseLog
from tests.conftest import FixedClock
from tests.e2e.test_readme import _check, _run_curl
from tests.live_server import serve
from use_cases.access.domain import Caller
from use_cases.confidence.domain import LoggedResponse

DOC = (PROJECT_ROOT / "docs" / "calibration.md").read_text()
EXAMPLE_ID = "resp_3f9c0a7d1e2b4c5a6d7e8f90"


def _curl_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC, flags=re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("curl ")]


def test_calibration_doc_curl_examples_work_against_a_live_server(container: Container) -> None:
    log = ResponseLog(container.settings.storage.app_db_path)
    try:
        log.add(
            LoggedResponse(
                EXAMPLE_ID,
                container.settings.auth.default_user_id,
                "chat",
                "How often must passwords be rotated?",
                "Every 90 days [1].",
                0.62,
                0.62,
                "high",
                "offline-extractive",
                True,
                42,
                FixedClock().now(),
            )
        )
    finally:
        log.close()
    commands = _curl_commands()
    assert len(commands) >= 8 and any("/feedback" in c for c in commands)
    with serve(create_app(container=container)) as url:
        for command in commands:
            _check(command, _run_curl(command, url, {}))
    local = Caller(container.settings.auth.default_user_id, "admin", None)
    latest = container.calibration.recent.list(local, limit=1)[0]
    assert latest.response_id == EXAMPLE_ID
    assert latest.feedback is None  # given twice (the second replacing the first), withdrawn
