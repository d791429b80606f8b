"""How `almanac` finds its commands without importing them: a table of entries, each naming
the module that holds a command (or a group of commands) and the line `almanac --help` shows
for it. A command's module is imported when that command runs (or shows its own help), so
`almanac --help` imports none of them, and `almanac search` imports what search needs and
nothing that `serve` or `eval` need (pydantic-ai, FastAPI, the stores: docs/extending.md).

`LazyGroup` is the root group: it lists every entry, shows a stand-in that carries only the
entry's help line while `--help` lists them, and builds the real command (Typer's own, from
the module's `typer.Typer` or function) the first time it is resolved to run.
`tests/unit/test_cli_registry.py` holds each help line to the command's own docstring, and
`import backend.cli.main` to the light modules it may load.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, ClassVar

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class CommandEntry:
    """One top-level command: `target` is `"module:attribute"`, a `typer.Typer` (a group of
    commands) or a command function; `help` is what `almanac --help` lists for it (the first
    paragraph of the command's own help); `extends` names modules that add commands to that
    group when imported (a group whose commands live in several modules)."""

    name: str
    target: str
    help: str
    extends: tuple[str, ...] = ()

    def load(self) -> Any:
        """The command as Click runs it (imports its module, and `extends`, now)."""
        module_name, attribute = self.target.split(":")
        target = getattr(importlib.import_module(module_name), attribute)
        for module in self.extends:
            importlib.import_module(module)
        command: Any
        if isinstance(target, typer.Typer):
            command = typer.main.get_group(target)
        else:
            single = typer.Typer()
            single.command(name=self.name)(target)
            command = typer.main.get_command(single)
        command.name = self.name
        return command


class LazyGroup(TyperGroup):
    """A Typer group whose `entries` are imported only when one of them runs."""

    entries: ClassVar[Mapping[str, CommandEntry]] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        loaded = super().list_commands(ctx)
        return [*loaded, *(name for name in self.entries if name not in loaded)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.entries:
            # Listed in `--help` only: the stand-in carries the line, not the module.
            return TyperCommand(name=cmd_name, help=self.entries[cmd_name].help)
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name in self.entries and name not in self.commands:
            self.commands[name] = self.entries[name].load()
        elif name and name not in self.commands and not name.startswith("-"):
            # Typer suggests from the commands built so far: suggest from every entry.
            matches = get_close_matches(name, self.list_commands(ctx))
            hint = f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
            ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)


def lazy_group(entries: Sequence[CommandEntry]) -> type[LazyGroup]:
    """The root group class of an app with these `entries` (names must be unique)."""
    table = {entry.name: entry for entry in entries}
    if len(table) != len(entries):
        raise ValueError("Two commands share a name.")
    return type("AlmanacGroup", (LazyGroup,), {"entries": table})
