"""`build_app_stores`: the application family on the backend DATABASE_URL selects."""

from __future__ import annotations

from pathlib import Path

from backend.stores.app import APP_MIGRATIONS, build_app_stores
from services.postgres import PgDatabase
from services.postgres.migrations import applied_migrations
from tests.conftest import make_settings


def test_on_postgresql_every_store_is_built_on_the_shared_pool(tmp_path: Path, pg_url: str) -> None:
    db = PgDatabase(pg_url, max_size=2)
    try:
        stores = build_app_stores(make_settings(tmp_path), db)
        names = [m.name for m in APP_MIGRATIONS]
        assert len(set(names)) == len(names) and all("_pg_" in name for name in names)
        assert applied_migrations(db) == names
        for store in vars(stores).values():
            assert store._db.dialect == "postgresql" and store._db.db is db, store
        build_app_stores(make_settings(tmp_path), db)  # a second replica applies nothing
        assert applied_migrations(db) == names
        stores.history.get_or_create_chat("c1", "ana", "hello")
        for store in vars(stores).values():
            store.close()  # the stores leave the shared pool open
        assert stores.history.get_chat("c1") is not None
    finally:
        db.close()
    assert not (tmp_path / "app.db").exists()


def test_on_sqlite_the_stores_share_the_app_db_file(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    stores = build_app_stores(settings, None)
    for store in vars(stores).values():
        assert store._db.dialect == "sqlite" and store._db.path == settings.storage.app_db_path, (
            store
        )
        store.close()
    assert settings.storage.app_db_path.exists()
