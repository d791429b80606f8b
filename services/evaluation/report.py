"""The `RunReportRenderer` port: one self-contained HTML page from a run's JSON export.

The page has no external asset: the figures are SVGs embedded as `data:` URIs (drawn with
`services.charts`: text, no global state, several reports can draw at once), the CSS is
inline, and there is no script. Every value the export gives as null is shown as "–". The
template (`templates/run_report.html.j2`) is Jinja2 with autoescaping on, because answers and
questions are untrusted text (a model's answer may contain markup).

Sections: run summary, headline tiles per model, all metrics per model (best value marked),
metrics per dimension, reliability diagram with Brier/ECE, latency distribution, robustness
per perturbation, failures (clean cases answered wrongly or with an error, with question,
expected and answer) and robustness flips (perturbed questions whose correctness changed).
"""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jinja2
import numpy as np

from services.charts import Axes, Canvas, LegendEntry, nice_ticks, pt, text_width
from use_cases.evaluation.compare import LOWER_IS_BETTER

__all__ = ["HtmlReportRenderer", "format_metric"]

NULL = "–"
#: Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
INK, MUTED, GRID = "#1f2933", "#616e7c", "#e4e7eb"

# metric key (with "@K" for rank cut-off metrics) -> (label, kind, higher is better)
#: Each metric's label and kind; which way is better is `eval_compare.LOWER_IS_BETTER`.
_METRICS: dict[str, tuple[str, str]] = {
    "correct": ("Correct", "rate"),
    "exact_match": ("Exact match", "rate"),
    "token_f1": ("Token F1", "score"),
    "judge_correct": ("LLM judge: correct", "rate"),
    "assertions_passed": ("Assertions passed", "rate"),
    "refusal_accuracy": ("Refusal accuracy", "rate"),
    "sql_match": ("SQL rows match", "rate"),
    "hit@K": ("Hit@K", "rate"),
    "recall@K": ("Recall@K", "rate"),
    "mrr": ("MRR", "score"),
    "ndcg@K": ("nDCG@K", "score"),
    "cited": ("Answers citing a source", "rate"),
    "citation_precision": ("Citation precision", "rate"),
    "citation_recall": ("Citation recall", "rate"),
    "valid_citation_rate": ("Valid citation rate", "rate"),
    "brier": ("Brier score", "score"),
    "ece": ("ECE", "score"),
    "brier_raw": ("Brier score (raw)", "score"),
    "ece_raw": ("ECE (raw)", "score"),
    "latency_p50_ms": ("Latency p50", "ms"),
    "latency_p95_ms": ("Latency p95", "ms"),
    "latency_mean_ms": ("Latency mean", "ms"),
    "input_tokens": ("Input tokens", "count"),
    "output_tokens": ("Output tokens", "count"),
    "cost_usd": ("Cost", "usd"),
    "cases": ("Cases", "count"),
    "errors": ("Errors", "count"),
    "answer_drift": ("Answer drift", "rate"),
    "retrieval_overlap@K": ("Retrieval overlap@K", "rate"),
}
_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Answers",
        (
            "correct",
            "exact_match",
            "token_f1",
            "judge_correct",
            "assertions_passed",
            "refusal_accuracy",
            "sql_match",
        ),
    ),
    ("Retrieval", ("hit@K", "recall@K", "mrr", "ndcg@K")),
    ("Citations", ("cited", "citation_precision", "citation_recall", "valid_citation_rate")),
    ("Calibration", ("brier", "ece", "brier_raw", "ece_raw")),
    (
        "Speed and cost",
        (
            "latency_p50_ms",
            "latency_p95_ms",
            "latency_mean_ms",
            "input_tokens",
            "output_tokens",
            "cost_usd",
        ),
    ),
    ("Cases", ("cases", "errors")),
)
#: Rows where "best" means nothing: the size of the run, and tokens (a local model uses none).
_NO_BEST = frozenset({"cases", "input_tokens", "output_tokens"})
_TILES = ("correct", "ndcg@K", "citation_recall", "ece", "latency_p95_ms", "cost_usd")
_DIMENSION_COLUMNS = ("correct", "token_f1", "ndcg@K", "citation_recall", "latency_p50_ms")
_BAR_METRICS = ("correct", "exact_match", "token_f1", "citation_recall", "hit@K", "ndcg@K")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _kind(key: str) -> str:
    base, at, _ = key.partition("@")
    return _METRICS.get(f"{base}@K" if at else key, (key, "score"))[1]


