"""`almanac formats`: the file types this installation reads, from the loader registry
(services/knowledge/loaders/registry.py): the built-ins, then the installed plugins'.

Rules:
- The listing is the registry's: what `almanac ingest`, uploads and the web app's upload
  dialog accept, in the registry's order; a plugin's line names the package it came from.
- `--markdown` prints docs/guide.md's file-types table (the built-ins alone), which
  tests/unit/test_docs_formats.py compares with the guide.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from backend.cli.common import JsonOpt
from backend.cli.output import print_json


def formats(
    as_json: JsonOpt = False,
    markdown: Annotated[
        bool,
        typer.Option("--markdown", help="Print docs/guide.md's file-types table (built-ins)."),
    ] = False,
) -> None:
    """List the file types Almanac reads (docs/guide.md#file-types), plugins' included."""
    from services.knowledge.loaders.registry import (
        BUILTIN_LOADERS,
        LEGACY_FORMATS,
        formats_table,
        registered_loaders,
    )

    if markdown:
        typer.echo(formats_table())
        return
    summaries = {builtin.name: builtin.summary for builtin in BUILTIN_LOADERS}
    rows: list[dict[str, Any]] = [
        {
            "name": entry.name,
            "origin": entry.origin,
            "extensions": list(entry.extensions),
            "summary": summaries.get(entry.name, "")
            if entry.origin == "almanac"
            else _plugin_summary(entry.loader),
        }
        for entry in registered_loaders()
    ]
    if as_json:
        print_json({"formats": rows, "refused_legacy": LEGACY_FORMATS})
        return
    for row in rows:
        origin = "" if row["origin"] == "almanac" else f" [{row['origin']}]"
        typer.echo(f"{', '.join(row['extensions'])}{origin}: {row['summary']}")
    legacy = ", ".join(f"{old} (save as {new})" for old, new in LEGACY_FORMATS.items())
    typer.echo(f"Refused: {legacy}")


def _plugin_summary(loader: object) -> str:
    """A plugin's `summary` attribute, else its docstring's first line."""
    summary = getattr(loader, "summary", None)
    if isinstance(summary, str) and summary.strip():
        return " ".join(summary.split())
    doc = (type(loader).__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())
