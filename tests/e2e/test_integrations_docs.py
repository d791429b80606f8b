"""docs/integrations.md runs: its `curl` lines, its Python and JavaScript examples (the
`openai` SDKs, the Vercel AI SDK) as written, and the Open WebUI and LibreChat settings read as
those clients read them and used as they use them, against a live server with authentication
on (the doc's `$ALMANAC_KEY` is a real key of the user `ana`)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from backend.config import PROJECT_ROOT
from tests.conftest import FixedClock, make_settings
from tests.e2e.test_readme import DOCUMENTED_URL, _check, _run_curl
from tests.js_clients import JS_DIR, ensure_node_modules
from tests.live_server import serve
from use_cases.access.domain import CLI_ADMIN

DOC = (PROJECT_ROOT / "docs" / "integrations.md").read_text()
POLICY = "Password and Credential Rotation Policy"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S)


@dataclass
class Live:
    url: str
    key: str


@pytest.fixture(scope="module")
def live(sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("integrations-docs") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    container = bootstrap(make_settings(data_dir, auth_enabled=True), clock=FixedClock())
    key = asyncio.run(_key(container))
    with serve(create_app(container=container)) as url:
        yield Live(url, key)
    container.close()


async def _key(container: Container) -> str:
    created = await container.access.create_key.execute(CLI_ADMIN, user_id="ana", role="user")
    return created.secret


def _documented(text: str, live: Live) -> str:
    return text.replace(DOCUMENTED_URL, live.url)


def test_the_curl_lines_work(live: Live) -> None:
    commands = [
        line for block in _blocks("bash") for line in block.splitlines() if line.startswith("curl ")
    ]
    assert len(commands) == 2
    outputs = []
    for command in commands:
        result = _run_curl(command, live.url, {"ALMANAC_KEY": live.key})
        _check(command, result)
        outputs.append(json.loads(result.stdout))
    assert outputs[0]["data"][0]["id"] == "almanac"
    assert "[1]" in outputs[1]["choices"][0]["message"]["content"]


def test_open_webuis_settings_reach_almanac_as_open_webui_calls_it(live: Live) -> None:
    (block,) = [b for b in _blocks("bash") if "OPENAI_API_BASE_URL=" in b]
    env = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
    assert env["OPENAI_API_KEY"] == "$ALMANAC_KEY" and env["ENABLE_OLLAMA_API"] == "false"
    tasks = [name for name in env if name.startswith("ENABLE_") and name.endswith("_GENERATION")]
    assert len(tasks) == 4 and all(env[name] == "false" for name in tasks)
    base = _documented(env["OPENAI_API_BASE_URL"], live)
    headers = {"Authorization": f"Bearer {live.key}"}
    models = httpx.get(f"{base}/models", headers=headers).json()["data"]
    assert models[0]["id"] == "almanac"
    body = {  # what Open WebUI sends: its system prompt, the chat so far, streamed
        "model": "almanac",
        "stream": True,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "How often do we have to rotate passwords?"},
        ],
    }
    response = httpx.post(f"{base}/chat/completions", headers=headers, json=body, timeout=60)
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    text = "".join(
        choice["delta"].get("content") or ""
        for event in events[:-1]
        for choice in json.loads(event)["choices"]
    )
    assert "[1]" in text and "**Sources**" in text


def test_librechats_endpoint_lists_the_models_and_answers(live: Live) -> None:
    (block,) = _blocks("yaml")
    (endpoint,) = yaml.safe_load(block)["endpoints"]["custom"]
    assert endpoint["apiKey"] == "${ALMANAC_API_KEY}" and endpoint["titleConvo"] is False
    client = openai.OpenAI(  # LibreChat calls a custom endpoint with the openai SDK
        base_url=_documented(endpoint["baseURL"], live), api_key=live.key, max_retries=0
    )
    fetched = [model.id for model in client.models.list()] if endpoint["models"]["fetch"] else []
    assert set(endpoint["models"]["default"]) <= set(fetched)
    stream = client.chat.completions.create(
        model=endpoint["models"]["default"][0],
        messages=[{"role": "user", "content": "How often do we have to rotate passwords?"}],
        stream=True,
        user="librechat-user-6f1c",  # LibreChat's own user id: accepted, the key decides
        temperature=1,
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert "[1]" in text


def test_the_python_example_runs(live: Live) -> None:
    (example,) = _blocks("python")
    result = subprocess.run(
        [sys.executable, "-c", _documented(example, live)],
        env={**os.environ, "ALMANAC_KEY": live.key},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "[1]" in lines[0]
    assert any(line.startswith(f"1 {POLICY} {live.url}/api/documents/") for line in lines)
    assert lines[-1].strip()  # the streamed answer


@pytest.mark.parametrize("index", [0, 1], ids=["openai", "vercel-ai-sdk"])
def test_the_javascript_examples_run(live: Live, index: int) -> None:
    ensure_node_modules()
    example = _blocks("js")[index]
    script = JS_DIR / f"doc-example-{uuid.uuid4().hex[:8]}.mjs"  # beside node_modules
    script.write_text(_documented(example, live))
    try:
        result = subprocess.run(
            ["node", str(script)],
            cwd=JS_DIR,
            env={**os.environ, "ALMANAC_KEY": live.key},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        script.unlink()
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout
    assert re.search(rf"^(?:1 |\[1\] ){re.escape(POLICY)}", result.stdout, flags=re.M)
