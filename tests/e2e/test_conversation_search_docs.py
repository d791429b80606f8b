"""The `curl` examples of docs/conversation-summaries-search.md run, in order, against a live
server (development mode) holding the chat the doc names."""

from __future__ import annotations

import json
import re

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.config import PROJECT_ROOT
from tests.e2e.test_readme import _check, _run_curl
from tests.live_server import serve
from use_cases.chat.domain import MessageRole, NewMessage

DOC = (PROJECT_ROOT / "docs" / "conversation-summaries-search.md").read_text()


def _curl_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC, flags=re.S)
    return [
        line.strip() for block in blocks for line in block.splitlines() if line.startswith("curl ")
    ]


def test_the_docs_curl_examples_work_against_a_live_server(container: Container) -> None:
    history = container.adapters.history
    user = container.settings.auth.default_user_id
    history.ensure_user(user)
    history.get_or_create_chat("offsite-notes", user, "Offsite notes")
    turns: tuple[tuple[MessageRole, str], ...] = (
        ("user", "Where will the quarterly offsite be this year?"),
        ("assistant", "We moved the quarterly offsite to Lisbon. It takes place in March."),
    )
    for role, text in turns:
        history.append_message("offsite-notes", NewMessage(role=role, content=text))
    commands = _curl_commands()
    assert len(commands) == 7
    outputs = []
    with serve(create_app(container=container)) as url:
        for command in commands:
            result = _run_curl(command, url, {})
            _check(command, result)
            outputs.append(json.loads(result.stdout))
    assert outputs[2]["edited"] and outputs[3]["model"] == "offline-extractive"
    assert outputs[4]["hits"][0]["chat_id"] == "offsite-notes"  # the paraphrase
    assert outputs[4]["hits"][0]["matched"] == "message"
