"""Composition per feature: one `build()` per feature of `use_cases/`, each wiring that
feature's use cases from the adapters (`adapters.build_adapters`) and from what the features
below it built. The composition root (`backend/bootstrap.py`) only calls them in order and
assembles the `Container`.

Rules:
- A feature's bundle holds the use cases the presentation layer calls, by the names the
  `Container` gives them; a use case another feature needs, but the presentation does not,
  is marked `field(metadata=INTERNAL)` and is not copied into the `Container`.
- Each use case is built once, by its own feature, and handed on from there.
- A feature registers its own background jobs on the job queue.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["INTERNAL", "container_fields"]

#: `field(metadata=INTERNAL)`: a bundle field other features use but the presentation layer
#: does not (it is not copied into the `Container`).
INTERNAL = {"internal": True}


def container_fields(*bundles: object) -> dict[str, Any]:
    """The presentation-facing use cases of `bundles`, by name (a name two bundles give is a
    wiring error)."""
    out: dict[str, Any] = {}
    for bundle in bundles:
        for f in dataclasses.fields(bundle):  # type: ignore[arg-type]
            if f.metadata.get("internal"):
                continue
            if f.name in out:
                raise RuntimeError(f"Two features provide {f.name!r}.")
            out[f.name] = getattr(bundle, f.name)
    return out
