"""One version: the package's (pyproject.toml), which `almanac --version` and the API print,
is the latest released version of CHANGELOG.md (its first `## [X.Y.Z] - date` heading under
`## [Unreleased]`), so a release is the changelog's heading and the version moved together."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib

from backend.config import PROJECT_ROOT

CHANGELOG = (PROJECT_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
RELEASED = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d\d-\d\d)$", flags=re.M)


def _pyproject_version() -> str:
    with (PROJECT_ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def test_the_package_version_is_the_changelogs_latest_release() -> None:
    released = RELEASED.findall(CHANGELOG)

    assert released, "CHANGELOG.md has no released version heading"
    assert _pyproject_version() == released[0][0]


def test_the_changelog_keeps_an_unreleased_section_at_the_top() -> None:
    headings = re.findall(r"^## .*$", CHANGELOG, flags=re.M)

    assert headings[0] == "## [Unreleased]"
    versions = [tuple(int(n) for n in v.split(".")) for v, _ in RELEASED.findall(CHANGELOG)]
    assert versions == sorted(versions, reverse=True), "newest first"


def test_the_installed_package_is_this_version() -> None:
    installed = importlib.metadata.version("almanac")

    assert installed == _pyproject_version(), "pyproject.toml changed: run `make install`"