def format_metric(key: str, value: Any) -> str:
    """How the report writes a metric: rates in per cent, scores to three places, times in
    ms (or s from one second), counts with separators, costs in dollars; null as "–"."""
    number = _number(value)
    if number is None:
        return NULL
    kind = _kind(key)
    if kind == "rate":
        return f"{number * 100:.1f}%"
    if kind == "ms":
        return f"{number:.0f} ms" if number < 1000 else f"{number / 1000:.2f} s"
    if kind == "count":
        return f"{number:,.0f}"
    if kind == "usd":
        if number == 0:
            return "$0"
        return f"${number:.4f}" if number < 1 else f"${number:,.2f}"
    return f"{number:.3f}"


@dataclass(frozen=True)
class Cell:
    key: str
    model: str
    value: float | None
    text: str
    best: bool = False
    tint: str = ""  # a background colour for rates (a light heat scale), or ""


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    cells: tuple[Cell, ...]
    lower_is_better: bool = False


@dataclass
class _Context:
    export: Mapping[str, Any]
    k: int
    models: list[str]
    colours: dict[str, str]
    aggregates: Mapping[str, Any]
    rows: list[Mapping[str, Any]] = field(default_factory=list)

    def key(self, metric: str) -> str:
        return metric.replace("@K", f"@{self.k}")

    def label(self, metric: str) -> str:
        return _METRICS[metric][0].replace("@K", f"@{self.k}")

    def overall(self, model: str) -> Mapping[str, Any]:
        return (self.aggregates.get(model) or {}).get("overall") or {}


def _lower_is_better(key: str) -> bool:
    return key.partition("@")[0] in LOWER_IS_BETTER


def _tint(key: str, value: float | None) -> str:
    """A light background for a rate or score in 0..1: red (bad) to green (good)."""
    if value is None or _kind(key) not in ("rate", "score") or not 0 <= value <= 1:
        return ""
    if _lower_is_better(key):
        return ""  # lower is better (Brier, ECE, drift): a scale of 0..1 would flatter them
    hue = 8 + 112 * value  # 8 = red, 120 = green
    return f"hsl({hue:.0f}, 62%, 92%)"


def _row(ctx: _Context, metric: str, figures: Callable[[str], Mapping[str, Any]]) -> Row:
    key = ctx.key(metric)
    higher = not _lower_is_better(metric)
    values = {m: _number(figures(m).get(key)) for m in ctx.models}
    present = [v for v in values.values() if v is not None]
    best = None
    if (
        metric not in _NO_BEST
        and len(ctx.models) > 1
        and len(present) > 1
        and len(set(present)) > 1
    ):
        best = max(present) if higher else min(present)
    cells = tuple(
        Cell(key, m, v, format_metric(key, v), v is not None and v == best, _tint(key, v))
        for m, v in values.items()
    )
    return Row(key, ctx.label(metric), cells, not higher)


# --- figures -------------------------------------------------------------------------------------
# Drawn with `services.charts` as SVG text, each a `data:` URI; sizes in px (100 per inch, as
# the matplotlib figures they replace).

_AXIS = "#9aa5b1"
_PERCENT_TICKS = ((0, 0.25, 0.5, 0.75, 1.0), ("0", "25%", "50%", "75%", "100%"))


def _data_uri(canvas: Canvas) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(canvas.svg().encode()).decode("ascii")


def _spines(axes: Axes) -> None:
    axes.frame(_AXIS, sides="lb", width=0.8)


