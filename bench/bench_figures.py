"""Calibration fits and figures: what a new process pays to fit a map or draw a picture.

Run from the repository root:

    python -m bench.bench_figures [--runs 5] [--root PATH] [--json]

`--root` runs the same figures against another checkout of the code (e.g. an older commit
unpacked with `git archive`), so the two can be measured side by side on one machine.

Printed, each the median of `--runs` new interpreters (after one untimed run), in ms:
- `import`: importing the fitter, the diagram renderer and the report renderer;
- `fit`: the first isotonic and Platt fits of 400 answers (what `almanac calibration
  recalibrate` pays on top of start-up), imports included;
- `diagram svg` / `diagram png`: the first reliability diagram of four bands, imports included;
- `report`: the first HTML run report of the test fixture (five figures), imports included.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

_SETUP = """
import json, random, sys, time
from pathlib import Path
start = time.perf_counter()
"""
_IMPORT = """
from services.calibration.diagram import *  # noqa
from services.calibration.fitting import *  # noqa
from services.evaluation.report import *  # noqa
"""
_FIT = """
from services.calibration import fitting
fitter = next(getattr(fitting, n) for n in fitting.__all__)()
rng = random.Random(7)
raw = [rng.random() for _ in range(400)]
outcomes = [rng.random() < r * r for r in raw]
fitter.fit(raw, outcomes, "isotonic")
fitter.fit(raw, outcomes, "platt")
"""
_DIAGRAM = """
from services.calibration import diagram
from use_cases.calibration.ports import DiagramBin
renderer = next(getattr(diagram, n) for n in diagram.__all__)()
bins = [DiagramBin(0.0, 0.2, 0.12, 0.1, 5), DiagramBin(0.2, 0.4, 0.31, 0.45, 12),
        DiagramBin(0.6, 0.8, 0.7, 0.55, 30), DiagramBin(0.8, 1.0, 0.93, 0.97, 40)]
renderer.render(bins, title="Reliability, last 30 days", fmt="{fmt}")
"""
_REPORT = """
from services.evaluation import report
renderer = getattr(report, report.__all__[0])()
renderer.render_html(json.loads(Path("tests/fixtures/eval_run_export.json").read_text()))
"""
_END = """
print((time.perf_counter() - start) * 1000)
"""
CASES = {
    "import": _IMPORT,
    "fit": _FIT,
    "diagram svg": _DIAGRAM.replace("{fmt}", "svg"),
    "diagram png": _DIAGRAM.replace("{fmt}", "png"),
    "report": _REPORT,
}


def _once(root: Path, body: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _SETUP + body + _END],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def measure(root: Path, runs: int) -> dict[str, float]:
    figures = {}
    for name, body in CASES.items():
        _once(root, body)
        figures[name] = statistics.median(_once(root, body) for _ in range(runs))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--root", type=Path, default=REPO_ROOT)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure(args.root.resolve(), args.runs)
    if args.json:
        print(json.dumps(figures))
        return
    for name, ms in figures.items():
        print(f"{name:<12} {ms:8.0f} ms")


if __name__ == "__main__":
    main()
