"""The `CleaningReportRenderer` port: a cleaning run's export as one self-contained HTML page.

Like the evaluation report (`services/evaluation/report.py`): inline CSS, no script, no
external asset; the charts are inline SVG bar charts drawn here (one per metric family, bars
per dimension and model), every text escaped (model names and justifications are untrusted).
Sections: run summary, metrics per model, per-dimension charts (precision, recall, F1;
corruption rate; drift against the dirty table's), robustness by difficulty, and the tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from use_cases.cleaning.domain import DIFFICULTIES, DIMENSIONS

__all__ = ["SvgCleaningReportRenderer"]

NULL = "–"
#: Okabe-Ito, as the evaluation report.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
STYLE = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bg: #f5f7fa; --card: #fff;
        --accent: #0b69a3; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
main { max-width: 1140px; margin: 0 auto; padding: 28px 24px 64px; }
.eyebrow { text-transform: uppercase; letter-spacing: .08em; font-size: 12px; font-weight: 600;
           color: var(--accent); }
h1 { font-size: 28px; margin: 4px 0 6px; } h2 { font-size: 20px; margin: 28px 0 6px; }
.meta, .note { color: var(--muted); }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
               padding: 16px 20px; margin: 16px 0; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th:first-child, td:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; } figcaption { font-size: 13px; color: var(--muted); }
"""


def _num(value: Any, digits: int = 3) -> str:
    return NULL if value is None else f"{value:.{digits}f}"


def _pct(value: Any) -> str:
    return NULL if value is None else f"{100 * value:.2f}%"


