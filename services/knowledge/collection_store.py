"""`CollectionStore` on the knowledge database (SQLite file or PostgreSQL), one SQL for both.

Its tables are the knowledge store's (migrated with it: `knowledge_0008_collections`,
`knowledge_pg_0003_collections`), because a document's collection is a column of the
documents table that retrieval reads; this store only speaks to them through `SqlDb`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.sql import SqlDb, StoreTarget, sql_db
from use_cases.knowledge.collections import CollectionInfo, Grant
from use_cases.shared.errors import Conflict

__all__ = ["SqlCollectionStore"]

_COLLECTIONS = (
    "SELECT k.id, k.name, k.description, k.created_at, "
    "(SELECT count(*) FROM documents d WHERE d.collection_id = k.id) AS documents "
    "FROM collections k"
)


class SqlCollectionStore:
    """Collections, grants and users' groups (use_cases/knowledge/collections.py)."""

    def __init__(self, target: StoreTarget) -> None:
        self._db: SqlDb = sql_db(target)

    def close(self) -> None:
        close = getattr(self._db, "close", None)
        if close is not None:
            close()

    def list_collections(self) -> list[CollectionInfo]:
        with self._db.read() as conn:
            rows = conn.execute(f"{_COLLECTIONS} ORDER BY k.name").fetchall()
            grants = conn.execute(
                "SELECT collection_id, kind, principal FROM collection_grants "
                "ORDER BY kind DESC, principal"
            ).fetchall()
        return [self._info(row, grants) for row in rows]

    def get_collection(self, name: str) -> CollectionInfo | None:
        with self._db.read() as conn:
            row = conn.execute(f"{_COLLECTIONS} WHERE k.name = ?", (name,)).fetchone()
            if row is None:
                return None
            grants = conn.execute(
                "SELECT collection_id, kind, principal FROM collection_grants "
                "WHERE collection_id = ? ORDER BY kind DESC, principal",
                (row["id"],),
            ).fetchall()
        return self._info(row, grants)

    def create_collection(self, name: str, description: str, at: datetime) -> CollectionInfo:
        with self._db.write() as conn:
            taken = conn.execute("SELECT 1 FROM collections WHERE name = ?", (name,)).fetchone()
            if taken is not None:
                raise Conflict(f"A collection named {name!r} exists already.")
            conn.execute(
                "INSERT INTO collections (name, description, created_at) VALUES (?, ?, ?)",
                (name, description, self._db.put_time(at)),
            )
        info = self.get_collection(name)
        assert info is not None
        return info

    def delete_collection(self, collection_id: int) -> None:
        with self._db.write() as conn:
            held = conn.execute(
                "SELECT count(*) AS n FROM documents WHERE collection_id = ?", (collection_id,)
            ).fetchone()
            if int(held["n"]):
                raise Conflict(
                    f"The collection still holds {int(held['n'])} document(s): delete or "
                    "move them first."
                )
            conn.execute("DELETE FROM collection_grants WHERE collection_id = ?", (collection_id,))
            conn.execute("DELETE FROM collections WHERE id = ?", (collection_id,))

    def add_grant(self, collection_id: int, grant: Grant, at: datetime) -> bool:
        with self._db.write() as conn:
            there = conn.execute(
                "SELECT 1 FROM collection_grants WHERE collection_id = ? AND kind = ? "
                "AND principal = ?",
                (collection_id, grant.kind, grant.principal),
            ).fetchone()
            if there is not None:
                return False
            conn.execute(
                "INSERT INTO collection_grants (collection_id, kind, principal, granted_at) "
                "VALUES (?, ?, ?, ?)",
                (collection_id, grant.kind, grant.principal, self._db.put_time(at)),
            )
        return True

    def remove_grant(self, collection_id: int, grant: Grant) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute(
                "DELETE FROM collection_grants WHERE collection_id = ? AND kind = ? "
                "AND principal = ?",
                (collection_id, grant.kind, grant.principal),
            )
            return cursor.rowcount > 0

    def readable_by(self, user_id: str) -> frozenset[int]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT collection_id FROM collection_grants WHERE kind = 'user' "
                "AND principal = ? UNION SELECT g.collection_id FROM collection_grants g "
                "JOIN user_groups u ON u.group_name = g.principal "
                "WHERE g.kind = 'group' AND u.user_id = ?",
                (user_id, user_id),
            ).fetchall()
        return frozenset(int(row["collection_id"]) for row in rows)

    def set_groups(self, user_id: str, groups: Sequence[str]) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM user_groups WHERE user_id = ?", (user_id,))
            for group in groups:
                conn.execute(
                    "INSERT INTO user_groups (user_id, group_name) VALUES (?, ?)",
                    (user_id, group),
                )

    def delete_for_user(self, user_id: str) -> int:
        """Forget a user's grants and group memberships (their data is erased); how many."""
        with self._db.write() as conn:
            grants = conn.execute(
                "DELETE FROM collection_grants WHERE kind = 'user' AND principal = ?", (user_id,)
            ).rowcount
            groups = conn.execute("DELETE FROM user_groups WHERE user_id = ?", (user_id,)).rowcount
        return int(grants) + int(groups)

    def groups_of(self, user_id: str) -> tuple[str, ...]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT group_name FROM user_groups WHERE user_id = ? ORDER BY group_name",
                (user_id,),
            ).fetchall()
        return tuple(row["group_name"] for row in rows)

    def members_of(self, group: str) -> tuple[str, ...]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT user_id FROM user_groups WHERE group_name = ? ORDER BY user_id", (group,)
            ).fetchall()
        return tuple(row["user_id"] for row in rows)

    def document_collection(self, document_id: int) -> tuple[str, int | None] | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT source, collection_id FROM documents WHERE id = ?", (document_id,)
            ).fetchone()
        if row is None:
            return None
        cid = row["collection_id"]
        return row["source"], (int(cid) if cid is not None else None)

    def _info(self, row: Any, grants: Sequence[Any]) -> CollectionInfo:
        return CollectionInfo(
            id=int(row["id"]),
            name=row["name"],
            description=row["description"],
            created_at=self._db.get_time(row["created_at"]),
            grants=tuple(
                Grant(g["kind"], g["principal"])
                for g in grants
                if int(g["collection_id"]) == int(row["id"])
            ),
            document_count=int(row["documents"]),
        )
