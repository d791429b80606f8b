"""A small drawing kit for the figures Almanac draws: the reliability diagram and the
evaluation report's charts.

A `Canvas` collects lines, rectangles, circles and text in pixels and writes them as SVG
(text, every string escaped) or as PNG (Pillow, drawn at twice the size and scaled down, so
edges are smooth). An `Axes` maps data to a rectangle of the canvas and draws what a chart
needs around it: spines, ticks and their labels, grid lines, axis labels, a title and a
legend. It replaces matplotlib, which was a 70 MB dependency (with fontTools, kiwisolver,
contourpy and pyparsing) for six pictures; nothing here is imported by the serving path.

Sizes are pixels; `pt` turns a typographic size into pixels at matplotlib's 100 dpi, so the
figures keep the proportions they had. Text widths are estimated (`text_width`), which is
what the layout needs to keep labels and legends clear of each other.
"""

from __future__ import annotations

import html
import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Axes", "Canvas", "LegendEntry", "nice_ticks", "pt", "text_width"]

FONT_FAMILY = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"
Anchor = Literal["start", "middle", "end"]
Baseline = Literal["alphabetic", "middle", "hanging"]
_SUPERSAMPLE = 2


def pt(size: float) -> float:
    """Points to pixels at 100 dpi (matplotlib's default figure resolution)."""
    return size * 100 / 72


def text_width(text: str, size: float) -> float:
    """An estimate of the width of `text` at `size` px in a sans-serif face."""
    return 0.55 * size * len(text)


def _colour(value: str) -> tuple[str, float]:
    """`#rrggbbaa` as (`#rrggbb`, alpha); any other colour as (itself, 1)."""
    if value.startswith("#") and len(value) == 9:
        return value[:7], int(value[7:], 16) / 255
    return value, 1.0


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class _Line:
    points: tuple[tuple[float, float], ...]
    stroke: str
    width: float
    dash: tuple[float, float] | None
    opacity: float


@dataclass(frozen=True)
class _Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    stroke: str | None
    stroke_width: float
    opacity: float


@dataclass(frozen=True)
class _Circle:
    x: float
    y: float
    radius: float
    fill: str
    stroke: str | None
    stroke_width: float
    opacity: float


@dataclass(frozen=True)
class _Text:
    x: float
    y: float
    text: str
    size: float
    fill: str
    anchor: Anchor
    baseline: Baseline
    rotate: float


