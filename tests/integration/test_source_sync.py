"""Synced sources end to end on a real folder and on moto's S3 server: a first sync, a change,
a deletion, an idle sync that embeds nothing, failures mid-sync after which nothing is lost
and the next sync completes, and the documents searchable under the source's key; and, on
SQLite and PostgreSQL, the schedule's look for due sources queueing each sync once."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backend.bootstrap import Container, bootstrap
from services.sources.folder import FolderKind
from services.sources.kinds import SourceContext
from services.sources.s3 import S3Kind, S3Reader
from tests.conftest import FixedClock, make_settings
from tests.s3_server import AWS_ENV, S3Bucket
from use_cases.access.domain import CLI_ADMIN
from use_cases.shared.clock import utc
from use_cases.shared.errors import Conflict, InvalidRequest, JobCancelled, ServiceBusy
from use_cases.sources.domain import SourceSpec
from use_cases.sources.manage import (
    SOURCE_SYNC,
    AddSourceRequest,
    QueueDueSyncs,
    QueueSourceSync,
)
from use_cases.sources.ports import Fetched, ItemFailed, SourceReader
from use_cases.sources.sync import SyncRequest, SyncSource

DOCS = {
    "travel.md": "# Travel\n\nTrain tickets are refunded within 30 days of the journey.\n",
    "policies/parking.md": "# Parking\n\nVisitors park in bay 7 behind building B.\n",
    "policies/leave.md": "# Leave\n\nEvery employee has 27 days of paid leave a year.\n",
}


class Origin:
    """A folder or a bucket prefix the test writes items to."""

    kind: str
    location: str

    def put(self, key: str, text: str) -> None: ...

    def delete(self, key: str) -> None: ...


class FolderOrigin(Origin):
    kind = "folder"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.location = root.as_posix()

    def put(self, key: str, text: str) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def delete(self, key: str) -> None:
        (self.root / key).unlink()


class BucketOrigin(Origin):
    kind = "s3"

    def __init__(self, bucket: S3Bucket) -> None:
        self.bucket = bucket
        self.client = bucket.client()
        self.location = f"s3://{bucket.name}/handbook/"

    def put(self, key: str, text: str) -> None:
        self.client.put_object(Bucket=self.bucket.name, Key=f"handbook/{key}", Body=text.encode())

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket.name, Key=f"handbook/{key}")


class Kinds:
    """The `SourceKinds` port over the real folder and S3 kinds; the S3 client can be given
    a hook (a listing page that fails, as a dropped connection would)."""

    def __init__(self, container: Container, endpoint_url: str | None) -> None:
        context = SourceContext(
            supports=container.adapters.loader.supports,
            max_item_bytes=1024 * 1024,
            s3_endpoint_url=endpoint_url,
            s3_region="us-east-1",
        )
        self.on_client: Callable[[Any], None] | None = None
        self._kinds: dict[str, Any] = {
            "folder": FolderKind(context),
            "s3": S3Kind(context, client=self._client),
        }
        self._endpoint_url = endpoint_url

    def _client(self) -> Any:
        import boto3

        client = boto3.client("s3", endpoint_url=self._endpoint_url, region_name="us-east-1")
        if self.on_client is not None:
            self.on_client(client)
        return client

    def kinds(self) -> list[str]:
        return list(self._kinds)

    def check(self, kind: str, location: str, *, local: bool = True) -> str:
        return str(self._kinds[kind].check(location, local=local))

    def reader(self, spec: SourceSpec) -> SourceReader:
        return self._kinds[spec.kind].reader(spec)


@dataclass
class World:
    container: Container
    origin: Origin
    kinds: Kinds
    sync: SyncSource
    embedded: list[int]

    def run(self, **request: Any) -> Any:
        return self.sync.run(SyncRequest(name="handbook", **request))

    def sources(self) -> dict[str, int]:
        """Document key -> id of the documents the source brought."""
        return {
            source: document_id
            for document_id, source, origin in self.container.adapters.store.list_origins()
            if origin.startswith("source:handbook/")
        }


@pytest.fixture(params=["folder", "s3"])
def world(request: pytest.FixtureRequest, container: Container, tmp_path: Path) -> Iterator[World]:
    endpoint = None
    if request.param == "folder":
        origin: Origin = FolderOrigin(tmp_path / "handbook")
    else:
        bucket: S3Bucket = request.getfixturevalue("s3_bucket")
        origin = BucketOrigin(bucket)
        endpoint = bucket.endpoint_url
    kinds = Kinds(container, endpoint)
    store = container.adapters.source_store
    sync = SyncSource(
        store,
        kinds,
        container.knowledge.budgeted_ingest,
        container.adapters.store,
        FixedClock(),
    )
    embedder = container.adapters.embedder
    embedded: list[int] = []
    real = embedder.embed_documents

    def counting(texts: Sequence[str]) -> Any:
        embedded.append(len(texts))
        return real(texts)

    embedder.embed_documents = counting  # type: ignore[method-assign]  # counts each batch
    for key, text in DOCS.items():
        origin.put(key, text)
    spec = SourceSpec("handbook", origin.kind, kinds.check(origin.kind, origin.location), 1800)
    store.add(spec, FixedClock().now(), FixedClock().now())
    yield World(container, origin, kinds, sync, embedded)


def test_a_first_sync_adds_every_file_under_the_source_name(world: World) -> None:
    run = world.run()

    assert run.status == "done"
    assert run.counts.line() == "3 added, 0 updated, 0 unchanged, 0 removed, 0 failed"
    assert set(world.sources()) == {f"handbook/{key}" for key in DOCS}
    record = world.container.adapters.store.get_by_source("handbook/policies/parking.md")
    assert record is not None and record.category == "policies"
    history = world.container.adapters.source_store.history("handbook", 5)
    assert [h.counts.added for h in history] == [3]


def test_an_idle_sync_reads_and_embeds_nothing(world: World) -> None:
    world.run()
    world.embedded.clear()

    run = world.run()

    assert run.counts.line() == "0 added, 0 updated, 3 unchanged, 0 removed, 0 failed"
    assert world.embedded == []


@pytest.fixture
def scheduled(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Container]:
    """A container on `backend` with a folder source `handbook` synced every 30 minutes. It
    runs no sync jobs (JOB_KINDS), so what the schedule queues stays queued to be seen."""
    overrides: dict[str, Any] = {"job_kinds": "prepare_answers", "load_sample_data": False}
    if backend == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    container = bootstrap(make_settings(tmp_path / "data", **overrides), clock=FixedClock())
    folder = FolderOrigin(tmp_path / "handbook")
    for key, text in DOCS.items():
        folder.put(key, text)
    add = AddSourceRequest.of_options("handbook", folder=folder.location, every="30m")
    asyncio.run(container.sources.sources.add(CLI_ADMIN, add))
    yield container
    container.close()


def test_a_due_source_is_queued_once_by_looks_while_and_after_its_sync_runs(
    scheduled: Container,
) -> None:
    """The look for due sources and the queueing are two steps: a sync that ended between
    them would have freed its job's key for a second one. The look claims what it finds."""
    sources, jobs = scheduled.sources, scheduled.adapters.jobs.store

    assert sources.queue_due.run() == ["handbook"]  # due since it was added
    assert sources.queue_due.run() == []  # claimed: not due while its sync is queued
    job = jobs.claim([SOURCE_SYNC], "worker-1")
    assert job is not None and job.payload["trigger"] == "schedule"
    assert sources.queue_due.run() == []  # ... nor while it runs
    run = sources.sync.run(SyncRequest("handbook", trigger="schedule"))  # the job's sync
    assert jobs.complete(job.id, "worker-1", None)  # its key is free again

    assert sources.queue_due.run() == []  # next due 30 minutes after the sync started
    assert jobs.waiting() == {}
    history = asyncio.run(sources.sources.sync_history("handbook"))
    assert [(h.id, h.trigger, h.counts.added) for h in history] == [(run.id, "schedule", 3)]


