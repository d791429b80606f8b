"""What every CLI command shares: consoles, settings, the container, error handling."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from backend.bootstrap import Container, bootstrap, load_sample_data_if_empty
from backend.config import Settings
from backend.logging import configure_logging
from use_cases.errors import AlmanacError

console = Console()
err = Console(stderr=True)
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def settings_for_cli() -> Settings:
    settings = Settings()
    configure_logging("WARNING" if settings.log_level == "INFO" else settings.log_level)
    return settings


@contextmanager
def open_container(
    settings: Settings | None = None, *, with_sample: bool = False
) -> Iterator[Container]:
    """`with_sample`: commands that read (search, ask, chat, sql) start like the server does,
    loading the bundled sample into an empty knowledge base when LOAD_SAMPLE_DATA allows."""
    container = bootstrap(settings or settings_for_cli())
    if with_sample:
        load_sample_data_if_empty(container)
    try:
        yield container
    finally:
        container.close()


def run_command(func: Callable[[], T]) -> T:
    """Run a command body, turning domain errors into a one-line message and exit code 1."""
    try:
        return func()
    except AlmanacError as exc:
        err.print(f"[bold red]Error:[/] {escape(exc.detail)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("Interrupted.")
        raise typer.Exit(130) from None
