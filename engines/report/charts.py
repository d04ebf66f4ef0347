"""The report's charts as reportlab vector drawings (no Qt, no raster images): latency
distributions side by side, p50/p99 bars grouped by device, and the latency-vs-accuracy
Pareto scatter. Every run keeps one colour across the charts, named in a legend."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from reportlab.graphics.shapes import Circle, Drawing, Group, Line, Polygon, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from engines.floor.units import ms
from engines.report.axes import Scale, padded_range, tick_label, wants_log
from engines.report.collect import ReportRun
from engines.report.figures import accuracy, numbers, pareto_frontier
from engines.report.palette import RUN_COLOURS

FONT = "Helvetica"
FONT_BOLD = "Helvetica-Bold"
TICK_PT = 7.5
LABEL_PT = 8.5
GRID = colors.HexColor("#dddddd")
AXIS = colors.HexColor("#444444")


def run_colour(index: int) -> Any:
    return colors.HexColor(RUN_COLOURS[index % len(RUN_COLOURS)])


def fit(text: str, width_pt: float, size: float = TICK_PT, font: str = FONT) -> str:
    """`text`, shortened with an ellipsis until it fits `width_pt`."""
    if stringWidth(text, font, size) <= width_pt:
        return text
    while text and stringWidth(text + "…", font, size) > width_pt:
        text = text[:-1]
    return text + "…"


def _y_axis(d: Drawing, scale: Scale, x_pt: float, x_end_pt: float, label: str) -> None:
    for tick in scale.ticks():
        y = scale(tick)
        d.add(Line(x_pt, y, x_end_pt, y, strokeColor=GRID, strokeWidth=0.5))
        d.add(
            String(
                x_pt - 4,
                y - 2.5,
                tick_label(tick),
                fontName=FONT,
                fontSize=TICK_PT,
                textAnchor="end",
            )
        )
    d.add(Line(x_pt, scale.start_pt, x_pt, scale.end_pt, strokeColor=AXIS, strokeWidth=0.8))
    title = String(0, 0, label, fontName=FONT, fontSize=LABEL_PT, textAnchor="middle")
    group = Group(title)
    group.translate(10, (scale.start_pt + scale.end_pt) / 2)
    group.rotate(90)
    d.add(group)


def _x_axis(d: Drawing, scale: Scale, y_pt: float, y_end_pt: float, label: str) -> None:
    for tick in scale.ticks():
        x = scale(tick)
        d.add(Line(x, y_pt, x, y_end_pt, strokeColor=GRID, strokeWidth=0.5))
        d.add(
            String(
                x, y_pt - 10, tick_label(tick), fontName=FONT, fontSize=TICK_PT, textAnchor="middle"
            )
        )
    d.add(Line(scale.start_pt, y_pt, scale.end_pt, y_pt, strokeColor=AXIS, strokeWidth=0.8))
    d.add(
        String(
            (scale.start_pt + scale.end_pt) / 2,
            y_pt - 24,
            label,
            fontName=FONT,
            fontSize=LABEL_PT,
            textAnchor="middle",
        )
    )


def _run_tag(position: int) -> str:
    return f"#{position + 1}"


def legend(
    d: Drawing,
    items: Sequence[ReportRun],
    x_pt: float,
    top_pt: float,
    width_pt: float,
    columns: int = 3,
) -> None:
    """Swatch, #n and the run's label, in columns under (or beside) the plot."""
    column_pt = width_pt / columns
    for position, item in enumerate(items):
        row, column = divmod(position, columns)
        x, y = x_pt + column * column_pt, top_pt - row * 11
        d.add(Rect(x, y - 1, 7, 7, fillColor=run_colour(position), strokeColor=None))
        text = f"{_run_tag(position)}  run {item.run.id}: {item.label}"
        d.add(String(x + 10, y, fit(text, column_pt - 16), fontName=FONT, fontSize=TICK_PT))


def legend_height(count: int, columns: int = 3) -> float:
    return 11 * math.ceil(count / columns)


def _density(values: Any, grid: Any) -> Any:
    """Gaussian kernel density on `grid` (Silverman's bandwidth), from a histogram so a
    run of 100k samples costs the same as one of 100."""
    import numpy as np

    std = float(np.std(values))
    iqr = float(np.subtract(*np.percentile(values, [75, 25])))
    spread = min(std, iqr / 1.34) if iqr > 0 else std
    bandwidth = 0.9 * (spread or abs(float(np.mean(values))) * 0.01 or 1e-6) * len(values) ** -0.2
    counts, edges = np.histogram(values, bins=256)
    centres = (edges[:-1] + edges[1:]) / 2
    diff = (grid[:, None] - centres[None, :]) / bandwidth
    return (np.exp(-0.5 * diff**2) * counts[None, :]).sum(axis=1)


