"""Live plots of a running profile: latency per measured run, its histogram, memory over time.

Events only append to numpy buffers (cheap, any rate); a ~30 Hz QTimer redraws, so a
stream of thousands of samples a second never stalls the event loop (STYLE.md, pyqtgraph).
Preview alone, fed by synthetic samples: `python -m app.widgets.live_plots`.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.formatting import ms

SLOW_COLOUR = "#d62728"
MEMORY_COLOUR = "#2ca02c"
REFRESH_MS = 33
LEFT_AXIS_PX = 56  # ~30 Hz: smooth to the eye, a few ms of work per second of samples
HISTOGRAM_BINS = 60
#: A redraw may take at most this share of the GUI thread: when drawing gets slow (a
#: million samples), the next one waits longer instead of starving input handling.
MAX_DRAW_SHARE = 0.25

# Tooltips state the README's definitions, so the numbers on screen mean what the docs say.
LATENCY_TIP = (
    "Each point is one measured run: the time of the runtime's run call only (inputs "
    "prepared before the loop), timed with time.perf_counter_ns. Warm-up runs are not "
    "shown. Dashed lines: running p50 and p99."
)
HISTOGRAM_TIP = (
    "How the measured latencies are spread, from the fastest run to the p99. The red bar "
    "past the p99 counts every slower run, so a few outliers do not squash the shape."
)
PERCENTILE_TIP = (
    "Percentiles are nearest-rank, sorted[floor(n*p)], with no interpolation: the same "
    "rule as LiteRT benchmark_model and onnxruntime_perf_test. Recomputed from every "
    "sample so far on each refresh."
)
MEMORY_TIP = (
    "Resident set size of the worker process, sampled every 10 ms through load and first "
    "inference and every 100 ms while timing. peak_rss is the highest of all readings, the "
    "kernel's high-water marks included, so it catches peaks between samples; "
    "peak_rss_delta = peak_rss - rss_before_load."
)


class GrowingBuffer:
    """A float64 array that doubles when full: O(1) amortised appends, copy-free views."""

    def __init__(self, capacity: int = 4096) -> None:
        self._data = np.empty(capacity, dtype=np.float64)
        self.size = 0

    def extend(self, values: Sequence[float]) -> None:
        count = len(values)
        end = self.size + count
        if end > len(self._data):
            grown = np.empty(max(end, 2 * len(self._data)), dtype=np.float64)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : end] = values
        self.size = end

    def append(self, value: float) -> None:
        self.extend((value,))

    def view(self) -> np.ndarray:
        """The values so far (a view: valid until the next append)."""
        return self._data[: self.size]

    def clear(self) -> None:
        self.size = 0


@dataclass(frozen=True)
class RunningFigures:
    """Latency figures of the samples so far (nearest-rank percentiles)."""

    count: int
    min_ms: float
    p50_ms: float
    p99_ms: float
    max_ms: float


def running_figures(samples_ms: np.ndarray) -> RunningFigures | None:
    """One partial sort for all figures: O(n), a few ms for a million samples."""
    n = len(samples_ms)
    if n == 0:
        return None

    def rank(p: float) -> int:
        return min(n - 1, math.floor(n * p))

    ranks = sorted({0, rank(0.5), rank(0.99), n - 1})
    part = np.partition(samples_ms, ranks)
    return RunningFigures(
        count=n,
        min_ms=float(part[0]),
        p50_ms=float(part[rank(0.5)]),
        p99_ms=float(part[rank(0.99)]),
        max_ms=float(part[n - 1]),
    )


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2 or 5 x 10^k that is >= value (axis steps people can read)."""
    if value <= 0:
        return 1.0
    decade = 10 ** math.floor(math.log10(value))
    return next(m * decade for m in (1, 2, 5, 10) if m * decade >= value * (1 - 1e-12))


class SteadyRange:
    """An axis range that moves in readable steps instead of every frame.

    Redrawing an axis (its tick text) is most of a live plot's paint; an axis whose range
    holds still is not redrawn, so the plots cost little between steps.
    """

    def __init__(self, headroom: float) -> None:
        self.headroom = headroom  # share of the span added on top when the range moves
        self.low = self.high = 0.0
        self.fitted = False

    def fit(self, low: float, high: float, final: bool = False) -> bool:
        """Cover [low, high] (tightly when `final`: nothing more will come); True when the
        range moved."""
        span = max(high - low, 1e-9)
        current = self.high - self.low
        inside = self.fitted and self.low <= low and high <= self.high
        if inside and span >= 0.3 * current and not final:
            return False
        headroom = min(self.headroom, 0.1) if final else self.headroom
        step = nice_ceiling(span * (1 + headroom) / 5)
        self.low = math.floor(low / step) * step
        self.high = max(math.ceil((high + span * headroom) / step) * step, self.low + step)
        self.fitted = True
        return True


