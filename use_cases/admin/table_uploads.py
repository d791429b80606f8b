"""Loading a table from a file uploaded over HTTP (`POST /api/tables`).

Rules:
- Only admins load tables (`Forbidden`, 403, before anything is checked).
- The checks run in this order, and nothing is written unless all pass: the table name
  (`InvalidRequest`, 422, see `validate_table_name`; for a workbook it may be empty, and is
  then the file's name), the file name (422 when empty), the size (`PayloadTooLarge`, 413,
  over `max_bytes`: the document upload limit, MAX_UPLOAD_BYTES), the type by the file's
  extension (`UnsupportedDocument`, 415: CSV, TSV, JSON lines or a workbook) and every line
  of the content (422 naming the line), or every sheet of a workbook (422 for a corrupt or
  password-protected one, 413 past its unpacking budgets).
- A workbook (`workbook_suffixes`) loads a table per sheet with data (`LoadWorkbookAsAdmin`,
  all or none), named from the name given, or the file's, and the sheet. The presentation
  layer reads at most `read_limit` bytes (one past the limit).
- `file_types` are the endings the table loader reads (`workbook_types` among them): what a
  client is told to offer (`GET /api/tables/types`); the loader still decides.
- The bytes go to a private temporary directory under the upload's own file name (its last
  path part), so error messages and the audit entry name the file the admin chose; the
  directory is removed afterwards, whatever happened.
- `collection` names the collection the tables go to (the same rule as document uploads:
  only admins, and a name that is no collection is `InvalidRequest`, 422, checked before the
  file is read, nothing stored); empty: a new table goes to the default collection and a
  replaced one keeps its own.
- The load itself is `LoadTableAsAdmin`: atomic (the previous table stays as it was when the
  file is refused), seen by the next query at once, audited as `table.load` exactly like
  `almanac tables load`.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePath

from use_cases.access.domain import Caller, require_admin
from use_cases.admin.actions import LoadTableAsAdmin, LoadWorkbookAsAdmin
from use_cases.knowledge.collections import ResolveReadScope
from use_cases.shared.errors import InvalidRequest, PayloadTooLarge
from use_cases.tables.domain import KEEP, Placement
from use_cases.tables.tables import (
    LoadedTable,
    LoadTableRequest,
    LoadWorkbookRequest,
    validate_table_name,
)

#: A longer upload name is stored under a short one (file systems cap names at 255 bytes).
_MAX_NAME_BYTES = 200


@dataclass(frozen=True)
class TableUpload:
    name: str
    filename: str
    data: bytes
    collection: str | None = None


def table_placement(collections: ResolveReadScope | None, name: str | None) -> Placement:
    """Where a load naming collection `name` puts its tables (`default`: the default one;
    None or empty: `KEEP`); a name that is no collection is `InvalidRequest`."""
    if name is None or not name.strip():
        return KEEP
    if collections is None:
        raise InvalidRequest("Collections are not available here.")
    return collections.collection_id(name)


class UploadTableAsAdmin:
    """Checks and loads one uploaded table file; the module docstring has the rules."""

    def __init__(
        self,
        load: LoadTableAsAdmin,
        *,
        max_bytes: int,
        workbooks: LoadWorkbookAsAdmin | None = None,
        workbook_suffixes: tuple[str, ...] = (),
        file_types: tuple[str, ...] = (),
        collections: ResolveReadScope | None = None,
    ) -> None:
        self._load = load
        self._file_types = file_types
        self._collections = collections
        self._workbooks = workbooks
        self._workbook_suffixes = tuple(suffix.lower() for suffix in workbook_suffixes)
        self._max_bytes = max_bytes

    @property
    def file_types(self) -> tuple[str, ...]:
        """The file name endings a table upload may have (the table loader's), workbooks'
        among them; empty: not said."""
        return self._file_types

    @property
    def workbook_types(self) -> tuple[str, ...]:
        """The endings of the workbooks: each loads a table per sheet."""
        return self._workbook_suffixes if self._workbooks is not None else ()

    @property
    def read_limit(self) -> int:
        """How many bytes of an upload to read: one past the limit, enough to refuse it."""
        return self._max_bytes + 1

    async def execute(self, actor: Caller, upload: TableUpload) -> list[LoadedTable]:
        """The tables loaded: one for a CSV, TSV or JSON-lines file, one per sheet with data
        for a workbook."""
        require_admin(actor, "Loading tables")
        filename = upload.filename.strip().replace("\\", "/").rsplit("/", 1)[-1]
        workbook = self._workbooks is not None and filename.lower().endswith(
            self._workbook_suffixes or ("\0",)
        )
        name = upload.name.strip()
        if name or not workbook:
            name = validate_table_name(name)
        if not filename:
            raise InvalidRequest("The upload has no file name; the type is taken from it.")
        placement = await asyncio.to_thread(table_placement, self._collections, upload.collection)
        if len(upload.data) > self._max_bytes:
            raise PayloadTooLarge(
                f"{filename} is larger than the {self._max_bytes:,}-byte upload limit "
                "(MAX_UPLOAD_BYTES)."
            )
        return await asyncio.to_thread(
            self._run, actor, name, filename, upload.data, workbook, placement
        )

    def _run(
        self,
        actor: Caller,
        name: str,
        filename: str,
        data: bytes,
        workbook: bool,
        placement: Placement,
    ) -> list[LoadedTable]:
        with tempfile.TemporaryDirectory(prefix="almanac-table-") as directory:
            file = Path(directory) / _stored_name(filename)
            file.write_bytes(data)
            if workbook and self._workbooks is not None:
                request = LoadWorkbookRequest(file, name or None, placement)
                return self._workbooks.run(actor, request)
            return [self._load.run_loaded(actor, LoadTableRequest(file, name, placement))]


def _stored_name(filename: str) -> str:
    """The upload's name if it is a plain file name, else `upload` with its extension."""
    plain = (
        filename not in (".", "..")
        and "\x00" not in filename
        and len(filename.encode("utf-8", "replace")) <= _MAX_NAME_BYTES
    )
    if plain:
        return filename
    suffix = PurePath(filename.replace("\x00", "")).suffix
    return "upload" + (suffix if len(suffix) <= 16 else "")
