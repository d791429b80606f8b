"""The prompt library: projects -> use cases -> named, tagged prompts -> versions with their
statistics (`library_domain`).

Rules:
- Admins only, reads included (like the system prompts: a prompt can hold what an
  organisation would rather not show its users).
- Names are trimmed (inner runs of spaces made one), 1 to 100 characters, unique within
  their parent: a project's among projects, a use case's within its project, a prompt's
  within its use case. A taken name is `Conflict` (409); a missing parent is `NotFound`
  (404); a bad field is `InvalidRequest` (422). Nothing is written then.
- Tags are trimmed and lower-cased, each once, at most 20 of at most 40 characters.
- A new prompt's versions live in the prompt store under the prompt's id (its key). The
  built-in prompts `prm_chat` and `prm_advice` have the keys `chat` and `advice`: their
  versions are the system prompts' (`ManagePrompts`), so creating or activating one of
  their versions goes through `ManagePrompts` and keeps its rules (a version put in force
  must use only the built-in variables; the same text as the active version is no change;
  audited as `prompt.*`).
- Another prompt's version is a template that serves no turn, so any `{{variables}}` may be
  used and made active; its text obeys `clean_prompt_text`. A text identical to the active
  version's is no change (`changed` False). Creating and activating are audited like the
  system prompts' (`prompt.create`, `prompt.activate`, target `prompt:KEY`).
- Creating a project, use case or prompt is audited (`project.create`, `use_case.create`,
  `library_prompt.create`); so are updates and deletes (`*.update`, `*.delete`).
- An update changes only the fields given (name and description; a prompt's tags too), with
  the same rules as a create; it sets `updated_at`. A rename to a name taken within the
  parent is `Conflict`, and nothing is written.
- A delete takes the children with it: a project its use cases and their prompts, a use case
  its prompts. A prompt's versions stay in the prompt store under its key (no prompt takes
  that key again), and evaluation runs are kept: they are the record of what was measured,
  and their exports and statistics read the versions they used. Deleting a built-in prompt,
  or the use case or project that holds one, is `Conflict`: chat and advice turns are
  answered with them.
- The versions of a prompt come newest first, each with its statistics (`VersionStats`,
  computed from the evaluation runs on every read).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypedDict, TypeVar

from use_cases.access.audit import MAX_PAGE, PROMPT_ACTIVATE, PROMPT_CREATE, RecordAudit
from use_cases.access.domain import Caller, require_admin
from use_cases.prompts.domain import EffectivePrompt
from use_cases.prompts.library_domain import (
    BUILT_IN_PROMPTS,
    NO_RUNS,
    LibraryPrompt,
    Page,
    Project,
    PromptSummary,
    Removed,
    UseCase,
    VersionWithStats,
    clean_description,
    clean_name,
    clean_tags,
)
from use_cases.prompts.manage_prompts import ManagePrompts, PromptWrite, clean_prompt_text
from use_cases.prompts.ports import PromptLibraryStore, PromptRunStats, PromptStore
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import Conflict, InvalidRequest, NotFound

PROJECT_CREATE = "project.create"
USE_CASE_CREATE = "use_case.create"
LIBRARY_PROMPT_CREATE = "library_prompt.create"
PROJECT_UPDATE = "project.update"
USE_CASE_UPDATE = "use_case.update"
LIBRARY_PROMPT_UPDATE = "library_prompt.update"
PROJECT_DELETE = "project.delete"
USE_CASE_DELETE = "use_case.delete"
LIBRARY_PROMPT_DELETE = "library_prompt.delete"

T = TypeVar("T")


class _Fields(TypedDict, total=False):
    """What an update changes on a project, a use case or a prompt (`dataclasses.replace`);
    a prompt's tags besides are its own."""

    updated_at: datetime
    name: str
    description: str


@dataclass(frozen=True)
class NewProject:
    name: str
    description: str = ""


@dataclass(frozen=True)
class NewUseCase:
    project_id: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class NewPrompt:
    use_case_id: str
    name: str
    description: str = ""
    tags: Sequence[str] = ()


@dataclass(frozen=True)
class Changes:
    """An update: the fields given (None: unchanged). `tags` is for prompts only."""

    name: str | None = None
    description: str | None = None
    tags: Sequence[str] | None = None


