"""Ingestion: files in, searchable documents out. The knowledge base decides what the
assistant says, so what gets in, and what it replaces, is decided here, explicitly.

What a document is:
- `source` is its key, shown to users: the path relative to the folder given to
  `almanac ingest` (a file named on its own: its name) or the uploaded file name. A document
  keeps its source for life; replacing its content keeps id and source.
- `origin` is the absolute path of the file it came from (none for uploads). It is never
  shown; it lets a re-run of `almanac ingest` recognise its own files, and `--prune` find
  the ones that are gone.
- Its content hash covers the bytes, the category and the pipeline signature (chunking,
  embedding model), so re-ingesting unchanged input is a no-op (`unchanged`) and changing any
  of them re-indexes it. An input that names no category (no collection) keeps the stored
  document's: its unchanged bytes are `unchanged` whatever category (collection) the ingest
  that stored them named, so no path (`almanac ingest --category X`, the ingest of `serve
  --knowledge`, a re-upload) embeds unchanged bytes again. Its raw hash covers the bytes alone
  (duplicate detection).

Replacing is explicit, never a side effect of a matching title or file name:
- an input read from the same file as a stored document (same origin) is a new version of
  it: re-running `almanac ingest DIR` skips unchanged files and updates changed ones;
- `replace_id` (an upload with `replace=ID`, `PUT /api/documents/ID`) replaces that document;
- `replace` (`almanac ingest --replace`) lets an input take over the document that holds its
  source when that came from elsewhere (an upload, another folder);
- otherwise an input whose source is taken by a document with other content is a conflict
  (`DocumentExists`: HTTP 409, CLI status `conflict`), and nothing is written;
- an input with the bytes of a stored document (or of an earlier input of the run) under
  another source is a duplicate (`DuplicateDocument`: 409, CLI status `duplicate`, skipped).

Dates: a document's date (`updated_at`) is its own, read by its loader from the file
(front matter, Word and PowerPoint core properties, PDF `/ModDate` or `/CreationDate`, HTML
meta dates, an e-mail's `Date`), else its file's modification time (`IngestSource.modified`:
folder ingests and synced folders; a day past today's tolerance is not used), else none: it
dates from its ingestion (`ingested_at`).
`updated_from` in its metadata says which (`property`, `mtime`, `ingest`).

Trust checks, all before anything is embedded or written:
- a date the loader read (`updated`, `date`, `effective`, ...) later than today plus
  `future_tolerance` is refused (`FutureDate`, 422): a future date would make a document
  look like the newest word on its subject;
- `supersedes:` must name a document in the knowledge base or in the same run; it is
  recorded as the explicit relation retrieval uses to prefer current versions (titles and
  dates decide nothing). It names the document by its id, its source (or a unique tail of
  it), a path whose tail is such a source (`policies/a.md` written for the whole knowledge
  base still names `a.md` ingested from the `policies` folder), its file name, or the title
  of a stored document (its current version); a name that fits several is refused. The
  target's source is recorded;
- with `distinct_title` (uploads), a title already used by a document the input neither
  replaces nor supersedes (nor one of the older versions those supersede) is refused
  (`TitleTaken`, 409): an upload cannot compete with a policy under its name (as a wiki
  space wants unique page titles); it must replace it, declare itself its new version, or
  take its own title. The CLI, the operator's own tool, does not ask for it;
- more than `max_document_chunks` chunks is refused (`PayloadTooLarge`, 413).

Parsing ahead:
- While one batch of documents is embedded, the next inputs of a run of several (up to
  `parse_ahead`) are parsed on a thread of the run (in the loader's child processes when it
  has them), so the embedder does not wait for the parser. Their bytes are read, and the
  checks made, in input order on the run's own thread (the parse thread touches no store);
  an input found unchanged ahead (its stored content hash) is not parsed, and a read or
  parse error is the input's own, reported when its turn comes.

Writing:
- Chunks of several small documents are embedded together (bigger batches are much faster
  on CPU for a provider that embeds a batch at once), up to `flush_chunks` of them; each
  document is saved in one transaction. A document of more than one batch is
  embedded batch by batch and staged, then made visible in one commit (memory stays bounded
  by the batch; `on_chunks` reports progress, `on_pages` a long scan's OCR pages as they are
  read). A killed ingest leaves every document fully
  old or fully new, and a re-run finishes the rest.
- Searchable first, answer-ready next: the documents a run saved are handed, once the run
  has committed them, to the `AnswerPreparation` (if any), which queues the answering
  model's work ahead for them as one background job (the offline model embeds their
  sentences; its id is the report's `answers_job`). It decides nothing and a failure to
  queue it is logged, never raised, so a document's status never depends on it; a question
  asked before the job is done is answered the same, doing the work for its own hits.
- A bad input fails alone: it is reported and the others go on (`raise_errors` raises its
  domain error instead, for single uploads).
- `prune_prefixes` (origin prefixes): stored documents ingested from a file under one of
  them that is not among this run's inputs are removed first (their files are gone), so a
  renamed file is re-added rather than reported as a duplicate of its old self.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar

from use_cases.knowledge.domain import (
    DocumentDraft,
    DocumentRecord,
    EmbeddingInfo,
    IngestItem,
    IngestReport,
    ParsedDocument,
    SavedDocument,
    StagedChunk,
    Vectors,
    embedding_text,
)
from use_cases.knowledge.instructions import withheld_of, withhold_instructions
from use_cases.knowledge.parse_ahead import ParseAhead, ReadAhead
from use_cases.knowledge.ports import (
    AnswerPreparation,
    Chunker,
    DocumentLoader,
    Embedder,
    KnowledgeStore,
    ReportsPages,
)
from use_cases.shared.clock import Clock
from use_cases.shared.errors import (
    AlmanacError,
    DatabaseUnavailable,
    DocumentExists,
    DuplicateDocument,
    FutureDate,
    InvalidDocument,
    NotFound,
    PayloadTooLarge,
    TitleTaken,
    UnsupportedDocument,
)
from use_cases.shared.leases import JobLease, LeaseLost

_T = TypeVar("_T")
ProgressCallback = Callable[[IngestItem], None]
ChunkProgress = Callable[[int, int], None]
"""(chunks embedded and stored, chunks of the document) while one document is written."""
PageProgress = Callable[[str, int, int], None]
"""(file name, page, pages) as a slow page of one file starts being read (a scan's OCR)."""


@dataclass(frozen=True)
class IngestSource:
    """One input: `source` is its key, `name` its file name (the type comes from it),
    `origin` the absolute path of its file (None for uploads)."""

    source: str
    name: str
    read: Callable[[], bytes]
    default_category: str | None = None
    origin: str | None = None
    link: str | None = None
    """Where a reader of the document can follow it (a synced web page's URL), kept in its
    metadata as `link`; None for files and uploads."""
    modified: date | None = None
    """The day its file was last modified (a folder's file, a synced item), the document's
    date when the file holds none of its own; None for uploads."""


@dataclass(frozen=True)
class CollectionChoice:
    """The collection an ingest puts its documents in (`collection_id` None: the default)."""

    collection_id: int | None


@dataclass(frozen=True)
class IngestRequest:
    sources: Sequence[IngestSource]
    category: str | None = None
    collection: CollectionChoice | None = None
    """Where the documents go; None: new ones to the default collection, and a replaced
    document keeps its own (a re-run without the option never moves a team's document
    to where everyone reads it)."""
    prune_prefixes: tuple[str, ...] = ()
    on_progress: ProgressCallback | None = None
    on_chunks: ChunkProgress | None = None
    on_pages: PageProgress | None = None
    """Told of each slow page as it is read (a scan's OCR), where the loader says so."""
    raise_errors: bool = False
    """Raise a source's domain error instead of reporting it (single uploads)."""
    replace: bool = False
    """Let inputs take over documents holding their source that came from elsewhere."""
    replace_id: int | None = None
    """Replace this document with the (single) input."""
    distinct_title: bool = False
    """Refuse a title used by a document the input does not replace or supersede."""
    lease: JobLease | None = None
    """The background job this ingest runs for: its documents are written only while the
    job's worker still holds it (`LeaseLost` once it was taken over)."""


@dataclass(frozen=True)
class IngestPolicy:
    max_document_chunks: int = 5_000
    future_tolerance: timedelta = timedelta(days=1)
    embed_batch_chunks: int = 256
    flush_chunks: int | None = None
    """Small documents are embedded and saved once this many of their chunks wait (None:
    `embed_batch_chunks`). An embedder that embeds each text on its own gains nothing from
    a big batch, and a small one lets the next inputs' parses overlap the embedding, where
    one batch for a whole folder parses every file first, then embeds."""
    parse_ahead: int = 2
    """Inputs read and parsed ahead of the one being checked (0: none, parse in turn)."""


@dataclass
class _Pending:
    source: IngestSource
    draft: DocumentDraft
    existing: DocumentRecord | None


@dataclass
class _Run:
    request: IngestRequest
    report: ProgressCallback
    hashes: dict[str, str] = field(default_factory=dict)  # raw hash -> source, this run
    saved: list[SavedDocument] = field(default_factory=list)  # for the answer preparation


class IngestDocuments:
    """Load, check, chunk, embed and store documents; the module docstring has the rules."""

    def __init__(
        self,
        store: KnowledgeStore,
        loader: DocumentLoader,
        chunker: Chunker,
        embedder: Embedder,
        clock: Clock,
        *,
        pipeline_signature: str,
        policy: IngestPolicy | None = None,
        preparation: AnswerPreparation | None = None,
    ) -> None:
        self._store = store
        self._preparation = preparation
        self._loader = loader
        self._chunker = chunker
        self._embedder = embedder
        self._clock = clock
        self._signature = pipeline_signature
        self._policy = policy or IngestPolicy()

    def supports(self, name: str) -> bool:
        """Whether a file of this name is of a type ingestion reads (walks pick these)."""
        return self._loader.supports(name)

    def refusal(self, name: str) -> str:
        """Why a file of this name is not read (its type; the loader names the types it
        reads)."""
        try:
            self._loader.check(name, b"")
        except UnsupportedDocument as exc:
            return exc.detail
        except AlmanacError:
            pass
        return f"{name}: its type is not read"

    async def execute(self, request: IngestRequest) -> IngestReport:
        return await asyncio.to_thread(self.run, request)

    def run(self, request: IngestRequest) -> IngestReport:
        """Synchronous body (the CLI and background jobs call it from their own thread)."""
        self._store.check_embedding(EmbeddingInfo(self._embedder.model, self._embedder.dimension))
        items: list[IngestItem] = []

        def report(item: IngestItem) -> None:
            items.append(item)
            if request.on_progress:
                request.on_progress(item)

        run = _Run(request, report)
        self._prune(request, report)
        answers_job = None
        try:
            with ParseAhead(
                request.sources,
                lambda source, data: self._looks_unchanged(request, source, data),
                self._parser(request),
                self._policy.parse_ahead if len(request.sources) > 1 else 0,
            ) as ahead:
                self._ingest_all(run, ahead)
        finally:  # what was committed before an error is prepared too
            if self._preparation is not None and run.saved:
                answers_job = self._preparation.schedule(run.saved)
        return IngestReport(tuple(items), answers_job=answers_job)

    def _parser(self, request: IngestRequest) -> Callable[[str, bytes], ParsedDocument]:
        """The loader's `load`, telling `request.on_pages` of each slow page where the
        loader reports them (`ReportsPages`: the parse child's OCR pages)."""
        on_pages, loader = request.on_pages, self._loader
        if on_pages is None or not isinstance(loader, ReportsPages):
            return self._loader.load

        def parse(name: str, data: bytes) -> ParsedDocument:
            return loader.load_reporting(
                name, data, lambda page, pages: on_pages(name, page, pages)
            )

        return parse

    def _ingest_all(self, run: _Run, ahead: ParseAhead[IngestSource]) -> None:
        pending: list[_Pending] = []
        for source in run.request.sources:

            def prepare(s: IngestSource = source) -> _Pending | IngestItem:
                return self._prepare(run, s, ahead.take(s))

            prepared = self._attempt(run, source, prepare)
            if prepared is None:
                continue
            if isinstance(prepared, IngestItem):
                run.report(prepared)
                continue
            if prepared.draft.raw_hash:
                run.hashes[prepared.draft.raw_hash] = prepared.draft.source
            if prepared.draft.chunk_count > self._policy.embed_batch_chunks:
                self._flush(run, pending)
                pending = []
                self._save_large(run, prepared)
                continue
            pending.append(prepared)
            flush_at = min(
                self._policy.flush_chunks or self._policy.embed_batch_chunks,
                self._policy.embed_batch_chunks,
            )
            if sum(p.draft.chunk_count for p in pending) >= flush_at:
                self._flush(run, pending)
                pending = []
        self._flush(run, pending)

    def check(self, request: IngestRequest) -> IngestItem | None:
        """The cheap checks of a single input, before any parsing: its type and bytes, a
        conflict over its source, a duplicate. Returns the `unchanged` item when there is
        nothing to do, raises the error the ingest would raise, else None."""
        (source,) = request.sources
        data = source.read()
        self._loader.check(source.name, data)
        content_hash = self._hash(data, request.category, request.collection)
        existing = self._target(source, request, content_hash)
        if existing is not None and self._unchanged(existing, data, request, content_hash):
            return IngestItem(existing.source, "unchanged", document_id=existing.id)
        self._check_duplicate(source, _raw_hash(data), existing, {})
        return None

    # -- one input -------------------------------------------------------------------------------

    def _attempt(self, run: _Run, source: IngestSource, step: Callable[[], _T]) -> _T | None:
        """Run `step` for `source`; a domain or read error is reported (or raised) for it."""
        try:
            return step()
        except (LeaseLost, DatabaseUnavailable):
            # The job was taken over, or the database is away (the whole run waits it out
            # and runs again: services/job_queue.py): the run stops, nothing is reported.
            raise
        except AlmanacError as exc:
            if run.request.raise_errors:
                raise
            run.report(_problem(source.source, exc))
        except OSError as exc:
            if run.request.raise_errors:
                raise InvalidDocument(f"Cannot read {source.name}: {exc.strerror}") from exc
            run.report(IngestItem(source.source, "failed", error=f"cannot read: {exc.strerror}"))
        return None

    def _looks_unchanged(self, request: IngestRequest, source: IngestSource, data: bytes) -> bool:
        """Whether the stored document this input would update has its content already (its
        turn decides; an input that looked unchanged is parsed then if it is not)."""
        content_hash = self._hash(data, request.category, request.collection)
        stored = None
        if request.replace_id is not None:
            stored = self._store.get_record(request.replace_id)
        elif source.origin is not None:
            stored = self._store.get_by_origin(source.origin)
        if stored is None and request.replace_id is None:
            stored = self._store.get_by_source(source.source)
        return stored is not None and self._unchanged(stored, data, request, content_hash)

    def _unchanged(
        self, stored: DocumentRecord, data: bytes, request: IngestRequest, content_hash: str
    ) -> bool:
        """Whether `stored` already holds `data` as `request` would store it: the same content
        hash, or, for a request that names no category (collection), the hash of the bytes
        with the stored document's own (an earlier `almanac ingest --category X` stored it so):
        an input naming neither keeps the stored ones, so its unchanged bytes are not embedded
        again, whichever path ingested them first."""
        if stored.content_hash == content_hash:
            return True
        categories = (
            (request.category,) if request.category is not None else (None, stored.category)
        )
        collections = (
            (request.collection,)
            if request.collection is not None
            else (None, CollectionChoice(stored.collection_id))
        )
        return any(
            self._hash(data, category, collection) == stored.content_hash
            for category in categories
            for collection in collections
        )

    def _prepare(
        self, run: _Run, source: IngestSource, read: ReadAhead | None = None
    ) -> _Pending | IngestItem:
        request = run.request
        data = read.data if read is not None else source.read()
        raw_hash = _raw_hash(data)
        content_hash = self._hash(data, request.category, request.collection)
        existing = self._target(source, request, content_hash)
        if existing is not None and self._unchanged(existing, data, request, content_hash):
            if existing.raw_hash is None:  # stored before raw hashes were kept
                self._store.record_raw_hash(existing.id, raw_hash)
            return IngestItem(existing.source, "unchanged", document_id=existing.id)
        self._check_duplicate(source, raw_hash, existing, run.hashes)
        if read is not None and read.error is not None:
            raise read.error
        loaded = read.parsed if read is not None else None
        parsed = withhold_instructions(loaded or self._parser(request)(source.name, data))
        self._check_dates(source.name, parsed)
        modified = self._modified(source)
        supersedes, target = self._check_supersedes(run, source, parsed, existing)
        if request.distinct_title:
            self._check_title(source.name, parsed.title, [existing, target])
        draft = DocumentDraft(
            source=existing.source if existing else source.source,
            content_hash=content_hash,
            title=parsed.title,
            category=request.category
            or parsed.category
            or source.default_category
            or (existing.category if existing else None),
            updated_at=parsed.updated_at or modified,
            media_type=parsed.media_type,
            size_bytes=len(data),
            sections=tuple(self._chunker.chunk(parsed)),
            metadata=dict(parsed.metadata)
            | ({"link": source.link} if source.link else {})
            | {"updated_from": _updated_from(parsed, modified)},
            origin=source.origin,
            raw_hash=raw_hash,
            supersedes=supersedes,
            collection_id=(
                request.collection.collection_id
                if request.collection is not None
                else existing.collection_id
                if existing
                else None
            ),
        )
        count = draft.chunk_count
        if not count and withheld_of(parsed.metadata):
            first = withheld_of(parsed.metadata)[0]
            raise InvalidDocument(
                f"{source.name} holds only text addressed to an AI assistant "
                f"({_quote(first)}); such text is never used as knowledge, so nothing is left "
                "to index."
            )
        if not count:
            raise InvalidDocument(f"{source.name} has no text to index.")
        if count > self._policy.max_document_chunks:
            raise PayloadTooLarge(
                f"{source.name} would make {count:,} chunks; a document may have at most "
                f"{self._policy.max_document_chunks:,} (MAX_DOCUMENT_CHUNKS). Split it into "
                "smaller documents."
            )
        return _Pending(source, draft, existing)

    def _target(
        self, source: IngestSource, request: IngestRequest, content_hash: str
    ) -> DocumentRecord | None:
        """The stored document this input is a new version of, or None for a new document."""
        if request.replace_id is not None:
            record = self._store.get_record(request.replace_id)
            if record is None:
                raise NotFound(f"No document with id {request.replace_id} to replace.")
            return record
        if source.origin is not None:
            record = self._store.get_by_origin(source.origin)
            if record is not None:
                return record
        keyed = self._store.get_by_source(source.source)
        if keyed is None or keyed.content_hash == content_hash or request.replace:
            return keyed
        raise DocumentExists(_exists_message(source, keyed), keyed.id)

    def _check_duplicate(
        self,
        source: IngestSource,
        raw_hash: str,
        existing: DocumentRecord | None,
        earlier: dict[str, str],
    ) -> None:
        twin = self._store.get_by_raw_hash(raw_hash)
        if twin is not None and (existing is None or twin.id != existing.id):
            raise DuplicateDocument(
                f"{source.source} has the same content as '{twin.source}' (id {twin.id}); "
                "nothing was added.",
                twin.id,
            )
        twin_source = earlier.get(raw_hash)
        if twin_source is not None and twin_source != source.source:
            raise DuplicateDocument(
                f"{source.source} has the same content as '{twin_source}' (earlier in this "
                "run); nothing was added.",
                0,
            )

    def _modified(self, source: IngestSource) -> date | None:
        """The file's modification day, unless it is in the future (a wrong clock): then the
        document dates from its ingestion instead of looking like the newest word."""
        latest = self._clock.today() + self._policy.future_tolerance
        return source.modified if source.modified and source.modified <= latest else None

    def _check_dates(self, name: str, parsed: ParsedDocument) -> None:
        today = self._clock.today()
        latest = today + self._policy.future_tolerance
        dates = dict(parsed.dates)
        if parsed.updated_at is not None:
            dates.setdefault("updated", parsed.updated_at)
        for key, value in dates.items():
            if value > latest:
                raise FutureDate(
                    f"{name}: its {key} date {value.isoformat()} is in the future (today is "
                    f"{today.isoformat()}). A future date would make it look like the newest "
                    "version of what it describes, so it is refused: correct the date and "
                    "ingest it again."
                )

    def _check_supersedes(
        self,
        run: _Run,
        source: IngestSource,
        parsed: ParsedDocument,
        existing: DocumentRecord | None,
    ) -> tuple[str | None, DocumentRecord | None]:
        """The `supersedes:` key as stored (the target's source) and its document (None when
        the target is an input of this run not stored yet: the store links it on arrival)."""
        key = (parsed.supersedes or "").strip().removeprefix("./")
        if not key:
            return None, None
        for form in _key_forms(key):
            # An id is only ever the whole key (the tail `12` of `2023/12` is no id).
            target = None if form != key and form.isdigit() else self._store.resolve_key(form)
            if target is not None:
                break
            later = {
                s.source for s in run.request.sources if s is not source and _names(form, s.source)
            }
            if len(later) == 1:
                return later.pop(), None  # arrives later in this run, under this source
            if later:
                raise InvalidDocument(
                    f"{source.name}: supersedes: {key} could name any of "
                    f"{', '.join(sorted(later))}; give the one it replaces by its source."
                )
        else:
            target = self._by_title(source, key)
        if target is None:
            raise InvalidDocument(
                f"{source.name}: supersedes: {key} names no document in the knowledge base or "
                "in this run. Give the document it replaces by its source as listed by GET "
                "/api/documents or `almanac docs list` (e.g. policies/password-policy-2023.md), "
                "its file name, its title or its id."
            )
        if existing is not None and target.id == existing.id:
            raise InvalidDocument(f"{source.name}: a document cannot supersede itself.")
        return target.source, target

    def _by_title(self, source: IngestSource, key: str) -> DocumentRecord | None:
        """The stored document titled `key`: of several versions, the current one."""
        titled = self._store.find_by_title(key)
        current = [d for d in titled if d.superseded_by_id is None] or titled
        if len(current) > 1:
            raise InvalidDocument(
                f"{source.name}: supersedes: {key} is the title of "
                f"{', '.join(d.source for d in current)}; give the one it replaces by its source."
            )
        return current[0] if current else None

    def _check_title(self, name: str, title: str, related: list[DocumentRecord | None]) -> None:
        """Refuse a title held by a document outside the input's own versions: the one it
        replaces, the one it supersedes, and the older versions that one supersedes."""
        family: set[int] = set()
        for record in related:
            while record is not None and record.id not in family:
                family.add(record.id)
                older = record.supersedes_id
                record = self._store.get_record(older) if older is not None else None
        taken = [d for d in self._store.find_by_title(title) if d.id not in family]
        # Name the current version first: that is the document the upload would compete with.
        if not taken:
            return
        other = min(taken, key=lambda d: (d.superseded_by_id is not None, -d.id))
        raise TitleTaken(
            f"{name}: the title \"{title}\" is already used by '{other.source}' (id "
            f"{other.id}). An upload may not take another document's title: to replace it, "
            f"upload with replace={other.id}; if this is its new version, declare "
            f"`supersedes: {other.source}` in the front matter; otherwise give this document "
            "its own title.",
            other.id,
        )

    # -- writing ---------------------------------------------------------------------------------

    def _flush(self, run: _Run, pending: list[_Pending]) -> None:
        if not pending:
            return
        texts = [text for item in pending for _, text in _embedding_texts(item.draft)]
        vectors = self._embedder.embed_documents(texts)
        start = 0
        for item in pending:
            end = start + item.draft.chunk_count
            batch = vectors[start:end]
            start = end

            def save(item: _Pending = item, batch: Vectors = batch) -> DocumentRecord:
                return self._store.save_document(
                    item.draft,
                    batch,
                    replace_id=item.existing.id if item.existing else None,
                    lease=run.request.lease,
                )

            record = self._attempt(run, item.source, save)
            if record is not None:
                self._saved(run, item, record)

    def _save_large(self, run: _Run, item: _Pending) -> None:
        """Embed and stage a large document batch by batch, then commit it at once."""
        record = self._attempt(run, item.source, lambda: self._stream(run, item))
        if record is not None:
            self._saved(run, item, record)

    def _stream(self, run: _Run, item: _Pending) -> DocumentRecord:
        draft, on_chunks = item.draft, run.request.on_chunks
        total, done = draft.chunk_count, 0
        if on_chunks:
            on_chunks(0, total)
        lease = run.request.lease
        stage = self._store.begin_staging(draft, job=lease.job_id if lease else None)
        try:
            for batch in _batches(_embedding_texts(draft), self._policy.embed_batch_chunks):
                vectors = self._embedder.embed_documents([text for _, text in batch])
                self._store.stage_chunks(stage, [chunk for chunk, _ in batch], vectors)
                done += len(batch)
                if on_chunks:
                    on_chunks(done, total)
            replace_id = item.existing.id if item.existing else None
            return self._store.commit_staged(
                stage, draft, replace_id=replace_id, lease=run.request.lease
            )
        except BaseException:
            self._store.discard_staged(stage)
            raise

    def _saved(self, run: _Run, item: _Pending, record: DocumentRecord) -> None:
        run.saved.append(SavedDocument(record.id, record.content_hash, item.draft.chunk_count))
        if run.request.on_chunks and item.draft.chunk_count <= self._policy.embed_batch_chunks:
            run.request.on_chunks(item.draft.chunk_count, item.draft.chunk_count)
        run.report(
            IngestItem(
                record.source,
                "updated" if item.existing else "added",
                record.id,
                chunks=item.draft.chunk_count,
                replaced=item.existing,
            )
        )

    def _prune(self, request: IngestRequest, report: ProgressCallback) -> None:
        if not request.prune_prefixes:
            return
        wanted = {s.origin for s in request.sources if s.origin is not None}
        for document_id, source, origin in self._store.list_origins():
            if origin not in wanted and origin.startswith(request.prune_prefixes):
                self._store.delete_document(document_id)
                report(IngestItem(source, "removed", document_id=document_id))

    def _hash(self, data: bytes, category: str | None, collection: CollectionChoice | None) -> str:
        """Covers what re-ingesting the same bytes would store differently (a named
        collection too, so moving a document re-writes it; without one the hash is what it
        was before collections, so an unchanged document stays unchanged)."""
        digest = hashlib.sha256(data)
        digest.update(f"\0{category or ''}\0{self._signature}".encode())
        if collection is not None:
            digest.update(f"\0collection={collection.collection_id}".encode())
        return digest.hexdigest()


def _quote(text: str, limit: int = 80) -> str:
    """`text` in quotes, cut to about `limit` characters."""
    line = " ".join(text.split())
    return f"“{line if len(line) <= limit else line[: limit - 1] + '…'}”"


def _updated_from(parsed: ParsedDocument, modified: date | None) -> str:
    """Where a document's date comes from (module rules, "Dates")."""
    if parsed.updated_at is not None:
        return "property"
    return "mtime" if modified is not None else "ingest"


def _raw_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _key_forms(key: str) -> list[str]:
    """A `supersedes:` path and its tails, longest first: `policies/a.md`, then `a.md`. A
    path written relative to a parent folder (the whole knowledge base) still names a
    document ingested from a subfolder, whose source is relative to that subfolder."""
    parts = [p for p in key.split("/") if p]
    return ["/".join(parts[i:]) for i in range(len(parts))] or [key]


def _names(key: str, source: str) -> bool:
    key = key.strip().removeprefix("./")
    return source == key or source.endswith("/" + key)


def _embedding_texts(draft: DocumentDraft) -> Iterator[tuple[StagedChunk, str]]:
    for section_ordinal, section in enumerate(draft.sections):
        for ordinal, chunk in enumerate(section.chunks):
            text = embedding_text(draft.title, section.heading_path, chunk)
            yield StagedChunk(section_ordinal, ordinal, chunk), text


def _batches(items: Iterator[_T], size: int) -> Iterator[list[_T]]:
    batch: list[_T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _problem(source: str, exc: AlmanacError) -> IngestItem:
    if isinstance(exc, DuplicateDocument):
        return IngestItem(source, "duplicate", exc.document_id or None, error=exc.detail)
    if isinstance(exc, DocumentExists):
        return IngestItem(source, "conflict", exc.document_id, error=exc.detail)
    return IngestItem(source, "failed", error=exc.detail)


def _exists_message(source: IngestSource, keyed: DocumentRecord) -> str:
    held = f"'{keyed.source}' is already in the knowledge base (id {keyed.id}, \"{keyed.title}\""
    held += f", updated {keyed.updated_at.isoformat()})" if keyed.updated_at else ")"
    if source.origin is None:
        return (
            f"{held} with other content. An upload never replaces a document silently: to "
            f"replace it, send the upload with replace={keyed.id} (or PUT "
            f"/api/documents/{keyed.id}); to keep both, upload this file under another name."
        )
    return (
        f"{held}, from another file or an upload. Run `almanac ingest --replace` to replace "
        "it with this file, or remove it first (`almanac docs remove "
        f"{keyed.id}`)."
    )
