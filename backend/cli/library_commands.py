"""CLI of the prompt library, mirroring `/api/v1`: `almanac projects
list|create|show|update|delete`, `almanac use-cases list|create|show|update|delete` and
`almanac prompts library list|create|show|update|delete|add-version|activate|run|compare`.

Like the other admin commands, these act as the local admin (`CLI_ADMIN`, audited as `cli`).
`--json` prints the API's JSON shapes. `almanac prompts library run` executes the version's
run in this process (like `almanac eval run`) and prints where its results are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

import typer
from rich import box
from rich.table import Table

from backend.api.library_schemas import (
    EvalRunOut,
    LibraryPromptOut,
    LibraryPromptPageOut,
    ProjectOut,
    ProjectPageOut,
    UseCaseOut,
    UseCasePageOut,
    VersionPageOut,
    VersionWriteOut,
    comparison_out,
)
from backend.bootstrap import Container
from backend.cli import output
from backend.cli.common import JsonOpt, console, open_container, run_command
from backend.cli.llm_commands import _read_text, prompts_app
from use_cases.access.domain import CLI_ADMIN
from use_cases.evaluation.prompt_versions import VersionRunRequest
from use_cases.prompts.library import Changes, NewProject, NewPrompt, NewUseCase
from use_cases.prompts.library_domain import Removed, VersionStats
from use_cases.shared.errors import InvalidRequest
from use_cases.shared.sampling import Sampling

projects_app = typer.Typer(help="Projects of the prompt library.", no_args_is_help=True)
use_cases_app = typer.Typer(help="Use cases of the prompt library.", no_args_is_help=True)
library_app = typer.Typer(
    help="Named, tagged prompts of the prompt library, their versions and runs.",
    no_args_is_help=True,
)
prompts_app.add_typer(library_app, name="library")  # `almanac prompts library ...`

Limit = Annotated[int, typer.Option(min=1, max=500, help="Items per page.")]
Offset = Annotated[int, typer.Option(min=0, help="Items to skip.")]
Description = Annotated[str, typer.Option("--description", "-d", help="What it is for.")]
NewName = Annotated[str | None, typer.Option("--name", help="Its new name.")]
NewDescription = Annotated[
    str | None, typer.Option("--description", "-d", help="Its new description.")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False, soft_wrap=True)


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _page_line(shown: int, total: int, what: str) -> None:
    _say(f"{shown} of {total} {what}")


def _changes(
    name: str | None, description: str | None, tags: tuple[str, ...] | None = None
) -> Changes:
    if name is None and description is None and tags is None:
        raise InvalidRequest("Nothing to change: give --name, --description or a tag option.")
    return Changes(name=name, description=description, tags=tags)


def _confirm(question: str, yes: bool) -> None:
    if not yes and not typer.confirm(question):
        raise typer.Exit(1)


def _taken(removed: Removed) -> str:
    """What a delete took with it, e.g. " with 2 use cases and 3 prompts"."""
    parts = [
        f"{count} {noun}{'' if count == 1 else 's'}"
        for count, noun in ((removed.use_cases, "use case"), (removed.prompts, "prompt"))
        if count
    ]
    return f" with {' and '.join(parts)}" if parts else ""


class _Named(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=_Named)


def _update(
    update: Callable[[Container, Changes], Coroutine[Any, Any, N]],
    name: str | None,
    description: str | None,
    *,
    noun: str,
    as_json: bool,
    to_json: Callable[[N], Any],
) -> None:
    """The body of `projects update` and `use-cases update`."""

    def body() -> None:
        changes = _changes(name, description)
        with open_container() as container:
            updated = asyncio.run(update(container, changes))
        if as_json:
            output.print_json(to_json(updated))
        else:
            _say(f"Updated {noun} {updated.id} ({updated.name}).")

    run_command(body)


def _delete(
    delete: Callable[[Container], Coroutine[Any, Any, Removed]],
    what: str,
    *,
    contents: str,
    yes: bool,
) -> None:
    """The body of `projects delete` and `use-cases delete`: `what` ("project p1") goes
    with its `contents` ("its prompts")."""

    def body() -> None:
        _confirm(f"Delete {what} with {contents}?", yes)
        with open_container() as container:
            removed = asyncio.run(delete(container))
        _say(f"Deleted {what}{_taken(removed)}.")

    run_command(body)


# --- projects -------------------------------------------------------------------------------


@projects_app.command("list")
def projects_list(limit: Limit = 50, offset: Offset = 0, as_json: JsonOpt = False) -> None:
    """The projects, by name."""

    def body() -> None:
        with open_container() as container:
            page = asyncio.run(
                container.prompts.prompt_library.projects(CLI_ADMIN, limit=limit, offset=offset)
            )
        if as_json:
            output.print_json(ProjectPageOut.of(page).model_dump(mode="json"))
            return
        table = _table("id", "name", "description")
        for p in page.items:
            table.add_row(p.id, output.plain(p.name), output.plain(p.description))
        console.print(table)
        _page_line(len(page.items), page.total, "projects")

    run_command(body)


@projects_app.command("create")
def projects_create(
    name: Annotated[str, typer.Argument(help="A name no other project has.")],
    description: Description = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a project."""

    def body() -> None:
        with open_container() as container:
            project = asyncio.run(
                container.prompts.prompt_library.create_project(
                    CLI_ADMIN, NewProject(name, description)
                )
            )
        if as_json:
            output.print_json(ProjectOut.of(project).model_dump(mode="json"))
        else:
            _say(f"Created project {project.id} ({project.name}).")

    run_command(body)


