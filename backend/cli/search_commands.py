"""`almanac search`: the knowledge base's search alone (`backend/knowledge_search.py`), so a
search starts without importing the offline model, pydantic-ai or FastAPI; the whole
container only when the bundled sample must be loaded first."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.markup import escape

from backend.cli import output
from backend.cli.common import JsonOpt, console, open_container, run_command, settings_for_cli


def search(
    query: Annotated[str, typer.Argument(help="What to search for.")],
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, max=50, help="Number of hits.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Hybrid search of the knowledge base."""

    def body() -> None:
        from backend.knowledge_search import open_search
        from use_cases.knowledge.domain import web_link
        from use_cases.knowledge.search import SearchRequest

        request = SearchRequest(query, limit=limit, category=category)
        settings = settings_for_cli()
        with open_search(settings) as search:
            page = asyncio.run(search.execute(request)) if search is not None else None
        if page is None:  # an empty knowledge base: the whole container loads the sample
            with open_container(settings, with_sample=True) as container:
                page = asyncio.run(container.knowledge.search.execute(request))
        if as_json:
            output.print_json(output.search_page(page))
            return
        if not page.hits:
            console.print("No results.")
        for rank, hit in enumerate(page.hits, 1):
            path = " > ".join(hit.section_path)
            date = f" ({hit.updated_at.isoformat()})" if hit.updated_at else ""
            console.print(
                f"[bold]{rank}. {escape(hit.title)}[/]{date} — {escape(path)}", highlight=False
            )
            console.print(f"   {output.plain_highlight(hit.highlight)}", highlight=False)
            console.print(
                f"   [dim]{escape(hit.source)} · fused {hit.scores.fused:.4f}[/]", highlight=False
            )
            if link := web_link(hit.link):
                console.print(f"   {escape(link)}", highlight=False, soft_wrap=True)
            if hit.superseded_by is not None:
                newer = hit.superseded_by
                console.print(
                    f"   [yellow]superseded by {escape(newer.source)}"
                    f"{f' ({newer.updated_at.isoformat()})' if newer.updated_at else ''}[/]",
                    highlight=False,
                )

    run_command(body)