class LivePlot(pg.PlotWidget):
    """A plot in the page's colours, ranges set in steps, its paint time counted."""

    def __init__(self, title: str, tip: str, x_headroom: float, y_headroom: float) -> None:
        super().__init__()
        palette = self.palette()
        self.text_colour = palette.color(QPalette.ColorRole.WindowText)
        self.accent = palette.color(QPalette.ColorRole.Highlight)
        self.setBackground(palette.color(QPalette.ColorRole.Base))
        self.setTitle(title, size="10pt", color=self.text_colour)
        self.setToolTip(tip)
        self.showGrid(x=True, y=True, alpha=0.2)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.setMouseEnabled(x=False, y=False)
        self.setMinimumHeight(150)
        self.disableAutoRange()
        for name in ("left", "bottom"):
            axis = self.getAxis(name)
            axis.setPen(self.text_colour)
            axis.setTextPen(self.text_colour)
            # Milliseconds stay "ms" instead of turning into "s" or "µs".
            axis.enableAutoSIPrefix(False)
            # Keep the drawn axis (tick text, grid) as a pixmap: a new curve then costs a
            # blit, not re-drawing every tick label, until the axis range itself moves.
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # A fixed width: tick labels of a new width would otherwise re-lay out the plot.
        self.getAxis("left").setWidth(LEFT_AXIS_PX)
        self.x_range, self.y_range = SteadyRange(x_headroom), SteadyRange(y_headroom)
        self.paint_s = 0.0  # painting happens after a redraw, in the event loop
        self.final = False  # the job ended: fit the data without room to grow

    def fit(self, x_low: float, x_high: float, y_low: float, y_high: float) -> None:
        if self.x_range.fit(x_low, x_high, self.final):
            self.setXRange(self.x_range.low, self.x_range.high, padding=0)
        if self.y_range.fit(y_low, y_high, self.final):
            self.setYRange(self.y_range.low, self.y_range.high, padding=0)

    def reset_ranges(self) -> None:
        self.x_range.fitted = self.y_range.fitted = False
        self.final = False

    def paintEvent(self, event: Any) -> None:
        started = time.perf_counter()
        super().paintEvent(event)
        self.paint_s += time.perf_counter() - started


def _level_line(
    name: str, colour: QColor, at_right: bool = False, below: bool = False
) -> pg.InfiniteLine:
    """A dashed horizontal line named at one end (a level, not a data series); two
    levels that sit close together are named at opposite ends so they never overlap."""
    row = 0 if below else 1
    return pg.InfiniteLine(
        angle=0,
        pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine),
        label=name,
        labelOpts={
            "position": 0.97 if at_right else 0.03,
            "color": colour,
            "anchors": [(1, row), (1, row)] if at_right else [(0, row), (0, row)],
        },
    )


class LatencyTrace(LivePlot):
    """Latency of every measured run against its index, with running p50/p99 lines."""

    def __init__(self) -> None:
        super().__init__("Latency per measured run", LATENCY_TIP, x_headroom=1.0, y_headroom=0.1)
        self.setLabel("left", "latency", units="ms")
        self.setLabel("bottom", "measured run (sample index)")
        # Peak downsampling keeps spikes visible when 10^5 points share 800 pixels.
        self.setDownsampling(auto=True, mode="peak")
        self.setClipToView(True)
        self.curve = self.plot(pen=pg.mkPen(self.accent, width=1), skipFiniteCheck=True)
        self.p50_line = _level_line("p50", self.text_colour)
        self.p99_line = _level_line("p99", QColor(SLOW_COLOUR), at_right=True)
        for line in (self.p50_line, self.p99_line):
            line.setVisible(False)
            self.addItem(line)
        self._index = GrowingBuffer()

    def draw(self, samples_ms: np.ndarray, figures: RunningFigures | None) -> None:
        n = len(samples_ms)
        if self._index.size < n:  # x values are reused between redraws, only grown
            grown = np.arange(self._index.size, max(n, 2 * self._index.size), dtype=float)
            self._index.extend(grown)  # type: ignore[arg-type]  # an array is a sequence
        self.curve.setData(self._index.view()[:n], samples_ms, skipFiniteCheck=True)
        if figures is not None:
            self.fit(0, n, 0, figures.max_ms)
        for line, value in (
            (self.p50_line, figures and figures.p50_ms),
            (self.p99_line, figures and figures.p99_ms),
        ):
            line.setVisible(value is not None)
            if value is not None:
                line.setValue(value)


