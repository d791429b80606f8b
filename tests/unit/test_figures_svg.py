"""The figures drawn without matplotlib: the reliability diagram as SVG and PNG and
the evaluation report's five SVG charts are well-formed, show what they showed (bars, points,
boxes, labels, legend) and escape their text; fitting and drawing import neither
scikit-learn nor matplotlib."""

from __future__ import annotations

import base64
import copy
import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from services.calibration.diagram import SvgDiagramRenderer
from services.evaluation.report import HtmlReportRenderer
from use_cases.calibration.ports import DiagramBin
from use_cases.shared.errors import InvalidRequest

SVG = "{http://www.w3.org/2000/svg}"
REPO_ROOT = Path(__file__).parents[2]
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "eval_run_export.json"
BINS = [
    DiagramBin(0.0, 0.2, 0.12, 0.1, 5),
    DiagramBin(0.2, 0.4, 0.31, 0.45, 12),
    DiagramBin(0.6, 0.8, 0.7, 0.55, 30),
    DiagramBin(0.8, 1.0, 0.93, 0.97, 40),
]


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_the_diagram_svg_has_a_bar_a_point_and_a_count_per_band() -> None:
    title = 'Reliability <last 30 days> & "ECE" 0.093'
    data = SvgDiagramRenderer().render(BINS, title=title, fmt="svg")
    assert data.startswith(b"<?xml")
    root = ET.fromstring(data)
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("stroke") == "black"]
    assert len(bars) == len(BINS) + 1  # and the legend's swatch
    points = [c for c in root.iter(f"{SVG}circle") if c.get("fill") == "darkred"]
    assert len(points) == len(BINS) + 1
    words = texts(root)
    assert title in words  # escaped in the file, the same text once parsed
    assert [w for w in words if w.startswith("n=")] == ["n=5", "n=12", "n=30", "n=40"]
    for label in ("confidence", "observed accuracy", "perfect calibration", "0.0", "1.0"):
        assert label in words
    assert {"accuracy at mean confidence", "observed accuracy"} <= set(words)
    # bar heights follow the observed accuracy: the tallest band is the last one
    heights = [float(b.get("height", 0)) for b in bars[: len(BINS)]]
    assert heights.index(max(heights)) == 3 and heights.index(min(heights)) == 0


def test_an_empty_diagram_says_so_and_draws_no_bar() -> None:
    root = ET.fromstring(SvgDiagramRenderer().render([], title="none", fmt="svg"))
    assert "No feedback in this window" in texts(root)
    assert not [c for c in root.iter(f"{SVG}circle")]


def test_the_diagram_png_is_a_600_pixel_picture_with_the_bars_in_it() -> None:
    data = SvgDiagramRenderer().render(BINS, title="t", fmt="png")
    image = Image.open(io.BytesIO(data)).convert("RGB")
    assert data.startswith(b"\x89PNG")
    assert image.size == (600, 600)
    # the last band's bar (0.8..1.0, accuracy 0.97) is filled blue at its middle
    pixel = image.getpixel((494, 300))
    assert isinstance(pixel, tuple)
    r, _, b = pixel
    assert b > 150 and r < 140
    with pytest.raises(InvalidRequest):
        SvgDiagramRenderer().render(BINS, title="t", fmt="gif")


@pytest.fixture(scope="module")
def export() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def figures(export: dict[str, Any]) -> list[ET.Element]:
    html = HtmlReportRenderer().render_html(export)
    uris = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    return [ET.fromstring(base64.b64decode(u)) for u in uris]


def test_the_report_figures_show_every_model_and_value(export: dict[str, Any]) -> None:
    metrics, dimensions, reliability, latency, robustness = figures(export)
    models = export["models"]
    for figure in (metrics, dimensions, reliability, robustness):
        assert set(models) <= {w.split(" (ECE")[0] for w in texts(figure)}
    # six metrics per model, a value written above each bar
    colours = {r.get("fill") for r in metrics.iter(f"{SVG}rect")}
    assert len([r for r in metrics.iter(f"{SVG}rect") if r.get("fill") in colours]) >= 12 + 2
    overall = export["aggregates"][models[0]]["overall"]
    assert f"{overall['correct'] * 100:.0f}" in texts(metrics)
    # one point per non-empty reliability band of each model
    bands = sum(
        1
        for m in models
        for b in export["aggregates"][m]["reliability"]
        if b["count"] and b["mean_confidence"] is not None and b["accuracy"] is not None
    )
    assert len(list(reliability.iter(f"{SVG}circle"))) == bands
    ece = export["aggregates"][models[1]]["overall"]["ece"]
    assert f"{models[1]} (ECE {ece:.3f})" in texts(reliability)
    # a box per model and a point per clean latency
    clean = [
        c
        for c in export["cases"]
        if c.get("variant") == "clean" and c.get("latency_ms") and not c.get("error")
    ]
    assert len(list(latency.iter(f"{SVG}circle"))) == len(clean)
    assert models == [w for w in texts(latency) if w in models]
    assert "latency per clean case" in texts(latency)
    words = texts(robustness)
    assert "Answer drift (lower is better)" in words and "10%" in words


def test_report_figures_escape_model_names(export: dict[str, Any]) -> None:
    hostile = copy.deepcopy(export)
    name = '<script>"x"</script>&'
    old = hostile["models"][0]
    hostile["models"][0] = name
    hostile["aggregates"][name] = hostile["aggregates"].pop(old)
    for case in hostile["cases"]:
        if case.get("model") == old:
            case["model"] = name
    for figure in figures(hostile):
        assert not list(figure.iter("script")) and not list(figure.iter(f"{SVG}script"))
        assert name in [w.split(" (ECE")[0] for w in texts(figure)]


def test_fitting_and_drawing_import_neither_scikit_learn_nor_matplotlib() -> None:
    script = """
import json, sys
from pathlib import Path
sys.modules["sklearn"] = None  # importing either now raises ImportError
sys.modules["matplotlib"] = None
from services.calibration import NumpyCalibrationFitter, SvgDiagramRenderer
from services.evaluation.report import HtmlReportRenderer
from use_cases.calibration.ports import DiagramBin
fitter = NumpyCalibrationFitter()
raw, outcomes = [0.1, 0.4, 0.6, 0.9], [False, True, False, True]
fitter.fit(raw, outcomes, "isotonic")
fitter.fit(raw, outcomes, "platt")
bins = [DiagramBin(0.0, 0.5, 0.3, 0.4, 3)]
SvgDiagramRenderer().render(bins, title="t", fmt="svg")
SvgDiagramRenderer().render(bins, title="t", fmt="png")
export = json.loads(Path("tests/fixtures/eval_run_export.json").read_text())
HtmlReportRenderer().render_html(export)
print("drawn", sorted(m for m in ("sklearn", "scipy", "matplotlib") if sys.modules.get(m)))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "drawn []"
