"""Each feature's `build()` is given the settings groups it reads, never the whole `Settings`
(which `Wiring` does not carry either), so what a feature depends on is in its signature. The
one exception, sources, hands the whole object to source kinds from plugins."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import typing

import backend.features
from backend.config import Settings, SettingsGroup
from backend.features.adapters import Wiring

#: Features whose build() takes the whole Settings, each with the reason.
WHOLE_SETTINGS = {
    "backend.features.sources": "a plugin's source kind reads its own settings from it",
}


def _builds() -> dict[str, dict[str, object]]:
    """Module name -> the resolved annotations of its build()'s parameters."""
    found = {}
    for info in pkgutil.iter_modules(backend.features.__path__, "backend.features."):
        module = importlib.import_module(info.name)
        build = getattr(module, "build", None)
        if build is not None:
            hints = typing.get_type_hints(build)
            hints.pop("return", None)
            found[info.name] = hints
    return found


def test_no_feature_but_the_listed_takes_the_whole_settings() -> None:
    builds = _builds()
    assert len(builds) >= 14, sorted(builds)
    whole = {name for name, hints in builds.items() if Settings in hints.values()}
    assert whole == set(WHOLE_SETTINGS)


def test_features_that_read_settings_take_groups() -> None:
    takes_groups = {
        name
        for name, hints in _builds().items()
        if any(isinstance(h, type) and issubclass(h, SettingsGroup) for h in hints.values())
    }
    for name in ("access", "chat", "knowledge", "evaluation", "conversation_files"):
        assert f"backend.features.{name}" in takes_groups


def test_the_wiring_carries_no_settings() -> None:
    kinds = {f.name: f.type for f in dataclasses.fields(Wiring)}
    assert "settings" not in kinds
    hints = typing.get_type_hints(Wiring)
    assert Settings not in hints.values()
    assert not any(isinstance(h, type) and issubclass(h, SettingsGroup) for h in hints.values())
