"""Start-up: what a command, a server or a test pays before it does any work.

Run from the repository root:

    python -m bench.bench_startup [--runs 5] [--uncompiled] [--json]

Printed, each the median of `--runs` (after one untimed run):
- `import backend.cli.main` in a new interpreter (what every `almanac` command loads: the
  command table, not the commands, `backend/cli/registry.py`);
- `almanac --help`, `almanac search QUESTION`, `almanac ask QUESTION` (the offline model
  answering from the sample; LOAD_SAMPLE_DATA=false: the data directory already holds it)
  and a no-op `almanac ingest FOLDER --prune` (the folder already ingested), each end to end
  in a new process, in wall-clock and CPU seconds (goals: 0.5 s and 1.5 s for the first two
  on a quiet machine of ours; on a loaded one the CPU time is the figure to compare);
- `bootstrap()`: building a container over a data directory holding the sample (stores
  opened and migrated, adapters, agents; what every command, server start and test pays);
- the first request to a newly built app against the next one (FastAPI builds its routes'
  contexts at an app's first request): `GET /api/documents` on the same container;
- the load average when it ended (the machine's other work).

Whether installed modules are compiled to bytecode decides much of the new-process figures:
where PYTHONDONTWRITEBYTECODE is set (as on the CI machines) nothing compiled at run time is
kept, so `make install` compiles the packages and Almanac's own modules. `--uncompiled` runs
the new-process figures as they were before (no compiled module read: an empty
PYTHONPYCACHEPREFIX, nothing written).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402

from backend.api.app import create_app  # noqa: E402
from backend.bootstrap import Container, bootstrap, load_sample_data_if_empty  # noqa: E402
from backend.config import Settings  # noqa: E402
from backend.logging import configure_logging  # noqa: E402

QUESTION = "How often must passwords be rotated?"  # the sample answers it (cited)


def _median_s(runs: int, once: Callable[[], float]) -> float:
    once()  # untimed: caches warm, files in the page cache
    return statistics.median(once() for _ in range(runs))


def _process(command: list[str], env: dict[str, str]) -> Callable[[], float]:
    """Seconds `command` takes in a new process, from the repository root."""

    def once() -> float:
        return _timed(command, env)[0]

    return once


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `command` in a new process: on a shared, loaded machine
    the CPU time says what the command costs, the wall time what its user waits."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO_ROOT, env=env, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _command(runs: int, command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Medians of `_timed` over `runs` runs, after one untimed run."""
    _timed(command, env)
    measured = [_timed(command, env) for _ in range(runs)]
    return statistics.median(m[0] for m in measured), statistics.median(m[1] for m in measured)


def _settings(data_dir: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, log_level="WARNING")


def _bootstrap(data_dir: Path) -> Callable[[], float]:
    def once() -> float:
        started = time.perf_counter()
        container = bootstrap(_settings(data_dir))
        elapsed = time.perf_counter() - started
        container.close()
        return elapsed

    return once


def _requests(data_dir: Path, runs: int) -> tuple[float, float]:
    """(first, next) request times, medians over `runs` new apps on one container."""

    async def one_app(container: Container) -> tuple[float, float]:
        app = create_app(container=container)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            times = []
            for _ in range(2):
                started = time.perf_counter()
                response = await http.get("/api/documents")
                times.append(time.perf_counter() - started)
                response.raise_for_status()
        return times[0], times[1]

    container = bootstrap(_settings(data_dir))
    try:
        measured = [asyncio.run(one_app(container)) for _ in range(runs + 1)][1:]
    finally:
        container.close()
    return statistics.median(m[0] for m in measured), statistics.median(m[1] for m in measured)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--uncompiled", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="almanac-bench-startup-") as tmp:
        env = {**os.environ, "LOG_LEVEL": "WARNING"}
        if args.uncompiled:
            (Path(tmp) / "no-bytecode").mkdir()
            env |= {"PYTHONPYCACHEPREFIX": f"{tmp}/no-bytecode", "PYTHONDONTWRITEBYTECODE": "1"}
        data_dir = Path(tmp) / "data"
        container = bootstrap(_settings(data_dir))
        try:
            load_sample_data_if_empty(container)
        finally:
            container.close()
        folder = Path(tmp) / "folder"
        folder.mkdir()
        (folder / "parking.md").write_text("# Parking\n\nVisitors park in bay 7.\n")
        importing = [sys.executable, "-c", "import backend.cli.main"]
        almanac = [sys.executable, "-m", "backend.cli.main"]
        ask_env = {**env, "DATA_DIR": str(data_dir), "LOAD_SAMPLE_DATA": "false"}
        ask_env.pop("OPENAI_API_KEY", None)
        pruning = [*almanac, "ingest", str(folder), "--prune", "--no-wait"]
        subprocess.run(pruning, check=True, cwd=REPO_ROOT, env=ask_env, capture_output=True)
        figures = {"import_cli_s": _median_s(args.runs, _process(importing, env))}
        commands = {
            "help": ([*almanac, "--help"], env),
            "search": ([*almanac, "search", QUESTION], ask_env),
            "ask": ([*almanac, "ask", QUESTION], ask_env),
            "ingest_noop": (pruning, ask_env),
        }
        for name, (command, command_env) in commands.items():
            figures[f"{name}_s"], figures[f"{name}_cpu_s"] = _command(
                args.runs, command, command_env
            )
        figures["bootstrap_s"] = _median_s(args.runs, _bootstrap(data_dir))
        first, following = _requests(data_dir, args.runs)
        figures["first_request_s"], figures["next_request_s"] = first, following
    if args.json:
        figures["load_average_1m"] = os.getloadavg()[0]
        print(json.dumps({k: round(v, 4) for k, v in figures.items()}))
        return 0
    compiled = "modules not compiled" if args.uncompiled else "modules compiled"
    print(f"Start-up, median of {args.runs} runs ({compiled})")
    print(f"  load average (1 min) when it ended         {os.getloadavg()[0]:7.2f}")
    print(f"  import backend.cli.main (new interpreter)  {figures['import_cli_s']:7.2f} s")
    for name, label in (
        ("help", "almanac --help"),
        ("search", "almanac search QUESTION"),
        ("ask", "almanac ask (offline answer)"),
        ("ingest_noop", "almanac ingest FOLDER --prune, no change"),
    ):
        print(
            f"  {label:<41}  {figures[name + '_s']:7.2f} s"
            f"  (CPU {figures[name + '_cpu_s']:.2f} s, new process)"
        )
    print(f"  bootstrap() over the sample's data dir     {figures['bootstrap_s'] * 1000:7.0f} ms")
    print(f"  a new app's first request                  {first * 1000:7.0f} ms")
    print(f"  its next request                           {following * 1000:7.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