class _FullQueue:
    """A `JobQueue` that takes no job, as a full or closing one answers."""

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise ServiceBusy("The queue is full.")

    def get(self, job_id: str) -> None:
        return None

    def close(self) -> None:
        pass


def test_a_due_source_whose_sync_cannot_be_queued_stays_due(scheduled: Container) -> None:
    store, clock = scheduled.adapters.source_store, FixedClock()
    sources = scheduled.sources
    full = QueueDueSyncs(QueueSourceSync(_FullQueue(), sources.sync, store), store, clock)

    with pytest.raises(ServiceBusy):
        full.run()

    view = asyncio.run(sources.sources.show("handbook"))
    assert view.next_sync_at == utc(clock.now())  # the claim given back: due at once
    assert sources.queue_due.run() == ["handbook"]


def _stopped_after_its_first_item(world: World, **request: Any) -> None:
    """A sync of the world's source, stopped (the server stopping) once its first item is
    decided."""
    decided: list[str] = []

    def stop_after_first(key: str, outcome: str) -> None:
        decided.append(key)
        if len(decided) == 1:
            raise JobCancelled("the server is stopping")

    with pytest.raises(JobCancelled):
        world.run(on_item=stop_after_first, **request)


def test_a_scheduled_sync_stopped_midway_goes_on_when_its_job_runs_again(world: World) -> None:
    _stopped_after_its_first_item(world, trigger="schedule")
    again = world.run(trigger="schedule")  # its job, claimed again after the restart

    assert again.status == "done"
    assert again.counts.added + again.counts.unchanged == 3


