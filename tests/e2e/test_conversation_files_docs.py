"""The `curl` examples of docs/conversation-files.md run, in order, against a live server
(development mode). A command whose comment names an example id (`# chat_id: ...`,
`# id: ...`) creates it: the real id it answers replaces the example in the commands after
it. The question asked in the chat is answered from the attached file and cites it."""

from __future__ import annotations

import json
import re

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.config import PROJECT_ROOT
from services.budgets import BUDGET
from tests.e2e.test_readme import _check, _run_curl
from tests.live_server import serve

DOC = (PROJECT_ROOT / "docs" / "conversation-files.md").read_text()
_NAMES = re.compile(r"#\s*(chat_id|id):\s*(\S+)")


def _curl_lines() -> list[tuple[str, tuple[str, str] | None]]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC, flags=re.S)
    lines: list[tuple[str, tuple[str, str] | None]] = []
    for line in (line for block in blocks for line in block.splitlines()):
        command, _, comment = line.partition("  #")
        if command.strip().startswith("curl "):
            named = _NAMES.search("#" + comment) if comment else None
            lines.append((command.strip(), (named[1], named[2]) if named else None))
    return lines


def test_conversation_files_doc_curl_examples_work_against_a_live_server(
    container: Container,
) -> None:
    lines = _curl_lines()
    assert len(lines) == 8 and sum(1 for _, named in lines if named) == 2
    real: dict[str, str] = {}
    outputs = []
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
    answer = json.loads(outputs[5])
    assert "Thursday" in answer["answer"]
    assert "attachment:rooftop-beehives.md" in {s["source"] for s in answer["sources"]}
    assert outputs[4] == (PROJECT_ROOT / "docs/examples/rooftop-beehives.md").read_text()
    assert not (
        container.settings.chat_files_path / real["5d1c0e9a2b7f4c3e8a6d9b0f1e2c3d4a"]
    ).exists()


def test_the_documented_image_budget_is_the_one_kept() -> None:
    stated = f"{BUDGET.max_image_pixels // 1_000_000} million pixels"
    assert BUDGET.max_image_pixels % 1_000_000 == 0
    assert stated in DOC
    assert stated in (PROJECT_ROOT / "docs" / "api.md").read_text()
