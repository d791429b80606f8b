"""The one registry of source kinds: which reader syncs a `folder`, an `s3` bucket, a `url`.

A kind is registered under the entry-point group `almanac.sources` (`ENTRY_POINT_GROUP`):
the entry point's name is the kind's name and it names a class built with the
`SourceContext` (`services/sources/kinds.py`), with `check(location)` and `reader(spec)`.
The built-ins are listed here (`BUILTIN_SOURCES`) in the same "module:attribute" form and
resolved by the same code, so a separately installed package adds a kind exactly as the
built-ins are added.

Rules (those of the loaders' registry, `services/knowledge/loaders/registry.py`):
- Built-ins come first and keep their names: a plugin that claims a name already taken is
  logged and not used.
- A plugin that cannot be imported or built is logged and skipped: one broken package does
  not stop the server.
- A kind no package provides is refused when a source is added (`InvalidRequest` naming the
  kinds there are).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib import metadata
from typing import Any

from loguru import logger

from services.sources.kinds import SourceContext, SourceKind
from use_cases.shared.errors import AlmanacError, InvalidRequest
from use_cases.sources.domain import SourceSpec
from use_cases.sources.ports import ListingFailed, SourceReader

__all__ = ["BUILTIN_SOURCES", "ENTRY_POINT_GROUP", "SourceRegistry"]

ENTRY_POINT_GROUP = "almanac.sources"

#: The kinds Almanac ships with: (name, "module:attribute"), resolved as entry points are.
BUILTIN_SOURCES: tuple[tuple[str, str], ...] = (
    ("folder", "services.sources.folder:FolderKind"),
    ("s3", "services.sources.s3:S3Kind"),
    ("url", "services.sources.website:WebsiteKind"),
)


class SourceRegistry:
    """The `SourceKinds` port: the built-ins, then every usable plugin."""

    def __init__(
        self,
        context: SourceContext,
        *,
        builtins: tuple[tuple[str, str], ...] = BUILTIN_SOURCES,
        entry_points: Callable[[], Any] | None = None,
    ) -> None:
        self._kinds: dict[str, SourceKind] = {}
        for name, target in builtins:
            self._kinds[name] = _resolve(target)(context)
        points = entry_points() if entry_points else metadata.entry_points(group=ENTRY_POINT_GROUP)
        for point in points:
            dist = getattr(point, "dist", None)
            origin = dist.name if dist is not None else "unknown"
            if point.name in self._kinds:
                logger.warning(
                    "Source plugin {} ({}) is not used: the kind is taken", point.name, origin
                )
                continue
            try:
                self._kinds[point.name] = point.load()(context)
            except Exception as exc:  # a plugin's bug must not stop the server
                logger.warning(
                    "Source plugin {} ({}) is not used: {}: {}",
                    point.name,
                    origin,
                    type(exc).__name__,
                    exc,
                )

    def kinds(self) -> list[str]:
        return list(self._kinds)

    def check(self, kind: str, location: str, *, local: bool = False) -> str:
        found = self._kind(kind)
        try:
            return found.check(location, local=local)
        except AlmanacError:
            raise
        except Exception as exc:  # a plugin that refuses with an error of its own
            raise InvalidRequest(f"The {kind} source refused {location!r}: {exc}") from None

    def reader(self, spec: SourceSpec) -> SourceReader:
        found = self._kind(spec.kind)
        try:
            return found.reader(spec)
        except AlmanacError:
            raise
        except Exception as exc:  # a plugin that cannot start: the sync removes nothing
            raise ListingFailed(f"the {spec.kind} reader could not start: {exc}") from None

    def _kind(self, kind: str) -> SourceKind:
        found = self._kinds.get(kind)
        if found is not None:
            return found
        raise InvalidRequest(
            f"'{kind}' is not a kind of source here; the kinds are: {', '.join(self._kinds)}."
        )


def _resolve(target: str) -> Callable[[SourceContext], SourceKind]:
    module, _, attribute = target.partition(":")
    kind: Callable[[SourceContext], SourceKind] = getattr(
        importlib.import_module(module), attribute
    )
    return kind