class LatencyHistogram(LivePlot):
    """How the samples so far are spread: bars from the fastest to the p99, then one red
    bar for everything slower."""

    def __init__(self) -> None:
        super().__init__("Latency histogram", HISTOGRAM_TIP, x_headroom=0.05, y_headroom=1.0)
        self.setLabel("bottom", "latency", units="ms")
        self.setLabel("left", "measured runs")
        fill, slow = QColor(self.accent), QColor(SLOW_COLOUR)
        fill.setAlpha(150)
        slow.setAlpha(150)
        self.bars = self.plot(
            stepMode="center", fillLevel=0, brush=fill, pen=self.accent, skipFiniteCheck=True
        )
        self.slow_bar = self.plot(
            stepMode="center", fillLevel=0, brush=slow, pen=SLOW_COLOUR, skipFiniteCheck=True
        )
        self.counts = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
        self.slower_than_p99 = 0

    def draw(self, samples_ms: np.ndarray, figures: RunningFigures | None) -> None:
        if figures is None:
            self.counts = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
            self.slower_than_p99 = 0
            self.bars.setData([], [])
            self.slow_bar.setData([], [])
            return
        low = figures.min_ms
        high = max(figures.p99_ms, low + 1e-6)
        counts, edges = np.histogram(samples_ms, bins=HISTOGRAM_BINS, range=(low, high))
        self.counts = counts
        self.slower_than_p99 = figures.count - int(counts.sum())
        self.bars.setData(edges, counts, stepMode="center", skipFiniteCheck=True)
        width = edges[1] - edges[0]
        slow_edges = [high + width, high + 3 * width]
        self.slow_bar.setData(slow_edges, [self.slower_than_p99], stepMode="center")
        self.fit(low, slow_edges[1], 0, max(int(counts.max()), self.slower_than_p99, 1))


class MemoryTrace(LivePlot):
    """Resident memory of the worker process over time, from zero so steps keep their
    true size; once the run ends, dashed lines mark rss_before_load and peak_rss."""

    def __init__(self) -> None:
        super().__init__("Worker memory (RSS)", MEMORY_TIP, x_headroom=0.5, y_headroom=0.1)
        self.setLabel("left", "RSS", units="MiB")
        self.setLabel("bottom", "time since load started", units="s")
        self.setDownsampling(auto=True, mode="peak")
        self.setClipToView(True)
        self.curve = self.plot(pen=pg.mkPen(MEMORY_COLOUR, width=1.5), skipFiniteCheck=True)
        # Named below their lines: nothing is drawn under rss_before_load, nor over the peak.
        self.before_line = _level_line("rss_before_load", self.text_colour, below=True)
        self.peak_line = _level_line("peak_rss", QColor(MEMORY_COLOUR), at_right=True, below=True)
        for line in (self.before_line, self.peak_line):
            self.addItem(line)
        self.mark(None, None)

    def draw(self, times_s: np.ndarray, rss_mib: np.ndarray) -> None:
        self.curve.setData(times_s, rss_mib, skipFiniteCheck=True)
        if len(times_s):
            top = max(float(rss_mib.max()), self._peak_mib or 0.0)
            self.fit(0, float(times_s[-1]), 0, top)

    def mark(self, before_mib: float | None, peak_mib: float | None) -> None:
        """Show the run's rss_before_load and peak_rss (None hides them)."""
        self._peak_mib = peak_mib
        for line, value in ((self.before_line, before_mib), (self.peak_line, peak_mib)):
            line.setVisible(value is not None)
            if value is not None:
                line.setValue(value)


