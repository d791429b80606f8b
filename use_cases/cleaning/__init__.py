"""Data-cleaning benchmarks: tasks built from clean tables, scored repairs (docs/cleaning.md)."""