def distributions(items: Sequence[ReportRun], width_pt: float, height_pt: float = 165) -> Drawing:
    """One violin per run (min to p99, a thin line on to max) with the p50 marked."""
    import numpy as np

    legend_pt = legend_height(len(items))
    d = Drawing(width_pt, height_pt + legend_pt + 8)
    bottom, left, top = legend_pt + 30, 52, legend_pt + 8 + height_pt - 8
    stats = [numbers(i.run) for i in items]
    lows = [
        float(min(i.samples_ms)) if i.samples_ms else s["p50_ms"] or 1.0
        for i, s in zip(items, stats, strict=True)
    ]
    highs = [s["p99_ms"] or s["p50_ms"] or 1.0 for s in stats]
    log = wants_log([*lows, *highs])
    lo, hi = padded_range([*lows, *highs], log)
    if not log:
        lo = 0.0
    scale = Scale(lo, hi, log, bottom, top)
    _y_axis(d, scale, left, width_pt, "latency per inference (ms)" + (", log scale" if log else ""))
    slot = (width_pt - left) / max(len(items), 1)
    half = min(slot * 0.42, 40)
    for position, (item, st) in enumerate(zip(items, stats, strict=True)):
        centre = left + slot * (position + 0.5)
        colour = run_colour(position)
        d.add(
            String(
                centre,
                bottom - 12,
                _run_tag(position),
                fontName=FONT_BOLD,
                fontSize=TICK_PT,
                textAnchor="middle",
            )
        )
        if len(item.samples_ms) < 2:
            continue
        values = np.asarray(item.samples_ms, dtype=float)
        body = values[values <= (st["p99_ms"] or values.max())]
        t = np.log10(body) if log else body
        grid = np.linspace(t.min(), t.max(), 64)
        density = _density(t, grid)
        widths = density / density.max() * half if density.max() > 0 else density
        ys = [scale(10**g if log else g) for g in grid]
        points = [(centre + w, y) for w, y in zip(widths, ys, strict=True)]
        points += [(centre - w, y) for w, y in reversed(list(zip(widths, ys, strict=True)))]
        d.add(
            Polygon(
                [c for p in points for c in p],
                fillColor=colour,
                strokeColor=colour,
                strokeWidth=0.5,
                fillOpacity=0.55,
            )
        )
        vmax = float(values.max())
        d.add(
            Line(
                centre,
                scale(st["p99_ms"] or vmax),
                centre,
                scale(min(vmax, hi)),
                strokeColor=colour,
                strokeWidth=0.8,
            )
        )
        if vmax > hi:  # the slowest run is off the chart: say how slow
            d.add(
                String(
                    centre,
                    top + 1,
                    f"max {ms(vmax)}",
                    fontName=FONT,
                    fontSize=6.5,
                    textAnchor="middle",
                )
            )
        for key, tick_half in (("p50_ms", half * 0.9), ("p99_ms", half * 0.45)):
            value = st[key]
            if value is not None:
                y = scale(value)
                d.add(
                    Line(
                        centre - tick_half,
                        y,
                        centre + tick_half,
                        y,
                        strokeColor=colors.black,
                        strokeWidth=1.4 if key == "p50_ms" else 0.7,
                    )
                )
    legend(d, items, left, legend_pt - 2, width_pt - left)
    return d