class LiveRunView(QWidget):
    """The live view of one job: figures, latency trace, histogram and memory trace.

    Call `start()` when a job starts, feed `add_samples` / `add_memory` from event slots,
    and `finish()` when it ends (one last redraw, then the timer stops).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.latency_ms = GrowingBuffer()
        self.memory_t_s = GrowingBuffer(1024)
        self.memory_mib = GrowingBuffer(1024)
        self.figures: RunningFigures | None = None
        self.redraws = 0
        self._dirty = False
        self._next_draw_s = 0.0
        self._first_sample_s: float | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._on_timer)

        self.count_label = QLabel()
        self.p50_label = QLabel()
        self.p99_label = QLabel()
        self.rate_label = QLabel()
        self.peak_label = QLabel()
        self.peak_label.setToolTip(MEMORY_TIP)
        figures_row = QHBoxLayout()
        figures_row.setSpacing(24)
        for label in (
            self.count_label,
            self.p50_label,
            self.p99_label,
            self.rate_label,
            self.peak_label,
        ):
            label.setTextFormat(Qt.TextFormat.RichText)
            figures_row.addWidget(label)
        for label in (self.p50_label, self.p99_label):
            label.setToolTip(PERCENTILE_TIP)
        figures_row.addStretch(1)

        self.trace = LatencyTrace()
        self.histogram = LatencyHistogram()
        self.memory = MemoryTrace()
        lower = QHBoxLayout()
        lower.addWidget(self.histogram, 1)
        lower.addWidget(self.memory, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(figures_row)
        layout.addWidget(self.trace, 3)
        layout.addLayout(lower, 2)
        self._show_figures()

    # ------------------------------------------------------------------ feeding

    def start(self) -> None:
        """Forget the last job and start redrawing at ~30 Hz."""
        for buffer in (self.latency_ms, self.memory_t_s, self.memory_mib):
            buffer.clear()
        self.figures = None
        self._first_sample_s = None
        self.memory.mark(None, None)
        for plot in self.plots():
            plot.reset_ranges()
        self._next_draw_s = 0.0
        self._dirty = True
        self._timer.start()

    def add_samples(self, values_ms: Sequence[float]) -> None:
        if self._first_sample_s is None:
            self._first_sample_s = time.perf_counter()
        self.latency_ms.extend(values_ms)
        self._dirty = True

    def add_memory(self, t_s: float, rss_bytes: int) -> None:
        self.memory_t_s.append(t_s)
        self.memory_mib.append(rss_bytes / 2**20)
        self._dirty = True

    def show_memory_result(self, memory: dict[str, Any]) -> None:
        """Mark the run's rss_before_load and peak_rss (from its result's memory)."""
        before, peak = memory.get("rss_before_load_bytes"), memory.get("peak_rss_bytes")
        self.memory.mark(
            before / 2**20 if before is not None else None,
            peak / 2**20 if peak is not None else None,
        )
        self._dirty = True

    def finish(self) -> None:
        """Draw what arrived last and stop the timer (an idle page costs nothing)."""
        self._timer.stop()
        for plot in self.plots():
            plot.final = True
        self.refresh()

    def samples_per_s(self) -> float | None:
        """How fast samples arrived since the first one (while live)."""
        if self._first_sample_s is None or not self.is_live():
            return None
        elapsed_s = time.perf_counter() - self._first_sample_s
        return self.latency_ms.size / elapsed_s if elapsed_s > 0.2 else None

    def is_live(self) -> bool:
        return self._timer.isActive()

    # ------------------------------------------------------------------ drawing

    def _on_timer(self) -> None:
        if self._dirty and time.perf_counter() >= self._next_draw_s:
            self.refresh()

    def plots(self) -> tuple[LivePlot, ...]:
        return (self.trace, self.histogram, self.memory)

    def refresh(self) -> None:
        started = time.perf_counter()
        # Painting the last redraw happened in between, in the event loop: count it too.
        paint_s = sum(plot.paint_s for plot in self.plots())
        for plot in self.plots():
            plot.paint_s = 0.0
        samples = self.latency_ms.view()
        self.figures = running_figures(samples)
        self.trace.draw(samples, self.figures)
        self.histogram.draw(samples, self.figures)
        self.memory.draw(self.memory_t_s.view(), self.memory_mib.view())
        self._show_figures()
        self._dirty = False
        self.redraws += 1
        cost_s = time.perf_counter() - started + paint_s
        self._next_draw_s = started + cost_s / MAX_DRAW_SHARE

    def _show_figures(self) -> None:
        figures = self.figures
        n = figures.count if figures else 0
        self.count_label.setText(f"<b>{n:,}</b> measured runs")
        self.p50_label.setText(f"p50 <b>{_ms(figures.p50_ms if figures else None)}</b>")
        self.p99_label.setText(f"p99 <b>{_ms(figures.p99_ms if figures else None)}</b>")
        rate = self.samples_per_s()
        self.rate_label.setText(f"<b>{rate:,.0f}</b> samples/s streamed" if rate else "")
        rss = self.memory_mib.view()
        peak = f"<b>{rss.max():.1f} MiB</b>" if len(rss) else "<b>-</b>"
        self.peak_label.setText(f"highest RSS sampled {peak}")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{ms(value)} ms"


def main() -> int:
    """Preview: the view fed by synthetic log-normal samples at about 2,000 a second."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    view = LiveRunView()
    view.setWindowTitle("LiveRunView preview (synthetic samples)")
    view.resize(900, 600)
    rng = np.random.default_rng(0)
    clock = {"t_s": 0.0}

    def feed() -> None:
        view.add_samples(rng.lognormal(mean=-0.7, sigma=0.15, size=8).tolist())
        clock["t_s"] += 0.004
        if rng.random() < 0.1:
            view.add_memory(clock["t_s"], int(60e6 + 2e6 * math.sin(clock["t_s"])))

    feeder = QTimer(view)
    feeder.timeout.connect(feed)
    feeder.start(4)
    view.start()
    view.show()
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
