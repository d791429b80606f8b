"""Almanac presentation layer: the FastAPI app, the CLI and the composition root."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("almanac")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
