"""A horizontal bar chart of a model's operators: how often each op type occurs.

The most frequent ops are on top, each bar labelled with its count; ops beyond the top N
are summed into one "other" bar so the chart stays readable on large graphs.

Preview: `python -m app.widgets.op_histogram`.
"""

from __future__ import annotations

import sys

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFontMetrics, QPalette
from PySide6.QtWidgets import QSizePolicy

TOP_OPS = 15
BAR_HEIGHT = 0.7
#: Pixels per bar, so a 3-op model gets a short chart and a 15-op model a taller one.
ROW_PX = 22


def top_ops(histogram: dict[str, int], limit: int = TOP_OPS) -> list[tuple[str, int]]:
    """The `limit` most frequent ops (ties by name), plus one "other (n types)" row."""
    ranked = sorted(histogram.items(), key=lambda item: (-item[1], item[0]))
    shown = ranked[:limit]
    rest = ranked[limit:]
    if rest:
        shown.append((f"other ({len(rest)} types)", sum(n for _, n in rest)))
    return shown


class OpHistogram(pg.PlotWidget):
    """Bars of op counts; `set_histogram({op: count})` redraws."""

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        self.setBackground(base)
        self._text = text
        self._bar = QColor(palette.color(QPalette.ColorRole.Highlight))
        self._bar.setAlpha(200)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        # Each bar carries its count, so an x axis of fractional ticks would only add noise.
        item.hideAxis("bottom")
        axis = item.getAxis("left")
        axis.setTextPen(text)
        axis.setPen(pg.mkPen(palette.color(QPalette.ColorRole.Mid)))
        axis.setStyle(tickLength=0)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("How many times each operator type occurs in the model's graph")
        self.rows: list[tuple[str, int]] = []
        self.set_histogram({})

    def set_histogram(self, histogram: dict[str, int] | None) -> None:
        item = self.getPlotItem()
        item.clear()
        self.rows = top_ops(dict(histogram or {}))
        count = max(len(self.rows), 1)
        self.setFixedHeight(24 + ROW_PX * count)
        # Room for the longest name now: the axis only widens itself after a first paint.
        metrics = QFontMetrics(self.getPlotItem().getAxis("left").font())
        longest = max((metrics.horizontalAdvance(name) for name, _ in self.rows), default=40)
        item.getAxis("left").setWidth(longest + 14)
        if not self.rows:
            item.getAxis("left").setTicks([[]])
            message = pg.TextItem("no operator list for this model", color=self._text)
            item.addItem(message)
            item.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            message.setPos(0.02, 0.7)
            return
        # Largest on top: the first row gets the highest y.
        ys = [count - 1 - i for i in range(len(self.rows))]
        widths = [n for _, n in self.rows]
        bars = pg.BarGraphItem(
            x0=0, y=ys, height=BAR_HEIGHT, width=widths, brush=self._bar, pen=pg.mkPen(None)
        )
        item.addItem(bars)
        item.getAxis("left").setTicks(
            [[(y, name) for y, (name, _) in zip(ys, self.rows, strict=True)]]
        )
        widest = max(widths)
        for y, n in zip(ys, widths, strict=True):
            label = pg.TextItem(str(n), color=self._text, anchor=(0, 0.5))
            label.setPos(n + widest * 0.01, y)
            item.addItem(label)
        item.setRange(xRange=(0, widest * 1.12), yRange=(-0.6, count - 0.4), padding=0)


def main() -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    chart = OpHistogram()
    chart.set_histogram(
        {"Conv": 52, "Relu": 49, "Add": 16, "MaxPool": 1, "Gemm": 1, "GlobalAveragePool": 1}
    )
    chart.setWindowTitle("Operators")
    chart.resize(520, chart.height())
    chart.show()
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
