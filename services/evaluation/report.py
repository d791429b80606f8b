"""The `RunReportRenderer` port: one self-contained HTML page from a run's JSON export.

The page has no external asset: the figures are matplotlib SVGs embedded as `data:` URIs
(drawn on `Figure` objects, not `pyplot`, so no global state and several reports can draw at
once), the CSS is inline, and there is no script. Every value the export gives as null is
shown as "–". The template (`templates/run_report.html.j2`) is Jinja2 with autoescaping on,
because answers and questions are untrusted text (a model's answer may contain markup).

Sections: run summary, headline tiles per model, all metrics per model (best value marked),
metrics per dimension, reliability diagram with Brier/ECE, latency distribution, robustness
per perturbation, failures (clean cases answered wrongly or with an error, with question,
expected and answer) and robustness flips (perturbed questions whose correctness changed).
"""

from __future__ import annotations

import base64
import functools
import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import jinja2

from use_cases.evaluation.compare import LOWER_IS_BETTER

if TYPE_CHECKING:  # matplotlib is imported when a report is drawn (it takes ~0.4 s to import)
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["MatplotlibHtmlReportRenderer", "format_metric"]

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


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    figure.patch.set_alpha(0)
    return figure


def _style(axes: Axes, *, grid: str = "y") -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_color("#9aa5b1")
    axes.tick_params(colors=MUTED, labelsize=9, length=3)
    axes.set_axisbelow(True)
    if grid:
        axes.grid(axis=grid, color=GRID, linewidth=0.8)
    axes.xaxis.label.set_color(MUTED)
    axes.yaxis.label.set_color(MUTED)


def _legend(axes: Axes, **kwargs: Any) -> None:
    legend = axes.legend(frameon=False, fontsize=9, labelcolor=INK, **kwargs)
    legend.set_in_layout(True)


def _data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _grouped_bars(
    ctx: _Context,
    groups: Sequence[str],
    values: Callable[[str, str], float | None],
    *,
    ylabel: str,
    percent: bool = True,
    height: float = 3.4,
) -> str:
    figure = _figure(max(6.0, 1.1 * len(groups) * max(1, len(ctx.models)) ** 0.5 + 2.5), height)
    axes = figure.subplots()
    _style(axes)
    n = max(1, len(ctx.models))
    width = 0.8 / n
    for i, model in enumerate(ctx.models):
        xs = [g + (i - (n - 1) / 2) * width for g in range(len(groups))]
        ys = [values(model, group) for group in groups]
        heights = [y if y is not None else 0.0 for y in ys]
        bars = axes.bar(xs, heights, width * 0.92, color=ctx.colours[model], label=model)
        for bar, y in zip(bars, ys, strict=True):
            text = NULL if y is None else (f"{y * 100:.0f}" if percent else f"{y:.2f}")
            axes.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
                color=MUTED,
            )
    axes.set_xticks(range(len(groups)), list(groups))
    axes.set_ylim(0, 1.12)
    axes.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    if percent:
        axes.set_yticklabels(["0", "25%", "50%", "75%", "100%"])
    axes.set_ylabel(ylabel, fontsize=9)
    _legend(axes, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=min(n, 4))
    return _data_uri(figure)


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
    figure = _figure(5.6, 4.6)
    axes = figure.subplots()
    _style(axes, grid="both")
    axes.plot([0, 1], [0, 1], linestyle="--", color="#9aa5b1", linewidth=1, label="perfect")
    for model in ctx.models:
        bands = (ctx.aggregates.get(model) or {}).get("reliability") or []
        points = [
            (_number(b.get("mean_confidence")), _number(b.get("accuracy")), b.get("count") or 0)
            for b in bands
        ]
        points = [(x, y, n) for x, y, n in points if x is not None and y is not None and n]
        if not points:
            continue
        ece = format_metric("ece", ctx.overall(model).get("ece"))
        axes.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            color=ctx.colours[model],
            linewidth=1.6,
            alpha=0.85,
            label=f"{model} (ECE {ece})",
        )
        axes.scatter(
            [p[0] for p in points],
            [p[1] for p in points],
            s=[24 + 14 * p[2] for p in points],
            color=ctx.colours[model],
            edgecolor="white",
            linewidth=0.8,
            zorder=3,
        )
    axes.set_xlim(0, 1)
    axes.set_ylim(-0.02, 1.04)
    axes.set_aspect("equal")
    axes.set_xlabel("stated confidence (mean per band)", fontsize=9)
    axes.set_ylabel("observed accuracy", fontsize=9)
    _legend(axes, loc="upper left")
    return _data_uri(figure)


def _latencies(ctx: _Context) -> dict[str, list[float]]:
    result: dict[str, list[float]] = {m: [] for m in ctx.models}
    for row in ctx.rows:
        value = _number(row.get("latency_ms"))
        usable = value is not None and value > 0 and not row.get("error")
        if usable and row.get("variant") == "clean" and row.get("model") in result:
            result[row["model"]].append(value)
    return result


_LOG_TICKS = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000)


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:g} s"


