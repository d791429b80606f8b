"""The `curl` examples of docs/conversation-drafts.md run, in order, against a live server
(development mode, no sample knowledge base: drafts read conversations only). A command whose
comment names an example id (`# chat_id: ...`) creates it: the real id it answers replaces the
example in the commands after it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from backend.config import PROJECT_ROOT
from tests.conftest import FixedClock, make_settings
from tests.e2e.test_readme import _check, _run_curl
from tests.live_server import serve

DOC = (PROJECT_ROOT / "docs" / "conversation-drafts.md").read_text()
_NAMES = re.compile(r"#\s*(chat_id):\s*(\S+)")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _undated(export: str) -> list[str]:
    """The export's lines without its message lines, every date as "YYYY-MM-DD"."""
    return [
        _DATE.sub("YYYY-MM-DD", line)
        for line in export.splitlines()
        if not line.startswith("- message ")
    ]


def _curl_lines() -> list[tuple[str, tuple[str, str] | None]]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC, flags=re.S)
    lines: list[tuple[str, tuple[str, str] | None]] = []
    for line in (line for block in blocks for line in block.splitlines()):
        command, _, comment = line.partition("  #")
        if command.strip().startswith("curl "):
            named = _NAMES.search("#" + comment) if comment else None
            lines.append((command.strip(), (named[1], named[2]) if named else None))
    return lines


@pytest.fixture
def container(tmp_path) -> Iterator[Container]:
    built = bootstrap(make_settings(tmp_path / "data"), clock=FixedClock())
    yield built
    built.close()


def test_conversation_drafts_doc_curl_examples_work_against_a_live_server(
    container: Container,
) -> None:
    lines = _curl_lines()
    assert len(lines) >= 10 and sum(1 for _, named in lines if named) == 1
    real: dict[str, str] = {}
    outputs: list[str] = []
    with serve(create_app(container=container)) as url:
        for command, named in lines:
            for example, actual in real.items():
                command = command.replace(example, actual)
            result = _run_curl(command, url, {})
            _check(command, result)
            outputs.append(result.stdout)
            if named is not None:
                field, example = named
                real[example] = json.loads(result.stdout)[field]
    drafted = json.loads(outputs[2])["version"]["draft"]
    shown = json.loads(re.findall(r"```json\n(.*?)```", DOC, flags=re.S)[0])["version"]["draft"]
    for part in ("title", "description", "goals", "milestones", "open_questions"):
        assert drafted[part] == shown[part], part  # the doc shows what the offline model makes
    turn = json.loads(outputs[3])
    assert turn["versions_added"] == [2, 3]
    markdown = re.findall(r"```markdown\n(.*?)```", DOC, flags=re.S)[0]
    exported = outputs[-2]
    # The doc shows the day it was written; a version is dated the day it is made.
    assert _undated(exported) == _undated(markdown)
    assert json.loads(outputs[-1])["draft"]["title"] == "Third-floor move"
    state = container.adapters.project_draft_store.get_draft(
        real["5b0e3c9a7d2f4e1b8a6c4d2e0f1a3b5c"]
    )
    assert state is not None and (state.active_version, state.latest_version) == (1, 4)
