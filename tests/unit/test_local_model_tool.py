"""tools/local_model.py, the real model server's build: cached by version and flags, a missing
tool named with the Debian package that brings it, and a command line that serves tool calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.local_model_server import local_model_tool

tool = local_model_tool()


def test_the_cache_is_outside_the_clone_and_keyed_by_version_and_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALMANAC_CACHE_DIR", str(tmp_path))
    where = tool.paths()
    assert where.server.is_relative_to(tmp_path) and where.model.is_relative_to(tmp_path)
    key = tool.build_key()
    assert tool.LLAMA_CPP_PYTHON_VERSION in key and key in str(where.server)
    monkeypatch.setattr(tool, "CMAKE_FLAGS", (*tool.CMAKE_FLAGS, "-DGGML_AVX512=ON"))
    assert tool.build_key() != key  # other flags, another build


def test_a_missing_build_tool_is_named_with_its_debian_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tool.shutil, "which", lambda name: None if name == "cmake" else "/x")
    with pytest.raises(tool.LocalModelError, match=r"cmake \(Debian: apt-get install cmake\)"):
        tool._check_tools()


def test_the_server_serves_tool_calls_under_a_stable_name_on_loopback() -> None:
    command = tool.server_command(port=8123, model_name="smollm2-135m")
    assert "--jinja" in command and "--chat-template-file" in command
    assert command[command.index("--alias") + 1] == "smollm2-135m"
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "8123"
    assert "-DGGML_NATIVE=OFF" in tool.CMAKE_FLAGS and "-DLLAMA_CURL=OFF" in tool.CMAKE_FLAGS