@dataclass(frozen=True)
class VersionPage:
    prompt: LibraryPrompt
    versions: Page[VersionWithStats]
    active: int | None


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}.")
    if offset < 0:
        raise InvalidRequest("offset must not be negative.")


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


class ManagePromptLibrary:
    """Creates and reads projects, use cases, prompts and versions (see the module rules)."""

    def __init__(
        self,
        store: PromptLibraryStore,
        versions: PromptStore,
        stats: PromptRunStats,
        system_prompts: ManagePrompts,
        audit: RecordAudit,
        clock: Clock,
    ) -> None:
        self._store = store
        self._versions = versions
        self._stats = stats
        self._system = system_prompts
        self._audit = audit
        self._clock = clock

    # --- projects ---------------------------------------------------------------------------

    async def create_project(self, caller: Caller, new: NewProject) -> Project:
        require_admin(caller, "Changing the prompt library")
        project = Project(
            _new_id("proj"),
            clean_name(new.name, "project"),
            clean_description(new.description),
            utc(self._clock.now()),
        )
        return await asyncio.to_thread(self._add_project, caller, project)

    def _add_project(self, caller: Caller, project: Project) -> Project:
        if not self._store.add_project(project):
            raise Conflict(f"A project is named {project.name!r} already.")
        self._audit.record(caller, PROJECT_CREATE, f"project:{project.id}", after=project.name)
        return project

    async def projects(self, caller: Caller, *, limit: int = 50, offset: int = 0) -> Page[Project]:
        require_admin(caller, "Reading the prompt library")
        check_page(limit, offset)
        return await self._page(
            lambda: self._store.projects(limit=limit, offset=offset), limit, offset
        )

    async def project(self, caller: Caller, project_id: str) -> Project:
        require_admin(caller, "Reading the prompt library")
        return await asyncio.to_thread(self._project, project_id)

    def _project(self, project_id: str) -> Project:
        found = self._store.project(project_id)
        if found is None:
            raise NotFound(f"No project {project_id!r}.")
        return found

    # --- use cases --------------------------------------------------------------------------

    async def create_use_case(self, caller: Caller, new: NewUseCase) -> UseCase:
        require_admin(caller, "Changing the prompt library")
        use_case = UseCase(
            _new_id("uc"),
            new.project_id,
            clean_name(new.name, "use case"),
            clean_description(new.description),
            utc(self._clock.now()),
        )
        return await asyncio.to_thread(self._add_use_case, caller, use_case)

    def _add_use_case(self, caller: Caller, use_case: UseCase) -> UseCase:
        project = self._project(use_case.project_id)
        if not self._store.add_use_case(use_case):
            raise Conflict(f"Project {project.name!r} has a use case {use_case.name!r} already.")
        self._audit.record(
            caller,
            USE_CASE_CREATE,
            f"use_case:{use_case.id}",
            after={"project": project.id, "name": use_case.name},
        )
        return use_case

    async def use_cases(
        self, caller: Caller, project_id: str, *, limit: int = 50, offset: int = 0
    ) -> Page[UseCase]:
        require_admin(caller, "Reading the prompt library")
        check_page(limit, offset)

        def read() -> tuple[list[UseCase], int]:
            self._project(project_id)
            return self._store.use_cases(project_id, limit=limit, offset=offset)

        return await self._page(read, limit, offset)

    async def use_case(self, caller: Caller, use_case_id: str) -> UseCase:
        require_admin(caller, "Reading the prompt library")
        return await asyncio.to_thread(self._use_case, use_case_id)

    def _use_case(self, use_case_id: str) -> UseCase:
        found = self._store.use_case(use_case_id)
        if found is None:
            raise NotFound(f"No use case {use_case_id!r}.")
        return found

    # --- prompts ----------------------------------------------------------------------------

    async def create_prompt(self, caller: Caller, new: NewPrompt) -> LibraryPrompt:
        require_admin(caller, "Changing the prompt library")
        prompt_id = _new_id("prm")
        prompt = LibraryPrompt(
            id=prompt_id,
            use_case_id=new.use_case_id,
            name=clean_name(new.name, "prompt"),
            description=clean_description(new.description),
            tags=clean_tags(new.tags),
            key=prompt_id,
            created_at=utc(self._clock.now()),
        )
        return await asyncio.to_thread(self._add_prompt, caller, prompt)

    def _add_prompt(self, caller: Caller, prompt: LibraryPrompt) -> LibraryPrompt:
        use_case = self._use_case(prompt.use_case_id)
        if not self._store.add_prompt(prompt):
            raise Conflict(f"Use case {use_case.name!r} has a prompt {prompt.name!r} already.")
        self._audit.record(
            caller,
            LIBRARY_PROMPT_CREATE,
            f"library_prompt:{prompt.id}",
            after={"use_case": use_case.id, "name": prompt.name, "tags": list(prompt.tags)},
        )
        return prompt

    async def prompts(
        self,
        caller: Caller,
        *,
        use_case_id: str | None = None,
        tag: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[LibraryPrompt]:
        require_admin(caller, "Reading the prompt library")
        check_page(limit, offset)
        wanted = tag.strip().lower() if tag is not None and tag.strip() else None

        def read() -> tuple[list[LibraryPrompt], int]:
            if use_case_id is not None:
                self._use_case(use_case_id)
            return self._store.prompts(
                use_case_id=use_case_id, tag=wanted, limit=limit, offset=offset
            )

        return await self._page(read, limit, offset)

    async def prompt(self, caller: Caller, prompt_id: str) -> LibraryPrompt:
        require_admin(caller, "Reading the prompt library")
        return await asyncio.to_thread(self.find, prompt_id)

    def find(self, prompt_id: str) -> LibraryPrompt:
        """The prompt `prompt_id`, or `NotFound` (synchronous; evaluation uses it)."""
        found = self._store.prompt(prompt_id)
        if found is None:
            raise NotFound(f"No prompt {prompt_id!r}.")
        return found

    # --- versions ---------------------------------------------------------------------------

    async def create_version(
        self, caller: Caller, prompt_id: str, text: str, *, activate: bool = True
    ) -> PromptWrite:
        """The next version of the prompt, active at once or a draft (`activate` False)."""
        require_admin(caller, "Changing the prompt library")
        prompt = await asyncio.to_thread(self.find, prompt_id)
        if prompt.built_in:
            return await self._system.create(caller, prompt.key, text, activate=activate)
        clean = clean_prompt_text(text)
        return await asyncio.to_thread(self._create_version, caller, prompt, clean, activate)

    def _create_version(
        self, caller: Caller, prompt: LibraryPrompt, text: str, activate: bool
    ) -> PromptWrite:
        active = self._versions.active_version(prompt.key)
        if active is not None and active.text == text:
            return PromptWrite(EffectivePrompt.of_version(active), changed=False)
        change = self._versions.create_version(
            prompt.key, text, caller.user_id, utc(self._clock.now()), activate=activate
        )
        assert change.after is not None
        after = change.after.version if activate else change.before
        draft = {} if activate else {"draft": change.after.version}
        self._audit.record(
            caller,
            PROMPT_CREATE,
            f"prompt:{prompt.key}",
            before={"version": _label(change.before)},
            after={"version": _label(after), **draft, "chars": len(text)},
        )
        return PromptWrite(EffectivePrompt.of_version(change.after, active=activate), changed=True)

    async def activate(self, caller: Caller, prompt_id: str, version: int) -> PromptWrite:
        require_admin(caller, "Changing the prompt library")
        prompt = await asyncio.to_thread(self.find, prompt_id)
        if prompt.built_in:
            return await self._system.activate(caller, prompt.key, version)
        return await asyncio.to_thread(self._activate, caller, prompt, version)

    def _activate(self, caller: Caller, prompt: LibraryPrompt, version: int) -> PromptWrite:
        change = self._versions.activate(prompt.key, version)
        if change is None or change.after is None:
            raise NotFound(f"Prompt {prompt.id!r} has no version {version}.")
        if change.before != version:
            self._audit.record(
                caller,
                PROMPT_ACTIVATE,
                f"prompt:{prompt.key}",
                before={"version": _label(change.before)},
                after={"version": version},
            )
        return PromptWrite(EffectivePrompt.of_version(change.after), change.before != version)

    async def versions(
        self, caller: Caller, prompt_id: str, *, limit: int = 50, offset: int = 0
    ) -> VersionPage:
        """Newest first, each with its statistics."""
        require_admin(caller, "Reading the prompt library")
        check_page(limit, offset)
        return await asyncio.to_thread(self._versions_page, prompt_id, limit, offset)

    def _versions_page(self, prompt_id: str, limit: int, offset: int) -> VersionPage:
        prompt = self.find(prompt_id)
        versions, total = self._versions.list_versions(prompt.key, limit=limit, offset=offset)
        active = self._versions.active_version(prompt.key)
        number = active.version if active else None
        stats = self._stats.version_stats(prompt.key)
        items = tuple(
            VersionWithStats(v, v.version == number, stats.get(v.version, NO_RUNS))
            for v in versions
        )
        return VersionPage(prompt, Page(items, total, limit, offset), number)

    async def version(self, caller: Caller, prompt_id: str, version: int) -> VersionWithStats:
        require_admin(caller, "Reading the prompt library")
        return await asyncio.to_thread(self.find_version, prompt_id, version)

    def find_version(self, prompt_id: str, version: int) -> VersionWithStats:
        """One version with its statistics, or `NotFound` (synchronous)."""
        prompt = self.find(prompt_id)
        found = self._versions.get_version(prompt.key, version)
        if found is None:
            raise NotFound(f"Prompt {prompt_id!r} has no version {version}.")
        active = self._versions.active_version(prompt.key)
        stats = self._stats.version_stats(prompt.key).get(version, NO_RUNS)
        return VersionWithStats(found, active is not None and active.version == version, stats)

    # --- updates and deletes ----------------------------------------------------------------

    async def update_project(self, caller: Caller, project_id: str, changes: Changes) -> Project:
        require_admin(caller, "Changing the prompt library")
        return await asyncio.to_thread(self._update_project, caller, project_id, changes)

    def _update_project(self, caller: Caller, project_id: str, changes: Changes) -> Project:
        found = self._project(project_id)
        updated = replace(found, **self._fields(changes, "project"))
        if not self._store.update_project(updated):
            self._project(project_id)  # deleted meanwhile: NotFound
            raise Conflict(f"A project is named {updated.name!r} already.")
        self._audit_change(caller, PROJECT_UPDATE, f"project:{found.id}", found, updated)
        return updated

    async def update_use_case(self, caller: Caller, use_case_id: str, changes: Changes) -> UseCase:
        require_admin(caller, "Changing the prompt library")
        return await asyncio.to_thread(self._update_use_case, caller, use_case_id, changes)

    def _update_use_case(self, caller: Caller, use_case_id: str, changes: Changes) -> UseCase:
        found = self._use_case(use_case_id)
        updated = replace(found, **self._fields(changes, "use case"))
        if not self._store.update_use_case(updated):
            self._use_case(use_case_id)
            raise Conflict(f"Its project has a use case {updated.name!r} already.")
        self._audit_change(caller, USE_CASE_UPDATE, f"use_case:{found.id}", found, updated)
        return updated

    async def update_prompt(
        self, caller: Caller, prompt_id: str, changes: Changes
    ) -> LibraryPrompt:
        require_admin(caller, "Changing the prompt library")
        return await asyncio.to_thread(self._update_prompt, caller, prompt_id, changes)

    def _update_prompt(self, caller: Caller, prompt_id: str, changes: Changes) -> LibraryPrompt:
        found = self.find(prompt_id)
        updated = replace(found, **self._fields(changes, "prompt"))
        if changes.tags is not None:
            updated = replace(updated, tags=clean_tags(changes.tags))
        if not self._store.update_prompt(updated):
            self.find(prompt_id)
            raise Conflict(f"Its use case has a prompt {updated.name!r} already.")
        self._audit_change(
            caller, LIBRARY_PROMPT_UPDATE, f"library_prompt:{found.id}", found, updated
        )
        return updated

    def _fields(self, changes: Changes, what: str) -> _Fields:
        fields: _Fields = {"updated_at": utc(self._clock.now())}
        if changes.name is not None:
            fields["name"] = clean_name(changes.name, what)
        if changes.description is not None:
            fields["description"] = clean_description(changes.description)
        return fields

    def _audit_change(
        self,
        caller: Caller,
        action: str,
        target: str,
        before: Project | UseCase | LibraryPrompt,
        after: Project | UseCase | LibraryPrompt,
    ) -> None:
        def shown(item: Project | UseCase | LibraryPrompt) -> dict[str, object]:
            tags = {"tags": list(item.tags)} if isinstance(item, LibraryPrompt) else {}
            return {"name": item.name, "description": item.description, **tags}

        self._audit.record(caller, action, target, before=shown(before), after=shown(after))

    async def delete_project(self, caller: Caller, project_id: str) -> Removed:
        require_admin(caller, "Changing the prompt library")
        return await asyncio.to_thread(self._delete_project, caller, project_id)

    def _delete_project(self, caller: Caller, project_id: str) -> Removed:
        found = self._project(project_id)
        for held in self._built_ins():
            if held[1].project_id == found.id:
                raise Conflict(
                    f"Project {found.name!r} holds the built-in prompt {held[0].id!r}, which "
                    "chat and advice turns are answered with: it cannot be deleted."
                )
        removed = self._store.delete_project(found.id)
        if removed is None:
            raise NotFound(f"No project {project_id!r}.")
        self._audit_delete(caller, PROJECT_DELETE, f"project:{found.id}", found.name, removed)
        return removed

    async def delete_use_case(self, caller: Caller, use_case_id: str) -> Removed:
        require_admin(caller, "Changing the prompt library")
        return await asyncio.to_thread(self._delete_use_case, caller, use_case_id)

    def _delete_use_case(self, caller: Caller, use_case_id: str) -> Removed:
        found = self._use_case(use_case_id)
        for prompt, use_case in self._built_ins():
            if use_case.id == found.id:
                raise Conflict(
                    f"Use case {found.name!r} holds the built-in prompt {prompt.id!r}, which "
                    "chat and advice turns are answered with: it cannot be deleted."
                )
        removed = self._store.delete_use_case(found.id)
        if removed is None:
            raise NotFound(f"No use case {use_case_id!r}.")
        self._audit_delete(caller, USE_CASE_DELETE, f"use_case:{found.id}", found.name, removed)
        return removed

    async def delete_prompt(self, caller: Caller, prompt_id: str) -> Removed:
        require_admin(caller, "Changing the prompt library")
        return await asyncio.to_thread(self._delete_prompt, caller, prompt_id)

    def _delete_prompt(self, caller: Caller, prompt_id: str) -> Removed:
        found = self.find(prompt_id)
        if found.built_in:
            raise Conflict(
                f"Prompt {found.id!r} is built in: chat and advice turns are answered with "
                "its versions, so it cannot be deleted."
            )
        removed = self._store.delete_prompt(found.id)
        if removed is None:
            raise NotFound(f"No prompt {prompt_id!r}.")
        self._audit_delete(
            caller, LIBRARY_PROMPT_DELETE, f"library_prompt:{found.id}", found.name, removed
        )
        return removed

    def _built_ins(self) -> list[tuple[LibraryPrompt, UseCase]]:
        """The built-in prompts still stored, each with its use case."""
        held = []
        for prompt_id in BUILT_IN_PROMPTS:
            prompt = self._store.prompt(prompt_id)
            use_case = self._store.use_case(prompt.use_case_id) if prompt else None
            if prompt is not None and use_case is not None:
                held.append((prompt, use_case))
        return held

    def _audit_delete(
        self, caller: Caller, action: str, target: str, name: str, removed: Removed
    ) -> None:
        children = {"use_cases": removed.use_cases, "prompts": removed.prompts}
        self._audit.record(caller, action, target, before=name, after={"removed": children})

    # --- prompts with their version counts ---------------------------------------------------

    async def prompt_summary(self, caller: Caller, prompt_id: str) -> PromptSummary:
        require_admin(caller, "Reading the prompt library")
        return await asyncio.to_thread(lambda: self._summary(self.find(prompt_id)))

    async def summaries(
        self, caller: Caller, prompts: Sequence[LibraryPrompt]
    ) -> list[PromptSummary]:
        """Each prompt with how many versions it has and the newest one's number."""
        require_admin(caller, "Reading the prompt library")
        return await asyncio.to_thread(lambda: [self._summary(p) for p in prompts])

    def _summary(self, prompt: LibraryPrompt) -> PromptSummary:
        newest, count = self._versions.list_versions(prompt.key, limit=1, offset=0)
        return PromptSummary(prompt, count, newest[0].version if newest else None)

    async def _page(
        self, read: Callable[[], tuple[list[T], int]], limit: int, offset: int
    ) -> Page[T]:
        items, total = await asyncio.to_thread(read)
        return Page(tuple(items), total, limit, offset)


def _label(version: int | None) -> int | str:
    return version if version is not None else "default"
