"""The one SQLite connection policy every store uses.

`connection` opens connections (sqlean.py driver, sqlite-vec loaded, autocommit, busy timeout,
WAL, foreign keys) and runs `BEGIN IMMEDIATE` transactions; `migrations` applies the named
schema migrations recorded in `schema_migrations`; `thread_connections` keeps one connection
per thread for stores called from worker threads.

The package is named after the engine, not the driver: `import sqlite3` (the standard
library) is a different top-level name, and the driver we import is `sqlean`.
"""
