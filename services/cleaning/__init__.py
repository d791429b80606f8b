"""Adapters of the cleaning benchmark: clean tables on disk, cleaners, the run store."""
