"""The `almanac ...` lines of the docs' CLI sections name commands, arguments and options the
CLI has: each is parsed by the real command tree (not run: their ids are examples), so a
renamed command or option fails here instead of in a reader's terminal."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
from typer._click import core as click_core  # the Context Click's parsing makes

from backend.cli.main import app

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOCUMENTED = ("cleaning.md", "evaluation-runs.md", "prompt-library.md")
OPTIONAL = re.compile(r"\s*\[[^\]]*\]")  # `[--json]`, `[--model M]`: a usage line's optional parts


def _cli_lines(doc: str) -> list[str]:
    """The lines of its code blocks that run `almanac` (after a pipe too), optional parts cut."""
    found, fenced = [], False
    for line in (DOCS / doc).read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        command = line.rpartition("| ")[2].strip()
        if fenced and command.startswith("almanac "):
            found.append(OPTIONAL.sub("", command))
    return found


def _parse(argv: list[str]) -> click_core.Context:
    """Parse argv down the command tree as Click does before running a command; a usage
    error (unknown command or option, missing argument) raises with exit code 2."""
    command = typer.main.get_command(app)
    context = command.make_context("almanac", argv)
    while hasattr(command, "resolve_command"):  # a group: on to the command it names
        name, found, rest = command.resolve_command(
            context, [*context._protected_args, *context.args]
        )
        assert found is not None and name is not None
        command, context = found, found.make_context(name, rest, parent=context)
    return context


CASES = [(doc, line) for doc in DOCUMENTED for line in _cli_lines(doc)]


def test_the_docs_have_cli_lines_to_check() -> None:
    for doc in DOCUMENTED:
        assert _cli_lines(doc), doc


@pytest.mark.parametrize(("doc", "line"), CASES, ids=[f"{d}:{line}" for d, line in CASES])
def test_a_documented_cli_line_parses(doc: str, line: str) -> None:
    context = _parse(shlex.split(line)[1:])
    assert context.command.callback is not None, f"{doc}: {line!r} names a group, not a command"


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "cancel", "latest", "--force"],
        ["projects", "rename", "proj_default"],
        ["prompts", "library", "update"],
    ],
)
def test_a_line_the_cli_does_not_have_fails_to_parse(argv: list[str]) -> None:
    with pytest.raises(Exception) as raised:  # Click's UsageError, vendored by Typer
        _parse(argv)
    assert getattr(raised.value, "exit_code", None) == 2, raised.value
