"""Read-only SQL over the user tables in PostgreSQL, for the model's SQL tool (`SqlRunner`).

The same port, messages and limits as `SqliteSqlRunner` (`sql_runner.ReadOnlySqlRunner`
holds what the two share: the options, the text checks, the catalog cache, the result and the
wording of the refusals); the boundary is PostgreSQL's own, since PostgreSQL has roles and
privileges and a planner to ask, where SQLite offers an authorizer and bytecode instead. The
catalog's version is the schema's tables' oids, names and privileges (a load by any replica
changes it), and errors are told apart by PostgreSQL's error classes. Layers, outermost first:

1. **Text checks** (the shared ones: length, no NUL, starts with SELECT / WITH / VALUES),
   plus a refusal of functions that allocate a huge value in one call (`repeat`, `lpad`, ...),
   which the planner may evaluate while the statement is still being checked.
2. **One transaction per query, READ ONLY, rolled back**, with `SET LOCAL statement_timeout`
   (the time limit), `search_path` = the tables schema only, and `SET LOCAL ROLE` to
   `READER_ROLE`: a NOLOGIN role (no superuser, no memberships) that can use the tables
   schema and SELECT only the tables granted to it. It cannot read the application's tables
   (API keys, messages, ...), cannot create anything and cannot execute the server's file
   functions (`pg_read_file`, `lo_import`, ...), which are not granted to PUBLIC.
3. **A check of the engine's plan** (`EXPLAIN (VERBOSE, FORMAT JSON)`: planned, not run):
   every scanned relation must be an available table of the tables schema (so a hidden table,
   a system catalog or another schema's table reads "no such table"); no write or row-lock
   node; and every function in every expression must be on `SAFE_FUNCTIONS`. The allow-list
   is necessary, not just tidy: the session user may switch roles, so `set_config('role',
   ...)` would undo `SET LOCAL ROLE` for the rest of the statement, and `query_to_xml('...')`
   or `ts_stat('...')` run SQL of their own; all are refused because they are not listed.
4. **`DECLARE CURSOR` + `fetchmany(max_rows + 1)`**: only a SELECT can be declared as a
   cursor, and the rows are fetched from the server in one bounded batch, never materialised.

Every query borrows a pooled connection and gives it back with nothing changed: the settings
are LOCAL to the rolled-back transaction, and the functions that could leave session state
behind (`set_config(..., false)`, `pg_advisory_lock`) are not on the allow-list.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Unpack

import psycopg
from loguru import logger
from psycopg import sql
from psycopg.rows import tuple_row

from services.postgres import PgDatabase, apply_migrations
from services.tables.loader import PG_MIGRATIONS, PG_TABLES, READER_ROLE, TABLES_SCHEMA
from services.tables.sql_runner import Catalog, ReadOnlySqlRunner, RunnerOptions
from use_cases.shared.errors import ConfigurationError, ToolRejected
from use_cases.tables.domain import QueryResult, TableCollections, TableSchema

if TYPE_CHECKING:
    from services.postgres.database import Connection

#: Functions the model may call (names as PostgreSQL's deparser prints them, lowercased).
#: Anything not listed is refused, so a function an extension adds is refused until reviewed.
#: Not listed on purpose: `set_config` (switches the role back), `query_to_xml` & co and
#: `ts_stat` (run SQL of their own), `pg_sleep*`, `pg_advisory_*`, `pg_notify`, file and
#: large-object functions, sequence functions, catalog and size functions, `current_setting`,
#: and `repeat` / `lpad` / `rpad` / `format` / `array_fill` (one call allocates up to 1 GB).
SAFE_FUNCTIONS: frozenset[str] = frozenset(
    {
        # aggregate
        "avg", "count", "max", "min", "sum", "string_agg", "array_agg", "bool_and", "bool_or",
        "every", "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp",
        "percentile_cont", "percentile_disc", "mode", "corr", "covar_pop", "covar_samp",
        "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg",
        # window
        "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag",
        "lead", "first_value", "last_value", "nth_value",
        # conditional (the deparser prints these in capitals)
        "coalesce", "nullif", "greatest", "least", "num_nulls", "num_nonnulls",
        # text
        "lower", "upper", "initcap", "length", "char_length", "character_length",
        "octet_length", "substr", "substring", "trim", "btrim", "ltrim", "rtrim", "replace",
        "split_part", "position", "strpos", "left", "right", "reverse", "concat",
        "concat_ws", "starts_with", "translate", "regexp_replace", "regexp_match",
        "regexp_matches", "regexp_split_to_array", "regexp_split_to_table", "regexp_like",
        "regexp_count", "regexp_substr", "regexp_instr", "like_escape", "similar_to_escape",
        "to_char", "to_number", "to_date", "to_timestamp", "ascii", "chr", "md5", "normalize",
        "overlay", "string_to_array", "string_to_table", "array_to_string", "quote_literal",
        "quote_ident", "text",
        # numbers
        "abs", "ceil", "ceiling", "floor", "round", "trunc", "sign", "sqrt", "cbrt", "power",
        "pow", "exp", "ln", "log", "log10", "mod", "div", "pi", "degrees", "radians", "sin",
        "cos", "tan", "asin", "acos", "atan", "atan2", "width_bucket", "random", "gcd", "lcm",
        "scale",
        # dates and times
        "now", "clock_timestamp", "statement_timestamp", "transaction_timestamp",
        "date_trunc", "date_part", "extract", "age", "make_date", "make_time",
        "make_timestamp", "make_interval", "justify_days", "justify_hours",
        "justify_interval", "date_bin", "isfinite", "timezone", "overlaps",
        # JSON
        "to_json", "to_jsonb", "json_build_object", "jsonb_build_object", "json_build_array",
        "jsonb_build_array", "json_object", "json_array", "json_extract_path",
        "jsonb_extract_path", "json_extract_path_text", "jsonb_extract_path_text",
        "json_array_length", "jsonb_array_length", "json_typeof", "jsonb_typeof",
        "json_each", "jsonb_each", "json_each_text", "jsonb_each_text",
        "json_array_elements", "jsonb_array_elements", "json_array_elements_text",
        "jsonb_array_elements_text", "json_object_keys", "jsonb_object_keys", "jsonb_pretty",
        # arrays and sets
        "array_length", "cardinality", "array_position", "array_positions", "array_remove",
        "array_append", "array_prepend", "array_cat", "unnest", "generate_series",
        # full text
        "to_tsvector", "to_tsquery", "plainto_tsquery", "phraseto_tsquery",
        "websearch_to_tsquery", "ts_rank", "ts_rank_cd", "ts_headline",
        # SQL syntax the deparser prints like a call
        "row", "array", "exists",
    }
)  # fmt: skip

#: Refused on sight in the SQL text: the planner may run them (constant folding) while the
#: statement is checked, and one call can allocate up to 1 GB on the server.
_BIG_VALUE_FUNCTIONS = frozenset(
    {"repeat", "lpad", "rpad", "format", "array_fill", "pg_sleep", "pg_sleep_for"}
)

#: Bare words the deparser prints for SQL value functions that reveal the server's roles.
_IDENTITY_WORDS = frozenset(
    {"CURRENT_USER", "SESSION_USER", "CURRENT_ROLE", "USER", "CURRENT_CATALOG", "CURRENT_SCHEMA"}
)

#: Plan nodes that write, lock rows, or read something other than a table.
_FORBIDDEN_NODES = {
    "ModifyTable": "writing",
    "LockRows": "locking rows (FOR UPDATE / FOR SHARE)",
    "Foreign Scan": "reading a foreign table",
    "Custom Scan": "a custom scan",
    "Table Function Scan": "a table function (XMLTABLE / JSON_TABLE)",
}

#: Keys of an EXPLAIN (FORMAT JSON) node whose values are not expressions.
_NON_EXPRESSION_KEYS = frozenset(
    {
        "Node Type", "Parent Relationship", "Subplan Name", "Relation Name", "Schema",
        "Alias", "Strategy", "Partial Mode", "Join Type", "Scan Direction", "Index Name",
        "CTE Name", "Function Name", "Sort Method", "Command", "Operation", "Setop",
        "Sort Space Type", "Inner Unique", "Parallel Aware", "Async Capable",
    }
)  # fmt: skip

_TOKENS = re.compile(
    r"""(?P<string>[EeUu]?&?'(?:[^']|'')*')
      | (?P<quoted>"(?:[^"]|"")*")
      | (?P<dollar>\$(?P<tag>[A-Za-z_]\w*)?\$.*?\$(?P=tag)\$)
      | (?P<comment>--[^\n]*|/\*.*?\*/)
      | (?P<word>[A-Za-z_][\w$]*)
      | (?P<cast>::)
      | (?P<space>\s+)
      | (?P<other>.)""",
    re.X | re.S,
)


@dataclass(frozen=True)
class _Call:
    name: str  # lowercased, without the schema
    schema: str | None


def _calls(text: str) -> Iterator[_Call | str]:
    """Function calls in `text` (a name directly followed by `(`, not a cast's type) and the
    bare identity words. Quoted strings, quoted identifiers and comments are skipped."""
    tokens = [(m.lastgroup, m.group(0)) for m in _TOKENS.finditer(text)]
    for i, (kind, value) in enumerate(tokens):
        if kind not in ("word", "quoted"):
            continue
        name = value[1:-1].replace('""', '"') if kind == "quoted" else value
        following = tokens[i + 1] if i + 1 < len(tokens) else (None, "")
        if following != ("other", "("):
            if kind == "word" and value in _IDENTITY_WORDS:
                yield value
            continue
        # A cast's type (`::numeric(10,2)`, `::character varying(5)`) is no call.
        j = i - 1
        while j >= 0 and tokens[j][0] in ("word", "space"):
            j -= 1
        if j >= 0 and tokens[j][0] == "cast":
            continue
        schema = None
        if i >= 2 and tokens[i - 1] == ("other", ".") and tokens[i - 2][0] in ("word", "quoted"):
            raw = tokens[i - 2][1]
            schema = raw[1:-1] if tokens[i - 2][0] == "quoted" else raw.lower()
        yield _Call(name.lower() if kind == "word" else name, schema)


def _casts_to_reg_types(text: str) -> bool:
    """True if `text` casts to an object-identifier type (`'x'::regclass`): catalog lookups."""
    tokens = [(m.lastgroup, m.group(0)) for m in _TOKENS.finditer(text)]
    for i, (kind, _) in enumerate(tokens):
        if kind == "cast":
            rest = [t for t in tokens[i + 1 : i + 4] if t[0] != "space"]
            if (
                rest
                and rest[0][0] in ("word", "quoted")
                and rest[0][1].strip('"').lower().startswith("reg")
            ):
                return True
    return False


@dataclass
class _Verdict:
    """What the plan check found."""

    missing_tables: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    writes: bool = False


class PgSqlRunner(ReadOnlySqlRunner):
    """Runs one read-only SELECT at a time over the user tables in PostgreSQL's tables schema.

    `tables` restricts the model to those tables (case-insensitive); by default it sees every
    table of the schema that the reader role may SELECT (not Almanac's `_almanac*`
    bookkeeping). The list is re-read when the schema's tables change (a load replaces a
    table's oid), so a table loaded or dropped by any replica appears or disappears without a
    restart; `refresh()` also recomputes the row counts and samples that `schemas()` caches.
    """

    dialect = "PostgreSQL"
    error_label = "SQL error"

    def __init__(self, db: PgDatabase, **options: Unpack[RunnerOptions]) -> None:
        super().__init__(**options)
        self._db = db
        apply_migrations(db, PG_MIGRATIONS)
        self._check_reader_role()

    # -- SqlRunner ------------------------------------------------------------------------------

    def schemas(self, collections: TableCollections = None) -> list[TableSchema]:
        """The available tables of `collections` (None: all) with column types, up to 3
        sample values and row counts."""
        try:
            with self._db.connection() as conn, conn.transaction(force_rollback=True):
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                catalog = self._current_catalog(conn, want_schemas=True)
            return catalog.readable_schemas(collections)
        except psycopg.Error as exc:
            logger.warning("SQL sandbox: cannot read the tables schema: {}", exc)
            return []

    def run(self, sql_text: str, collections: TableCollections = None) -> QueryResult:
        """Run one read-only SELECT over the tables of `collections` (None: all); any other
        table is "no such table" to the plan check. `ToolRejected` with a retry hint for
        anything else."""
        text = self._check_text(sql_text)
        self._check_length(text)  # a bound, like SQLite's SQLITE_LIMIT_SQL_LENGTH
        self._check_big_values(text)
        catalog: Catalog | None = None
        try:
            with self._db.connection() as conn, conn.transaction(force_rollback=True):
                conn.execute("SET TRANSACTION READ ONLY")
                whole = self._current_catalog(conn)
                catalog = whole.within(collections)
                if not catalog.tables:
                    raise ToolRejected(self._NOTHING_LOADED)
                self._refuse_hidden(text, whole, catalog)
                self._enter_sandbox(conn)
                self._check_plan(conn, text, catalog)
                cursor = conn.cursor(name=f"almanac_sql_{uuid.uuid4().hex}", row_factory=tuple_row)
                cursor.execute(text)
                fetched = cursor.fetchmany(self._max_rows + 1)
                description = cursor.description or []
                columns = tuple(str(d.name) for d in description)
                cursor.close()
        except psycopg.Error as exc:
            raise self._rejection(exc, catalog) from None
        return self._result(columns, fetched)

    # -- text checks (usability, not the boundary) ----------------------------------------------

    def _check_big_values(self, text: str) -> None:
        for call in _calls(text):
            if isinstance(call, _Call) and call.name in _BIG_VALUE_FUNCTIONS:
                raise self._refused([f"the function {call.name}() is not allowed"])

    # -- the engine boundary --------------------------------------------------------------------

    def _check_reader_role(self) -> None:
        """Refuse to start if READER_ROLE could do more than read (an administrator changed
        it): a superuser, a role with other roles' privileges, or the application's own."""
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolbypassrls "
                "OR r.rolreplication AS powerful, r.rolname = current_user AS is_app, "
                "EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid) AS member "
                "FROM pg_roles r WHERE r.rolname = %s",
                (READER_ROLE,),
            ).fetchone()
        if row is None or row["powerful"] or row["is_app"] or row["member"]:
            raise ConfigurationError(
                f"The role {READER_ROLE} must be a plain NOLOGIN role that is a member of no "
                "other role and is not Almanac's database user: the SQL tool runs the model's "
                "queries as it. Recreate it with CREATE ROLE "
                f"{READER_ROLE} NOLOGIN and grant it to Almanac's user."
            )

    def _enter_sandbox(self, conn: Connection) -> None:
        conn.execute(
            "SELECT set_config('statement_timeout', %s, true), "
            "set_config('lock_timeout', %s, true), set_config('search_path', %s, true)",
            (f"{max(1, round(self._timeout_s * 1000))}ms",) * 2 + (TABLES_SCHEMA,),
        )
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(READER_ROLE)))

    def _check_plan(self, conn: Connection, text: str, catalog: Catalog) -> None:
        """Plan `text` (EXPLAIN runs nothing) and refuse anything but a plain read of the
        available tables with listed functions."""
        row = conn.execute(
            sql.SQL("EXPLAIN (VERBOSE, FORMAT JSON) {}").format(sql.SQL(text))
        ).fetchone()
        plan = next(iter(row.values())) if row else []
        if isinstance(plan, str):
            plan = json.loads(plan)
        verdict = _Verdict()
        allowed = frozenset(t.lower() for t in catalog.tables)
        for node in _nodes(plan):
            self._check_node(node, allowed, verdict)
        hint = self._tables_hint(catalog)
        if verdict.writes:
            raise self._not_a_read(hint)
        if verdict.missing_tables and not verdict.denied:
            raise self._no_such_table(verdict.missing_tables[0], hint)
        if verdict.denied or verdict.missing_tables:
            raise self._refused(
                verdict.denied or ["reading outside the available tables is not allowed"], hint
            )

    @staticmethod
    def _check_node(node: dict[str, Any], allowed: frozenset[str], verdict: _Verdict) -> None:
        kind = node.get("Node Type", "")
        if kind in ("ModifyTable", "LockRows"):
            verdict.writes = True
        elif kind in _FORBIDDEN_NODES:
            _deny(verdict, f"{_FORBIDDEN_NODES[kind]} is not allowed")
        relation = node.get("Relation Name")
        outside = node.get("Schema") != TABLES_SCHEMA or str(relation).lower() not in allowed
        if relation is not None and outside and relation not in verdict.missing_tables:
            verdict.missing_tables.append(relation)
        function = node.get("Function Name")
        if function is not None and (
            node.get("Schema") != "pg_catalog" or function.lower() not in SAFE_FUNCTIONS
        ):
            _deny(verdict, f"the function {function}() is not allowed")
        for key, value in node.items():
            if key in _NON_EXPRESSION_KEYS or key == "Plans":
                continue
            for expression in value if isinstance(value, list) else [value]:
                if not isinstance(expression, str):
                    continue
                for call in _calls(expression):
                    if isinstance(call, str):
                        _deny(verdict, f"{call} is not allowed")
                    elif call.name not in SAFE_FUNCTIONS or call.schema not in (None, "pg_catalog"):
                        _deny(verdict, f"the function {call.name}() is not allowed")
                if _casts_to_reg_types(expression):
                    _deny(
                        verdict, "casts to object-identifier types (regclass, ...) are not allowed"
                    )

    def _signature(self, conn: Connection) -> tuple[Any, ...]:
        """What changes whenever a table of the schema is created, replaced, dropped or
        granted: each table's oid, name and privileges."""
        rows = conn.execute(
            "SELECT c.oid::bigint AS oid, c.relname AS name, c.relacl::text AS acl "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.oid",
            (TABLES_SCHEMA,),
        ).fetchall()
        return tuple((r["oid"], r["name"], r["acl"]) for r in rows)

    def _current_catalog(self, conn: Connection, *, want_schemas: bool = False) -> Catalog:
        """The cached catalog if it matches the schema's current signature (and has schemas
        if wanted), else one read through `conn` (inside a read-only transaction)."""
        signature = self._signature(conn)
        return self._cached_catalog(
            signature,
            lambda: self._build_catalog(conn, signature, want_schemas),
            want_schemas=want_schemas,
        )

    def _build_catalog(
        self, conn: Connection, signature: tuple[Any, ...], want_schemas: bool
    ) -> Catalog:
        readable = {
            row["name"]
            for row in conn.execute(
                "SELECT c.relname AS name FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND has_table_privilege(%s, c.oid, 'SELECT')",
                (TABLES_SCHEMA, READER_ROLE),
            )
        }
        names = self._visible(name for name in PG_TABLES.table_names(conn) if name in readable)
        schemas = tuple(PG_TABLES.describe(conn, name) for name in names) if want_schemas else None
        placed = PG_TABLES.collections(conn)
        return Catalog(version=signature, tables=names, schemas=schemas, collections=placed)

    # -- errors ---------------------------------------------------------------------------------

    def _rejection(self, exc: psycopg.Error, catalog: Catalog | None) -> ToolRejected:
        """Turn a PostgreSQL error into a message the model can act on in its next attempt."""
        hint = self._tables_hint(catalog)
        diag = exc.diag
        message = diag.message_primary or str(exc).strip().splitlines()[0]
        if isinstance(exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable):
            return self._timed_out()
        if "multiple commands" in message:
            return ToolRejected(self._ONE_STATEMENT)
        if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            return self._not_a_read(hint)
        missing = re.fullmatch(r'relation "(.+)" does not exist', message)
        hidden = re.fullmatch(
            r"permission denied for (?:table|view|materialized view) (.+)", message
        )
        if hidden and catalog is not None and hidden.group(1).lower() in catalog.tables:
            # An available table: the reader may only SELECT it, so this was a write or lock.
            return self._not_a_read(hint)
        if missing or hidden:
            # Unqualified, so `public.x` reads the same whether x is missing or hidden.
            name = (missing or hidden).group(1).rsplit(".", 1)[-1]  # type: ignore[union-attr]  # one of the two matched (checked above)
            return self._no_such_table(name, hint)
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            function = re.fullmatch(r"permission denied for function (.+)", message)
            reason = (
                f"the function {function.group(1)}() is not allowed"
                if function
                else "reading outside the available tables is not allowed"
            )
            return self._refused([reason], hint)
        if isinstance(exc, psycopg.errors.InvalidCursorDefinition):
            return self._not_a_read(hint)
        if isinstance(exc, psycopg.errors.ProgramLimitExceeded | psycopg.errors.OutOfMemory):
            return self._too_big(message)
        return self._engine_error(message, hint)


def _deny(verdict: _Verdict, reason: str) -> None:
    if reason not in verdict.denied:
        verdict.denied.append(reason)


def _nodes(plan: Any) -> Iterator[dict[str, Any]]:
    """Every plan node of an EXPLAIN (FORMAT JSON) result, subplans and init plans included."""
    if isinstance(plan, list):
        for item in plan:
            yield from _nodes(item)
    elif isinstance(plan, dict):
        if "Plan" in plan:
            yield from _nodes(plan["Plan"])
            return
        yield plan
        for child in plan.get("Plans", []):
            yield from _nodes(child)


__all__ = ["SAFE_FUNCTIONS", "PgSqlRunner"]