def _model_legend(ctx: _Context, canvas: Canvas, centre: float, top: float) -> None:
    Axes.canvas_legend(
        canvas,
        [LegendEntry(m, ctx.colours[m]) for m in ctx.models],
        size=pt(9),
        colour=INK,
        at=(centre, top),
        columns=min(max(1, len(ctx.models)), 4),
        centred=True,
    )


def _bars(
    ctx: _Context,
    axes: Axes,
    count: int,
    values: Callable[[str, int], float | None],
    label: Callable[[float | None], str],
) -> None:
    """Bars of each model side by side for groups 0..count-1, each with its value above."""
    n = max(1, len(ctx.models))
    width = 0.8 / n
    for i, model in enumerate(ctx.models):
        for group in range(count):
            x = group + (i - (n - 1) / 2) * width
            y = values(model, group)
            centre, top, _ = axes.bar(x - width * 0.46, width * 0.92, y or 0.0, ctx.colours[model])
            axes.canvas.text(centre, top - 3, label(y), size=pt(8), fill=MUTED, anchor="middle")


def _grouped_bars(
    ctx: _Context,
    groups: Sequence[str],
    values: Callable[[str, str], float | None],
    *,
    ylabel: str,
    percent: bool = True,
    height: float = 3.4,
) -> str:
    width = 100 * max(6.0, 1.1 * len(groups) * max(1, len(ctx.models)) ** 0.5 + 2.5)
    canvas = Canvas(width, 100 * height, background=None)
    axes = Axes(
        canvas, left=62, top=38, width=width - 74, height=100 * height - 78,
        xlim=(-0.5, len(groups) - 0.5), ylim=(0, 1.12),
    )  # fmt: skip
    ticks, labels = _PERCENT_TICKS
    axes.yticks(
        ticks, labels if percent else None, size=pt(9), colour=MUTED, tick_colour=_AXIS,
        grid=GRID,
    )  # fmt: skip
    _bars(
        ctx,
        axes,
        len(groups),
        lambda model, g: values(model, groups[g]),
        lambda y: NULL if y is None else (f"{y * 100:.0f}" if percent else f"{y:.2f}"),
    )
    _spines(axes)
    axes.xticks(range(len(groups)), list(groups), size=pt(9), colour=MUTED, tick_colour=_AXIS)
    axes.ylabel(ylabel, size=pt(9), colour=MUTED, offset=48)
    _model_legend(ctx, canvas, width / 2, 4)
    return _data_uri(canvas)


def _metric_bars(ctx: _Context) -> str:
    labels = [ctx.label(m) for m in _BAR_METRICS]
    keys = dict(zip(labels, (ctx.key(m) for m in _BAR_METRICS), strict=True))
    return _grouped_bars(
        ctx,
        labels,
        lambda model, label: _number(ctx.overall(model).get(keys[label])),
        ylabel="share of cases / score",
        percent=True,
    )


def _dimension_bars(ctx: _Context, dimensions: Sequence[str]) -> str:
    def value(model: str, dimension: str) -> float | None:
        by = (ctx.aggregates.get(model) or {}).get("by_dimension") or {}
        return _number((by.get(dimension) or {}).get("correct"))

    return _grouped_bars(ctx, dimensions, value, ylabel="correct")


