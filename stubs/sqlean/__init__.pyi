# sqlean.py ships no type information. Its module is the standard library's sqlite3 (the same
# API, built on a newer SQLite with extension loading), so the type checker reads it as that.
from sqlite3 import *  # noqa: F403  # the whole module, re-exported as sqlean's
