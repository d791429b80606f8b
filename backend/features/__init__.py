"""Composition per feature: one `build()` per feature of `use_cases/`, each wiring that
feature's use cases from the adapters (`adapters.build_adapters`) and from what the features
below it built. The composition root (`backend/bootstrap.py`) only calls them in order and
holds each feature's bundle in the `Container`, under the feature's name
(`container.knowledge.search`, `container.chat.chats`).

Rules:
- A feature's `build()` returns one bundle: a frozen dataclass whose fields are use cases.
  The presentation layer calls them through the `Container` as
  `container.<feature>.<use case>`.
- A use case another feature needs, but the presentation does not, is marked
  `field(metadata=INTERNAL)`: no route, command or web handler reads it
  (tests/unit/test_presentation_boundary.py checks this).
- Each use case is built once, by its own feature, and handed on from there.
- A feature registers its own background jobs on the job queue.
"""

from __future__ import annotations

__all__ = ["INTERNAL"]

#: `field(metadata=INTERNAL)`: a bundle field other features use but the presentation layer
#: does not (routes, commands and the web app never read it through the `Container`).
INTERNAL = {"internal": True}
