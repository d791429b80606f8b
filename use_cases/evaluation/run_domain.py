"""Evaluation runs: the stored records and the ports of their stores.

A run is a dataset version x one or more models x optionally a prompt version x assertions,
with its settings. Its plan (which (model, case, variant) items it executes) follows from the
dataset version and the settings alone, so the store keeps the run and the rows of the items
done; the items still to do are the plan minus those rows. That is what makes a run resumable:
after a crash, a new start executes exactly the items without a row.

Statuses: `queued` (created, not started) -> `running` -> `completed` (every item has a row;
rows of failed cases carry their `error`) or `failed` (the run itself could not go on, e.g.
its dataset version vanished; `error` says why) or `cancelled` (an admin stopped it while
queued or running; the rows recorded until then are kept, and nothing moves it on). A server
start resumes the runs left `queued` or `running`.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from use_cases.jobs.queue import QueueLimits
from use_cases.shared.sampling import NO_SAMPLING, Sampling

RunStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
UNFINISHED: tuple[RunStatus, ...] = ("queued", "running")
CLEAN = "clean"


@dataclass(frozen=True)
class StoredDataset:
    """A dataset version as stored: its source text is kept and parsed again when used, so
    there is one parser (`eval_domain.parse_dataset`) and the version is its content hash."""

    id: str
    name: str
    version: str
    description: str
    source: str  # "bundled" or "upload"
    fmt: Literal["jsonl", "csv"]
    text: str
    created_at: str
    cases: int


@dataclass(frozen=True)
class PromptRef:
    type: str
    version: int

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "version": self.version}


@dataclass(frozen=True)
class RunSettings:
    concurrency: int
    k: int
    robustness: tuple[str, ...]
    seed: int
    assertions: tuple[Mapping[str, Any], ...] = ()
    limit: int | None = None
    tags: tuple[str, ...] = ()
    sampling: Sampling = NO_SAMPLING
    """Sent to the model with every turn; recorded even where the model ignores them."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "k": self.k,
            "robustness": list(self.robustness),
            "seed": self.seed,
            "assertions": [dict(a) for a in self.assertions],
            "limit": self.limit,
            "tags": list(self.tags),
            "sampling": self.sampling.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSettings:
        return cls(
            concurrency=int(data["concurrency"]),
            k=int(data["k"]),
            robustness=tuple(data.get("robustness") or ()),
            seed=int(data.get("seed") or 0),
            assertions=tuple(data.get("assertions") or ()),
            limit=data.get("limit"),
            tags=tuple(data.get("tags") or ()),
            sampling=Sampling.from_dict(data.get("sampling")),
        )


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    status: RunStatus
    task_id: str
    task_version: str
    models: tuple[str, ...]
    prompt_version: PromptRef | None
    settings: RunSettings
    created_by: str
    created_at: str
    total: int
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class RunProgress:
    """How far a run is: of `total` items, `done` have finished, `completed` of them
    without an error and `failed` with one. So `done = completed + failed <= total` and
    `percent = 100 * done / total <= 100`; `of` builds it from the store's counts."""

    total: int
    completed: int
    failed: int

    @classmethod
    def of(cls, total: int, recorded: int, failed: int) -> RunProgress:
        """From the rows recorded and those with an error (a row past the plan, e.g. of an
        item the plan no longer holds, never counts beyond `total`)."""
        done = max(0, min(recorded, total))
        failed = max(0, min(failed, done))
        return cls(total, done - failed, failed)

    @property
    def done(self) -> int:
        return self.completed + self.failed

    @property
    def percent(self) -> float:
        return round(100 * self.done / self.total, 1) if self.total else 100.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "done": self.done,
            "completed": self.completed,
            "failed": self.failed,
            "percent": self.percent,
        }


ItemKey = tuple[str, str, str]
"""(model, case_id, variant): one execution of one case."""


@dataclass(frozen=True)
class RunRows:
    record: RunRecord
    rows: Sequence[Mapping[str, Any]] = field(default_factory=list)


class DatasetStore(Protocol):
    def put(self, dataset: StoredDataset) -> StoredDataset:
        """Store a version; returns the stored one (the existing row when the same id and
        version are already there, so a re-upload reports the first upload)."""
        ...

    def latest(self, dataset_id: str) -> StoredDataset | None: ...

    def version(self, dataset_id: str, version: str) -> StoredDataset | None: ...

    def list(self) -> list[StoredDataset]:
        """The latest version of each dataset, by id."""
        ...

    def put_latest(self, dataset: StoredDataset) -> StoredDataset:
        """Store a version as the dataset's newest: a version stored already (an edit that
        went back to earlier content) is stored again, the same content with this name,
        description and time, so it is the one `latest` answers."""
        ...

    def delete(self, dataset_id: str) -> int:
        """Delete every version of the dataset; answers how many went (0: none was stored)."""
        ...


class RunStore(Protocol):
    def create(self, run: RunRecord, limits: QueueLimits | None = None) -> None:
        """Store a new run. With `limits`: `ServiceBusy` (and nothing stored) when the runs
        queued or running, everyone's or `run.created_by`'s, already fill them (counted in
        the same transaction as the insert)."""
        ...

    def get(self, run_id: str) -> RunRecord | None: ...

    def latest(self, status: RunStatus | None = None) -> RunRecord | None: ...

    def list(self, limit: int, offset: int) -> list[RunRecord]: ...

    def count(self) -> int:
        """How many runs there are (the total of `list`'s pages)."""
        ...

    def dataset_runs(self, dataset_id: str) -> int:
        """How many runs used a version of the dataset."""
        ...

    def unfinished(self) -> builtins.list[RunRecord]: ...

    def set_status(
        self, run_id: str, status: RunStatus, *, at: str, error: str | None = None
    ) -> None:
        """Move a run on; `started_at` is set the first time it runs, `finished_at` when it
        reaches completed, failed or cancelled. A cancelled run is never moved on."""
        ...

    def delete(self, run_id: str) -> bool:
        """Delete the run and its rows; False when there is no such run."""
        ...

    def cancel(self, run_id: str, *, at: str, error: str | None = None) -> bool:
        """Mark a queued or running run cancelled (its rows kept); False, and no change, for
        a run that is finished or missing."""
        ...

    def add_row(self, run_id: str, key: ItemKey, row: Mapping[str, Any]) -> bool:
        """Record one item's row; False (and no change) when the item already has one."""
        ...

    def done(self, run_id: str) -> set[ItemKey]: ...

    def rows(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """The rows in plan order is not promised: in the order they were recorded."""
        ...

    def progress(self, run_id: str) -> tuple[int, int]:
        """(rows recorded, rows with an error)."""
        ...
