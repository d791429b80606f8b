"""`BudgetedLoader` parses each document in a child process under a CPU-time budget: a parse
that spins past it is stopped by the kernel and refused (413), the loader's own refusals come
back unchanged, and a document within budget reads as it does in process."""

from __future__ import annotations

import time

import pytest

from services.knowledge.loaders import FileLoader
from services.parse_pool import BudgetedLoader
from use_cases.shared.errors import InputTooCostly, InvalidDocument


class SpinningLoader(FileLoader):
    """A loader whose parse never ends (what a hostile document does to a naive parser)."""

    def load(self, name: str, data: bytes):  # type: ignore[no-untyped-def]
        while True:
            pass


def test_a_parse_past_its_cpu_budget_is_stopped_and_refused() -> None:
    loader = BudgetedLoader(SpinningLoader, cpu_s=1)
    started = time.monotonic()
    with pytest.raises(InputTooCostly, match="more than 1 s of CPU"):
        loader.load("spin.md", b"# Spin\n\ntext\n")
    assert time.monotonic() - started < 15


def test_a_document_within_budget_reads_as_in_process_and_refusals_come_back() -> None:
    loader = BudgetedLoader(FileLoader, cpu_s=5)
    data = b"# Bees\n\nThe hives are inspected on Thursdays.\n"
    assert loader.load("bees.md", data) == FileLoader().load("bees.md", data)
    with pytest.raises(InvalidDocument):
        loader.load("empty.md", b"   \n")
