"""The HTML and PDF loaders build their trees with Python's cyclic garbage collector paused
(services/knowledge/loaders/common.py, `collector_paused`): it traversed the growing tree
again and again, a quarter to a third of their CPU on pages of list items or table rows, and
found nothing to free. The collector is back as it was once the last load ends."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator

import pytest

from bench.bench_loaders import HTML, PDF
from services.knowledge.loaders import FileLoader
from services.knowledge.loaders.common import collector_paused
from services.knowledge.loaders.html import HtmlLoader
from services.knowledge.loaders.pdf import PdfLoader
from use_cases.knowledge.domain import ParsedDocument


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generations the collector ran on while the test ran."""
    ran: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            ran.append(info["generation"])

    gc.callbacks.append(count)
    try:
        yield ran
    finally:
        gc.callbacks.remove(count)


@pytest.mark.parametrize(
    ("name", "make", "loader"),
    [("list.html", HTML["lists"], HtmlLoader), ("rows.pdf", PDF["lists"], PdfLoader)],
)
def test_a_big_page_is_read_without_a_collection_and_the_collector_is_back(
    name: str,
    make: Callable[[int], bytes],
    loader: type[HtmlLoader | PdfLoader],
    collections: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = make(200_000)
    during: list[int] = []
    read = loader._load

    def timed(self: HtmlLoader | PdfLoader, name: str, data: bytes) -> ParsedDocument:
        before = len(collections)
        try:
            return read(self, name, data)  # type: ignore[arg-type]  # each loader gets its own kind
        finally:
            during.extend(collections[before:])

    monkeypatch.setattr(loader, "_load", timed)
    assert gc.isenabled()
    document = FileLoader().load(name, data)
    assert document.sections  # the page was read
    assert during == []  # collections of the growing tree, many, before
    assert gc.isenabled()


def test_a_collector_off_before_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_loads_restore_the_collector_when_the_last_ends() -> None:
    first_in, second_done = threading.Event(), threading.Event()
    states: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_in.set()
            second_done.wait(30)
            states.append(gc.isenabled())  # the second ended first: still paused

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(30)
    with collector_paused():
        assert not gc.isenabled()
    second_done.set()
    thread.join(30)
    assert states == [False]
    assert gc.isenabled()


def test_the_collector_is_back_when_a_load_fails() -> None:
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("a refused document")
    assert gc.isenabled()
