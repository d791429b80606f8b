"""What every CLI command shares: consoles, settings, the container, error handling."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperOption

if TYPE_CHECKING:  # imported where a command runs: `almanac --help` loads none of them
    from backend.bootstrap import Container
    from backend.config import Settings

console = Console()
err = Console(stderr=True)
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _print_version(value: bool) -> None:
    if value:
        from backend import __version__

        typer.echo(f"almanac {__version__}")
        raise typer.Exit()


VersionOpt = Annotated[
    bool,
    typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
]


def _show_flags_without_a_type() -> None:
    """Typer's Rich help gives every option a type column, flags included (`--json <bool>`,
    even `--help <bool>`), which reads as if they took a value. A flag takes none: show none,
    as Click's plain help does."""
    display_type_rich = TyperOption.display_type_rich

    def flag_aware(self: TyperOption, ctx: typer.Context) -> str | None:
        if self.is_flag or self.count:
            return None
        return display_type_rich(self, ctx)

    TyperOption.display_type_rich = flag_aware  # type: ignore[method-assign,assignment]  # a patch of typer's method


_show_flags_without_a_type()


class _Run:
    """What one `almanac` run carries between its options and its command (set again by the
    root callback on every run): `almanac --knowledge PATH`'s folder, and the line said."""

    knowledge: str | None = None
    said: str | None = None


def start_run(knowledge: str | None) -> None:
    """Called by the root callback when a run starts."""
    _Run.knowledge, _Run.said = knowledge, None


def cli_environ() -> dict[str, str]:
    """The environment, with `almanac --knowledge PATH`'s folder as ALMANAC_KNOWLEDGE."""
    from backend.cli.knowledge_folder import KNOWLEDGE_ENV

    environ = dict(os.environ)
    if _Run.knowledge:
        environ[KNOWLEDGE_ENV] = _Run.knowledge
    return environ


def load_settings(*, knowledge: bool = True) -> Settings:
    """Settings from the environment and `.env`; a bad value is a message per problem (no
    traceback) and exit code 2.

    `knowledge`: act on the chosen knowledge base (backend/cli/knowledge_folder.py), saying
    so once on stderr when it is not the default data directory."""
    from pydantic import ValidationError

    from backend.config import Settings, environment_name

    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = environment_name(error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            err.print(
                f"[bold red]Invalid configuration:[/] {escape(f'{name}: ' if name else '')}"
                f"{escape(message)}",
                highlight=False,
                soft_wrap=True,
            )
        raise typer.Exit(2) from None
    if not knowledge:
        return settings
    from backend.cli.knowledge_folder import acting_on_line, active_settings

    environ = cli_environ()
    _say_once(acting_on_line(settings, environ))
    return active_settings(settings, environ)


def _say_once(line: str | None) -> None:
    """`line` on stderr, once per command run (a command may load its settings twice)."""
    if line is None or _Run.said == line:
        return
    _Run.said = line
    err.print(escape(line), highlight=False, soft_wrap=True)


def settings_for_cli() -> Settings:
    from backend.logging import configure_logging

    settings = load_settings()
    configure_logging(
        "WARNING" if settings.server.log_level == "INFO" else settings.server.log_level,
        content=settings.server.log_request_content,
    )
    return settings


@contextmanager
def open_container(
    settings: Settings | None = None, *, with_sample: bool = False
) -> Iterator[Container]:
    """`with_sample`: commands that read (search, ask, chat, sql) start like the server does,
    loading the bundled sample into an empty knowledge base when LOAD_SAMPLE_DATA allows."""
    from backend.bootstrap import bootstrap, load_sample_data_if_empty

    container = bootstrap(settings or settings_for_cli())
    if with_sample:
        load_sample_data_if_empty(container)
    try:
        yield container
    finally:
        container.close()


def run_command(func: Callable[[], T]) -> T:
    """Run a command body, turning domain errors into a one-line message and exit code 1."""
    from use_cases.shared.errors import AlmanacError

    try:
        return func()
    except AlmanacError as exc:
        err.print(f"[bold red]Error:[/] {escape(exc.detail)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("Interrupted.")
        raise typer.Exit(130) from None
