"""Charts as `reportlab.graphics` drawings: one module for the web pages and the PDFs.

Every function takes data and labels (already translated by the caller) and returns a
`Drawing`; nothing here reads a database or knows a language. The web pages inline the
drawing as SVG with `to_svg`; the monthly PDF (issue 11) draws the same objects.

- `trend_chart`: a value per month with an optional dashed target line;
- `bar_chart`: vertical bars, e.g. a distribution in buckets;
- `scatter_chart`: labelled points on two axes, e.g. handle time vs FCR per agent;
- `horizontal_bars`: labelled bars, longest first as given, e.g. most-missed key points.

A missing value (None) leaves a gap rather than drawing a zero. Axis values are written
with the caller's `fmt`, so that numbers follow the reader's locale.
"""

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reportlab.graphics import renderSVG
from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors

Format = Callable[[float], str]

WIDTH = 520.0
HEIGHT = 240.0
FONT = "Helvetica"
# What a browser should use for the SVG text: the PDF font first, then fonts with Chinese.
SVG_FONTS = (
    "Helvetica, Arial, 'Noto Sans CJK SC', 'WenQuanYi Zen Hei', 'Microsoft YaHei', sans-serif"
)
INK = colors.HexColor("#1f2933")
GRID = colors.HexColor("#d9dee3")
SERIES = colors.HexColor("#2f6fb3")
TARGET = colors.HexColor("#c0392b")
MUTED = colors.HexColor("#7b8794")

MARGIN_LEFT = 56.0
MARGIN_RIGHT = 16.0
MARGIN_TOP = 28.0
MARGIN_BOTTOM = 40.0


def _plain(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True, slots=True)
class Point:
    """One labelled point of a scatter chart."""

    label: str
    x: float
    y: float


def text_width(text: str, size: float) -> float:
    """Roughly how wide `text` is at `size` points: wide (CJK) characters a full em,
    others about half of one. Good enough to keep labels apart without font metrics,
    which the PDF's standard fonts do not have for Chinese."""
    return sum(size if _wide(ch) else 0.55 * size for ch in text)


def _wide(ch: str) -> bool:
    return ord(ch) >= 0x2E80