def test_a_changed_file_is_updated_and_a_deleted_one_removed(world: World) -> None:
    world.run()
    before = world.sources()
    world.embedded.clear()
    world.origin.put("travel.md", DOCS["travel.md"] + "\nTaxis need a receipt.\n")
    world.origin.delete("policies/leave.md")
    world.origin.put("new.md", "# New\n\nThe canteen opens at 11:30.\n")

    run = world.run()

    assert run.counts.line() == "1 added, 1 updated, 1 unchanged, 1 removed, 0 failed"
    after = world.sources()
    assert set(after) == {"handbook/travel.md", "handbook/policies/parking.md", "handbook/new.md"}
    assert after["handbook/travel.md"] == before["handbook/travel.md"]  # same document, new text
    assert sum(world.embedded) > 0
    record = world.container.adapters.store.get_by_source("handbook/travel.md")
    assert record is not None
    detail = world.container.adapters.store.get_document(record.id)
    assert detail is not None
    assert "Taxis need a receipt." in " ".join(section.text for section in detail.sections)


def test_a_file_that_cannot_be_read_fails_alone_and_keeps_nothing_else_from_syncing(
    world: World,
) -> None:
    world.origin.put("empty.md", "")

    run = world.run()

    assert run.status == "done"
    assert run.counts.line() == "3 added, 0 updated, 0 unchanged, 0 removed, 1 failed"
    assert [e.key for e in run.errors] == ["empty.md"]
    assert "handbook/empty.md" not in world.sources()
    # It stays failed (and is tried again) until it is fixed.
    world.origin.put("empty.md", "# Empty no more\n\nThe lifts are serviced on Mondays.\n")
    assert world.run().counts.line() == "1 added, 0 updated, 3 unchanged, 0 removed, 0 failed"


def test_a_sync_stopped_midway_loses_nothing_and_the_next_one_completes(world: World) -> None:
    world.run()
    world.origin.put("a-new.md", "# A\n\nBadges are renewed every two years.\n")
    world.origin.delete("travel.md")
    _stopped_after_its_first_item(world)

    # Nothing was removed by the stopped sync; the history says it stopped.
    assert "handbook/travel.md" in world.sources()
    last = world.container.adapters.source_store.history("handbook", 1)[0]
    assert last.status == "failed" and "stopped" in (last.error or "")
    world.embedded.clear()
    run = world.run()
    assert run.status == "done"
    assert run.counts.removed == 1
    assert set(world.sources()) == {
        "handbook/a-new.md",
        "handbook/policies/parking.md",
        "handbook/policies/leave.md",
    }


def test_a_second_sync_of_the_same_source_is_refused_while_one_runs(world: World) -> None:
    inner: list[Exception] = []

    def sync_again(key: str, outcome: str) -> None:
        if not inner:
            try:
                world.run()
            except Exception as exc:
                inner.append(exc)

        if len(inner) == 1:  # nor removed while it runs: it would bring documents back
            try:
                asyncio.run(world.container.sources.sources.remove(CLI_ADMIN, "handbook"))
            except Exception as exc:
                inner.append(exc)

    run = world.run(on_item=sync_again)

    assert run.status == "done"
    assert [type(e) for e in inner] == [Conflict, Conflict]
    first, second = inner
    assert isinstance(first, Conflict) and isinstance(second, Conflict)
    assert "already running" in first.detail
    assert "is running; remove the source once it has ended" in second.detail