def _reliability(ctx: _Context) -> str:
    canvas = Canvas(560, 460, background=None)
    axes = Axes(canvas, left=82, top=6, width=373, height=394, ylim=(-0.02, 1.04))
    ticks = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    labels = [f"{t:.1f}" for t in ticks]
    axes.xticks(ticks, labels, size=pt(9), colour=MUTED, tick_colour=_AXIS, grid=GRID)
    axes.yticks(ticks, labels, size=pt(9), colour=MUTED, tick_colour=_AXIS, grid=GRID)
    axes.plot([0, 1], [0, 1], _AXIS, width=1.4, dash=(5, 2))
    entries = [LegendEntry("perfect", _AXIS, "dashed")]
    for model in ctx.models:
        bands = (ctx.aggregates.get(model) or {}).get("reliability") or []
        points = [
            (_number(b.get("mean_confidence")), _number(b.get("accuracy")), b.get("count") or 0)
            for b in bands
        ]
        plotted = [(x, y, n) for x, y, n in points if x is not None and y is not None and n]
        if not plotted:
            continue
        colour = ctx.colours[model]
        axes.plot([p[0] for p in plotted], [p[1] for p in plotted], colour, width=2.2, opacity=0.85)
        for x, y, n in plotted:
            # matplotlib's marker area of 24 + 14n pt², as a radius in px
            radius = pt(math.sqrt(24 + 14 * n) / 2)
            canvas.circle(axes.x(x), axes.y(y), radius, colour, stroke="white", stroke_width=1.1)
        ece = format_metric("ece", ctx.overall(model).get("ece"))
        entries.append(LegendEntry(f"{model} (ECE {ece})", colour, "line"))
    _spines(axes)
    axes.xlabel("stated confidence (mean per band)", size=pt(9), colour=MUTED, offset=22)
    axes.ylabel("observed accuracy", size=pt(9), colour=MUTED, offset=40)
    axes.legend(entries, size=pt(9), colour=INK, at=(axes.left + 4, axes.top + 2))
    return _data_uri(canvas)


def _latencies(ctx: _Context) -> dict[str, list[float]]:
    result: dict[str, list[float]] = {m: [] for m in ctx.models}
    for row in ctx.rows:
        value = _number(row.get("latency_ms"))
        usable = value is not None and value > 0 and not row.get("error")
        if (
            usable
            and value is not None
            and row.get("variant") == "clean"
            and row.get("model") in result
        ):
            result[row["model"]].append(value)
    return result


_LOG_TICKS = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000)


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:g} s"


def _box(values: Sequence[float]) -> tuple[float, float, float, float, float]:
    """Whisker low, first quartile, median, third quartile, whisker high (the furthest
    values within 1.5 interquartile ranges of the box, as matplotlib's boxplot)."""
    q1, median, q3 = (float(v) for v in np.percentile(values, [25, 50, 75]))
    reach = 1.5 * (q3 - q1)
    low = min((v for v in values if v >= q1 - reach), default=q1)
    high = max((v for v in values if v <= q3 + reach), default=q3)
    return low, q1, median, q3, high


def _latency(ctx: _Context) -> str:
    samples = _latencies(ctx)
    models = [m for m in ctx.models if samples[m]]
    canvas = Canvas(950, 90 + 75 * max(1, len(models)), background=None)
    if not models:
        canvas.text(
            475, canvas.height / 2, "No latencies recorded", size=pt(10), fill=MUTED,
            anchor="middle", baseline="middle",
        )  # fmt: skip
        return _data_uri(canvas)
    left = 16 + max(text_width(m, pt(9)) for m in models)
    every = [v for m in models for v in samples[m]]
    low, high = min(every), max(every)
    log = high / low > 8
    if log:
        margin = (math.log10(high) - math.log10(low)) * 0.05
        xlim = (10 ** (math.log10(low) - margin), 10 ** (math.log10(high) + margin))
        ticks: list[float] = [t for t in _LOG_TICKS if xlim[0] <= t <= xlim[1]]
    else:
        margin = (high - low) * 0.05 or max(1.0, high * 0.05)
        xlim = (max(0.0, low - margin), high + margin)
        ticks = [t for t in nice_ticks(*xlim) if xlim[0] <= t <= xlim[1]]
    axes = Axes(
        canvas, left=left, top=4, width=950 - left - 40, height=canvas.height - 48,
        xlim=xlim, ylim=(-0.5, len(models) - 0.5), xlog=log,
    )  # fmt: skip
    axes.xticks(
        ticks, [_ms(t) for t in ticks], size=pt(9), colour=MUTED, tick_colour=_AXIS, grid=GRID
    )
    positions = list(range(len(models)))[::-1]
    axes.yticks(positions, models, size=pt(9), colour=MUTED, tick_colour=_AXIS)
    for y, model in zip(positions, models, strict=True):
        colour, values = ctx.colours[model], samples[model]
        whisker_low, q1, median, q3, whisker_high = _box(values)
        top, bottom, middle = axes.y(y + 0.25), axes.y(y - 0.25), axes.y(y)
        for end, edge in ((whisker_low, q1), (whisker_high, q3)):
            canvas.line(((axes.x(end), middle), (axes.x(edge), middle)), _AXIS)
            cap = (axes.y(y + 0.125), axes.y(y - 0.125))
            canvas.line(((axes.x(end), cap[0]), (axes.x(end), cap[1])), _AXIS)
        canvas.rect(
            axes.x(q1), top, axes.x(q3) - axes.x(q1), bottom - top, colour + "33",
            stroke=colour,
        )  # fmt: skip
        canvas.line(((axes.x(median), top), (axes.x(median), bottom)), INK, width=1.9)
        for i, value in enumerate(values):
            jitter = ((i * 0.6180339887) % 1 - 0.5) * 0.36
            canvas.circle(
                axes.x(value), axes.y(y + jitter), pt(2), colour, stroke="white",
                stroke_width=0.7, opacity=0.8,
            )  # fmt: skip
    _spines(axes)
    axes.xlabel("latency per clean case", size=pt(9), colour=MUTED, offset=22)
    return _data_uri(canvas)