def _clip(text: str, width: float, size: float) -> str:
    """`text` cut with an ellipsis to fit `width`."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _text(
    x: float,
    y: float,
    text: str,
    *,
    fontName: str = FONT,
    fontSize: float = 8,
    fillColor: colors.Color = INK,
    textAnchor: str = "start",
) -> String:
    """A reportlab String that also remembers where it is anchored for `to_svg`:
    reportlab shifts anchored SVG text by the width of the PDF font, which knows no
    Chinese; the browser places it right from `text-anchor` at the original x."""
    string = String(
        x, y, text, fontName=fontName, fontSize=fontSize, fillColor=fillColor, textAnchor=textAnchor
    )
    string._svgAttrs = {"data-x": f"{x:.2f}", "data-anchor": textAnchor}
    return string


def _padded(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    margin = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
    return low - margin, high + margin


def _nice_step(span: float, ticks: int) -> float:
    raw = span / max(1, ticks)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _axis(low: float, high: float, ticks: int = 5) -> tuple[float, float, list[float]]:
    """A rounded range covering [low, high] and its tick values."""
    if high <= low:
        high = low + 1.0
    step = _nice_step(high - low, ticks)
    start = math.floor(low / step) * step
    stop = math.ceil(high / step) * step
    values = []
    tick = start
    while tick <= stop + step / 2:
        values.append(round(tick, 10))
        tick += step
    return start, stop, values


def _frame(title: str, width: float, height: float) -> Drawing:
    drawing = Drawing(width, height)
    drawing.add(_text(MARGIN_LEFT, height - 16, title, fontName=FONT, fontSize=11, fillColor=INK))
    return drawing


def _y_grid(
    drawing: Drawing, ticks: list[float], scale: Callable[[float], float], fmt: Format, right: float
) -> None:
    for tick in ticks:
        y = scale(tick)
        drawing.add(Line(MARGIN_LEFT, y, right, y, strokeColor=GRID, strokeWidth=0.5))
        drawing.add(
            _text(
                MARGIN_LEFT - 4,
                y - 3,
                fmt(tick),
                fontName=FONT,
                fontSize=8,
                fillColor=MUTED,
                textAnchor="end",
            )
        )


def _empty(drawing: Drawing, message: str) -> Drawing:
    drawing.add(
        _text(
            drawing.width / 2,
            drawing.height / 2,
            message,
            fontName=FONT,
            fontSize=10,
            fillColor=MUTED,
            textAnchor="middle",
        )
    )
    return drawing


def trend_chart(
    points: Sequence[tuple[str, float | None]],
    *,
    title: str,
    empty_label: str,
    target: float | None = None,
    target_label: str = "",
    fmt: Format = _plain,
    y_range: tuple[float, float] | None = None,
    width: float = WIDTH,
    height: float = HEIGHT,
) -> Drawing:
    """A line through one value per period (e.g. six months), gaps where a value is None,
    with a dashed target line when `target` is given.

    Args:
        points: (period label, value) in order.
        title: the chart's heading.
        empty_label: what to write when no period has a value.
        target: the value to reach, drawn across the chart with `target_label`.
        fmt: how to write a value on the axis and beside each point.
        y_range: the axis range; default: the values and the target, rounded.
    """
    drawing = _frame(title, width, height)
    values = [v for _, v in points if v is not None]
    if not values:
        return _empty(drawing, empty_label)
    right = width - MARGIN_RIGHT
    bottom, top = MARGIN_BOTTOM, height - MARGIN_TOP
    seen = values + ([target] if target is not None else [])
    low, high, ticks = _axis(*(y_range or (min(seen), max(seen))))

    def y_of(value: float) -> float:
        return bottom + (value - low) / (high - low) * (top - bottom)

    _y_grid(drawing, ticks, y_of, fmt, right)
    slot = (right - MARGIN_LEFT) / max(1, len(points))
    xs = [MARGIN_LEFT + slot * (i + 0.5) for i in range(len(points))]
    for x, (label, _) in zip(xs, points, strict=True):
        drawing.add(
            _text(
                x,
                bottom - 14,
                _clip(label, slot - 2, 8),
                fontName=FONT,
                fontSize=8,
                fillColor=INK,
                textAnchor="middle",
            )
        )
    if target is not None:
        ty = y_of(target)
        drawing.add(
            Line(
                MARGIN_LEFT,
                ty,
                right,
                ty,
                strokeColor=TARGET,
                strokeWidth=1,
                strokeDashArray=[4, 3],
            )
        )
        drawing.add(
            _text(
                right,
                ty + 3,
                f"{target_label} {fmt(target)}".strip(),
                fontName=FONT,
                fontSize=8,
                fillColor=TARGET,
                textAnchor="end",
            )
        )
    run: list[float] = []
    for x, (_, value) in zip(xs, points, strict=True):
        if value is None:
            _polyline(drawing, run)
            run = []
            continue
        y = y_of(value)
        run += [x, y]
        drawing.add(Circle(x, y, 3, fillColor=SERIES, strokeColor=colors.white, strokeWidth=1))
        drawing.add(
            _text(
                x,
                y + 6,
                fmt(value),
                fontName=FONT,
                fontSize=8,
                fillColor=INK,
                textAnchor="middle",
            )
        )
    _polyline(drawing, run)
    return drawing


def _polyline(drawing: Drawing, run: list[float]) -> None:
    if len(run) >= 4:
        drawing.insert(1, PolyLine(run, strokeColor=SERIES, strokeWidth=2))


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    title: str,
    empty_label: str,
    fmt: Format = _plain,
    width: float = WIDTH,
    height: float = HEIGHT,
) -> Drawing:
    """Vertical bars, one per (label, value), e.g. the calls in each bucket of a
    distribution; each bar carries its value."""
    drawing = _frame(title, width, height)
    if not bars or not any(v for _, v in bars):
        return _empty(drawing, empty_label)
    right = width - MARGIN_RIGHT
    bottom, top = MARGIN_BOTTOM, height - MARGIN_TOP
    low, high, ticks = _axis(0.0, max(v for _, v in bars))

    def y_of(value: float) -> float:
        return bottom + (value - low) / (high - low) * (top - bottom)

    _y_grid(drawing, ticks, y_of, fmt, right)
    slot = (right - MARGIN_LEFT) / len(bars)
    for i, (label, value) in enumerate(bars):
        x = MARGIN_LEFT + slot * i
        bar_top = y_of(value)
        drawing.add(
            Rect(
                x + slot * 0.1,
                bottom,
                slot * 0.8,
                bar_top - bottom,
                fillColor=SERIES,
                strokeColor=None,
            )
        )
        middle = x + slot / 2
        drawing.add(
            _text(
                middle,
                bar_top + 3,
                fmt(value),
                fontName=FONT,
                fontSize=8,
                fillColor=INK,
                textAnchor="middle",
            )
        )
        drawing.add(
            _text(
                middle,
                bottom - 14,
                _clip(label, slot - 2, 8),
                fontName=FONT,
                fontSize=8,
                fillColor=INK,
                textAnchor="middle",
            )
        )
    return drawing


def scatter_chart(
    points: Sequence[Point],
    *,
    title: str,
    x_label: str,
    y_label: str,
    empty_label: str,
    x_fmt: Format = _plain,
    y_fmt: Format = _plain,
    y_range: tuple[float, float] | None = None,
    width: float = WIDTH,
    height: float = 300.0,
) -> Drawing:
    """Labelled points, e.g. one per agent at (handle time, FCR): fast agents whose
    customers call back stand apart from the rest. `y_range` fixes the vertical axis
    (0 to 1 for shares); by default both axes span the points with a margin."""
    drawing = _frame(title, width, height)
    if not points:
        return _empty(drawing, empty_label)
    right = width - MARGIN_RIGHT
    bottom, top = MARGIN_BOTTOM + 8, height - MARGIN_TOP - 12
    # A margin around the points, so that none sits on the frame with its label cut.
    x_low, x_high, x_ticks = _axis(*_padded([p.x for p in points]))
    y_low, y_high, y_ticks = _axis(*(y_range or _padded([p.y for p in points])))

    def x_of(value: float) -> float:
        return MARGIN_LEFT + (value - x_low) / (x_high - x_low) * (right - MARGIN_LEFT)

    def y_of(value: float) -> float:
        return bottom + (value - y_low) / (y_high - y_low) * (top - bottom)

    _y_grid(drawing, y_ticks, y_of, y_fmt, right)
    for tick in x_ticks:
        x = x_of(tick)
        drawing.add(Line(x, bottom, x, top, strokeColor=GRID, strokeWidth=0.5))
        drawing.add(
            _text(
                x,
                bottom - 12,
                x_fmt(tick),
                fontName=FONT,
                fontSize=8,
                fillColor=MUTED,
                textAnchor="middle",
            )
        )
    drawing.add(
        _text(
            (MARGIN_LEFT + right) / 2,
            6,
            x_label,
            fontName=FONT,
            fontSize=9,
            fillColor=INK,
            textAnchor="middle",
        )
    )
    drawing.add(_text(MARGIN_LEFT, top + 4, y_label, fontName=FONT, fontSize=9, fillColor=INK))
    for point in points:
        x, y = x_of(point.x), y_of(point.y)
        drawing.add(Circle(x, y, 3.5, fillColor=SERIES, strokeColor=colors.white, strokeWidth=1))
        # Labels on the side with more room, so those at the right edge stay inside.
        anchor, dx = ("end", -5.0) if x > (MARGIN_LEFT + right) / 2 else ("start", 5.0)
        drawing.add(
            _text(
                x + dx,
                y + 2,
                _clip(point.label, 120, 8),
                fontName=FONT,
                fontSize=8,
                fillColor=INK,
                textAnchor=anchor,
            )
        )
    return drawing


def horizontal_bars(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    empty_label: str,
    fmt: Format = _plain,
    maximum: float | None = None,
    width: float = WIDTH,
    bar_height: float = 16.0,
) -> Drawing:
    """One labelled horizontal bar per row, in the order given (e.g. the most-missed key
    points first), each with its value; `maximum` fixes the scale (1 for shares)."""
    label_width = 170.0
    height = MARGIN_TOP + 12 + max(1, len(rows)) * (bar_height + 6)
    drawing = _frame(title, width, height)
    if not rows:
        return _empty(drawing, empty_label)
    top = height - MARGIN_TOP
    left = 8 + label_width
    span = width - MARGIN_RIGHT - 40 - left
    scale = maximum or max(v for _, v in rows) or 1.0
    for i, (label, value) in enumerate(rows):
        y = top - (i + 1) * (bar_height + 6)
        length = max(0.0, min(1.0, value / scale)) * span
        drawing.add(
            _text(
                left - 6,
                y + bar_height / 2 - 3,
                _clip(label, label_width - 8, 9),
                fontName=FONT,
                fontSize=9,
                fillColor=INK,
                textAnchor="end",
            )
        )
        drawing.add(
            Rect(left, y, span, bar_height, fillColor=colors.HexColor("#eef1f4"), strokeColor=None)
        )
        drawing.add(Rect(left, y, length, bar_height, fillColor=SERIES, strokeColor=None))
        drawing.add(
            _text(
                left + length + 4,
                y + bar_height / 2 - 3,
                fmt(value),
                fontName=FONT,
                fontSize=8,
                fillColor=INK,
            )
        )
    return drawing


_STYLE_DECLARATION = re.compile(r"\s*([a-zA-Z-]+)\s*:\s*([^;]+?)\s*(?:;|$)")
SVG_NS = "http://www.w3.org/2000/svg"


def to_svg(drawing: Drawing, *, label: str | None = None) -> str:
    """The drawing as an `<svg>` element to inline in a page.

    reportlab writes an XML prolog, a doctype, `style` attributes and fixed element ids;
    a page's Content-Security-Policy refuses `style` attributes and two charts on one
    page would share the ids. So the prolog goes, each style declaration becomes the
    presentation attribute of the same name, the clip path (the drawing's own bounds,
    which the viewBox already clips to) and the ids go, and the text is written back
    escaped by the XML serializer. `label` becomes the chart's accessible name.
    """
    raw = renderSVG.drawToString(drawing)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    root = ET.fromstring(raw.encode("utf-8"))
    for parent in root.iter():
        for child in list(parent):
            tag = child.tag.rsplit("}", 1)[-1]
            if tag in ("clipPath", "title", "desc"):
                parent.remove(child)
    for element in root.iter():
        element.attrib.pop("id", None)
        anchor = element.attrib.pop("data-anchor", None)
        x = element.attrib.pop("data-x", None)
        if anchor is not None and x is not None:
            element.set("x", x)
            if anchor != "start":
                element.set("text-anchor", anchor)
        style = element.attrib.pop("style", None)
        if style:
            for name, value in _STYLE_DECLARATION.findall(style):
                if name == "clip-path":
                    continue
                if name == "font-family":
                    value = SVG_FONTS
                elif value == "None":
                    # reportlab writes Python's None for "no fill"; SVG says "none".
                    value = "none"
                element.set(name, value)
    root.set("role", "img")
    root.set("class", "chart")
    if label:
        root.set("aria-label", label)
        title = ET.Element(f"{{{SVG_NS}}}title")
        title.text = label
        root.insert(0, title)
    for name in ("width", "height"):
        root.attrib.pop(name, None)
    return ET.tostring(root, encoding="unicode")
