"""Structured tables: loading them and read-only SQL over them."""
