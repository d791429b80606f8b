"""CLI: `almanac advise`, structured advice with its confidence, alternatives and sources."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.markup import escape

from backend.cli import output
from backend.cli.common import JsonOpt, console, open_container, run_command
from use_cases.advice.domain import AdviceRequest, StructuredAdvice
from use_cases.chat.domain import ConversationMessage


def print_advice(advice: StructuredAdvice) -> None:
    console.print(output.ChatMarkdown(advice.main_advice))
    phrase = escape(advice.confidence_phrase)
    console.print(
        f"\n[bold]Confidence:[/] {advice.confidence_score:.2f} ({phrase})", highlight=False
    )
    if advice.reasoning:
        console.print(f"[bold]Reasoning:[/] {escape(advice.reasoning)}", highlight=False)
    if advice.alternatives:
        console.print("[bold]Alternatives:[/]")
        for alternative in advice.alternatives:
            reason = f" — {alternative.reason}" if alternative.reason else ""
            console.print(f"  • {escape(alternative.option + reason)}", highlight=False)
    if advice.sources:
        console.print("[bold]Sources:[/]")
        for source in advice.sources:
            where = ", ".join(part for part in (source.document, source.section) if part)
            console.print(
                f"  [{source.n}] {where}" + (f" ({source.date})" if source.date else ""),
                highlight=False,
                markup=False,
            )
    console.print(
        f"[dim]model {advice.model_identifier} · search {advice.search_decision} · "
        f"{advice.response_id}[/]",
        highlight=False,
    )


def advise(
    question: Annotated[str, typer.Argument(help="The question to be advised on.")],
    model: Annotated[str | None, typer.Option(help="One of ALLOWED_MODELS.")] = None,
    search: Annotated[
        bool | None,
        typer.Option(
            "--search/--no-search",
            help="Force the knowledge-base search on or off (default: the search policy).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask for structured advice: the advice, its confidence, reasoning, alternatives and
    sources."""

    def body() -> StructuredAdvice:
        with open_container(with_sample=True) as container:
            request = AdviceRequest(
                user_id=container.settings.auth.default_user_id,
                conversation=(ConversationMessage("user", question),),
                model=model,
                search_override=search,
            )
            return asyncio.run(container.advice.advice.execute(request))

    advice = run_command(body)
    if as_json:
        output.print_json(advice.model_dump(mode="json"))
    else:
        print_advice(advice)
