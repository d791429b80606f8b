"""`BudgetedLoader` parses each document in a child process under a CPU-time and a memory
budget: a parse that spins past the first is stopped by the kernel and refused (413), one
that allocates past the second (in Python or in PDFium's C++) is refused (413) naming it, the
loader's own refusals come back unchanged, and a document within budget reads as it does in
process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services import parse_pool
from services.budgets import InputBudget
from services.knowledge.loaders import FileLoader
from services.knowledge.loaders.pdf import PdfLoader
from services.parse_pool import BudgetedLoader
from tests import hostile_inputs
from use_cases.shared.errors import InputTooCostly, InvalidDocument

MiB = 1024 * 1024
#: A memory budget far below the default, far above what a child with the loaders maps
#: (~90 MiB, ~130 MiB at most reading a 70-page PDF).
SMALL_BUDGET = 256 * MiB
ROOT = Path(__file__).resolve().parents[2]


class SpinningLoader(FileLoader):
    """A loader whose parse never ends (what a hostile document does to a naive parser)."""

    def load(self, name: str, data: bytes):
        while True:
            pass


def test_a_parse_past_its_cpu_budget_is_stopped_by_the_kernel_and_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The parse never ends, so the breach of its 1 s budget is certain, and the kernel stops
    it there: the child ends on SIGXCPU (RLIMIT_CPU), not killed by the loader's wall-clock
    backstop (set 100 times further off here, a safety net)."""
    children: list[Any] = []

    def start(child: Any) -> None:
        children.append(child)
        start_without_main(child)

    start_without_main = parse_pool._start_without_main
    monkeypatch.setattr(parse_pool, "_start_without_main", start)
    loader = BudgetedLoader(SpinningLoader, cpu_s=1, wall_factor=100)
    with pytest.raises(InputTooCostly, match=r"more than 1 s of CPU to read \(PARSE_CPU_SECONDS\)"):
        loader.load("spin.md", b"# Spin\n\ntext\n")
    assert [child.exitcode for child in children] == [-signal.SIGXCPU]


class HoardingLoader(FileLoader):
    """A loader that asks for 16 times the small budget at once (`bytes(n)` is calloc'ed: past
    no limit, the pages are never touched, so the test costs nothing without the limit)."""

    def load(self, name: str, data: bytes):
        bytes(16 * SMALL_BUDGET)
        return super().load(name, data)


class UncountedPdfLoader(PdfLoader):
    """The PDF loader with no content budget to speak of: PDFium opens every file."""

    def __init__(self) -> None:
        super().__init__(InputBudget(max_pdf_content=1 << 40))


def test_a_parse_past_its_memory_budget_is_refused_naming_it() -> None:
    loader = BudgetedLoader(HoardingLoader, memory_bytes=SMALL_BUDGET)
    with pytest.raises(
        InputTooCostly, match=r"more than 256 MiB of memory to read \(PARSE_MEMORY_MB\)"
    ) as refused:
        loader.load("hoard.md", b"# Hoard\n\ntext\n")
    assert "CPU" not in str(refused.value)


def test_pdfium_allocating_past_the_memory_budget_is_refused_naming_it() -> None:
    """PDFium stops its process when an allocation fails (SIGABRT): that is the same refusal.
    A 128 MiB XMP stream costs PDFium ~1.1 GiB to open (~7 times its size in memory), 16
    times what the budget leaves above the child's ~90 MiB."""
    loader = BudgetedLoader(UncountedPdfLoader, memory_bytes=SMALL_BUDGET)
    with pytest.raises(InputTooCostly, match="more than 256 MiB of memory"):
        loader.load("xmp.pdf", hostile_inputs.metadata_bomb_pdf(128 * MiB))


def test_real_documents_read_within_a_small_memory_budget() -> None:
    loader = BudgetedLoader(FileLoader, memory_bytes=SMALL_BUDGET)
    pdf = (ROOT / "sample_data/corpora/latex-guides/documents/cfgguide.pdf").read_bytes()
    assert loader.load("cfgguide.pdf", pdf) == FileLoader().load("cfgguide.pdf", pdf)
    small = hostile_inputs.metadata_bomb_pdf(0)  # an empty XMP packet: read as before
    assert loader.load("xmp.pdf", small).title == "Hello"


def test_a_document_within_budget_reads_as_in_process_and_refusals_come_back() -> None:
    loader = BudgetedLoader(FileLoader, cpu_s=5)
    data = b"# Bees\n\nThe hives are inspected on Thursdays.\n"
    assert loader.load("bees.md", data) == FileLoader().load("bees.md", data)
    with pytest.raises(InvalidDocument):
        loader.load("empty.md", b"   \n")


_SCRIPT = """
import os
with open(os.environ["MARK"], "a") as mark:  # runs each time this script is imported
    mark.write("run ")
from services.knowledge.loaders import FileLoader
from services.parse_pool import BudgetedLoader
if __name__ == "__main__":
    loader = BudgetedLoader(FileLoader)
    for _ in range(2):
        print(loader.load("a.md", b"# A\\n\\nSome text.").title)
"""


@pytest.mark.parametrize("how", ["script", "python -m"])
def test_a_child_does_not_import_the_main_module_again(tmp_path: Path, how: str) -> None:
    """A script's main module (`almanac serve`'s imports the whole backend, ~6 s), or a module
    run with `python -m` (a benchmark's), is not imported again in each parse's child: it cost
    that in wall time and in the parse's CPU budget."""
    script, mark = tmp_path / "main_script.py", tmp_path / "mark"
    script.write_text(_SCRIPT)
    root = Path(__file__).resolve().parents[2]
    command = [str(script)] if how == "script" else ["-m", "main_script"]
    done = subprocess.run(
        [sys.executable, *command],
        env={**os.environ, "MARK": str(mark), "PYTHONPATH": f"{root}{os.pathsep}{tmp_path}"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["A", "A"]
    assert mark.read_text() == "run "  # the parent's own run only