def _latency(ctx: _Context) -> str:
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    samples = _latencies(ctx)
    models = [m for m in ctx.models if samples[m]]
    figure = _figure(9.5, 0.9 + 0.75 * max(1, len(models)))
    axes = figure.subplots()
    _style(axes, grid="x")
    if not models:
        axes.text(0.5, 0.5, "No latencies recorded", ha="center", va="center", color=MUTED)
        axes.set_yticks([])
        return _data_uri(figure)
    positions = list(range(len(models)))[::-1]
    box = axes.boxplot(
        [samples[m] for m in models],
        positions=positions,
        orientation="horizontal",
        widths=0.5,
        showfliers=False,
        patch_artist=True,
        medianprops={"color": INK, "linewidth": 1.4},
        whiskerprops={"color": "#9aa5b1"},
        capprops={"color": "#9aa5b1"},
    )
    for patch, model in zip(box["boxes"], models, strict=True):
        patch.set_facecolor(ctx.colours[model] + "33")
        patch.set_edgecolor(ctx.colours[model])
    for y, model in zip(positions, models, strict=True):
        values = samples[model]
        jitter = [((i * 0.6180339887) % 1 - 0.5) * 0.36 for i in range(len(values))]
        axes.scatter(
            values,
            [y + j for j in jitter],
            s=16,
            color=ctx.colours[model],
            alpha=0.8,
            edgecolor="white",
            linewidth=0.5,
            zorder=3,
        )
    axes.set_yticks(positions, models)
    every = [v for m in models for v in samples[m]]
    if max(every) / min(every) > 8:
        axes.set_xscale("log")
        low, high = axes.get_xlim()
        ticks = [t for t in _LOG_TICKS if low <= t <= high]
        axes.xaxis.set_major_locator(FixedLocator(ticks))
        axes.xaxis.set_minor_locator(NullLocator())
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _ms(v)))
    axes.set_xlabel("latency per clean case", fontsize=9)
    return _data_uri(figure)


def _robustness(ctx: _Context, perturbations: Sequence[str]) -> str:
    overlap_key = f"retrieval_overlap@{ctx.k}"
    figure = _figure(9.5, 3.3)
    left, right = figure.subplots(1, 2)
    for axes, key, title in (
        (left, "answer_drift", "Answer drift (lower is better)"),
        (right, overlap_key, f"Retrieval overlap@{ctx.k} with the clean question"),
    ):
        _style(axes)
        n = max(1, len(ctx.models))
        width = 0.8 / n
        for i, model in enumerate(ctx.models):
            by = ((ctx.aggregates.get(model) or {}).get("robustness") or {}).get(
                "by_perturbation"
            ) or {}
            xs = [p + (i - (n - 1) / 2) * width for p in range(len(perturbations))]
            ys = [_number((by.get(p) or {}).get(key)) for p in perturbations]
            bars = axes.bar(
                xs, [y or 0.0 for y in ys], width * 0.92, color=ctx.colours[model], label=model
            )
            for bar, y in zip(bars, ys, strict=True):
                axes.annotate(
                    NULL if y is None else f"{y * 100:.0f}%",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    fontsize=8,
                    color=MUTED,
                )
        axes.set_xticks(range(len(perturbations)), list(perturbations))
        axes.set_title(title, fontsize=10, color=INK, loc="left")
        axes.set_yticks([0, 0.25, 0.5, 0.75, 1.0], ["0", "25%", "50%", "75%", "100%"])
    left.set_ylim(0, max(0.3, _max_drift(ctx, perturbations) * 1.3))
    left.set_yticks([t for t in (0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0) if t <= left.get_ylim()[1]])
    left.set_yticklabels([f"{t * 100:.0f}%" for t in left.get_yticks()])
    left.axhline(0.1, color="#cf1124", linewidth=0.9, linestyle=":", zorder=0)
    left.annotate(
        "10%",
        (1.0, 0.1),
        xycoords=("axes fraction", "data"),
        fontsize=8,
        color="#cf1124",
        ha="right",
        va="bottom",
    )
    right.set_ylim(0, 1.12)
    handles, labels = right.get_legend_handles_labels()
    figure.legend(
        handles,
        labels,
        loc="outside upper center",
        ncols=min(len(labels), 4),
        frameon=False,
        fontsize=9,
    )
    return _data_uri(figure)


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


class MatplotlibHtmlReportRenderer:
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
                lambda m, d=d: (aggregates[m].get("by_dimension") or {}).get(d) or {},
            )
            for metric in ("cases", *_DIMENSION_COLUMNS)
        ]
        for d in dimensions
    }


def _robustness_rows(ctx: _Context, perturbations: list[str]) -> dict[str, list[Row]]:
    """Per perturbation, the rows of correctness, answer drift and retrieval overlap."""
    aggregates = ctx.aggregates
    return {
        p: [
            _row(
                ctx,
                metric,
                lambda m, p=p: (
                    ((aggregates[m].get("robustness") or {}).get("by_perturbation") or {}).get(p)
                    or {}
                ),
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
