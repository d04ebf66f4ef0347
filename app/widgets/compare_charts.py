"""Charts of the Compare page: p50/p99 bars with the median's 95% CI, latency distributions
side by side, and accuracy against latency with the Pareto frontier.

Each run keeps one colour in every chart and in the legend strip above them, so a reader
follows a run across charts without a legend inside the plots covering data.
Preview alone: `python -m app.widgets.compare_charts`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engines.report.comparison import device_name, spans_devices, trade_off_points
from engines.report.figures import pareto_frontier
from engines.report.palette import RUN_COLOURS
from engines.store.db import RunRow

BAR_WIDTH = 0.36
VIOLIN_HALF_WIDTH = 0.4
VIOLIN_BINS = 40


def run_colour(index: int) -> QColor:
    return QColor(RUN_COLOURS[index % len(RUN_COLOURS)])


def short_name(run: RunRow) -> str:
    return f"run {run.id}"


def tick_label(run: RunRow, with_device: bool) -> str:
    """Under a bar: the run, and its device when the runs come from several."""
    return f"{short_name(run)}\n{device_name(run)}" if with_device else short_name(run)


def density_outline(samples_ms: Sequence[float], top_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """(latency bin centres, density normalised to a peak of 1) over [min, top_ms].

    The outline stops at `top_ms` (the p99) so one slow outlier does not squash the
    shape into a single bin; the chart draws a thin line from there to the max.
    """
    values = np.asarray(samples_ms, dtype=float)
    low = float(values.min())
    high = max(float(top_ms), low + 1e-9)
    counts, edges = np.histogram(values, bins=VIOLIN_BINS, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    peak = counts.max()
    density = counts / peak if peak > 0 else counts.astype(float)
    return centres, density


class CompareCharts(QWidget):
    """Three plots over the same runs; `set_runs` redraws them all."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.legend_strip = QLabel()
        self.legend_strip.setWordWrap(True)
        self.legend_strip.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.legend_strip)
        row = QHBoxLayout()
        layout.addLayout(row, 1)
        self.latency_plot = self._plot(
            row,
            "p50 and p99 latency",
            "Solid: p50, whiskers: the median's 95% confidence interval. Light: p99.",
        )
        self.distribution_plot = self._plot(
            row,
            "Latency distribution",
            "Density of the timed runs up to p99, each scaled to its own peak; "
            "bar: p50; thin line: the tail beyond p99 (clipped).",
        )
        self.trade_off_plot = self._plot(
            row,
            "Accuracy vs latency",
            "Marker area follows the model size; dashed line: the Pareto frontier "
            "(no other run is both faster and more accurate).",
        )
        self.latency_plot.setLabel("left", "latency", units="ms")
        self.distribution_plot.setLabel("left", "latency", units="ms")
        self.trade_off_plot.setLabel("bottom", "p50 latency", units="ms")
        #: Run ids in bar-group order (one group of p50 + p99 per run), for tests and tips.
        self.bar_groups: list[int] = []
        #: Run ids on the Pareto frontier, by increasing latency.
        self.frontier_ids: list[int] = []

    def _plot(self, row: QHBoxLayout, title: str, caption: str) -> pg.PlotWidget:
        """A plot in the page's colours with its title and a wrapped caption under it
        (a caption, not a long title: titles do not wrap and would widen the plot)."""
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        column = QVBoxLayout()
        column.setSpacing(2)
        plot = pg.PlotWidget(background=palette.color(QPalette.ColorRole.Base))
        plot.setMinimumSize(240, 200)
        plot.setTitle(title, size="10pt", color=text)
        plot.showGrid(y=True, alpha=0.25)
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(text)
            axis.setTextPen(text)
            # No SI prefix: milliseconds stay "ms" instead of turning into "s" or "µs".
            axis.enableAutoSIPrefix(False)
        label = QLabel(caption)
        label.setWordWrap(True)
        label.setStyleSheet("color: palette(placeholder-text);")
        column.addWidget(plot, 1)
        column.addWidget(label)
        row.addLayout(column, 1)
        return plot

    # ------------------------------------------------------------------ drawing

    def set_runs(self, runs: Sequence[RunRow], samples_ms: Mapping[int, Sequence[float]]) -> None:
        """Draw `runs` (in column order); `samples_ms` maps run id to its raw samples."""
        measured = [run for run in runs if run.statistics and run.statistics.get("p50_ms")]
        colours = {run.id: run_colour(index) for index, run in enumerate(runs)}
        self._draw_legend(runs, colours)
        with_device = spans_devices(measured)
        ticks = [[(i, tick_label(run, with_device)) for i, run in enumerate(measured)]]
        # Two-line labels need a taller axis than pyqtgraph's one-line default (None).
        height = QFontMetrics(self.font()).lineSpacing() * 2 + 12 if with_device else None
        for plot in (self.latency_plot, self.distribution_plot):
            plot.getAxis("bottom").setHeight(height)
        self._draw_bars(measured, colours, ticks)
        self._draw_distributions(measured, colours, ticks, samples_ms)
        self._draw_trade_off(measured, colours)

    def _draw_legend(self, runs: Sequence[RunRow], colours: Mapping[int, QColor]) -> None:
        parts = [
            f'<span style="color:{colours[run.id].name()}">&#9632;</span>&nbsp;'
            f"<b>{short_name(run)}</b>&nbsp;"
            + html.escape(f"{run.model_label} · {run.runtime} · {device_name(run)}")
            for run in runs
        ]
        self.legend_strip.setText("&nbsp;&nbsp;&nbsp; ".join(parts))

    def _draw_bars(
        self,
        runs: Sequence[RunRow],
        colours: Mapping[int, QColor],
        ticks: list[list[tuple[int, str]]],
    ) -> None:
        plot = self.latency_plot
        plot.clear()
        self.bar_groups = [run.id for run in runs]
        if not runs:
            return
        stats = [run.statistics or {} for run in runs]
        x = np.arange(len(runs), dtype=float)
        p50 = np.array([s["p50_ms"] for s in stats], dtype=float)
        p99 = np.array([s.get("p99_ms") or s["p50_ms"] for s in stats], dtype=float)
        solid = [colours[run.id] for run in runs]
        light = [QColor(c.red(), c.green(), c.blue(), 90) for c in solid]
        plot.addItem(
            pg.BarGraphItem(
                x=x - BAR_WIDTH / 2, height=p50, width=BAR_WIDTH, brushes=solid, pens=solid
            )
        )
        plot.addItem(
            pg.BarGraphItem(
                x=x + BAR_WIDTH / 2, height=p99, width=BAR_WIDTH, brushes=light, pens=solid
            )
        )
        ci = [s.get("median_ci95_ms") or [s["p50_ms"], s["p50_ms"]] for s in stats]
        text = self.palette().color(QPalette.ColorRole.WindowText)
        plot.addItem(
            pg.ErrorBarItem(
                x=x - BAR_WIDTH / 2,
                y=p50,
                top=np.array([hi for _lo, hi in ci]) - p50,
                bottom=p50 - np.array([lo for lo, _hi in ci]),
                beam=BAR_WIDTH * 0.5,
                pen=pg.mkPen(text, width=1.5),
            )
        )
        plot.getAxis("bottom").setTicks(ticks)
        plot.setXRange(-0.6, len(runs) - 0.4, padding=0)
        plot.setYRange(0, float(max(p99.max(), p50.max())) * 1.08, padding=0)

    def _draw_distributions(
        self,
        runs: Sequence[RunRow],
        colours: Mapping[int, QColor],
        ticks: list[list[tuple[int, str]]],
        samples_ms: Mapping[int, Sequence[float]],
    ) -> None:
        plot = self.distribution_plot
        plot.clear()
        text = self.palette().color(QPalette.ColorRole.WindowText)
        highest = 0.0
        for index, run in enumerate(runs):
            samples = samples_ms.get(run.id) or []
            stats = run.statistics or {}
            if not samples:
                continue
            colour = colours[run.id]
            top = float(stats.get("p99_ms") or max(samples))
            centres, density = density_outline(samples, top)
            half = density * VIOLIN_HALF_WIDTH
            path = QPainterPath()
            path.moveTo(index - half[0], centres[0])
            for y, w in zip(centres[1:], half[1:], strict=True):
                path.lineTo(index - w, y)
            for y, w in zip(centres[::-1], half[::-1], strict=True):
                path.lineTo(index + w, y)
            path.closeSubpath()
            shape = QGraphicsPathItem(path)
            pen = QPen(colour, 1.5)
            pen.setCosmetic(True)  # the view scales the item; keep the outline 1.5 px
            shape.setPen(pen)
            shape.setBrush(QColor(colour.red(), colour.green(), colour.blue(), 110))
            plot.addItem(shape)
            # The tail beyond p99: a thin line to the slowest sample.
            slowest = float(max(samples))
            plot.plot([index, index], [top, slowest], pen=pg.mkPen(colour, width=1))
            median = float(stats.get("p50_ms") or np.median(samples))
            plot.plot(
                [index - VIOLIN_HALF_WIDTH * 0.6, index + VIOLIN_HALF_WIDTH * 0.6],
                [median, median],
                pen=pg.mkPen(text, width=2),
            )
            # Scale to the p99s: a single slow outlier would squash every violin flat (its
            # tail line is clipped at the top; the p99 bar chart and the table show it).
            highest = max(highest, top)
        plot.getAxis("bottom").setTicks(ticks)
        plot.setXRange(-0.6, max(len(runs), 1) - 0.4, padding=0)
        if highest > 0:
            plot.setYRange(0, highest * 1.25, padding=0)

    def _draw_trade_off(self, runs: Sequence[RunRow], colours: Mapping[int, QColor]) -> None:
        plot = self.trade_off_plot
        plot.clear()
        label, points = trade_off_points(runs)
        plot.setLabel("left", label or "accuracy (no evaluation stored)")
        self.frontier_ids = []
        if not points:
            return
        largest = max((p.model_file_bytes or 0) for p in points) or 1.0
        text = self.palette().color(QPalette.ColorRole.WindowText)
        frontier = pareto_frontier([(p.p50_ms, p.accuracy) for p in points])
        self.frontier_ids = [points[i].run.id for i in frontier]
        if len(frontier) > 1:
            plot.plot(
                [points[i].p50_ms for i in frontier],
                [points[i].accuracy for i in frontier],
                pen=pg.mkPen(text, width=1.5, style=Qt.PenStyle.DashLine),
            )
        for point in points:
            # Area, not diameter, follows the size, so a 4x smaller model looks 4x smaller.
            share = (point.model_file_bytes or 0) / largest
            diameter = 8 + 26 * math.sqrt(max(share, 0.0))
            colour = colours[point.run.id]
            marker = pg.ScatterPlotItem(
                [point.p50_ms],
                [point.accuracy],
                size=diameter,
                brush=QColor(colour.red(), colour.green(), colour.blue(), 170),
                pen=pg.mkPen(colour.darker(130), width=1),
            )
            plot.addItem(marker)
            marker.setZValue(2)  # above the frontier line
            # Name to the right of the marker's edge: TextItem anchors in text widths.
            name = short_name(point.run)
            text_width = QFontMetrics(self.font()).horizontalAdvance(name) + 4
            tag = pg.TextItem(name, color=text, anchor=(-(diameter / 2 + 2) / text_width, 0.5))
            tag.setPos(point.p50_ms, point.accuracy)
            plot.addItem(tag)
        xs = [p.p50_ms for p in points]
        ys = [p.accuracy for p in points]
        x_pad = (max(xs) - min(xs)) * 0.15 or max(xs) * 0.1
        y_pad = (max(ys) - min(ys)) * 0.2 or abs(max(ys)) * 0.01 or 0.01
        # The right side holds the names printed beside the markers.
        plot.setXRange(max(0.0, min(xs) - x_pad), max(xs) + x_pad * 2.5, padding=0)
        plot.setYRange(min(ys) - y_pad, max(ys) + y_pad, padding=0)


