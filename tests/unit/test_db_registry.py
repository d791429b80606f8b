"""`almanac db migrate|check` see every PostgreSQL store's migrations."""

from __future__ import annotations

import importlib
import pkgutil

import services
from backend.stores.registry import postgres_migrations
from services.postgres import Migration


def _postgres_migration_lists() -> dict[str, list[Migration]]:
    found: dict[str, list[Migration]] = {}
    for info in pkgutil.walk_packages(services.__path__, "services."):
        leaf = info.name.rsplit(".", 1)[-1]
        module = importlib.import_module(info.name)
        # A store written once for both databases keeps its PostgreSQL list as PG_MIGRATIONS.
        migrations = getattr(module, "PG_MIGRATIONS", None)
        if migrations is None and (
            leaf.startswith("pg_") or info.name.startswith("services.postgres.")
        ):
            migrations = getattr(module, "MIGRATIONS", None)
        if migrations and all(isinstance(m, Migration) for m in migrations):
            found[info.name] = list(migrations)
    return found


def test_the_registry_holds_every_postgres_store_migration_once_in_order() -> None:
    registry = [m.name for m in postgres_migrations()]
    assert len(registry) == len(set(registry)), "a migration name is used twice"
    lists = _postgres_migration_lists()
    assert len(lists) >= 5  # the app stores, tables, jobs, rate limits at least
    for module, migrations in lists.items():
        names = [m.name for m in migrations]
        missing = [name for name in names if name not in registry]
        assert not missing, f"{module}: {missing} not in backend/stores/registry.py"
        positions = [registry.index(name) for name in names]
        assert positions == sorted(positions), f"{module}: migrations out of order"