def _robustness(ctx: _Context, perturbations: Sequence[str]) -> str:
    overlap_key = f"retrieval_overlap@{ctx.k}"
    canvas = Canvas(950, 330, background=None)
    top_drift = max(0.3, _max_drift(ctx, perturbations) * 1.3)
    panels = (
        (40, "answer_drift", "Answer drift (lower is better)", top_drift),
        (500, overlap_key, f"Retrieval overlap@{ctx.k} with the clean question", 1.12),
    )
    for left, key, title, top in panels:
        axes = Axes(
            canvas, left=left, top=52, width=410, height=240,
            xlim=(-0.5, len(perturbations) - 0.5), ylim=(0, top),
        )  # fmt: skip
        if key == "answer_drift":
            ticks = [t for t in (0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0) if t <= top]
            labels = [f"{t * 100:.0f}%" for t in ticks]
        else:
            ticks, labels = list(_PERCENT_TICKS[0]), list(_PERCENT_TICKS[1])
        axes.yticks(ticks, labels, size=pt(9), colour=MUTED, tick_colour=_AXIS, grid=GRID)
        if key == "answer_drift":
            axes.canvas.line(
                ((axes.left, axes.y(0.1)), (axes.right, axes.y(0.1))), "#cf1124", width=1.2,
                dash=(1.5, 2),
            )  # fmt: skip
            canvas.text(
                axes.right, axes.y(0.1) - 2, "10%", size=pt(8), fill="#cf1124", anchor="end"
            )

        def value(model: str, p: int, key: str = key) -> float | None:
            robustness = (ctx.aggregates.get(model) or {}).get("robustness") or {}
            by = robustness.get("by_perturbation") or {}
            return _number((by.get(perturbations[p]) or {}).get(key))

        _bars(
            ctx, axes, len(perturbations), value, lambda y: NULL if y is None else f"{y * 100:.0f}%"
        )
        _spines(axes)
        axes.xticks(
            range(len(perturbations)), list(perturbations), size=pt(9), colour=MUTED,
            tick_colour=_AXIS,
        )  # fmt: skip
        canvas.text(axes.left, axes.top - 6, title, size=pt(10), fill=INK)
    _model_legend(ctx, canvas, 475, 4)
    return _data_uri(canvas)


def _max_drift(ctx: _Context, perturbations: Sequence[str]) -> float:
    values = [
        _number(
            ((((ctx.aggregates.get(m) or {}).get("robustness") or {}).get("by_perturbation")) or {})
            .get(p, {})
            .get("answer_drift")
        )
        for m in ctx.models
        for p in perturbations
    ]
    return max([v for v in values if v is not None] or [0.0])