@projects_app.command("show")
def projects_show(
    project_id: Annotated[str, typer.Argument(help="e.g. proj_default")],
    as_json: JsonOpt = False,
) -> None:
    """A project and its use cases."""

    def body() -> None:
        with open_container() as container:
            library = container.prompts.prompt_library
            project = asyncio.run(library.project(CLI_ADMIN, project_id))
            use_cases = asyncio.run(library.use_cases(CLI_ADMIN, project_id, limit=500))
        if as_json:
            output.print_json(
                {
                    **ProjectOut.of(project).model_dump(mode="json"),
                    "use_cases": UseCasePageOut.of(use_cases).model_dump(mode="json"),
                }
            )
            return
        _say(f"{project.id}: {project.name}")
        if project.description:
            _say(project.description)
        table = _table("use case", "name", "description")
        for u in use_cases.items:
            table.add_row(u.id, output.plain(u.name), output.plain(u.description))
        console.print(table)
        _page_line(len(use_cases.items), use_cases.total, "use cases")

    run_command(body)


@projects_app.command("update")
def projects_update(
    project_id: Annotated[str, typer.Argument(help="The project.")],
    name: NewName = None,
    description: NewDescription = None,
    as_json: JsonOpt = False,
) -> None:
    """Rename or describe a project (the options given; audited project.update)."""
    _update(
        lambda container, changes: container.prompts.prompt_library.update_project(
            CLI_ADMIN, project_id, changes
        ),
        name,
        description,
        noun="project",
        as_json=as_json,
        to_json=lambda project: ProjectOut.of(project).model_dump(mode="json"),
    )


@projects_app.command("delete")
def projects_delete(
    project_id: Annotated[str, typer.Argument(help="The project.")], yes: Yes = False
) -> None:
    """Delete a project with its use cases and their prompts (refused while it holds a
    built-in prompt; audited project.delete)."""
    _delete(
        lambda container: container.prompts.prompt_library.delete_project(CLI_ADMIN, project_id),
        f"project {project_id}",
        contents="its use cases and their prompts",
        yes=yes,
    )


# --- use cases ------------------------------------------------------------------------------


@use_cases_app.command("list")
def use_cases_list(
    project_id: Annotated[str, typer.Argument(help="The project.")],
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: JsonOpt = False,
) -> None:
    """A project's use cases, by name."""

    def body() -> None:
        with open_container() as container:
            page = asyncio.run(
                container.prompts.prompt_library.use_cases(
                    CLI_ADMIN, project_id, limit=limit, offset=offset
                )
            )
        if as_json:
            output.print_json(UseCasePageOut.of(page).model_dump(mode="json"))
            return
        table = _table("id", "name", "description")
        for u in page.items:
            table.add_row(u.id, output.plain(u.name), output.plain(u.description))
        console.print(table)
        _page_line(len(page.items), page.total, "use cases")

    run_command(body)