def test_a_listing_that_fails_removes_nothing_and_says_why(
    world: World, logged: list[tuple[str, str, str]]
) -> None:
    world.run()
    world.origin.delete("travel.md")
    if isinstance(world.origin, FolderOrigin):
        shutil.rmtree(world.origin.root)  # an unmounted share: it is not "every file deleted"
    else:

        def fail_second_page(client: Any) -> None:
            calls = []

            def listing(**_: Any) -> None:
                calls.append(1)
                if len(calls) > 1:
                    raise ConnectionError("connection reset by peer")

            client.meta.events.register("before-call.s3.ListObjectsV2", listing)

        world.kinds.on_client = fail_second_page
        _paged(world)

    run = world.run()

    assert run.status == "failed"
    assert run.error
    assert run.counts.removed == 0
    said = " ".join([run.error, *(message for _, _, message in logged)])
    assert "Source handbook: listing failed" in said  # logged, with the reason
    for secret in AWS_ENV.values():  # and never a credential
        if "secret" in secret:
            assert secret not in said
    assert len(world.sources()) == 3  # every document is kept
    if isinstance(world.origin, BucketOrigin):
        world.kinds.on_client = None
        again = world.run()
        assert again.status == "done"
        assert again.counts.removed == 1
        assert set(world.sources()) == {
            "handbook/policies/leave.md",
            "handbook/policies/parking.md",
        }


def _paged(world: World) -> None:
    """S3 readers of this world list one object a page, so the listing has pages to fail."""
    kind = world.kinds._kinds["s3"]
    real = kind.reader

    def reader(spec: SourceSpec) -> S3Reader:
        built = real(spec)
        built._page_size = 1
        return built

    kind.reader = reader


def test_an_object_replaced_while_the_sync_reads_is_a_failed_item_never_a_mix(
    s3_bucket: S3Bucket, container: Container
) -> None:
    origin = BucketOrigin(s3_bucket)
    for key, text in DOCS.items():
        origin.put(key, text)
    kinds = Kinds(container, s3_bucket.endpoint_url)
    reader = kinds.reader(SourceSpec("handbook", "s3", origin.location))
    events = reader.read({})

    first = next(events)  # the listing is read; the first object fetched
    origin.put("travel.md", "# Travel\n\nReplaced meanwhile.\n")
    rest = list(events)

    assert isinstance(first, Fetched)
    replaced = [e for e in rest if e.key == "travel.md"]
    assert isinstance(replaced[0], ItemFailed)
    assert replaced == [ItemFailed("travel.md", replaced[0].reason)]
    assert "changed while it was read" in replaced[0].reason


async def test_a_website_source_needs_an_http_url_and_nothing_is_stored_otherwise(
    container: Container,
) -> None:
    for location in ("ftp://intranet.example/", "https://", "intranet.example"):
        with pytest.raises(InvalidRequest, match=r"needs an http\(s\) URL"):
            await container.sources.sources.add(
                CLI_ADMIN, AddSourceRequest("intranet", "url", location)
            )
    assert await container.sources.sources.list_sources() == []
    await container.sources.sources.add(
        CLI_ADMIN, AddSourceRequest("intranet", "url", "https://intranet.example/docs/")
    )
    assert [s.spec.location for s in await container.sources.sources.list_sources()] == [
        "https://intranet.example/docs/"
    ]


class _Pages:
    """A reader of two pages with their addresses, as the website reader yields them."""

    def read(self, previous: Any) -> Iterator[Any]:
        for n in (1, 2):
            text = f"# Page {n}\n\nDesk {n} is by the window.\n".encode()
            url = f"https://intra.example/docs/p{n}"
            yield Fetched(url, f"p{n}.md", text, "v1", link=url)


def test_a_fetched_items_link_is_kept_with_its_document(container: Container) -> None:
    kinds = Kinds(container, None)
    kinds._kinds["pages"] = type(
        "PagesKind",
        (),
        {"check": lambda self, loc, local: loc, "reader": lambda self, spec: _Pages()},
    )()
    store = container.adapters.source_store
    store.add(SourceSpec("intranet", "pages", "https://intra.example/"), FixedClock().now(), None)
    sync = SyncSource(
        store, kinds, container.knowledge.budgeted_ingest, container.adapters.store, FixedClock()
    )

    run = sync.run(SyncRequest("intranet"))

    assert run.counts.added == 2
    import sqlean

    db = sqlean.connect(container.settings.storage.knowledge_db_path)
    [(metadata, category)] = db.execute(
        "SELECT metadata, category FROM documents WHERE source = ?",
        ("intranet/https://intra.example/docs/p1",),
    ).fetchall()
    db.close()
    assert json.loads(metadata)["link"] == "https://intra.example/docs/p1"
    assert category is None  # a URL's scheme is no folder


def test_an_item_over_the_size_limit_is_never_read_and_fails_alone(world: World) -> None:
    world.origin.put("huge.md", "# Huge\n\n" + "x" * (1024 * 1024))

    run = world.run()

    assert run.counts.line() == "3 added, 0 updated, 0 unchanged, 0 removed, 1 failed"
    [error] = run.errors
    assert error.key == "huge.md" and "more than the 1,048,576 allowed" in error.reason
