"""Almanac presentation layer: the FastAPI app, the CLI and the composition root."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # Read when asked (`--version`, the API's metadata): `importlib.metadata` costs a tenth
    # of a second at every `almanac` start-up otherwise.
    if name != "__version__":
        raise AttributeError(f"module 'backend' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("almanac")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0.0.0+source"