@dataclass
class Canvas:
    """A picture of `width` x `height` px; the shapes are drawn in the order they are added."""

    width: float
    height: float
    background: str | None = "white"
    shapes: list[_Line | _Rect | _Circle | _Text] = field(default_factory=list)

    def line(
        self,
        points: Sequence[tuple[float, float]],
        stroke: str,
        *,
        width: float = 1.0,
        dash: tuple[float, float] | None = None,
        opacity: float = 1.0,
    ) -> None:
        self.shapes.append(_Line(tuple(points), stroke, width, dash, opacity))

    def rect(
        self,
        x: float,
        y: float,
        width: float,
        height: float,
        fill: str,
        *,
        stroke: str | None = None,
        stroke_width: float = 1.0,
        opacity: float = 1.0,
    ) -> None:
        self.shapes.append(_Rect(x, y, width, height, fill, stroke, stroke_width, opacity))

    def circle(
        self,
        x: float,
        y: float,
        radius: float,
        fill: str,
        *,
        stroke: str | None = None,
        stroke_width: float = 1.0,
        opacity: float = 1.0,
    ) -> None:
        self.shapes.append(_Circle(x, y, radius, fill, stroke, stroke_width, opacity))

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        size: float,
        fill: str = "black",
        anchor: Anchor = "start",
        baseline: Baseline = "alphabetic",
        rotate: float = 0.0,
    ) -> None:
        self.shapes.append(_Text(x, y, text, size, fill, anchor, baseline, rotate))

    # --- SVG ----------------------------------------------------------------------------------

    def svg(self) -> str:
        """The picture as a standalone SVG document (with an XML declaration)."""
        w, h = _number(self.width), _number(self.height)
        parts = [
            '<?xml version="1.0" encoding="utf-8" standalone="no"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" font-family="{html.escape(FONT_FAMILY)}">',
        ]
        if self.background:
            parts.append(f'<rect width="{w}" height="{h}" fill="{self.background}"/>')
        parts.extend(_svg(shape) for shape in self.shapes)
        parts.append("</svg>")
        return "\n".join(parts) + "\n"

    # --- PNG ----------------------------------------------------------------------------------

    def png(self) -> bytes:
        """The picture as PNG bytes, drawn with Pillow."""
        from PIL import Image, ImageDraw

        k = _SUPERSAMPLE
        size = (round(self.width * k), round(self.height * k))
        image = Image.new("RGBA", size, self.background or (255, 255, 255, 0))
        draw = ImageDraw.Draw(image, "RGBA")
        for shape in self.shapes:
            if isinstance(shape, _Text):
                _png_text(image, shape, k)
            else:
                _png_shape(draw, shape, k)
        image = image.resize((round(self.width), round(self.height)), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()


def _paint(name: str, colour: str | None, opacity: float = 1.0) -> str:
    if colour is None:
        return f'{name}="none"'
    rgb, alpha = _colour(colour)
    alpha *= opacity
    return f'{name}="{rgb}"' + (f' {name}-opacity="{_number(alpha)}"' if alpha < 1 else "")


def _svg(shape: _Line | _Rect | _Circle | _Text) -> str:
    if isinstance(shape, _Line):
        points = " ".join(f"{_number(x)},{_number(y)}" for x, y in shape.points)
        dash = f' stroke-dasharray="{shape.dash[0]:g},{shape.dash[1]:g}"' if shape.dash else ""
        return (
            f'<polyline points="{points}" fill="none" {_paint("stroke", shape.stroke)}'
            f' stroke-width="{_number(shape.width)}"{dash}'
            + (f' opacity="{_number(shape.opacity)}"' if shape.opacity < 1 else "")
            + ' stroke-linejoin="round" stroke-linecap="butt"/>'
        )
    if isinstance(shape, _Rect):
        stroke = (
            f' {_paint("stroke", shape.stroke)} stroke-width="{_number(shape.stroke_width)}"'
            if shape.stroke
            else ""
        )
        return (
            f'<rect x="{_number(shape.x)}" y="{_number(shape.y)}" '
            f'width="{_number(shape.width)}" height="{_number(shape.height)}" '
            f"{_paint('fill', shape.fill, shape.opacity)}{stroke}/>"
        )
    if isinstance(shape, _Circle):
        stroke = (
            f' {_paint("stroke", shape.stroke)} stroke-width="{_number(shape.stroke_width)}"'
            if shape.stroke
            else ""
        )
        return (
            f'<circle cx="{_number(shape.x)}" cy="{_number(shape.y)}" '
            f'r="{_number(shape.radius)}" {_paint("fill", shape.fill, shape.opacity)}{stroke}/>'
        )
    baseline = {"alphabetic": "", "middle": ' dominant-baseline="central"'}.get(
        shape.baseline, ' dominant-baseline="hanging"'
    )
    rotate = (
        f' transform="rotate({shape.rotate:g} {_number(shape.x)} {_number(shape.y)})"'
        if shape.rotate
        else ""
    )
    return (
        f'<text x="{_number(shape.x)}" y="{_number(shape.y)}" font-size="{_number(shape.size)}"'
        f' {_paint("fill", shape.fill)} text-anchor="{shape.anchor}"{baseline}{rotate}>'
        f"{html.escape(shape.text, quote=False)}</text>"
    )


def _rgba(colour: str, opacity: float = 1.0) -> tuple[int, int, int, int]:
    from PIL import ImageColor

    rgb, alpha = _colour(colour)
    r, g, b = ImageColor.getrgb(rgb)[:3]
    return r, g, b, round(255 * alpha * opacity)


def _dashes(
    points: Sequence[tuple[float, float]], on: float, off: float
) -> list[list[tuple[float, float]]]:
    """The pieces of a polyline drawn with a dash pattern of `on` and `off` lengths."""
    pieces: list[list[tuple[float, float]]] = []
    drawing, left = True, on
    current: list[tuple[float, float]] = [points[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        length = math.hypot(x1 - x0, y1 - y0)
        done = 0.0
        while length - done > left:
            done += left
            point = (x0 + (x1 - x0) * done / length, y0 + (y1 - y0) * done / length)
            if drawing:
                pieces.append([*current, point])
            current = [point]
            drawing, left = not drawing, off if drawing else on
        left -= length - done
        current.append((x1, y1))
    if drawing and len(current) > 1:
        pieces.append(current)
    return pieces


def _png_shape(draw: object, shape: _Line | _Rect | _Circle, k: int) -> None:
    from PIL import ImageDraw

    assert isinstance(draw, ImageDraw.ImageDraw)
    if isinstance(shape, _Line):
        points = [(x * k, y * k) for x, y in shape.points]
        width = max(1, round(shape.width * k))
        colour = _rgba(shape.stroke, shape.opacity)
        pieces = _dashes(points, shape.dash[0] * k, shape.dash[1] * k) if shape.dash else [points]
        for piece in pieces:
            draw.line(piece, fill=colour, width=width, joint="curve")
        return
    outline = _rgba(shape.stroke) if shape.stroke else None
    width = round(shape.stroke_width * k) if shape.stroke else 0
    if isinstance(shape, _Rect):
        x0, x1 = sorted((shape.x * k, (shape.x + shape.width) * k))
        y0, y1 = sorted((shape.y * k, (shape.y + shape.height) * k))
        draw.rectangle(
            (x0, y0, x1, y1), fill=_rgba(shape.fill, shape.opacity), outline=outline, width=width
        )
        return
    r = shape.radius * k
    box = (shape.x * k - r, shape.y * k - r, shape.x * k + r, shape.y * k + r)
    draw.ellipse(box, fill=_rgba(shape.fill, shape.opacity), outline=outline, width=width)


def _png_text(image: object, shape: _Text, k: int) -> None:
    from PIL import Image, ImageDraw, ImageFont

    assert isinstance(image, Image.Image)
    font = ImageFont.load_default(size=max(1, round(shape.size * k)))
    anchor = {"start": "l", "middle": "m", "end": "r"}[shape.anchor] + {
        "alphabetic": "s",
        "middle": "m",
        "hanging": "t",
    }[shape.baseline]
    if not shape.rotate:
        ImageDraw.Draw(image).text(
            (shape.x * k, shape.y * k), shape.text, font=font, fill=_rgba(shape.fill), anchor=anchor
        )
        return
    label_font = font.getbbox(shape.text, anchor="mm")
    label = Image.new(
        "RGBA",
        (int(label_font[2] - label_font[0]) + 4, int(label_font[3] - label_font[1]) + 4),
        (0, 0, 0, 0),
    )
    ImageDraw.Draw(label).text(
        (label.width / 2, label.height / 2), shape.text, font=font, fill=_rgba(shape.fill),
        anchor="mm",
    )  # fmt: skip
    turned = label.rotate(-shape.rotate, expand=True, resample=Image.Resampling.BICUBIC)
    # the text's centre sits off the anchor point by its baseline, turned with the text
    rise = {"alphabetic": -0.35, "middle": 0.0, "hanging": 0.5}[shape.baseline] * shape.size * k
    angle = math.radians(shape.rotate)
    cx = shape.x * k - rise * math.sin(angle)
    cy = shape.y * k + rise * math.cos(angle)
    image.alpha_composite(turned, (round(cx - turned.width / 2), round(cy - turned.height / 2)))


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering low..high."""
    if high <= low:
        return [low]
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


@dataclass(frozen=True)
class LegendEntry:
    label: str
    colour: str
    kind: Literal["patch", "line", "dashed", "marker_line", "marker"] = "patch"
    edge: str | None = None
    opacity: float = 1.0


@dataclass
class Axes:
    """A plot area of `canvas` at (`left`, `top`), `width` x `height` px, showing data
    `xlim` x `ylim` (x on a log scale when `xlog`)."""

    canvas: Canvas
    left: float
    top: float
    width: float
    height: float
    xlim: tuple[float, float] = (0.0, 1.0)
    ylim: tuple[float, float] = (0.0, 1.0)
    xlog: bool = False

    def x(self, value: float) -> float:
        low, high = self.xlim
        if self.xlog:
            value, low, high = math.log10(value), math.log10(low), math.log10(high)
        return self.left + (value - low) / (high - low) * self.width

    def y(self, value: float) -> float:
        low, high = self.ylim
        return self.top + self.height - (value - low) / (high - low) * self.height

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def frame(self, colour: str, *, sides: str = "lbtr", width: float = 1.0) -> None:
        edges = {
            "l": ((self.left, self.top), (self.left, self.bottom)),
            "b": ((self.left, self.bottom), (self.right, self.bottom)),
            "t": ((self.left, self.top), (self.right, self.top)),
            "r": ((self.right, self.top), (self.right, self.bottom)),
        }
        for side in sides:
            self.canvas.line(edges[side], colour, width=width)

    def xticks(
        self,
        values: Sequence[float],
        labels: Sequence[str] | None = None,
        *,
        size: float,
        colour: str,
        tick_colour: str | None = None,
        grid: str | None = None,
        length: float = 3.5,
    ) -> None:
        for i, value in enumerate(values):
            px = self.x(value)
            if grid:
                self.canvas.line(((px, self.top), (px, self.bottom)), grid, width=0.8)
            self.canvas.line(((px, self.bottom), (px, self.bottom + length)), tick_colour or colour)
            text = labels[i] if labels is not None else _number(value)
            self.canvas.text(
                px, self.bottom + length + 2, text, size=size, fill=colour, anchor="middle",
                baseline="hanging",
            )  # fmt: skip

    def yticks(
        self,
        values: Sequence[float],
        labels: Sequence[str] | None = None,
        *,
        size: float,
        colour: str,
        tick_colour: str | None = None,
        grid: str | None = None,
        length: float = 3.5,
    ) -> None:
        for i, value in enumerate(values):
            py = self.y(value)
            if grid:
                self.canvas.line(((self.left, py), (self.right, py)), grid, width=0.8)
            self.canvas.line(((self.left - length, py), (self.left, py)), tick_colour or colour)
            text = labels[i] if labels is not None else _number(value)
            self.canvas.text(
                self.left - length - 3, py, text, size=size, fill=colour, anchor="end",
                baseline="middle",
            )  # fmt: skip

    def xlabel(self, text: str, *, size: float, colour: str, offset: float) -> None:
        self.canvas.text(
            self.left + self.width / 2, self.bottom + offset, text, size=size, fill=colour,
            anchor="middle", baseline="hanging",
        )  # fmt: skip

    def ylabel(self, text: str, *, size: float, colour: str, offset: float) -> None:
        self.canvas.text(
            self.left - offset, self.top + self.height / 2, text, size=size, fill=colour,
            anchor="middle", baseline="alphabetic", rotate=-90,
        )  # fmt: skip

    def bar(
        self,
        x: float,
        width: float,
        value: float,
        fill: str,
        *,
        base: float = 0.0,
        stroke: str | None = None,
        opacity: float = 1.0,
    ) -> tuple[float, float, float]:
        """A vertical bar from `base` to `value`, `x`..`x + width` in data units; returns its
        top centre in pixels and its top in data units."""
        x0, x1 = self.x(x), self.x(x + width)
        y0, y1 = self.y(base), self.y(value)
        self.canvas.rect(
            x0, min(y0, y1), x1 - x0, abs(y1 - y0), fill, stroke=stroke, opacity=opacity
        )
        return (x0 + x1) / 2, min(y0, y1), value

    def plot(
        self,
        xs: Sequence[float],
        ys: Sequence[float],
        colour: str,
        *,
        width: float = 1.5,
        dash: tuple[float, float] | None = None,
        opacity: float = 1.0,
    ) -> None:
        self.canvas.line(
            [(self.x(a), self.y(b)) for a, b in zip(xs, ys, strict=True)],
            colour,
            width=width,
            dash=dash,
            opacity=opacity,
        )

    def legend(
        self,
        entries: Sequence[LegendEntry],
        *,
        size: float,
        colour: str,
        at: tuple[float, float],
        columns: int = 1,
        frame: str | None = None,
        centred: bool = False,
    ) -> None:
        """Entries in `columns` columns from `at` (its top left, or top centre when
        `centred`), each a swatch and a label."""
        self.canvas_legend(
            self.canvas, entries, size=size, colour=colour, at=at, columns=columns, frame=frame,
            centred=centred,
        )  # fmt: skip

    @staticmethod
    def canvas_legend(
        canvas: Canvas,
        entries: Sequence[LegendEntry],
        *,
        size: float,
        colour: str,
        at: tuple[float, float],
        columns: int = 1,
        frame: str | None = None,
        centred: bool = False,
    ) -> None:
        if not entries:
            return
        columns = max(1, min(columns, len(entries)))
        swatch, gap, row = 2 * size, 0.6 * size, 1.4 * size
        widths = [swatch + gap + text_width(e.label, size) + 1.5 * size for e in entries]
        column_widths = [
            max(widths[i] for i in range(c, len(entries), columns)) for c in range(columns)
        ]
        rows = math.ceil(len(entries) / columns)
        total_width = sum(column_widths) + 0.4 * size
        x0, y0 = at
        if centred:
            x0 -= total_width / 2
        if frame:
            canvas.rect(
                x0, y0, total_width, rows * row + 0.5 * size, "white", stroke=frame,
                stroke_width=0.8, opacity=0.8,
            )  # fmt: skip
        for i, entry in enumerate(entries):
            column, line = i % columns, i // columns
            x = x0 + 0.4 * size + sum(column_widths[:column])
            y = y0 + 0.25 * size + line * row + row / 2
            _swatch(canvas, entry, x, y, swatch, size)
            canvas.text(x + swatch + gap, y, entry.label, size=size, fill=colour, baseline="middle")


def _swatch(
    canvas: Canvas, entry: LegendEntry, x: float, y: float, width: float, size: float
) -> None:
    if entry.kind == "patch":
        canvas.rect(
            x, y - 0.35 * size, width, 0.7 * size, entry.colour, stroke=entry.edge,
            stroke_width=0.8, opacity=entry.opacity,
        )  # fmt: skip
        return
    if entry.kind != "marker":
        dash = (4.0, 2.0) if entry.kind == "dashed" else None
        canvas.line(((x, y), (x + width, y)), entry.colour, width=1.5, dash=dash)
    if entry.kind in ("marker", "marker_line"):
        canvas.circle(x + width / 2, y, 0.3 * size, entry.colour)
