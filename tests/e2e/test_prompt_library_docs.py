"""The `curl` examples of docs/prompt-library.md run, in order, against a live server
(development mode). A command whose comment names an example id (`# id: proj_...`,
`# run_id: run_...`) creates it: the real id it answers replaces the example in the commands
after it, and a run is waited for before the next command (the comparison needs it done)."""

from __future__ import annotations

import json
import re
import time

import httpx

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.config import PROJECT_ROOT
from tests.e2e.test_readme import _check, _run_curl
from tests.live_server import serve

DOC = (PROJECT_ROOT / "docs" / "prompt-library.md").read_text()
_NAMES = re.compile(r"#\s*(id|run_id):\s*(\S+)")


def _curl_lines() -> list[tuple[str, tuple[str, str] | None]]:
    """(command, (field, example id) or None) for each curl line, in order."""
    blocks = re.findall(r"```bash\n(.*?)```", DOC, flags=re.S)
    lines: list[tuple[str, tuple[str, str] | None]] = []
    for line in (line for block in blocks for line in block.splitlines()):
        command, _, comment = line.partition("  #")
        if command.strip().startswith("curl "):
            named = _NAMES.search("#" + comment) if comment else None
            lines.append((command.strip(), (named[1], named[2]) if named else None))
    return lines


def _wait_for(url: str, run_id: str) -> None:
    for _ in range(3000):
        status = httpx.get(f"{url}/api/v1/eval-runs/{run_id}").json()["status"]
        if status not in ("queued", "running"):
            assert status == "completed"
            return
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish")


def test_prompt_library_doc_curl_examples_work_against_a_live_server(
    container: Container,
) -> None:
    lines = _curl_lines()
    assert len(lines) >= 20 and sum(1 for _, named in lines if named) == 8
    real: dict[str, str] = {}
    with serve(create_app(container=container)) as url:
        for command, named in lines:
            for example, actual in real.items():
                command = command.replace(example, actual)
            result = _run_curl(command, url, {})
            _check(command, result)
            if named is not None:
                field, example = named
                real[example] = json.loads(result.stdout)[field]
                if field == "run_id":
                    _wait_for(url, real[example])
    stats = container.prompts.prompt_library.find_version(real["prm_1a2b3c4d5e6f"], 3).stats
    assert stats.runs == 1 and stats.cases == 2
    assert stats.last_completed_run_id == real["run_7e6d5c4b3a21"]