def latency_bars(items: Sequence[ReportRun], width_pt: float, height_pt: float = 150) -> Drawing:
    """p50 and p99 per run, the runs grouped by device (device name under its group)."""
    legend_pt = legend_height(len(items))
    d = Drawing(width_pt, height_pt + legend_pt + 22)
    bottom, left, top = legend_pt + 44, 52, legend_pt + 22 + height_pt - 8
    devices = list(dict.fromkeys(i.run.device for i in items))
    order = [(dev, p) for dev in devices for p, i in enumerate(items) if i.run.device == dev]
    stats = [numbers(i.run) for i in items]
    values = [v for s in stats for v in (s["p50_ms"], s["p99_ms"]) if v]
    log = wants_log(values)
    lo, hi = padded_range(values or [1.0], log)
    if not log:
        lo = 0.0
    scale = Scale(lo, hi, log, bottom, top)
    _y_axis(d, scale, left, width_pt, "latency (ms)" + (", log scale" if log else ""))
    gap = 14.0
    slot = (width_pt - left - gap * len(devices)) / max(len(order), 1)
    bar = min(slot * 0.38, 22)
    x = left + gap / 2
    for dev in devices:
        start = x
        for device, position in order:
            if device != dev:
                continue
            st, colour = stats[position], run_colour(position)
            centre = x + slot / 2
            for key, offset, alpha in (("p50_ms", -bar, 1.0), ("p99_ms", 0.0, 0.45)):
                value = st[key]
                if value:
                    y = scale(value)
                    d.add(
                        Rect(
                            centre + offset,
                            bottom,
                            bar,
                            max(y - bottom, 0.5),
                            fillColor=colour,
                            fillOpacity=alpha,
                            strokeColor=colour,
                            strokeWidth=0.6,
                        )
                    )
            d.add(
                String(
                    centre,
                    bottom - 10,
                    _run_tag(position),
                    fontName=FONT_BOLD,
                    fontSize=TICK_PT,
                    textAnchor="middle",
                )
            )
            x += slot
        d.add(Line(start + 2, bottom - 15, x - 2, bottom - 15, strokeColor=AXIS, strokeWidth=0.6))
        d.add(
            String(
                (start + x) / 2,
                bottom - 25,
                fit(f"device: {dev}", x - start),
                fontName=FONT,
                fontSize=LABEL_PT,
                textAnchor="middle",
            )
        )
        x += gap
    key_x = width_pt - 150
    d.add(Rect(key_x, top + 2, 8, 7, fillColor=colors.grey, strokeColor=colors.grey))
    d.add(String(key_x + 11, top + 3, "p50 (solid)", fontName=FONT, fontSize=TICK_PT))
    d.add(
        Rect(
            key_x + 70,
            top + 2,
            8,
            7,
            fillColor=colors.grey,
            fillOpacity=0.45,
            strokeColor=colors.grey,
        )
    )
    d.add(String(key_x + 81, top + 3, "p99 (light)", fontName=FONT, fontSize=TICK_PT))
    legend(d, items, left, legend_pt - 2, width_pt - left)
    return d


def pareto(
    items: Sequence[ReportRun], kind: str, width_pt: float, height_pt: float = 200
) -> Drawing | None:
    """p50 against accuracy for the evaluated runs; the frontier joins the runs no other
    run beats on both. None when no run has the accuracy figure."""
    points = []
    for position, item in enumerate(items):
        acc, p50 = accuracy(item.run, kind), numbers(item.run)["p50_ms"]
        if acc and p50:
            points.append((position, p50, acc.percent if kind == "top1" else acc.value))
    if not points:
        return None
    legend_pt = legend_height(len(items))
    d = Drawing(width_pt, height_pt + legend_pt + 8)
    bottom, left, top, right = legend_pt + 40, 60, legend_pt + 8 + height_pt - 8, width_pt - 12
    xs, ys = [p[1] for p in points], [p[2] for p in points]
    log = wants_log(xs)
    x_lo, x_hi = padded_range(xs, log)
    y_span = (max(ys) - min(ys)) or max(abs(max(ys)) * 0.01, 1e-4)
    y_scale = Scale(min(ys) - y_span * 0.15, max(ys) + y_span * 0.15, False, bottom, top)
    x_scale = Scale(x_lo, x_hi, log, left, right)
    y_label = "top-1 accuracy (%)" if kind == "top1" else "fidelity: cosine mean to FP32"
    _y_axis(d, y_scale, left, right, y_label)
    _x_axis(
        d,
        x_scale,
        bottom,
        top,
        "p50 latency (ms)"
        + (", log scale" if log else "")
        + " · lower is faster, higher is more accurate",
    )
    front = pareto_frontier([(p[1], p[2]) for p in points])
    if len(front) > 1:
        line = [c for i in front for c in (x_scale(points[i][1]), y_scale(points[i][2]))]
        d.add(PolyLine(line, strokeColor=AXIS, strokeWidth=0.8, strokeDashArray=[3, 2]))
    on_front = set(front)
    for index, (position, x, y) in enumerate(points):
        px, py = x_scale(x), y_scale(y)
        d.add(
            Circle(
                px,
                py,
                4.2 if index in on_front else 3.2,
                fillColor=run_colour(position),
                strokeColor=colors.black if index in on_front else None,
                strokeWidth=0.7,
            )
        )
        d.add(String(px + 6, py + 3, _run_tag(position), fontName=FONT_BOLD, fontSize=TICK_PT))
    legend(d, items, left, legend_pt - 2, right - left)
    return d
