"""Charts: drawings in, inline SVG out, with every label and point where it belongs."""

import xml.etree.ElementTree as ET

from reports.charts import (
    Point,
    bar_chart,
    horizontal_bars,
    scatter_chart,
    to_svg,
    trend_chart,
)

NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]


def percent(value: float) -> str:
    return f"{value:.0%}"


def test_svg_is_inlineable_without_prolog_style_or_ids() -> None:
    svg = to_svg(
        trend_chart(
            [("6月", 0.5), ("7月", 0.6)], title="首次解决率", empty_label="无数据", fmt=percent
        ),
        label="首次解决率趋势",
    )
    assert svg.startswith("<svg")
    assert "<?xml" not in svg and "DOCTYPE" not in svg
    # The page's CSP refuses style attributes; two charts on a page must not share ids.
    assert "style=" not in svg and " id=" not in svg
    assert 'fill="None"' not in svg
    root = parse(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "首次解决率趋势"
    assert root.find("svg:title", NS) is not None


def test_trend_chart_points_target_and_gaps() -> None:
    points = [("2026-06", 0.5), ("2026-07", None), ("2026-08", 0.7), ("2026-09", 0.75)]
    drawing = trend_chart(
        points,
        title="FCR",
        empty_label="no data",
        target=0.8,
        target_label="target",
        fmt=percent,
    )
    root = parse(to_svg(drawing))
    labels = texts(root)
    for month, _ in points:
        assert month in labels
    assert "target 80%" in labels
    # One marker per known value; the missing month is a gap, not a zero.
    circles = root.findall(".//svg:circle", NS)
    assert len(circles) == 3
    # Each point carries its value (the 75% is no axis tick: it can only be the point's).
    assert "75%" in labels
    # The line after the gap joins only the two later months.
    polylines = root.findall(".//svg:polyline", NS)
    assert len(polylines) == 1
    assert polylines[0].get("fill") == "none"
    higher = [float(c.get("cy") or 0) for c in circles]
    assert higher[0] < higher[1] < higher[2]


def test_empty_chart_says_so() -> None:
    root = parse(to_svg(trend_chart([("1月", None)], title="趋势", empty_label="暂无数据")))
    assert "暂无数据" in texts(root)
    assert root.findall(".//svg:circle", NS) == []


def test_text_is_escaped_and_chinese_survives() -> None:
    svg = to_svg(
        bar_chart([("<0:30 & up", 3), ("张伟", 5)], title='处理时长 "分布" <b>', empty_label="-")
    )
    assert "<b>" not in svg
    labels = texts(parse(svg))
    assert '处理时长 "分布" <b>' in labels
    assert "<0:30 & up" in labels and "张伟" in labels


def test_bar_chart_heights_follow_values() -> None:
    root = parse(to_svg(bar_chart([("a", 2), ("b", 6), ("c", 0)], title="t", empty_label="-")))
    # Bars are paths of rectangles after the grid; the tallest bar belongs to "b".
    labels = texts(root)
    assert {"2", "6", "0"} <= set(labels)
    assert {"a", "b", "c"} <= set(labels)


def test_anchored_text_keeps_its_x_for_the_browser() -> None:
    root = parse(
        to_svg(
            horizontal_bars(
                [("核实身份", 0.4), ("greeting", 0.1)], title="漏项", empty_label="-", fmt=percent
            )
        )
    )
    label = next(t for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text == "核实身份")
    assert label.get("text-anchor") == "end"
    assert float(label.get("x") or 0) > 100
    assert not any(k.startswith("data-") for t in root.iter() for k in t.attrib)


def test_horizontal_bars_in_given_order_with_values() -> None:
    rows = [("核实身份", 0.4), ("问候", 0.25), ("closing", 0.1)]
    root = parse(
        to_svg(horizontal_bars(rows, title="t", empty_label="-", fmt=percent, maximum=1.0))
    )
    labels = texts(root)
    assert [t for t in labels if t in ("核实身份", "问候", "closing")] == [r[0] for r in rows]
    assert {"40%", "25%", "10%"} <= set(labels)


def test_scatter_labels_every_point() -> None:
    points = [Point("王小明", 300, 0.7), Point("Ana", 520, 0.9), Point("李雷", 180, 0.55)]
    root = parse(
        to_svg(
            scatter_chart(
                points,
                title="处理时长与首次解决率",
                x_label="平均处理时长",
                y_label="首次解决率",
                empty_label="-",
                y_fmt=percent,
            )
        )
    )
    labels = texts(root)
    for point in points:
        assert point.label in labels
    assert "平均处理时长" in labels and "首次解决率" in labels
    circles = root.findall(".//svg:circle", NS)
    assert len(circles) == 3
    xs = [float(c.get("cx") or 0) for c in circles]
    # The fastest agent (李雷) is leftmost, the slowest (Ana) rightmost.
    assert xs[2] < xs[0] < xs[1]
