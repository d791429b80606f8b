"""Narrowing for tests: what a test knows of a value, said as an assertion mypy reads.

`present(store.get(key)).status` instead of silencing mypy on `store.get(key).status`: the
test fails with an AssertionError where it once failed with an AttributeError."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def present(value: T | None) -> T:
    """`value`, which the test knows is there (not None)."""
    assert value is not None, "expected a value, got None"
    return value


def of_type(kind: type[T], value: object) -> T:
    """`value`, which the test knows is a `kind` (one member of a union, say)."""
    assert isinstance(value, kind), f"expected a {kind.__name__}, got {value!r}"
    return value
