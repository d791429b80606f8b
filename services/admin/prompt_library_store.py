"""The `PromptLibraryStore` port in the app database, on SQLite or PostgreSQL (`services/sql`).

Rules (both databases):

* `prompt_projects` (name unique), `prompt_use_cases` (name unique within its project) and
  `library_prompts` (name unique within its use case, `key` unique) hold the library; the
  versions of a prompt are the `prompt_versions` rows of its key (`services/admin/prompt_store.py`).
* A library prompt's tags are a JSON list (lower-case, each once), filtered with the
  database's own JSON functions.
* An add whose name is taken writes nothing: `INSERT ... ON CONFLICT DO NOTHING` and no row
  returned, so two admins adding the same name at once get one row and one False.
* The migration `..._0002_default_project` stores the default project, its use cases `chat`
  and `advice`, and the built-in prompts `prm_chat` / `prm_advice` whose keys are today's
  prompt types, so the versions stored before the library existed are theirs.

What differs by dialect: the times (ISO text or `timestamptz`), the JSON column (`TEXT`
checked by `json_valid`, or `JSON`) and how a tag is looked for in it (`json_each` or
`json_array_elements_text`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from services.postgres.migrations import Migration as PgMigration
from services.sql import Session, StoreTarget, sql_db
from services.sqlite.migrations import Migration
from use_cases.prompts.library_domain import LibraryPrompt, Project, Removed, UseCase

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "SEEDED_ROWS", "TABLES", "PromptLibraryStore"]

#: The tables of the library, parents first (for `almanac db copy`).
TABLES = ("prompt_projects", "prompt_use_cases", "library_prompts")
#: The ids of the rows the migrations store, by table, parents first.
SEEDED_ROWS = {
    "prompt_projects": ("proj_default",),
    "prompt_use_cases": ("uc_chat", "uc_advice"),
    "library_prompts": ("prm_chat", "prm_advice"),
}

_DEFAULTS = """
INSERT INTO prompt_projects (id, name, description, created_at) VALUES
    ('proj_default', 'Default', 'The prompts the service answers with.', {now});
INSERT INTO prompt_use_cases (id, project_id, name, description, created_at) VALUES
    ('uc_chat', 'proj_default', 'chat', 'Grounded answers with citations.', {now}),
    ('uc_advice', 'proj_default', 'advice', 'Structured advice turns.', {now});
INSERT INTO library_prompts (id, use_case_id, name, description, tags, key, created_at) VALUES
    ('prm_chat', 'uc_chat', 'chat', 'The system prompt of chat turns.', '["built-in"]',
     'chat', {now}),
    ('prm_advice', 'uc_advice', 'advice', 'The system prompt of advice turns.', '["built-in"]',
     'advice', {now});