def bar_chart(
    title: str,
    groups: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    top: float | None = None,
) -> str:
    """An inline SVG: for each group (x), one bar per series, scaled to `top` (default: the
    largest value)."""
    width, height, left, bottom, pad = 460, 220, 44, 36, 14
    values = [v for vs in series.values() for v in vs if v is not None]
    scale = top if top is not None else max(values, default=0.0) or 1.0
    plot_w, plot_h = width - left - pad, height - bottom - pad
    slot = plot_w / max(1, len(groups))
    bar = slot * 0.8 / max(1, len(series))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" font-size="11" font-family="sans-serif">',
        f'<line x1="{left}" y1="{pad + plot_h}" x2="{width - pad}" y2="{pad + plot_h}" '
        'stroke="#9aa5b1"/>',
    ]
    for tick in (0.0, 0.5, 1.0):
        y = pad + plot_h * (1 - tick)
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#616e7c">'
            f"{_num(scale * tick, 2)}</text>"
        )
    for g, group in enumerate(groups):
        x0 = left + g * slot + slot * 0.1
        for s, (name, vs) in enumerate(series.items()):
            value = vs[g] if g < len(vs) else None
            if value is None:
                continue
            h = plot_h * min(1.0, value / scale)
            x = x0 + s * bar
            parts.append(
                f'<rect x="{x:.1f}" y="{pad + plot_h - h:.1f}" width="{bar * 0.9:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                f"<title>{escape(name)} {escape(group)}: {_num(value, 4)}</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + slot * 0.4:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{escape(group)}</text>"
        )
    for s, name in enumerate(series):
        parts.append(
            f'<rect x="{left + s * 110}" y="{height - 12}" width="10" height="10" '
            f'fill="{PALETTE[s % len(PALETTE)]}"/><text x="{left + s * 110 + 14}" '
            f'y="{height - 3}">{escape(name[:16])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


class SvgCleaningReportRenderer:
    def render_html(self, export: Mapping[str, Any]) -> str:
        aggregates: Mapping[str, Any] = export["aggregates"]
        body = [
            '<p class="eyebrow">Almanac data-cleaning benchmark</p>',
            f"<h1>Cleaning run {escape(export['run_id'])}</h1>",
            f'<p class="meta">{escape(export["status"])}, started {escape(export["timestamp"])}'
            f", {export['progress']['done']}/{export['progress']['total']} results, seed "
            f"{export['settings'].get('seed')}, models {escape(', '.join(export['models']))}"
            "</p>",
            self._overall(aggregates),
            self._charts(aggregates),
            self._robustness(aggregates),
            self._tasks(export["task_results"]),
        ]
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>Cleaning run {escape(export['run_id'])}</title>"
            f"<style>{STYLE}</style></head><body><main>{''.join(body)}</main></body></html>"
        )

    def _overall(self, aggregates: Mapping[str, Any]) -> str:
        rows = "".join(
            f"<tr><td>{escape(model)}</td><td>{a['overall']['tasks']}</td>"
            f"<td>{_num(a['overall']['precision'])}</td><td>{_num(a['overall']['recall'])}</td>"
            f"<td>{_num(a['overall']['f1'])}</td>"
            f"<td>{_pct(a['overall']['corruption_rate'])}</td>"
            f"<td>{_num(a['overall']['drift_score'], 4)}</td>"
            f"<td>{_pct(a['reliability']['valid_rate'])}</td>"
            f"<td>{_num(a['overall']['latency_ms'], 0)}</td>"
            f"<td>{_num(a['overall']['cost_usd'], 4)}</td></tr>"
            for model, a in aggregates.items()
        )
        return (
            '<section class="card"><h2>Metrics per model</h2><table><tr><th>model</th>'
            "<th>tasks</th><th>precision</th><th>recall</th><th>F1</th><th>corruption</th>"
            "<th>drift</th><th>valid</th><th>mean ms</th><th>cost $</th></tr>"
            f"{rows}</table></section>"
        )

    def _charts(self, aggregates: Mapping[str, Any]) -> str:
        dims = [d for d in DIMENSIONS if any(d in a["by_dimension"] for a in aggregates.values())]

        def per(model_block: Mapping[str, Any], key: str) -> list[float | None]:
            return [model_block["by_dimension"].get(d, {}).get(key) for d in dims]

        figures = []
        for key, label, top in (
            ("f1", "F1 of the repairs per dimension", 1.0),
            ("precision", "Precision per dimension", 1.0),
            ("recall", "Recall per dimension", 1.0),
            ("corruption_rate", "Corruption rate per dimension", None),
        ):
            series = {m: per(a, key) for m, a in aggregates.items()}
            figures.append(
                f"<figure>{bar_chart(label, dims, series, top=top)}"
                f"<figcaption>{escape(label)}</figcaption></figure>"
            )
        for model, a in aggregates.items():
            series = {"cleaned": per(a, "drift_score"), "dirty": per(a, "drift_dirty")}
            label = f"Drift per dimension, {model}: cleaned vs dirty table"
            figures.append(
                f"<figure>{bar_chart(label, dims, series)}"
                f"<figcaption>{escape(label)}</figcaption></figure>"
            )
        return (
            '<section class="card"><h2>Per dimension</h2><div class="charts">'
            f"{''.join(figures)}</div></section>"
        )

    def _robustness(self, aggregates: Mapping[str, Any]) -> str:
        levels = [
            d for d in DIFFICULTIES if any(d in a["by_difficulty"] for a in aggregates.values())
        ]
        series = {
            m: [a["by_difficulty"].get(d, {}).get("f1") for d in levels]
            for m, a in aggregates.items()
        }
        ratios = "".join(
            f"<li>{escape(m)}: F1(hard) / F1(easy) = {_num(a['robustness']['ratio'])}</li>"
            for m, a in aggregates.items()
        )
        return (
            '<section class="card"><h2>Robustness: F1 by difficulty</h2>'
            f"{bar_chart('F1 by difficulty', levels, series, top=1.0)}<ul>{ratios}</ul></section>"
        )

    def _tasks(self, rows: Sequence[Mapping[str, Any]]) -> str:
        lines = "".join(
            f"<tr><td>{escape(r['task_id'])}</td><td>{escape(r['model'])}</td>"
            f"<td>{r['repeat']}</td><td>{r['errors_injected']}</td><td>{_num(r['precision'])}</td>"
            f"<td>{_num(r['recall'])}</td><td>{_num(r['f1'])}</td>"
            f"<td>{_pct(r['corruption_rate'])}</td><td>{_num(r['drift_score'], 4)}</td>"
            f"<td>{_num(r['drift_dirty'], 4)}</td><td>{escape(r['error'] or '')}</td></tr>"
            for r in rows
        )
        return (
            '<section class="card"><h2>Tasks</h2><table><tr><th>task</th><th>model</th>'
            "<th>repeat</th><th>errors</th><th>P</th><th>R</th><th>F1</th><th>corruption</th>"
            "<th>drift</th><th>dirty drift</th><th>error</th></tr>"
            f"{lines}</table></section>"
        )
