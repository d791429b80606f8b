"""The `DiagramRenderer` port on matplotlib (Agg backend: no display, safe in threads).

matplotlib is imported when a diagram is drawn, not with this module (it takes about half a
second, which every process would otherwise pay at start)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from use_cases.calibration.ports import DiagramBin
from use_cases.shared.errors import InvalidRequest

__all__ = ["MatplotlibDiagramRenderer"]


class MatplotlibDiagramRenderer:
    """Bars of observed accuracy per confidence band, the diagonal of perfect calibration,
    and each band's mean confidence as a point; band counts are written above the bars.

    It draws on a `Figure` object (not `pyplot`), so no global state or GUI backend is used
    and several requests can draw at once."""

    def render(self, bins: Sequence[DiagramBin], *, title: str, fmt: str) -> bytes:
        if fmt not in ("svg", "png"):
            raise InvalidRequest("The diagram format must be svg or png.")
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6, 6), dpi=100)
        axes = figure.subplots()
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        if bins:
            axes.bar(
                [b.lower for b in bins],
                [b.observed_accuracy for b in bins],
                width=[b.upper - b.lower for b in bins],
                align="edge",
                edgecolor="black",
                alpha=0.7,
                label="observed accuracy",
            )
            axes.plot(
                [b.mean_confidence for b in bins],
                [b.observed_accuracy for b in bins],
                marker="o",
                color="darkred",
                label="accuracy at mean confidence",
            )
            for b in bins:
                axes.annotate(
                    f"n={b.count}",
                    ((b.lower + b.upper) / 2, min(0.97, b.observed_accuracy + 0.02)),
                    ha="center",
                    fontsize=7,
                )
        else:
            axes.text(0.5, 0.5, "No feedback in this window", ha="center", va="center")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_xlabel("confidence")
        axes.set_ylabel("observed accuracy")
        axes.set_title(title, fontsize=9)
        axes.legend(loc="upper left", fontsize=8)
        buffer = io.BytesIO()
        metadata = {"Date": None} if fmt == "svg" else {}
        figure.savefig(buffer, format=fmt, metadata=metadata)
        return buffer.getvalue()
