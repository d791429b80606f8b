"""Almanac's application core: use cases, ports, domain types and errors (framework-free)."""
