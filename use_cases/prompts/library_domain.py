"""Domain types of the prompt library: projects -> use cases -> named prompts -> versions.

A *library prompt* is a named, described and tagged prompt inside a use case. Its versions are
the numbered versions of the prompt store under the prompt's `key` (`PromptStore`), so the
two prompt types that serve turns today are two built-in library prompts: `prm_chat` (key
`chat`) and `prm_advice` (key `advice`), in the use cases `uc_chat` and `uc_advice` of the
default project `proj_default`. A new prompt's key is its own id.

A version's statistics are read from the evaluation runs that recorded it as their prompt
version (`{"type": key, "version": n}`), never stored apart, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from use_cases.prompts.domain import ADVICE, CHAT, PromptVersion
from use_cases.shared.errors import InvalidRequest

DEFAULT_PROJECT = "proj_default"
#: The library prompts whose key is a prompt type that serves turns, by id.
BUILT_IN_PROMPTS = {"prm_chat": CHAT, "prm_advice": ADVICE}
BUILT_IN_KEYS = frozenset(BUILT_IN_PROMPTS.values())

MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 2_000
MAX_TAGS = 20
MAX_TAG_CHARS = 40


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime | None = None
    """When its name or description last changed (None: never, so `created_at`)."""


@dataclass(frozen=True)
class UseCase:
    id: str
    project_id: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime | None = None


@dataclass(frozen=True)
class LibraryPrompt:
    id: str
    use_case_id: str
    name: str
    description: str
    tags: tuple[str, ...]
    key: str
    """The prompt store's name for its versions (and an evaluation run's `prompt_version.type`)."""
    created_at: datetime
    updated_at: datetime | None = None

    @property
    def built_in(self) -> bool:
        """Whether its versions are a prompt type that serves chat or advice turns."""
        return self.key in BUILT_IN_KEYS


@dataclass(frozen=True)
class Removed:
    """What one delete removed: the row asked for and the children it took with it."""

    use_cases: int = 0
    prompts: int = 0


@dataclass(frozen=True)
class PromptSummary:
    """A prompt with how many versions it has and the newest one's number (None: none)."""

    prompt: LibraryPrompt
    version_count: int
    latest_version: int | None


@dataclass(frozen=True)
class VersionStats:
    """What the evaluation runs of one prompt version measured, over all of them.

    `runs` counts the runs started with the version; `pass_rate` is the share of correct
    answers and `mean_latency_ms` the mean latency over their clean rows (rows of failed
    cases count as incorrect and have no latency); `cost_usd` sums the priced rows;
    `last_run_*` is the newest run, `last_completed_run_id` the newest completed one."""

    runs: int = 0
    cases: int = 0
    pass_rate: float | None = None
    mean_latency_ms: float | None = None
    cost_usd: float | None = None
    last_run_at: str | None = None
    last_run_id: str | None = None
    last_completed_run_id: str | None = None


NO_RUNS = VersionStats()


@dataclass(frozen=True)
class VersionWithStats:
    version: PromptVersion
    active: bool
    stats: VersionStats


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    total: int
    limit: int
    offset: int


def clean_name(value: str, what: str) -> str:
    name = " ".join(value.split())
    if not name:
        raise InvalidRequest(f"field 'name': give the {what} a name.")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidRequest(f"field 'name': at most {MAX_NAME_CHARS} characters.")
    if "\x00" in name:
        raise InvalidRequest("field 'name' contains a NUL character.")
    return name


def clean_description(value: str) -> str:
    text = value.strip()
    if len(text) > MAX_DESCRIPTION_CHARS:
        raise InvalidRequest(f"field 'description': at most {MAX_DESCRIPTION_CHARS} characters.")
    if "\x00" in text:
        raise InvalidRequest("field 'description' contains a NUL character.")
    return text


def clean_tags(values: Sequence[str]) -> tuple[str, ...]:
    """Tags trimmed and lower-cased, each once, in the order given."""
    tags = tuple(dict.fromkeys(t.strip().lower() for t in values if t.strip()))
    if len(tags) > MAX_TAGS:
        raise InvalidRequest(f"field 'tags': at most {MAX_TAGS} tags.")
    for tag in tags:
        if len(tag) > MAX_TAG_CHARS or "\x00" in tag:
            raise InvalidRequest(
                f"field 'tags': {tag[:MAX_TAG_CHARS]!r}… is not a tag (at most "
                f"{MAX_TAG_CHARS} characters)."
            )
    return tags