# ----------------------------------------------------------------------- preview


def synthetic_runs() -> tuple[list[RunRow], dict[int, list[float]]]:
    """Four runs shaped like an FP32 / INT8 / pruned sweep of one CNN, for the preview."""
    from engines.floor.stats import summarize

    rng = np.random.default_rng(7)
    shapes = [
        ("resnet18 fp32", "onnxruntime", 12.8, 0.04, 46_800_000, 0.699, 1.0),
        ("resnet18 int8", "onnxruntime", 4.3, 0.06, 11_900_000, 0.694, 0.9962),
        ("resnet18 int8", "litert", 5.1, 0.09, 11_700_000, 0.691, 0.9948),
        ("resnet18 pruned50", "onnxruntime", 6.9, 0.05, 23_500_000, 0.662, 0.9801),
    ]
    runs: list[RunRow] = []
    samples: dict[int, list[float]] = {}
    for run_id, (label, runtime, p50, spread, size_bytes, top1, cosine) in enumerate(shapes, 1):
        values = (p50 * rng.lognormal(0.0, spread, 700)).tolist()
        values[::150] = [v * 1.8 for v in values[::150]]  # a few slow outliers, as in life
        samples[run_id] = values
        runs.append(
            RunRow(
                id=run_id,
                artifact_id=run_id,
                model_label=label,
                runtime=runtime,
                device="local",
                status="ok",
                spec={},
                environment=None,
                statistics=dict(summarize(values)),
                memory={"peak_rss_delta_bytes": size_bytes * 2.1, "model_file_bytes": size_bytes},
                result={
                    "load_ms": p50 * 9,
                    "first_ms": p50 * 2.5,
                    "evaluation": {
                        "count": 500,
                        "classification": {"top1": top1, "top5": top1 + 0.2},
                        "fidelity": {"cosine_mean": cosine, "sqnr_db": 20 + 30 * cosine},
                    },
                },
                error=None,
                created_at="2025-01-01T00:00:00.000Z",
            )
        )
    return runs, samples


def main() -> None:
    import sys

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    charts = CompareCharts()
    charts.set_runs(*synthetic_runs())
    charts.resize(1200, 380)
    charts.setWindowTitle("Compare charts (synthetic data)")
    charts.show()
    app.exec()


if __name__ == "__main__":
    main()
