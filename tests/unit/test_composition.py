"""The composition per feature (`backend/features/`): each bundle's presentation-facing use
cases land in the `Container` once; internal ones stay out."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from backend.features import INTERNAL, container_fields


@dataclass(frozen=True)
class _One:
    search: str
    helper: str = field(metadata=INTERNAL)


@dataclass(frozen=True)
class _Two:
    chat: str


def test_bundles_give_their_public_use_cases_and_keep_internal_ones() -> None:
    assert container_fields(_One("s", "h"), _Two("c")) == {"search": "s", "chat": "c"}


def test_a_use_case_two_features_provide_is_a_wiring_error() -> None:
    with pytest.raises(RuntimeError, match="'search'"):
        container_fields(_One("s", "h"), _One("t", "i"))