@use_cases_app.command("create")
def use_cases_create(
    project_id: Annotated[str, typer.Argument(help="The project.")],
    name: Annotated[str, typer.Argument(help="A name no other use case of the project has.")],
    description: Description = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a use case in a project."""

    def body() -> None:
        with open_container() as container:
            use_case = asyncio.run(
                container.prompts.prompt_library.create_use_case(
                    CLI_ADMIN, NewUseCase(project_id, name, description)
                )
            )
        if as_json:
            output.print_json(UseCaseOut.of(use_case).model_dump(mode="json"))
        else:
            _say(f"Created use case {use_case.id} ({use_case.name}) in {project_id}.")

    run_command(body)


@use_cases_app.command("show")
def use_cases_show(
    use_case_id: Annotated[str, typer.Argument(help="e.g. uc_chat")],
    as_json: JsonOpt = False,
) -> None:
    """A use case and its prompts."""

    def body() -> None:
        with open_container() as container:
            library = container.prompts.prompt_library
            use_case = asyncio.run(library.use_case(CLI_ADMIN, use_case_id))
            prompts = asyncio.run(library.prompts(CLI_ADMIN, use_case_id=use_case_id, limit=500))
        if as_json:
            output.print_json(
                {
                    **UseCaseOut.of(use_case).model_dump(mode="json"),
                    "prompts": LibraryPromptPageOut.of(prompts).model_dump(mode="json"),
                }
            )
            return
        _say(f"{use_case.id}: {use_case.name} (project {use_case.project_id})")
        _print_prompts(prompts.items)
        _page_line(len(prompts.items), prompts.total, "prompts")

    run_command(body)


@use_cases_app.command("update")
def use_cases_update(
    use_case_id: Annotated[str, typer.Argument(help="The use case.")],
    name: NewName = None,
    description: NewDescription = None,
    as_json: JsonOpt = False,
) -> None:
    """Rename or describe a use case (the options given; audited use_case.update)."""
    _update(
        lambda container, changes: container.prompts.prompt_library.update_use_case(
            CLI_ADMIN, use_case_id, changes
        ),
        name,
        description,
        noun="use case",
        as_json=as_json,
        to_json=lambda use_case: UseCaseOut.of(use_case).model_dump(mode="json"),
    )


@use_cases_app.command("delete")
def use_cases_delete(
    use_case_id: Annotated[str, typer.Argument(help="The use case.")], yes: Yes = False
) -> None:
    """Delete a use case with its prompts (refused while it holds a built-in prompt; audited
    use_case.delete)."""
    _delete(
        lambda container: container.prompts.prompt_library.delete_use_case(CLI_ADMIN, use_case_id),
        f"use case {use_case_id}",
        contents="its prompts",
        yes=yes,
    )


# --- prompts --------------------------------------------------------------------------------


def _print_prompts(prompts: Any) -> None:
    table = _table("id", "name", "tags", "description")
    for p in prompts:
        table.add_row(
            p.id, output.plain(p.name), output.plain(", ".join(p.tags)), output.plain(p.description)
        )
    console.print(table)


@library_app.command("list")
def library_list(
    use_case: Annotated[
        str | None, typer.Option("--use-case", help="Only this use case's.")
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only prompts with this tag.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: JsonOpt = False,
) -> None:
    """The prompts, by name."""

    def body() -> None:
        with open_container() as container:
            page = asyncio.run(
                container.prompts.prompt_library.prompts(
                    CLI_ADMIN, use_case_id=use_case, tag=tag, limit=limit, offset=offset
                )
            )
        if as_json:
            output.print_json(LibraryPromptPageOut.of(page).model_dump(mode="json"))
            return
        _print_prompts(page.items)
        _page_line(len(page.items), page.total, "prompts")

    run_command(body)


@library_app.command("create")
def library_create(
    use_case_id: Annotated[str, typer.Argument(help="The use case.")],
    name: Annotated[str, typer.Argument(help="A name no other prompt of the use case has.")],
    description: Description = "",
    tags: Annotated[list[str] | None, typer.Option("--tag", "-t", help="A tag (repeat).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a named, tagged prompt in a use case (then add versions with add-version)."""

    def body() -> None:
        with open_container() as container:
            prompt = asyncio.run(
                container.prompts.prompt_library.create_prompt(
                    CLI_ADMIN, NewPrompt(use_case_id, name, description, tuple(tags or ()))
                )
            )
        if as_json:
            output.print_json(LibraryPromptOut.of(prompt).model_dump(mode="json"))
        else:
            _say(f"Created prompt {prompt.id} ({prompt.name}) in {use_case_id}.")

    run_command(body)


def _stats_cells(stats: VersionStats) -> tuple[str, ...]:
    rate = "-" if stats.pass_rate is None else f"{stats.pass_rate:.0%}"
    latency = "-" if stats.mean_latency_ms is None else f"{stats.mean_latency_ms:,.0f} ms"
    cost = "-" if stats.cost_usd is None else f"${stats.cost_usd:.4f}"
    return str(stats.runs), rate, latency, cost, stats.last_run_at or "-"


@library_app.command("show")
def library_show(
    prompt_id: Annotated[str, typer.Argument(help="e.g. prm_chat")],
    limit: Limit = 20,
    offset: Offset = 0,
    as_json: JsonOpt = False,
) -> None:
    """A prompt and its versions, newest first, with their run statistics (* = active)."""

    def body() -> None:
        with open_container() as container:
            page = asyncio.run(
                container.prompts.prompt_library.versions(
                    CLI_ADMIN, prompt_id, limit=limit, offset=offset
                )
            )
        if as_json:
            output.print_json(
                {
                    **LibraryPromptOut.of(page.prompt).model_dump(mode="json"),
                    "versions": VersionPageOut.of(page).model_dump(mode="json"),
                }
            )
            return
        prompt = page.prompt
        tags = f" [{', '.join(prompt.tags)}]" if prompt.tags else ""
        _say(f"{prompt.id}: {prompt.name}{tags} (use case {prompt.use_case_id})")
        table = _table("", "version", "runs", "pass", "latency", "cost", "last run", "first line")
        for item in page.versions.items:
            v = item.version
            table.add_row(
                "*" if item.active else "",
                str(v.version),
                *_stats_cells(item.stats),
                output.plain(v.text.splitlines()[0] if v.text else ""),
            )
        console.print(table)
        _page_line(len(page.versions.items), page.versions.total, "versions")

    run_command(body)


@library_app.command("update")
def library_update(
    prompt_id: Annotated[str, typer.Argument(help="The prompt.")],
    name: NewName = None,
    description: NewDescription = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="A tag (repeat): replaces its tags.")
    ] = None,
    no_tags: Annotated[bool, typer.Option("--no-tags", help="Remove all its tags.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Rename, describe or tag a prompt (the options given; audited library_prompt.update).
    Its versions are changed with add-version and activate."""

    def body() -> None:
        if tags and no_tags:
            raise InvalidRequest("Give --tag or --no-tags, not both.")
        new_tags = () if no_tags else tuple(tags) if tags else None
        changes = _changes(name, description, new_tags)
        with open_container() as container:
            prompt = asyncio.run(
                container.prompts.prompt_library.update_prompt(CLI_ADMIN, prompt_id, changes)
            )
        if as_json:
            output.print_json(LibraryPromptOut.of(prompt).model_dump(mode="json"))
        else:
            shown = f" [{', '.join(prompt.tags)}]" if prompt.tags else ""
            _say(f"Updated prompt {prompt.id} ({prompt.name}){shown}.")

    run_command(body)


@library_app.command("delete")
def library_delete(
    prompt_id: Annotated[str, typer.Argument(help="The prompt.")], yes: Yes = False
) -> None:
    """Delete a prompt; its versions and runs are kept (built-in prompts are refused;
    audited library_prompt.delete)."""

    def body() -> None:
        _confirm(f"Delete prompt {prompt_id}?", yes)
        with open_container() as container:
            asyncio.run(container.prompts.prompt_library.delete_prompt(CLI_ADMIN, prompt_id))
        _say(f"Deleted prompt {prompt_id}.")

    run_command(body)


@library_app.command("add-version")
def library_add_version(
    prompt_id: Annotated[str, typer.Argument(help="The prompt.")],
    file: Annotated[
        Path | None, typer.Option("--file", help="Read the template from this file; default stdin.")
    ] = None,
    draft: Annotated[bool, typer.Option("--draft", help="Store it without activating it.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Store the next version of a prompt (active, or a --draft)."""

    def body() -> None:
        text = _read_text(file)
        with open_container() as container:
            write = asyncio.run(
                container.prompts.prompt_library.create_version(
                    CLI_ADMIN, prompt_id, text, activate=not draft
                )
            )
        version = write.prompt.version
        if as_json:
            output.print_json(
                VersionWriteOut(
                    prompt_id=prompt_id,
                    version=version or 0,
                    active=write.prompt.active,
                    changed=write.changed,
                    variables=list(write.prompt.variables),
                ).model_dump(mode="json")
            )
        elif write.changed:
            state = "a draft" if draft else "active"
            _say(f"Created version {version} of {prompt_id} ({state}).")
        else:
            _say(f"Unchanged: version {version} of {prompt_id} has this text already.")

    run_command(body)


@library_app.command("activate")
def library_activate(
    prompt_id: Annotated[str, typer.Argument(help="The prompt.")],
    version: Annotated[int, typer.Argument(min=1, help="The version number.")],
) -> None:
    """Make a version the prompt's active one."""

    def body() -> None:
        with open_container() as container:
            write = asyncio.run(
                container.prompts.prompt_library.activate(CLI_ADMIN, prompt_id, version)
            )
        _say(
            f"Version {version} of {prompt_id} is active now."
            if write.changed
            else f"Unchanged: version {version} of {prompt_id} was active already."
        )

    run_command(body)


@library_app.command("run")
def library_run(
    prompt_id: Annotated[str, typer.Argument(help="The prompt.")],
    version: Annotated[int, typer.Argument(min=1, help="The version to evaluate.")],
    dataset: Annotated[str, typer.Option("--dataset", help="An evaluation dataset id.")],
    models: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="A model (repeat); default: default.")
    ] = None,
    temperature: Annotated[float | None, typer.Option(min=0, max=2)] = None,
    seed: Annotated[int | None, typer.Option(help="The model's sampling seed.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Run the first N cases.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a version over a dataset across models, here and now; its statistics follow."""

    def body() -> None:
        request = VersionRunRequest(
            prompt_id,
            version,
            dataset,
            models=tuple(models or ()),
            sampling=Sampling(temperature=temperature, seed=seed),
            limit=limit,
        )
        with open_container() as container:

            async def go() -> tuple[Any, Any]:
                record = await container.evaluation.prompt_evaluations.create(CLI_ADMIN, request)
                finished = await container.evaluation.benchmark.execute(record.run_id)
                item = await container.prompts.prompt_library.version(CLI_ADMIN, prompt_id, version)
                return finished, item.stats

            finished, stats = asyncio.run(go())
        if as_json:
            output.print_json(EvalRunOut.of(finished).model_dump(mode="json"))
            return
        runs, rate, latency, cost, _ = _stats_cells(stats)
        _say(f"Run {finished.run_id}: {finished.status}, {finished.total} items.")
        _say(f"Version {version} of {prompt_id}: {runs} runs, pass {rate}, {latency}, {cost}.")

    run_command(body)


@library_app.command("compare")
def library_compare(
    prompt_id: Annotated[str, typer.Argument(help="The prompt.")],
    a: Annotated[int, typer.Argument(min=1, help="The baseline version.")],
    b: Annotated[int, typer.Argument(min=1, help="The version compared with it.")],
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help='Rules such as "correct<-0.02".')
    ] = None,
) -> None:
    """Compare two versions by their latest completed runs (exit 1 when a rule is broken);
    prints the comparison as JSON."""

    def body() -> bool:
        with open_container() as container:
            found = asyncio.run(
                container.evaluation.prompt_evaluations.compare(CLI_ADMIN, prompt_id, a, b, fail_on)
            )
        output.print_json(comparison_out(found))
        return found.report.passed

    if not run_command(body):
        raise typer.Exit(1)