# --- page ----------------------------------------------------------------------------------------


def _when(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return NULL
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime(
        "%Y-%m-%d %H:%M UTC" if moment.utcoffset() is not None else "%Y-%m-%d %H:%M"
    )


def _duration(start: Any, end: Any) -> str:
    try:
        begun = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        ended = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        return NULL
    seconds = int((ended - begun).total_seconds())
    if seconds < 0:
        return NULL
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def _expected(row: Mapping[str, Any]) -> str:
    if row.get("must_refuse"):
        return "a refusal"
    expect = [str(e) for e in row.get("expect_any") or []]
    return " · ".join(expect) if expect else NULL


def _failure(row: Mapping[str, Any]) -> dict[str, Any]:
    answer = str(row.get("answer") or "")
    failed = [a for a in row.get("assertions") or [] if not a.get("passed")]
    judge = row.get("judge") or None
    return {
        "case_id": row.get("case_id", ""),
        "model": row.get("model", ""),
        "dimension": row.get("dimension") or row.get("kind") or "",
        "difficulty": row.get("difficulty") or "",
        "question": row.get("question", ""),
        "expected": _expected(row),
        "sources": " · ".join(str(s) for s in row.get("expect_sources") or []),
        "answer": answer if len(answer) <= 1200 else answer[:1200] + " …",
        "error": row.get("error"),
        "attempts": row.get("attempts"),
        "assertions": [f"{a.get('type')}: {a.get('detail', '')}" for a in failed],
        "judge": judge.get("reason")
        if isinstance(judge, Mapping) and not judge.get("passed")
        else None,
    }


def _flips(ctx: _Context) -> list[dict[str, Any]]:
    clean = {(r.get("model"), r.get("case_id")): r for r in ctx.rows if r.get("variant") == "clean"}
    flips = []
    for row in ctx.rows:
        if row.get("variant") in (None, "clean") or row.get("error"):
            continue
        base = clean.get((row.get("model"), row.get("case_id")))
        if (
            base is None
            or base.get("error")
            or bool(base.get("correct")) == bool(row.get("correct"))
        ):
            continue
        flips.append(
            {
                "model": row.get("model"),
                "case_id": row.get("case_id"),
                "variant": row.get("variant"),
                "question": row.get("question"),
                "clean_question": base.get("question"),
                "now_correct": bool(row.get("correct")),
            }
        )
    return flips


@functools.cache
def _report_template() -> jinja2.Template:
    """The page's template, compiled once per process on the first report (compiling it takes
    ~0.1 s: a cost every container, CLI command and server start paid when the renderer
    compiled it on construction)."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("services.evaluation", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("run_report.html.j2")


class HtmlReportRenderer:
    """Renders the export; see the module docstring for what the page shows."""

    def render_html(self, export: Mapping[str, Any]) -> str:
        ctx = _context(export)
        models, aggregates = ctx.models, ctx.aggregates
        settings = export.get("settings") or {}
        dimensions = list(
            dict.fromkeys(d for m in models for d in (aggregates[m].get("by_dimension") or {}))
        )
        perturbations = list(
            dict.fromkeys(
                p
                for m in models
                for p in ((aggregates[m].get("robustness") or {}).get("perturbations") or [])
            )
        )
        by_dimension = _by_dimension(ctx, dimensions)
        robustness_rows = _robustness_rows(ctx, perturbations)
        failures = _failures(ctx)
        progress = export.get("progress") or {}
        status = str(export.get("status") or "unknown")
        return _report_template().render(
            export=export,
            task=export.get("task") or {},
            status=status,
            progress=progress,
            percent=format_metric("correct", (_number(progress.get("percent")) or 0) / 100),
            models=models,
            colours=ctx.colours,
            k=ctx.k,
            settings=settings,
            prompt=export.get("prompt_version"),
            started=_when(export.get("started_at") or export.get("created_at")),
            duration=_duration(export.get("started_at"), export.get("finished_at")),
            tiles={
                m: [(ctx.label(metric), _tile(ctx, m, metric)) for metric in _TILES] for m in models
            },
            errors={m: int(_number(ctx.overall(m).get("errors")) or 0) for m in models},
            groups=[
                (title, [_row(ctx, metric, ctx.overall) for metric in metrics])
                for title, metrics in _GROUPS
            ],
            dimension_labels=[ctx.label(m) for m in _DIMENSION_COLUMNS],
            by_dimension=by_dimension,
            calibration=[
                _row(ctx, m, ctx.overall) for m in ("brier", "ece", "brier_raw", "ece_raw")
            ],
            latency_rows=[
                _row(ctx, m, ctx.overall)
                for m in ("latency_p50_ms", "latency_p95_ms", "latency_mean_ms")
            ],
            perturbations=perturbations,
            robustness_rows=robustness_rows,
            robustness_overall=[
                _row(ctx, m, lambda model: aggregates[model].get("robustness") or {})
                for m in ("answer_drift", "retrieval_overlap@K")
            ],
            failures=failures,
            flips=_flips(ctx),
            figures={
                "metrics": _metric_bars(ctx) if models else None,
                "dimensions": _dimension_bars(ctx, dimensions) if dimensions else None,
                "reliability": _reliability(ctx) if models else None,
                "latency": _latency(ctx) if models else None,
                "robustness": _robustness(ctx, perturbations) if perturbations else None,
            },
            NULL=NULL,
        )


def _context(export: Mapping[str, Any]) -> _Context:
    """The models with aggregates, their colours, `k` and the case rows of an export."""
    aggregates: Mapping[str, Any] = export.get("aggregates") or {}
    models = [m for m in export.get("models") or list(aggregates) if m in aggregates]
    settings = export.get("settings") or {}
    return _Context(
        export=export,
        k=int(settings.get("k") or 5),
        models=models,
        colours={m: PALETTE[i % len(PALETTE)] for i, m in enumerate(models)},
        aggregates=aggregates,
        rows=[r for r in export.get("cases") or [] if isinstance(r, Mapping)],
    )


def _by_dimension(ctx: _Context, dimensions: list[str]) -> dict[str, list[Row]]:
    """Per dimension, the table rows of its cases and metrics, one column per model."""
    aggregates = ctx.aggregates
    return {
        d: [
            _row(
                ctx,
                metric,
                functools.partial(_dimension_figures, aggregates, d),
            )
            for metric in ("cases", *_DIMENSION_COLUMNS)
        ]
        for d in dimensions
    }


def _dimension_figures(
    aggregates: Mapping[str, Any], dimension: str, model: str
) -> Mapping[str, Any]:
    return (aggregates[model].get("by_dimension") or {}).get(dimension) or {}


def _perturbation_figures(
    aggregates: Mapping[str, Any], perturbation: str, model: str
) -> Mapping[str, Any]:
    robustness = aggregates[model].get("robustness") or {}
    return (robustness.get("by_perturbation") or {}).get(perturbation) or {}


def _robustness_rows(ctx: _Context, perturbations: list[str]) -> dict[str, list[Row]]:
    """Per perturbation, the rows of correctness, answer drift and retrieval overlap."""
    aggregates = ctx.aggregates
    return {
        p: [
            _row(
                ctx,
                metric,
                functools.partial(_perturbation_figures, aggregates, p),
            )
            for metric in ("correct", "answer_drift", "retrieval_overlap@K")
        ]
        for p in perturbations
    }


def _failures(ctx: _Context) -> list[dict[str, Any]]:
    """The clean cases that failed or were answered wrongly."""
    return [
        _failure(r)
        for r in ctx.rows
        if r.get("variant", "clean") == "clean" and (r.get("error") or not r.get("correct"))
    ]


def _tile(ctx: _Context, model: str, metric: str) -> Cell:
    key = ctx.key(metric)
    value = _number(ctx.overall(model).get(key))
    return Cell(key, model, value, format_metric(key, value))
