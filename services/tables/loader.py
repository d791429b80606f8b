"""Load CSV/TSV and JSON Lines files into SQLite tables that the SQL sandbox can query.

Why it works the way it does:

* **Two passes over the file, one transaction.** The first pass validates every line and
  infers the column types; only then do we take the write lock (`BEGIN IMMEDIATE`), build the
  rows into a scratch table, drop the old table and rename the scratch table into its place.
  A bad line anywhere therefore rejects the whole file before anything is written, and a
  failure during the write (disk full, the file changed between the passes) rolls back: the
  previous table, if any, is left exactly as it was. Rows stream through `executemany`, so a
  large file is never held in memory.
* **Types are inferred conservatively.** A column is INTEGER only if every non-empty value is
  an integer that fits in 64 bits, REAL if every value is a number, DATE / DATETIME (stored as
  ISO-8601 text, which SQLite's date functions read) if every value is an ISO date / timestamp,
  else TEXT. Zero-padded numbers such as ZIP codes or account numbers ("007") keep the column
  TEXT, since turning them into integers would silently lose the zeros. Empty cells are NULL.
* **Column names become safe identifiers** (`[a-z0-9_]`, unique, not starting with a digit,
  SQL keywords suffixed with `_`), so the model can write them without quoting. The mapping to
  the original header is kept in `_almanac_columns` (see `column_mapping`).
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

from services.sqlite.connection import Connection, connect, immediate_transaction
from use_cases.shared.errors import InvalidRequest, UnsupportedDocument
from use_cases.tables.domain import TableColumn, TableSchema
from use_cases.tables.tables import INTERNAL_PREFIX, SQL_KEYWORDS, validate_table_name

_META_TABLE = "_almanac_columns"
_SCRATCH_PREFIX = "_almanac_load_"

#: SQLite's compile-time default SQLITE_MAX_COLUMN.
MAX_COLUMNS = 2000
_MAX_IDENTIFIER = 63
_SAMPLE_COUNT = 3
_SAMPLE_CHARS = 60
#: A text column's distinct values are all listed (for matching questions) up to this many.
MAX_COLUMN_VALUES = 200

#: Names that would shadow SQLite's implicit row id.
_ROWID_ALIASES = frozenset({"rowid", "oid", "_rowid_"})

_INT_RE = re.compile(r"^[+-]?\d+$")
_REAL_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def quote_identifier(name: str) -> str:
    """`name` as a double-quoted SQL identifier (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def sanitise_column_names(names: Sequence[str]) -> list[str]:
    """Map header names to unique lowercase identifiers matching `[a-z_][a-z0-9_]*`.

    Accents are folded to ASCII ("Größe" -> "groe", "Café" -> "cafe"), every other character
    becomes `_`, a leading digit gets a `c_` prefix, keywords and rowid aliases get a `_`
    suffix, blanks become `col_N`, and repeats get `_2`, `_3`, ... in order of appearance.
    """
    result: list[str] = []
    taken: set[str] = set()
    for position, raw in enumerate(names, start=1):
        folded = unicodedata.normalize("NFKD", str(raw)).encode("ascii", "ignore").decode()
        base = re.sub(r"[^a-z0-9]+", "_", folded.lower()).strip("_")
        if not base:
            base = f"col_{position}"
        if base[0].isdigit():
            base = f"c_{base}"
        base = base[:_MAX_IDENTIFIER]
        if base in SQL_KEYWORDS or base in _ROWID_ALIASES or base.startswith("sqlite_"):
            base = f"{base}_"
        candidate, suffix = base, 2
        while candidate in taken:
            tail = f"_{suffix}"
            candidate = base[: _MAX_IDENTIFIER - len(tail)] + tail
            suffix += 1
        taken.add(candidate)
        result.append(candidate)
    return result


# -- type inference -----------------------------------------------------------------------------


def _is_zero_padded(digits: str) -> bool:
    unsigned = digits.lstrip("+-")
    return len(unsigned) > 1 and unsigned[0] == "0" and unsigned[1].isdigit()


def _text_int(text: str) -> bool:
    if not _INT_RE.fullmatch(text) or _is_zero_padded(text):
        return False
    return _INT64_MIN <= int(text) <= _INT64_MAX


def _text_real(text: str) -> bool:
    if _INT_RE.fullmatch(text):  # an integer too long for 64 bits is an identifier, not a float
        return _text_int(text)
    return bool(_REAL_RE.fullmatch(text)) and not _is_zero_padded(text)


def _text_date(text: str) -> bool:
    if not _DATE_RE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _text_datetime(text: str) -> bool:
    if not _DATETIME_RE.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


@dataclass
class _ColumnType:
    """Running verdict for one column; each flag stays true while every value fits it."""

    integer: bool = True
    real: bool = True
    date: bool = True
    datetime: bool = True
    seen: bool = False

    def observe_text(self, text: str) -> None:
        self.seen = True
        if self.integer and not _text_int(text):
            self.integer = False
        if self.real and not _text_real(text):
            self.real = False
        if self.date and not _text_date(text):
            self.date = False
        if self.datetime and not (_text_datetime(text) or _text_date(text)):
            self.datetime = False

    def observe_json(self, value: Any) -> None:
        """JSON values are typed by their JSON type; only strings are checked for dates."""
        self.seen = True
        if isinstance(value, bool) or (
            isinstance(value, int) and _INT64_MIN <= value <= _INT64_MAX
        ):
            self.date = self.datetime = False
        elif isinstance(value, float):
            self.integer = self.date = self.datetime = False
        elif isinstance(value, str):
            self.integer = self.real = False
            if self.date and not _text_date(value):
                self.date = False
            if self.datetime and not (_text_datetime(value) or _text_date(value)):
                self.datetime = False
        else:  # lists, objects, integers beyond 64 bits
            self.integer = self.real = self.date = self.datetime = False

    @property
    def sql_type(self) -> str:
        if not self.seen:
            return "TEXT"
        if self.integer:
            return "INTEGER"
        if self.real:
            return "REAL"
        if self.date:
            return "DATE"
        if self.datetime:
            return "DATETIME"
        return "TEXT"


def _convert_text(text: str, sql_type: str) -> Any:
    stripped = text.strip()
    if not stripped:
        return None
    if sql_type == "INTEGER":
        return int(stripped)
    if sql_type == "REAL":
        return float(stripped)
    if sql_type in ("DATE", "DATETIME"):
        return stripped
    return text


def _convert_json(value: Any, sql_type: str) -> Any:
    if value is None:
        return None
    if sql_type == "INTEGER":
        return int(value)
    if sql_type == "REAL":
        return float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- reading source files -----------------------------------------------------------------------


@dataclass
class _Source:
    """A validated file: original column names, inferred types, and a way to re-read rows."""

    headers: list[str]
    types: list[_ColumnType]
    row_count: int
    rows: Callable[[], Iterator[list[Any]]] = field(repr=False)
    convert: Callable[[Any, str], Any] = field(repr=False)


def _utf8_lines(file: Path) -> Iterator[tuple[int, str]]:
    """(line number, decoded line) pairs, failing with the exact line on invalid UTF-8."""
    try:
        handle = file.open("rb")
    except FileNotFoundError:
        raise InvalidRequest(f"{file} does not exist.") from None
    except OSError as exc:
        raise InvalidRequest(f"Cannot read {file}: {exc.strerror or exc}.") from None
    with handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidRequest(
                    f"{file.name}, line {line_no}: not valid UTF-8 text (byte {exc.start + 1} "
                    "of the line). Save the file as UTF-8 and load it again."
                ) from None
            if "\x00" in text:
                raise InvalidRequest(
                    f"{file.name}, line {line_no}: contains a NUL byte, so this is not a text "
                    "file (a spreadsheet saved with the wrong extension?). Export it as CSV."
                )
            if line_no == 1:
                text = text.removeprefix("\ufeff")
            yield line_no, text


def _csv_records(file: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV records with the physical line on which each one ends."""
    lines = _utf8_lines(file)
    reader = csv.reader((text for _, text in lines), delimiter=delimiter, strict=True)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidRequest(
                f"{file.name}, line {reader.line_num}: malformed CSV ({exc})."
            ) from None
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # blank line
        yield reader.line_num, record


def _read_csv(file: Path, delimiter: str) -> _Source:
    def rows() -> Iterator[list[Any]]:
        records = _csv_records(file, delimiter)
        next(records, None)  # header
        width = len(headers)
        for line_no, record in records:
            if len(record) != width:
                raise InvalidRequest(
                    f"{file.name}, line {line_no}: expected {width} fields like the header, "
                    f"found {len(record)}. Check for a missing or extra delimiter or an "
                    "unbalanced quote."
                )
            yield record

    records = _csv_records(file, delimiter)
    first = next(records, None)
    if first is None:
        raise InvalidRequest(f"{file.name} is empty: expected a header line and data rows.")
    headers = [cell.strip() for cell in first[1]]
    types = [_ColumnType() for _ in headers]
    count = 0
    for record in rows():
        count += 1
        for column, cell in zip(types, record, strict=True):
            stripped = cell.strip()
            if stripped:
                column.observe_text(stripped)
    return _Source(headers, types, count, rows, _convert_text)


def _read_jsonl(file: Path) -> _Source:
    def objects() -> Iterator[tuple[int, dict[str, Any]]]:
        for line_no, text in _utf8_lines(file):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidRequest(
                    f"{file.name}, line {line_no}: invalid JSON ({exc.msg} at column "
                    f"{exc.colno}). Each line must be one JSON object."
                ) from None
            if not isinstance(value, dict):
                kind = type(value).__name__
                kind = {"list": "an array", "str": "a string", "NoneType": "null"}.get(
                    kind, f"a {kind}"
                )
                raise InvalidRequest(
                    f"{file.name}, line {line_no}: expected a JSON object, got {kind}. Each "
                    'line must be one object such as {"id": 1, "name": "Ada"}.'
                )
            yield line_no, value

    def rows() -> Iterator[list[Any]]:
        for _, value in objects():
            yield [value.get(key) for key in headers]

    headers: list[str] = []
    positions: dict[str, int] = {}
    types: list[_ColumnType] = []
    count = 0
    for _, value in objects():
        count += 1
        for key, cell in value.items():
            if key not in positions:
                positions[key] = len(headers)
                headers.append(key)
                types.append(_ColumnType())
            if cell is not None:
                types[positions[key]].observe_json(cell)
    if count == 0:
        raise InvalidRequest(f"{file.name} is empty: expected one JSON object per line.")
    return _Source(headers, types, count, rows, _convert_json)


# -- describing tables --------------------------------------------------------------------------


def _sample_text(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    text = str(value).replace("\n", " ")
    return text if len(text) <= _SAMPLE_CHARS else text[: _SAMPLE_CHARS - 1] + "…"


def describe_table(conn: Connection, name: str, *, samples: int = _SAMPLE_COUNT) -> TableSchema:
    """Columns (declared types, up to `samples` distinct non-NULL values) and row count.

    Shared with the SQL sandbox so the loader's answer and the model's view agree. `conn` must
    be a trusted connection (no authorizer); `name` must be an existing table.
    """
    quoted = quote_identifier(name)
    columns: list[TableColumn] = []
    info = conn.execute("SELECT name, type FROM pragma_table_info(?)", (name,)).fetchall()
    for column_name, declared in info:
        column = quote_identifier(column_name)
        values = conn.execute(
            f"SELECT DISTINCT {column} FROM {quoted} WHERE {column} IS NOT NULL LIMIT ?",
            (samples,),
        ).fetchall()
        listed = conn.execute(
            f"SELECT DISTINCT {column} FROM {quoted} WHERE typeof({column}) = 'text' "
            f"AND length({column}) <= ? LIMIT ?",
            (_SAMPLE_CHARS, MAX_COLUMN_VALUES + 1),
        ).fetchall()
        columns.append(
            TableColumn(
                name=column_name,
                type=(declared or "ANY").upper(),
                samples=tuple(_sample_text(row[0]) for row in values),
                values=tuple(row[0] for row in listed) if len(listed) <= MAX_COLUMN_VALUES else (),
            )
        )
    (row_count,) = conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()
    return TableSchema(name=name, columns=tuple(columns), row_count=row_count)


def user_table_names(conn: Connection) -> list[str]:
    """Names of the tables users loaded: not SQLite's, not Almanac's bookkeeping, sorted."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "AND lower(name) NOT LIKE ? ESCAPE '\\' ORDER BY name COLLATE NOCASE",
        (INTERNAL_PREFIX.replace("_", "\\_") + "%",),
    ).fetchall()
    return [row[0] for row in rows]


# -- the loader ---------------------------------------------------------------------------------

_CREATE_META = f"""
CREATE TABLE IF NOT EXISTS {_META_TABLE} (
    table_name TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    source_name TEXT NOT NULL,
    type TEXT NOT NULL,
    PRIMARY KEY (table_name, position)
)
"""


class SqliteTableLoader:
    """Creates, replaces, lists and drops the user tables in one SQLite file (WAL mode).

    Every call opens its own connection, so one loader may be used from several threads; two
    loads of the same table serialise on SQLite's write lock and the later one wins.
    """

    SUFFIXES: ClassVar[dict[str, str]] = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
    JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)

    @property
    def path(self) -> Path:
        return self._path

    def load(self, file: Path, name: str) -> TableSchema:
        """Load `file` as table `name`, choosing the format by the file's extension."""
        file = Path(file)
        suffix = file.suffix.lower()
        if suffix in self.SUFFIXES:
            return self.load_csv(file, name, delimiter=self.SUFFIXES[suffix])
        if suffix in self.JSONL_SUFFIXES:
            return self.load_jsonl(file, name)
        supported = ", ".join(sorted([*self.SUFFIXES, *self.JSONL_SUFFIXES]))
        raise UnsupportedDocument(
            f"Cannot load {file.name} as a table: supported files are {supported}."
        )

    def load_csv(self, file: Path, name: str, *, delimiter: str = ",") -> TableSchema:
        """Create or atomically replace table `name` from a CSV file with a header line."""
        validate_table_name(name)
        return self._write(name, _read_csv(Path(file), delimiter))

    def load_jsonl(self, file: Path, name: str) -> TableSchema:
        """Create or atomically replace table `name` from JSON Lines (one object per line).

        Columns are the union of the keys in order of first appearance; a missing key is
        NULL; nested arrays and objects are stored as JSON text (query with `->>`).
        """
        validate_table_name(name)
        return self._write(name, _read_jsonl(Path(file)))

    def list_tables(self) -> list[TableSchema]:
        """Every user table with its columns, samples and row count, sorted by name."""
        if not self._path.exists():
            return []
        conn = self._connect()
        try:
            return [describe_table(conn, table) for table in user_table_names(conn)]
        finally:
            conn.close()

    def column_mapping(self, name: str) -> dict[str, str]:
        """Column name in SQLite -> the header (or JSON key) it was loaded from."""
        validate_table_name(name)
        if not self._path.exists():
            return {}
        conn = self._connect()
        try:
            if not self._has_meta(conn):
                return {}
            rows = conn.execute(
                f"SELECT name, source_name FROM {_META_TABLE} WHERE table_name = ? "
                "ORDER BY position",
                (name.lower(),),
            ).fetchall()
            return {row[0]: row[1] for row in rows}
        finally:
            conn.close()

    def drop(self, name: str) -> bool:
        """Drop table `name`; False if there was no such table."""
        validate_table_name(name)
        if not self._path.exists():
            return False
        conn = self._connect()
        try:
            with immediate_transaction(conn):
                if name.lower() not in {t.lower() for t in user_table_names(conn)}:
                    return False
                conn.execute(f"DROP TABLE {quote_identifier(name)}")
                if self._has_meta(conn):
                    conn.execute(f"DELETE FROM {_META_TABLE} WHERE table_name = ?", (name.lower(),))
            return True
        finally:
            conn.close()

    # -- internals ----------------------------------------------------------------------------

    def _connect(self) -> Connection:
        return connect(self._path)

    @staticmethod
    def _has_meta(conn: Connection) -> bool:
        row = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_META_TABLE,)
        ).fetchone()
        return row is not None

    def _write(self, name: str, source: _Source) -> TableSchema:
        if not source.headers:
            raise InvalidRequest(
                f"Table {name!r} would have no columns: the objects in the file have no keys."
            )
        if len(source.headers) > MAX_COLUMNS:
            raise InvalidRequest(
                f"Table {name!r} would have {len(source.headers)} columns; SQLite allows at "
                f"most {MAX_COLUMNS}."
            )
        columns = sanitise_column_names(source.headers)
        sql_types = [column.sql_type for column in source.types]
        scratch = quote_identifier(f"{_SCRATCH_PREFIX}{name.lower()}")
        definition = ", ".join(
            f"{quote_identifier(c)} {t}" for c, t in zip(columns, sql_types, strict=True)
        )
        insert = f"INSERT INTO {scratch} VALUES ({', '.join('?' for _ in columns)})"

        def converted() -> Iterator[tuple[Any, ...]]:
            convert = source.convert
            for number, row in enumerate(source.rows(), start=1):
                try:
                    yield tuple(
                        convert(cell, sql_type)
                        for cell, sql_type in zip(row, sql_types, strict=True)
                    )
                except ValueError:  # only if the file changed between the two passes
                    raise InvalidRequest(
                        f"Row {number} of the file changed while it was being loaded into "
                        f"{name!r}; nothing was written. Load it again."
                    ) from None

        conn = self._connect()
        try:
            with immediate_transaction(conn):
                conn.execute(f"DROP TABLE IF EXISTS {scratch}")
                conn.execute(f"CREATE TABLE {scratch} ({definition})")
                conn.executemany(insert, converted())
                conn.execute(f"DROP TABLE IF EXISTS {quote_identifier(name)}")
                conn.execute(f"ALTER TABLE {scratch} RENAME TO {quote_identifier(name)}")
                conn.execute(_CREATE_META)
                conn.execute(f"DELETE FROM {_META_TABLE} WHERE table_name = ?", (name.lower(),))
                conn.executemany(
                    f"INSERT INTO {_META_TABLE} (table_name, position, name, source_name, type) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [
                        (name.lower(), position, column, original, sql_type)
                        for position, (column, original, sql_type) in enumerate(
                            zip(columns, source.headers, sql_types, strict=True)
                        )
                    ],
                )
            return describe_table(conn, name)
        finally:
            conn.close()


__all__ = [
    "INTERNAL_PREFIX",
    "SQL_KEYWORDS",
    "SqliteTableLoader",
    "describe_table",
    "quote_identifier",
    "sanitise_column_names",
    "user_table_names",
    "validate_table_name",
]
