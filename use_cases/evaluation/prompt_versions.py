"""Evaluating the versions of a library prompt: a run of one version over a dataset across
models, the comparison of two versions, and paged views of the datasets and runs
(`/api/v1/datasets`, `/api/v1/eval-runs`).

Rules:
- A version's run is an ordinary evaluation run (`BenchmarkRuns`: the same checks, the same
  engine, resumable, executed as a background job) whose prompt version is
  `{"type": KEY, "version": N}`, KEY being the prompt's key (`chat`, `advice` for the
  built-in prompts, the prompt's id for the others). Its sampling settings are recorded with
  the run. An unknown prompt is `NotFound`; an unknown version `InvalidRequest` naming it.
- Comparing versions A and B compares the newest completed run of each (A is the baseline)
  with the compare gate (`CompareRuns`, its `fail_on` rules included). A version without a
  completed run is `NotFound` saying so; A and B equal is `InvalidRequest`.
- Admins only, like every evaluation read and write.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from use_cases.access.domain import Caller, require_admin
from use_cases.evaluation.compare import CompareRuns, ComparisonReport
from use_cases.evaluation.datasets import ManageDatasets
from use_cases.evaluation.run_domain import PromptRef, RunRecord, RunStore, StoredDataset
from use_cases.evaluation.runs import BenchmarkRuns, RunRequest
from use_cases.prompts.library import ManagePromptLibrary, check_page
from use_cases.prompts.library_domain import Page
from use_cases.shared.errors import InvalidRequest, NotFound
from use_cases.shared.sampling import NO_SAMPLING, Sampling


@dataclass(frozen=True)
class VersionRunRequest:
    prompt_id: str
    version: int
    dataset: str
    models: tuple[str, ...] = ()
    sampling: Sampling = NO_SAMPLING
    limit: int | None = None
    tags: tuple[str, ...] = ()
    concurrency: int | None = None


@dataclass(frozen=True)
class VersionComparison:
    prompt_id: str
    a: int
    b: int
    run_a: str
    run_b: str
    report: ComparisonReport


class EvaluatePromptVersions:
    """Runs and compares prompt versions; pages of datasets and runs (see the module rules)."""

    def __init__(
        self,
        library: ManagePromptLibrary,
        benchmark: BenchmarkRuns,
        compare: CompareRuns,
        datasets: ManageDatasets,
        runs: RunStore,
    ) -> None:
        self._library = library
        self._benchmark = benchmark
        self._compare = compare
        self._datasets = datasets
        self._runs = runs

    async def start(self, caller: Caller, request: VersionRunRequest) -> RunRecord:
        """Store the run (checked whole first) and queue it as a background job; answers the
        queued run."""
        record = await self.create(caller, request)
        await asyncio.to_thread(self._benchmark.schedule, record.run_id)
        return record

    async def create(self, caller: Caller, request: VersionRunRequest) -> RunRecord:
        """Store the run (checked whole first) without queueing it: the caller executes it
        (`BenchmarkRuns.execute`, as the CLI does)."""
        require_admin(caller, "Running evaluations")
        prompt = await asyncio.to_thread(self._library.find, request.prompt_id)
        return await self._benchmark.start(
            caller,
            RunRequest(
                task_id=request.dataset,
                models=request.models,
                prompt_version=PromptRef(prompt.key, request.version),
                sampling=request.sampling,
                limit=request.limit,
                tags=request.tags,
                concurrency=request.concurrency,
            ),
        )

    async def compare(
        self, caller: Caller, prompt_id: str, a: int, b: int, fail_on: str | None = None
    ) -> VersionComparison:
        require_admin(caller, "Comparing evaluation runs")
        if a == b:
            raise InvalidRequest("Compare two different versions: a and b are the same.")
        run_a = await asyncio.to_thread(self._completed_run, prompt_id, a)
        run_b = await asyncio.to_thread(self._completed_run, prompt_id, b)
        report = await self._compare.execute(caller, run_a, run_b, fail_on)
        return VersionComparison(prompt_id, a, b, run_a, run_b, report)

    def _completed_run(self, prompt_id: str, version: int) -> str:
        found = self._library.find_version(prompt_id, version)
        run_id = found.stats.last_completed_run_id
        if run_id is None:
            raise NotFound(
                f"Version {version} of prompt {prompt_id!r} has no completed evaluation run; "
                "start one with POST /api/v1/eval-runs."
            )
        return run_id

    async def datasets(
        self, caller: Caller, *, limit: int = 50, offset: int = 0
    ) -> Page[StoredDataset]:
        require_admin(caller, "Reading evaluation datasets")
        check_page(limit, offset)
        every = await self._datasets.list(caller)
        return Page(tuple(every[offset : offset + limit]), len(every), limit, offset)

    async def runs(self, caller: Caller, *, limit: int = 50, offset: int = 0) -> Page[RunRecord]:
        require_admin(caller, "Reading evaluation runs")
        check_page(limit, offset)

        def read() -> Page[RunRecord]:
            items = self._runs.list(limit, offset)
            return Page(tuple(items), self._runs.count(), limit, offset)

        return await asyncio.to_thread(read)
