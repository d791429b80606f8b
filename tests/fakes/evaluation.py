"""In-memory fakes of the evaluation ports (`DatasetStore`, `RunStore`), run against the same
contract tests as the SQLite and PostgreSQL adapters (tests/integration/test_eval_run_stores.py,
`memory` backend)."""

from __future__ import annotations

import builtins
import copy
import json
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from use_cases.evaluation.run_domain import UNFINISHED, ItemKey, RunRecord, RunStatus, StoredDataset
from use_cases.jobs.queue import QueueLimits

__all__ = ["InMemoryDatasetStore", "InMemoryRunStore"]


class InMemoryDatasetStore:
    """`DatasetStore`: versions by (id, version); the first upload of a version stays."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list[StoredDataset] = []  # in insertion order (the adapters' rowid)

    def put(self, dataset: StoredDataset) -> StoredDataset:
        with self._lock:
            found = self._find(dataset.id, dataset.version)
            if found is None:
                self._rows.append(dataset)
                return dataset
            return found

    def latest(self, dataset_id: str) -> StoredDataset | None:
        with self._lock:
            return self._newest([d for d in self._rows if d.id == dataset_id])

    def version(self, dataset_id: str, version: str) -> StoredDataset | None:
        with self._lock:
            return self._find(dataset_id, version)

    def list(self) -> list[StoredDataset]:
        with self._lock:
            ids = sorted({d.id for d in self._rows})
            newest = [self._newest([d for d in self._rows if d.id == i]) for i in ids]
            return [d for d in newest if d is not None]

    def put_latest(self, dataset: StoredDataset) -> StoredDataset:
        with self._lock:
            self._rows = [
                d for d in self._rows if (d.id, d.version) != (dataset.id, dataset.version)
            ]
            self._rows.append(dataset)
            return dataset

    def delete(self, dataset_id: str) -> int:
        with self._lock:
            kept = [d for d in self._rows if d.id != dataset_id]
            gone, self._rows = len(self._rows) - len(kept), kept
            return gone

    def _find(self, dataset_id: str, version: str) -> StoredDataset | None:
        return self._newest([d for d in self._rows if d.id == dataset_id and d.version == version])

    def _newest(self, rows: builtins.list[StoredDataset]) -> StoredDataset | None:
        """ORDER BY created_at DESC, rowid DESC LIMIT 1."""
        if not rows:
            return None
        order = {id(d): i for i, d in enumerate(self._rows)}
        return max(rows, key=lambda d: (d.created_at, order[id(d)]))


class InMemoryRunStore:
    """`RunStore`: runs and their rows; a row per item key, recorded once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, RunRecord] = {}
        self._order: dict[str, int] = {}
        self._rows: dict[str, dict[ItemKey, dict[str, Any]]] = {}

    def create(self, run: RunRecord, limits: QueueLimits | None = None) -> None:
        with self._lock:
            if limits is not None:
                waiting = [r for r in self._runs.values() if r.status in UNFINISHED]
                mine = sum(r.created_by == run.created_by for r in waiting)
                limits.check(len(waiting), mine)
            if run.run_id in self._runs:
                raise ValueError(f"run {run.run_id} exists")  # a primary key, in the adapters
            self._runs[run.run_id] = run
            self._order[run.run_id] = len(self._order)
            self._rows[run.run_id] = {}

    def get(self, run_id: str) -> RunRecord | None:
        with self._lock:
            return self._runs.get(run_id)

    def delete(self, run_id: str) -> bool:
        with self._lock:
            self._rows.pop(run_id, None)
            return self._runs.pop(run_id, None) is not None

    def latest(self, status: RunStatus | None = None) -> RunRecord | None:
        with self._lock:
            chosen = [r for r in self._runs.values() if status is None or r.status == status]
            return max(chosen, key=self._newest_first_key, default=None)

    def list(self, limit: int, offset: int) -> list[RunRecord]:
        with self._lock:
            ordered = sorted(self._runs.values(), key=self._newest_first_key, reverse=True)
            return ordered[offset : offset + limit]

    def count(self) -> int:
        with self._lock:
            return len(self._runs)

    def dataset_runs(self, dataset_id: str) -> int:
        with self._lock:
            return sum(1 for r in self._runs.values() if r.task_id == dataset_id)

    def unfinished(self) -> builtins.list[RunRecord]:
        with self._lock:
            chosen = [r for r in self._runs.values() if r.status in UNFINISHED]
            return sorted(chosen, key=self._newest_first_key)

    def set_status(
        self, run_id: str, status: RunStatus, *, at: str, error: str | None = None
    ) -> None:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.status == "cancelled":
                return
            if run.status == "cancelled":
                return
            finished = status in ("completed", "failed", "cancelled")
            self._runs[run_id] = replace(
                run,
                status=status,
                error=error,
                started_at=(run.started_at or at) if status == "running" else run.started_at,
                finished_at=at if finished else None,
            )

    def cancel(self, run_id: str, *, at: str, error: str | None = None) -> bool:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.status not in UNFINISHED:
                return False
            self._runs[run_id] = replace(run, status="cancelled", finished_at=at, error=error)
            return True

    def add_row(self, run_id: str, key: ItemKey, row: Mapping[str, Any]) -> bool:
        with self._lock:
            rows = self._rows.setdefault(run_id, {})
            if key in rows:
                return False
            rows[key] = json.loads(json.dumps(row))  # stored as JSON by the adapters
            return True

    def done(self, run_id: str) -> set[ItemKey]:
        with self._lock:
            return set(self._rows.get(run_id, {}))

    def rows(self, run_id: str) -> builtins.list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._rows.get(run_id, {}).values()))

    def progress(self, run_id: str) -> tuple[int, int]:
        with self._lock:
            rows = list(self._rows.get(run_id, {}).values())
            return len(rows), sum(1 for r in rows if r.get("error") is not None)

    def _newest_first_key(self, run: RunRecord) -> tuple[str, int]:
        return run.created_at, self._order[run.run_id]
