"""In-memory fakes of the prompt library's ports: `PromptLibraryStore` (with the default
project and built-in prompts its migrations store) and `PromptRunStats`."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar

from use_cases.prompts.library_domain import (
    LibraryPrompt,
    Project,
    Removed,
    UseCase,
    VersionStats,
)

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class InMemoryPromptLibraryStore:
    """`PromptLibraryStore`: names unique within their parent, pages by name then id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._projects = {"proj_default": Project("proj_default", "Default", "", _EPOCH)}
        self._use_cases = {
            "uc_chat": UseCase("uc_chat", "proj_default", "chat", "", _EPOCH),
            "uc_advice": UseCase("uc_advice", "proj_default", "advice", "", _EPOCH),
        }
        self._prompts = {
            key_id: LibraryPrompt(key_id, f"uc_{key}", key, "", ("built-in",), key, _EPOCH)
            for key_id, key in (("prm_chat", "chat"), ("prm_advice", "advice"))
        }

    def add_project(self, project: Project) -> bool:
        with self._lock:
            if any(p.name == project.name for p in self._projects.values()):
                return False
            self._projects[project.id] = project
            return True

    def project(self, project_id: str) -> Project | None:
        return self._projects.get(project_id)

    def projects(self, *, limit: int, offset: int) -> tuple[list[Project], int]:
        return _page(list(self._projects.values()), limit, offset)

    def add_use_case(self, use_case: UseCase) -> bool:
        with self._lock:
            if any(
                (u.project_id, u.name) == (use_case.project_id, use_case.name)
                for u in self._use_cases.values()
            ):
                return False
            self._use_cases[use_case.id] = use_case
            return True

    def use_case(self, use_case_id: str) -> UseCase | None:
        return self._use_cases.get(use_case_id)

    def use_cases(self, project_id: str, *, limit: int, offset: int) -> tuple[list[UseCase], int]:
        chosen = [u for u in self._use_cases.values() if u.project_id == project_id]
        return _page(chosen, limit, offset)

    def add_prompt(self, prompt: LibraryPrompt) -> bool:
        with self._lock:
            if any(
                (p.use_case_id, p.name) == (prompt.use_case_id, prompt.name) or p.key == prompt.key
                for p in self._prompts.values()
            ):
                return False
            self._prompts[prompt.id] = replace(prompt, tags=tuple(prompt.tags))
            return True

    def prompt(self, prompt_id: str) -> LibraryPrompt | None:
        return self._prompts.get(prompt_id)

    def prompts(
        self, *, use_case_id: str | None, tag: str | None, limit: int, offset: int
    ) -> tuple[list[LibraryPrompt], int]:
        chosen = [
            p
            for p in self._prompts.values()
            if (use_case_id is None or p.use_case_id == use_case_id)
            and (tag is None or tag in p.tags)
        ]
        return _page(chosen, limit, offset)

    def update_project(self, project: Project) -> bool:
        with self._lock:
            if project.id not in self._projects or any(
                p.name == project.name and p.id != project.id for p in self._projects.values()
            ):
                return False
            self._projects[project.id] = project
            return True

    def update_use_case(self, use_case: UseCase) -> bool:
        with self._lock:
            if use_case.id not in self._use_cases or any(
                (u.project_id, u.name) == (use_case.project_id, use_case.name)
                and u.id != use_case.id
                for u in self._use_cases.values()
            ):
                return False
            self._use_cases[use_case.id] = use_case
            return True

    def update_prompt(self, prompt: LibraryPrompt) -> bool:
        with self._lock:
            if prompt.id not in self._prompts or any(
                (p.use_case_id, p.name) == (prompt.use_case_id, prompt.name) and p.id != prompt.id
                for p in self._prompts.values()
            ):
                return False
            self._prompts[prompt.id] = replace(prompt, tags=tuple(prompt.tags))
            return True

    def delete_project(self, project_id: str) -> Removed | None:
        with self._lock:
            if self._projects.pop(project_id, None) is None:
                return None
            gone = [u for u in self._use_cases.values() if u.project_id == project_id]
            prompts = sum(self._drop_prompts_of(u.id) for u in gone)
            for use_case in gone:
                del self._use_cases[use_case.id]
            return Removed(len(gone), prompts)

    def delete_use_case(self, use_case_id: str) -> Removed | None:
        with self._lock:
            if self._use_cases.pop(use_case_id, None) is None:
                return None
            return Removed(prompts=self._drop_prompts_of(use_case_id))

    def delete_prompt(self, prompt_id: str) -> Removed | None:
        with self._lock:
            return Removed() if self._prompts.pop(prompt_id, None) is not None else None

    def _drop_prompts_of(self, use_case_id: str) -> int:
        gone = [p.id for p in self._prompts.values() if p.use_case_id == use_case_id]
        for prompt_id in gone:
            del self._prompts[prompt_id]
        return len(gone)


Named = TypeVar("Named", Project, UseCase, LibraryPrompt)


def _page(items: list[Named], limit: int, offset: int) -> tuple[list[Named], int]:
    ordered = sorted(items, key=lambda item: (item.name, item.id))
    return ordered[offset : offset + limit], len(ordered)


class FixedVersionStats:
    """`PromptRunStats`: the statistics a test sets, by key and version."""

    def __init__(self) -> None:
        self.stats: dict[str, dict[int, VersionStats]] = {}

    def version_stats(self, key: str) -> dict[int, VersionStats]:
        return dict(self.stats.get(key, {}))