"""

MIGRATIONS = (
    Migration(
        "prompt_library_0001_tables",
        """
        CREATE TABLE prompt_projects (
            id           TEXT PRIMARY KEY,
            name         TEXT NOT NULL UNIQUE,
            description  TEXT NOT NULL DEFAULT '',
            created_at   TEXT NOT NULL
        );
        CREATE TABLE prompt_use_cases (
            id           TEXT PRIMARY KEY,
            project_id   TEXT NOT NULL REFERENCES prompt_projects(id),
            name         TEXT NOT NULL,
            description  TEXT NOT NULL DEFAULT '',
            created_at   TEXT NOT NULL,
            UNIQUE (project_id, name)
        );
        CREATE TABLE library_prompts (
            id           TEXT PRIMARY KEY,
            use_case_id  TEXT NOT NULL REFERENCES prompt_use_cases(id),
            name         TEXT NOT NULL,
            description  TEXT NOT NULL DEFAULT '',
            tags         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
            key          TEXT NOT NULL UNIQUE,
            created_at   TEXT NOT NULL,
            UNIQUE (use_case_id, name)
        );
        """,
    ),
    Migration(
        "prompt_library_0002_default_project",
        _DEFAULTS.format(now="strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now')"),
    ),
    Migration(
        "prompt_library_0003_updated_at",
        """
        ALTER TABLE prompt_projects ADD COLUMN updated_at TEXT;
        ALTER TABLE prompt_use_cases ADD COLUMN updated_at TEXT;
        ALTER TABLE library_prompts ADD COLUMN updated_at TEXT;
        """,
    ),
)

PG_MIGRATIONS: list[PgMigration] = [
    PgMigration(
        "prompt_library_pg_0001_tables",
        """
        CREATE TABLE prompt_projects (
            id           TEXT COLLATE "C" PRIMARY KEY,
            name         TEXT COLLATE "C" NOT NULL UNIQUE,
            description  TEXT NOT NULL DEFAULT '',
            created_at   TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE prompt_use_cases (
            id           TEXT COLLATE "C" PRIMARY KEY,
            project_id   TEXT NOT NULL REFERENCES prompt_projects(id),
            name         TEXT COLLATE "C" NOT NULL,
            description  TEXT NOT NULL DEFAULT '',
            created_at   TIMESTAMPTZ NOT NULL,
            UNIQUE (project_id, name)
        );
        CREATE TABLE library_prompts (
            id           TEXT COLLATE "C" PRIMARY KEY,
            use_case_id  TEXT NOT NULL REFERENCES prompt_use_cases(id),
            name         TEXT COLLATE "C" NOT NULL,
            description  TEXT NOT NULL DEFAULT '',
            tags         JSON NOT NULL DEFAULT '[]',
            key          TEXT NOT NULL UNIQUE,
            created_at   TIMESTAMPTZ NOT NULL,
            UNIQUE (use_case_id, name)
        );
        """,
    ),
    PgMigration("prompt_library_pg_0002_default_project", _DEFAULTS.format(now="now()")),
    PgMigration(
        "prompt_library_pg_0003_updated_at",
        """
        ALTER TABLE prompt_projects ADD COLUMN updated_at TIMESTAMPTZ;
        ALTER TABLE prompt_use_cases ADD COLUMN updated_at TIMESTAMPTZ;
        ALTER TABLE library_prompts ADD COLUMN updated_at TIMESTAMPTZ;
        """,
    ),
]

_PROJECT = "id, name, description, created_at"
_USE_CASE = "id, project_id, name, description, created_at"
_PROMPT = "id, use_case_id, name, description, tags, key, created_at"
#: A prompt's rows, by the column their parent is named in.
_PROMPTS_OF_PROJECT = "use_case_id IN (SELECT id FROM prompt_use_cases WHERE project_id = ?)"


class PromptLibraryStore:
    def __init__(self, target: StoreTarget) -> None:
        self._db = sql_db(target)
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    def close(self) -> None:
        self._db.close()

    # --- projects ---------------------------------------------------------------------------

    def add_project(self, project: Project) -> bool:
        return self._add(
            f"prompt_projects ({_PROJECT}) VALUES (?, ?, ?, ?)",
            (project.id, project.name, project.description, self._db.put_time(project.created_at)),
        )

    def project(self, project_id: str) -> Project | None:
        row = self._one(
            f"SELECT {_PROJECT}, updated_at FROM prompt_projects WHERE id = ?", (project_id,)
        )
        return self._project(row) if row else None

    def projects(self, *, limit: int, offset: int) -> tuple[list[Project], int]:
        rows, total = self._page(
            "prompt_projects", f"{_PROJECT}, updated_at", "", (), limit, offset
        )
        return [self._project(r) for r in rows], total

    # --- use cases --------------------------------------------------------------------------

    def add_use_case(self, use_case: UseCase) -> bool:
        return self._add(
            f"prompt_use_cases ({_USE_CASE}) VALUES (?, ?, ?, ?, ?)",
            (
                use_case.id,
                use_case.project_id,
                use_case.name,
                use_case.description,
                self._db.put_time(use_case.created_at),
            ),
        )

    def use_case(self, use_case_id: str) -> UseCase | None:
        row = self._one(
            f"SELECT {_USE_CASE}, updated_at FROM prompt_use_cases WHERE id = ?", (use_case_id,)
        )
        return self._use_case(row) if row else None

    def use_cases(self, project_id: str, *, limit: int, offset: int) -> tuple[list[UseCase], int]:
        rows, total = self._page(
            "prompt_use_cases",
            f"{_USE_CASE}, updated_at",
            "WHERE project_id = ?",
            (project_id,),
            limit,
            offset,
        )
        return [self._use_case(r) for r in rows], total

    # --- prompts ----------------------------------------------------------------------------

    def add_prompt(self, prompt: LibraryPrompt) -> bool:
        return self._add(
            f"library_prompts ({_PROMPT}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                prompt.id,
                prompt.use_case_id,
                prompt.name,
                prompt.description,
                json.dumps(list(prompt.tags)),
                prompt.key,
                self._db.put_time(prompt.created_at),
            ),
        )

    def prompt(self, prompt_id: str) -> LibraryPrompt | None:
        row = self._one(
            f"SELECT {_PROMPT}, updated_at FROM library_prompts WHERE id = ?", (prompt_id,)
        )
        return self._prompt(row) if row else None

    def prompts(
        self, *, use_case_id: str | None, tag: str | None, limit: int, offset: int
    ) -> tuple[list[LibraryPrompt], int]:
        where: list[str] = []
        args: list[Any] = []
        if use_case_id is not None:
            where.append("use_case_id = ?")
            args.append(use_case_id)
        if tag is not None:
            elements = (
                "json_each(library_prompts.tags)"
                if self._db.dialect == "sqlite"
                else "json_array_elements_text(library_prompts.tags) AS value"
            )
            where.append(f"EXISTS (SELECT 1 FROM {elements} WHERE value = ?)")
            args.append(tag)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows, total = self._page(
            "library_prompts", f"{_PROMPT}, updated_at", clause, tuple(args), limit, offset
        )
        return [self._prompt(r) for r in rows], total

    # --- updates and deletes ----------------------------------------------------------------

    def update_project(self, project: Project) -> bool:
        return self._update(
            "prompt_projects",
            "name = ?, description = ?",
            (project.name, project.description),
            project.id,
            project.updated_at,
            sibling="",
            sibling_args=(),
            name=project.name,
        )

    def update_use_case(self, use_case: UseCase) -> bool:
        return self._update(
            "prompt_use_cases",
            "name = ?, description = ?",
            (use_case.name, use_case.description),
            use_case.id,
            use_case.updated_at,
            sibling="project_id = ? AND",
            sibling_args=(use_case.project_id,),
            name=use_case.name,
        )

    def update_prompt(self, prompt: LibraryPrompt) -> bool:
        return self._update(
            "library_prompts",
            "name = ?, description = ?, tags = ?",
            (prompt.name, prompt.description, json.dumps(list(prompt.tags))),
            prompt.id,
            prompt.updated_at,
            sibling="use_case_id = ? AND",
            sibling_args=(prompt.use_case_id,),
            name=prompt.name,
        )

    def delete_project(self, project_id: str) -> Removed | None:
        with self._db.write() as conn:
            prompts = conn.execute(
                f"DELETE FROM library_prompts WHERE {_PROMPTS_OF_PROJECT}", (project_id,)
            ).rowcount
            use_cases = conn.execute(
                "DELETE FROM prompt_use_cases WHERE project_id = ?", (project_id,)
            ).rowcount
            gone = conn.execute("DELETE FROM prompt_projects WHERE id = ?", (project_id,)).rowcount
        return Removed(use_cases, prompts) if gone else None

    def delete_use_case(self, use_case_id: str) -> Removed | None:
        with self._db.write() as conn:
            prompts = conn.execute(
                "DELETE FROM library_prompts WHERE use_case_id = ?", (use_case_id,)
            ).rowcount
            gone = conn.execute(
                "DELETE FROM prompt_use_cases WHERE id = ?", (use_case_id,)
            ).rowcount
        return Removed(prompts=prompts) if gone else None

    def delete_prompt(self, prompt_id: str) -> Removed | None:
        with self._db.write() as conn:
            gone = conn.execute("DELETE FROM library_prompts WHERE id = ?", (prompt_id,)).rowcount
        return Removed() if gone else None

    # --- helpers ----------------------------------------------------------------------------

    def _update(
        self,
        table: str,
        assignments: str,
        values: tuple[Any, ...],
        row_id: str,
        at: datetime | None,
        *,
        sibling: str,
        sibling_args: tuple[Any, ...],
        name: str,
    ) -> bool:
        """One row's new values, unless a sibling (same parent) has the name: checked and
        written in one transaction (SQLite holds the write lock; on PostgreSQL the unique
        constraint still refuses a rename that races another)."""
        with self._db.write() as conn:
            taken = conn.execute(
                f"SELECT 1 FROM {table} WHERE {sibling} name = ? AND id <> ?",
                (*sibling_args, name, row_id),
            ).fetchone()
            if taken is not None:
                return False
            changed = conn.execute(
                f"UPDATE {table} SET {assignments}, updated_at = ? WHERE id = ?",
                (*values, self._db.put_time(at) if at else None, row_id),
            ).rowcount
        return changed > 0

    def _add(self, insert: str, params: tuple[Any, ...]) -> bool:
        with self._db.write() as conn:
            row = conn.execute(
                f"INSERT INTO {insert} ON CONFLICT DO NOTHING RETURNING id", params
            ).fetchone()
        return row is not None

    def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        with self._db.read() as conn:
            return conn.execute(sql, params).fetchone()

    def _page(
        self,
        table: str,
        columns: str,
        where: str,
        args: tuple[Any, ...],
        limit: int,
        offset: int,
    ) -> tuple[list[Any], int]:
        with self._db.read() as conn:
            total = _count(conn, f"SELECT count(*) AS n FROM {table} {where}", args)
            rows = conn.execute(
                f"SELECT {columns} FROM {table} {where} ORDER BY name, id LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
        return rows, total

    def _project(self, row: Any) -> Project:
        return Project(
            id=str(row["id"]),
            name=str(row["name"]),
            description=str(row["description"]),
            created_at=self._db.get_time(row["created_at"]),
            updated_at=self._updated(row),
        )

    def _use_case(self, row: Any) -> UseCase:
        return UseCase(
            id=str(row["id"]),
            project_id=str(row["project_id"]),
            name=str(row["name"]),
            description=str(row["description"]),
            created_at=self._db.get_time(row["created_at"]),
            updated_at=self._updated(row),
        )

    def _prompt(self, row: Any) -> LibraryPrompt:
        return LibraryPrompt(
            id=str(row["id"]),
            use_case_id=str(row["use_case_id"]),
            name=str(row["name"]),
            description=str(row["description"]),
            tags=tuple(self._db.get_json(row["tags"])),
            key=str(row["key"]),
            created_at=self._db.get_time(row["created_at"]),
            updated_at=self._updated(row),
        )

    def _updated(self, row: Any) -> datetime | None:
        value = row["updated_at"]
        return self._db.get_time(value) if value is not None else None


def _count(conn: Session, sql: str, args: tuple[Any, ...]) -> int:
    return int(conn.execute(sql, args).fetchone()["n"])
