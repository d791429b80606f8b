"""Evaluation datasets ("tasks"): register, list, show, upload.

Rules:
- A dataset is a JSONL or CSV file of cases, validated by `eval_domain.parse_dataset` (errors
  name the line and field). Its version is the content hash; uploading the same content again
  stores nothing and reports the version it already has (`created: false`).
- The bundled evaluation set (`sample_data/eval/dev.jsonl` and `test.jsonl`) is the dataset
  `answers`, each case tagged with its split (`dev` or `test`): a run with `tags: ["dev"]` is
  `almanac eval answers --split dev`. It is registered when first needed, and again whenever
  the files change (a new version). No upload may take the id `answers`.
- Reading and uploading datasets are for admins.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from use_cases.access.audit import RecordAudit
from use_cases.access.domain import Caller, require_admin
from use_cases.evaluation.domain import Dataset, dataset_version, parse_dataset
from use_cases.evaluation.run_domain import DatasetStore, StoredDataset
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import InvalidRequest, NotFound, UnsupportedDocument

BUNDLED_ID = "answers"
MAX_DATASET_BYTES = 5 * 1024 * 1024
_SLUG = re.compile(r"[^a-z0-9]+")
DATASET_UPLOAD = "eval_dataset.upload"


def slug(name: str) -> str:
    return _SLUG.sub("-", name.lower()).strip("-")[:64]


def to_dataset(stored: StoredDataset) -> Dataset:
    cases = parse_dataset(stored.text, fmt=stored.fmt, origin=stored.id)
    return Dataset(
        id=stored.id,
        name=stored.name,
        version=stored.version,
        description=stored.description,
        cases=tuple(cases),
        source=stored.source,
        created_at=stored.created_at,
    )


def bundled_text(folder: Path) -> str:
    """dev.jsonl then test.jsonl, each case tagged with its split."""
    lines: list[str] = []
    for split in ("dev", "test"):
        path = folder / f"{split}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            record["tags"] = [*record.get("tags", []), split]
            lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class DatasetUpload:
    filename: str
    content: bytes
    name: str | None = None
    description: str = ""


@dataclass(frozen=True)
class UploadedDataset:
    dataset: StoredDataset
    created: bool


class ManageDatasets:
    """Registers, lists, shows and uploads datasets (see the module rules)."""

    def __init__(
        self,
        store: DatasetStore,
        clock: Clock,
        audit: RecordAudit,
        *,
        bundled_dir: Path | None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._audit = audit
        self._bundled_dir = bundled_dir
        self._registered = False

    def register_bundled(self) -> StoredDataset | None:
        """Store the bundled set's current version (once per process)."""
        folder = self._bundled_dir
        if self._registered or folder is None or not (folder / "dev.jsonl").is_file():
            return None
        text = bundled_text(folder)
        cases = parse_dataset(text, fmt="jsonl", origin=BUNDLED_ID)
        stored = self._store.put(
            StoredDataset(
                id=BUNDLED_ID,
                name="Bundled answer evaluation",
                version=dataset_version(text),
                description="The answer-evaluation cases of the bundled sample (tags: dev, test).",
                source="bundled",
                fmt="jsonl",
                text=text,
                created_at=self._now(),
                cases=len(cases),
            )
        )
        self._registered = True
        return stored

    async def list(self, caller: Caller) -> list[StoredDataset]:
        require_admin(caller, "Reading evaluation datasets")
        return await asyncio.to_thread(self._list)

    def _list(self) -> builtins.list[StoredDataset]:
        self.register_bundled()
        return self._store.list()

    def known_ids(self) -> builtins.list[str]:
        return [d.id for d in self._list()]

    async def get(self, caller: Caller, dataset_id: str) -> Dataset:
        require_admin(caller, "Reading evaluation datasets")
        return to_dataset(await asyncio.to_thread(self.stored, dataset_id))

    def stored(self, dataset_id: str, version: str | None = None) -> StoredDataset:
        self.register_bundled()
        found = (
            self._store.version(dataset_id, version) if version else self._store.latest(dataset_id)
        )
        if found is None:
            raise NotFound(f"No evaluation dataset {dataset_id!r}.")
        return found

    async def upload(self, caller: Caller, upload: DatasetUpload) -> UploadedDataset:
        require_admin(caller, "Uploading evaluation datasets")
        return await asyncio.to_thread(self._upload, caller, upload)

    def _upload(self, caller: Caller, upload: DatasetUpload) -> UploadedDataset:
        suffix = Path(upload.filename).suffix.lower()
        fmt: Literal["jsonl", "csv"]
        if suffix in (".jsonl", ".ndjson"):
            fmt = "jsonl"
        elif suffix == ".csv":
            fmt = "csv"
        else:
            raise UnsupportedDocument(f"{upload.filename!r}: a dataset is a .jsonl or .csv file.")
        if len(upload.content) > MAX_DATASET_BYTES:
            raise InvalidRequest(
                f"{upload.filename!r}: a dataset may hold at most {MAX_DATASET_BYTES} bytes."
            )
        try:
            text = upload.content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidRequest(f"{upload.filename!r}: the file is not UTF-8 text.") from None
        name = (upload.name or Path(upload.filename).stem).strip()
        dataset_id = slug(name)
        if not dataset_id:
            raise InvalidRequest("field 'name': give the dataset a name with letters or digits.")
        if dataset_id == BUNDLED_ID:
            raise InvalidRequest(
                f"field 'name': {BUNDLED_ID!r} is the bundled dataset; choose another name."
            )
        cases = parse_dataset(text, fmt=fmt, origin=Path(upload.filename).name)
        if not cases:
            raise InvalidRequest(f"{upload.filename!r}: the file holds no cases.")
        version = dataset_version(text)
        existing = self._store.version(dataset_id, version)
        if existing is not None:
            return UploadedDataset(existing, created=False)
        stored = self._store.put(
            StoredDataset(
                id=dataset_id,
                name=name,
                version=version,
                description=upload.description.strip(),
                source="upload",
                fmt=fmt,
                text=text,
                created_at=self._now(),
                cases=len(cases),
            )
        )
        self._audit.record(
            caller,
            DATASET_UPLOAD,
            f"eval_dataset:{dataset_id}",
            after={"version": version, "cases": len(cases)},
        )
        return UploadedDataset(stored, created=True)

    def _now(self) -> str:
        return utc(self._clock.now()).isoformat(timespec="seconds")
