"""The `DiagramRenderer` port: the reliability diagram drawn as SVG text or, with Pillow, as
PNG (`services.charts`; no display, no global state, safe in threads)."""

from __future__ import annotations

from collections.abc import Sequence

from services.charts import Axes, Canvas, LegendEntry, pt
from use_cases.calibration.ports import DiagramBin
from use_cases.shared.errors import InvalidRequest

__all__ = ["SvgDiagramRenderer"]

_BAR, _POINT, _DIAGONAL = "#1f77b4", "darkred", "grey"
_TICKS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


class SvgDiagramRenderer:
    """Bars of observed accuracy per confidence band, the diagonal of perfect calibration,
    and each band's mean confidence as a point; band counts are written above the bars.
    600 x 600 px, as the matplotlib figure it replaces."""

    def render(self, bins: Sequence[DiagramBin], *, title: str, fmt: str) -> bytes:
        if fmt not in ("svg", "png"):
            raise InvalidRequest("The diagram format must be svg or png.")
        canvas = Canvas(600, 600)
        axes = Axes(canvas, left=75, top=72, width=465, height=462)
        if bins:
            for b in bins:
                axes.bar(
                    b.lower, b.upper - b.lower, b.observed_accuracy, _BAR, stroke="black",
                    opacity=0.7,
                )  # fmt: skip
            axes.plot([0, 1], [0, 1], _DIAGONAL, width=pt(1.5), dash=(pt(5.5), pt(2.4)))
            axes.plot(
                [b.mean_confidence for b in bins],
                [b.observed_accuracy for b in bins],
                _POINT,
                width=pt(1.5),
            )
            for b in bins:
                canvas.circle(axes.x(b.mean_confidence), axes.y(b.observed_accuracy), 4, _POINT)
                canvas.text(
                    axes.x((b.lower + b.upper) / 2),
                    axes.y(min(0.97, b.observed_accuracy + 0.02)),
                    f"n={b.count}",
                    size=pt(7),
                    anchor="middle",
                )
        else:
            axes.plot([0, 1], [0, 1], _DIAGONAL, width=pt(1.5), dash=(pt(5.5), pt(2.4)))
            canvas.text(
                axes.x(0.5), axes.y(0.5), "No feedback in this window", size=pt(10),
                anchor="middle", baseline="middle",
            )  # fmt: skip
        axes.frame("black", width=0.8)
        labels = [f"{t:.1f}" for t in _TICKS]
        axes.xticks(_TICKS, labels, size=pt(10), colour="black")
        axes.yticks(_TICKS, labels, size=pt(10), colour="black")
        axes.xlabel("confidence", size=pt(10), colour="black", offset=24)
        axes.ylabel("observed accuracy", size=pt(10), colour="black", offset=40)
        canvas.text(axes.left + axes.width / 2, axes.top - 10, title, size=pt(9), anchor="middle")
        entries = [LegendEntry("perfect calibration", _DIAGONAL, "dashed")]
        if bins:
            entries += [
                LegendEntry("accuracy at mean confidence", _POINT, "marker_line"),
                LegendEntry("observed accuracy", _BAR, "patch", edge="black", opacity=0.7),
            ]
        axes.legend(
            entries, size=pt(8), colour="black", at=(axes.left + 6, axes.top + 6), frame="#cccccc"
        )
        return canvas.svg().encode() if fmt == "svg" else canvas.png()
