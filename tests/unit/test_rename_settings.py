"""tools/rename_settings.py, the codemod from settings' old names to their fields' short ones:
it renames reads through a group it can see, leaves keywords, strings and unknown receivers
alone (listing the last), does nothing on a second run, and has left no old name in the code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from backend.config import PROJECT_ROOT
from tools.rename_settings import apply, markdown_edits, python_edits, renames

SOURCE = """
from backend.config import JobSettings, Settings


def build(settings: Settings, jobs: JobSettings, maybe: JobSettings | None) -> None:
    chats = settings.chat_files
    print(settings.evaluation.eval_concurrency, jobs.job_concurrency, chats.chat_file_max_bytes)
    print(maybe.job_lease_seconds if maybe else 0, settings.embeddings.effective_embedding_model)
    Settings(eval_concurrency=2).updated(job_concurrency=3)
    print("settings.evaluation.eval_concurrency", getattr(jobs, "job_concurrency"))


class Queue:
    def __init__(self, jobs: JobSettings, other: object) -> None:
        self._jobs = jobs
        self._other = other

    def size(self) -> int:
        return self._jobs.job_concurrency + self._other.job_concurrency
"""

#: The lines the codemod changes in SOURCE (as they read without their indent), each as it
#: must read after; every other line, keywords, strings and a read through a receiver it
#: cannot see among them, stays as it is.
RENAMED = {
    "print(settings.evaluation.eval_concurrency, jobs.job_concurrency, chats.chat_file_max_bytes)":
        "print(settings.evaluation.concurrency, jobs.concurrency, chats.max_bytes)",
    "print(maybe.job_lease_seconds if maybe else 0, settings.embeddings.effective_embedding_model)":
        "print(maybe.lease_seconds if maybe else 0, settings.embeddings.effective_model)",
    "return self._jobs.job_concurrency + self._other.job_concurrency":
        "return self._jobs.concurrency + self._other.job_concurrency",
}  # fmt: skip


def _with_lines(text: str, replaced: dict[str, str]) -> str:
    """`text` with each line that reads as a key of `replaced` (there once, indent aside)
    reading as its value, indented as it was."""
    lines = text.split("\n")
    for old, new in replaced.items():
        [at] = [n for n, line in enumerate(lines) if line.strip() == old]
        lines[at] = lines[at].removesuffix(old) + new
    return "\n".join(lines)


EXPECTED = _with_lines(SOURCE, RENAMED)


def test_the_renames_are_read_from_the_models() -> None:
    table = renames()
    assert table.by_group["evaluation"]["eval_concurrency"] == "concurrency"
    assert table.by_class["JobSettings"]["job_concurrency"] == "concurrency"
    assert table.by_group["auth"] == {"auth_enabled": "enabled"}
    assert "server" not in table.by_group  # nothing of it repeats its group's name


def test_reads_through_a_known_group_are_renamed_and_nothing_else() -> None:
    edits, left = python_edits(SOURCE, renames())
    assert apply(SOURCE, edits) == EXPECTED
    lines = SOURCE.splitlines()
    assert {(lines[line - 1].strip(), old) for line, old in left} == {
        ('print("settings.evaluation.eval_concurrency", getattr(jobs, "job_concurrency"))',
         "job_concurrency"),
        ("return self._jobs.job_concurrency + self._other.job_concurrency", "job_concurrency"),
    }  # fmt: skip


def test_a_second_run_changes_nothing() -> None:
    table = renames()
    once = apply(SOURCE, python_edits(SOURCE, table)[0])
    assert python_edits(once, table)[0] == []
    doc = "Read `settings.evaluation.eval_concurrency`; set EVAL_CONCURRENCY."
    renamed = apply(doc, markdown_edits(doc, table))
    assert renamed == "Read `settings.evaluation.concurrency`; set EVAL_CONCURRENCY."
    assert markdown_edits(renamed, table) == []


def test_the_code_reads_no_setting_by_its_old_name() -> None:
    """Code merged with old names fails here: run `python -m tools.rename_settings`."""
    table = renames()
    stale = []
    for folder in ("backend", "services", "use_cases", "tests", "bench", "training", "tools"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            edits, _ = python_edits(path.read_text(encoding="utf-8"), table)
            stale += [f"{path.relative_to(PROJECT_ROOT)}: .{e.old}" for e in edits]
    assert not stale, "run: python -m tools.rename_settings\n" + "\n".join(stale)


def test_the_script_runs_on_a_file_and_rewrites_it(tmp_path: Path) -> None:
    target = tmp_path / "wiring.py"
    target.write_text(SOURCE)
    done = subprocess.run(
        [sys.executable, "-m", "tools.rename_settings", str(target)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert target.read_text() == EXPECTED
    assert "1 files changed" in done.stdout
    assert "getattr" not in done.stdout and ".job_concurrency left" in done.stdout
