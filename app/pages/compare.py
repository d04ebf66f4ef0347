"""The Compare page: stored runs side by side, every figure against a baseline, with charts.

Runs arrive from `workspace.compare_requested` (History, sweeps) or the "Add runs…"
picker. The figures and their ratios come from `app.compare_table`; this page only shows
them, draws the charts and copies the table as Markdown or CSV.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPixmap, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.formatting import ms
from app.report_export import PdfExport
from app.widgets.compare_charts import CompareCharts, run_colour
from app.workspace import Workspace
from engines.floor.errors import BadInput
from engines.report.comparison import (
    GROUPINGS,
    Row,
    compare_runs,
    device_name,
    order_runs,
    run_header,
    spans_devices,
    to_csv,
    to_markdown,
)
from engines.store.db import RunRow

#: A green tint that reads on light and dark backgrounds alike.
BEST_BACKGROUND = QColor(46, 160, 67, 70)
PICKER_LIMIT = 2000


def _swatch(colour: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(colour)
    return QIcon(pixmap)


class RunPicker(QDialog):
    """Choose stored runs that finished (status ok) to add to the comparison."""

    COLUMNS = ("id", "date", "model", "runtime", "device", "p50 ms")

    def __init__(
        self, workspace: Workspace, exclude: set[int] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add runs to compare")
        self.resize(720, 420)
        with workspace.store() as store:
            runs = [r for r in store.runs(limit=PICKER_LIMIT) if r.status == "ok"]
        self.runs = [r for r in runs if r.id not in (exclude or set())]
        layout = QVBoxLayout(self)
        self.search = QLineEdit(placeholderText="Filter by model, runtime or device")
        self.search.textChanged.connect(self._filter)
        layout.addWidget(self.search)
        self.table = QTableWidget(len(self.runs), len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.doubleClicked.connect(self.accept)
        for row, run in enumerate(self.runs):
            values = (
                str(run.id),
                run.created_at[:16].replace("T", " "),
                run.model_label,
                run.runtime,
                run.device,
                ms((run.statistics or {}).get("p50_ms")),
            )
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                if column in (0, 5):
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _filter(self, text: str) -> None:
        needle = text.lower()
        for row, run in enumerate(self.runs):
            haystack = f"{run.model_label} {run.runtime} {run.device}".lower()
            self.table.setRowHidden(row, needle not in haystack)

    def selected_ids(self) -> list[int]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.runs[row].id for row in rows if not self.table.isRowHidden(row)]


class ComparePage(QWidget):
    """One column per run, one row per figure; charts under the table."""

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.runs: list[RunRow] = []
        self.samples_ms: dict[int, list[float]] = {}
        self.baseline_id: int | None = None
        self.rows: list[Row] = []
        self._widest_px = 0
        #: Column order: see `engines.report.comparison.order_runs`; None until the user picks one
        #: (then runs from several devices are grouped by model, so they sit together).
        self.grouping: str | None = None
        #: Run ids in the order they were added ("as added").
        self._added: list[int] = []

        layout = QVBoxLayout(self)
        toolbar = QHBoxLayout()
        self.add_button = QPushButton("Add runs…")
        self.add_button.setToolTip("Pick stored runs to add as columns")
        self.add_button.clicked.connect(self.pick_runs)
        self.remove_button = QPushButton("Remove run")
        self.remove_button.setToolTip("Remove the run of the selected column")
        self.remove_button.clicked.connect(self.remove_selected)
        self.baseline_combo = QComboBox()
        self.baseline_combo.setToolTip("The run every other column is compared with")
        self.baseline_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.baseline_combo.currentIndexChanged.connect(self._baseline_picked)
        self.group_combo = QComboBox()
        for key, words in GROUPINGS.items():
            self.group_combo.addItem(words, key)
        self.group_combo.setToolTip(
            "Order of the columns. “model, then device” puts the same model on every "
            "device side by side: make one device's run the baseline to read the others "
            "as its speed-up or slowdown."
        )
        self.group_combo.currentIndexChanged.connect(self._grouping_picked)
        self.markdown_button = QPushButton("Copy as Markdown")
        self.markdown_button.clicked.connect(self.copy_markdown)
        self.csv_button = QPushButton("Copy as CSV")
        self.csv_button.setToolTip("Raw stored numbers, one column per run (for spreadsheets)")
        self.csv_button.clicked.connect(self.copy_csv)
        toolbar.addWidget(self.add_button)
        toolbar.addWidget(self.remove_button)
        toolbar.addSpacing(16)
        toolbar.addWidget(QLabel("Baseline:"))
        toolbar.addWidget(self.baseline_combo)
        toolbar.addSpacing(16)
        toolbar.addWidget(QLabel("Order:"))
        toolbar.addWidget(self.group_combo)
        toolbar.addStretch(1)
        toolbar.addWidget(self.markdown_button)
        toolbar.addWidget(self.csv_button)
        self.pdf_button = QPushButton("Export PDF…")
        self.pdf_button.setToolTip("Write a PDF report of these runs against the baseline")
        self.pdf_button.clicked.connect(self.export_pdf)
        toolbar.addWidget(self.pdf_button)
        layout.addLayout(toolbar)

        self.empty_hint = QLabel(
            "No runs to compare yet. Select runs on the History page and press "
            "“Compare selected”, or use “Add runs…”."
        )
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setStyleSheet("color: palette(placeholder-text); font-size: 11pt;")
        layout.addWidget(self.empty_hint, 1)

        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectColumns)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.charts = CompareCharts()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.charts)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        layout.addWidget(splitter, 1)
        self.splitter = splitter

        workspace.compare_requested.connect(self.show_runs)
        workspace.runs_changed.connect(self.reload)
        self._refresh()

    # ------------------------------------------------------------------ which runs

    def run_ids(self) -> list[int]:
        return [run.id for run in self.runs]

    def show_runs(self, ids: list[int]) -> None:
        """Compare exactly these runs (in this order); the first is the baseline."""
        self.baseline_id = None
        self._load(list(dict.fromkeys(int(i) for i in ids)))

    def add_runs(self, ids: list[int]) -> None:
        self._load([*self._added, *(int(i) for i in ids if int(i) not in self._added)])

    def remove_run(self, run_id: int) -> None:
        if self.baseline_id == run_id:
            self.baseline_id = None
        self._load([i for i in self._added if i != run_id])

    def remove_selected(self) -> None:
        columns = {index.column() for index in self.table.selectedIndexes()}
        for column in sorted(columns, reverse=True):
            if 0 <= column < len(self.runs):
                self.remove_run(self.runs[column].id)

    def set_baseline(self, run_id: int) -> None:
        if run_id in self.run_ids():
            self.baseline_id = run_id
            self._refresh()

    def reload(self) -> None:
        """Re-read the shown runs from the store (deleted ones drop out)."""
        self._load(self._added)

    def pick_runs(self) -> None:
        picker = RunPicker(self.workspace, exclude=set(self.run_ids()), parent=self)
        if picker.exec() == QDialog.DialogCode.Accepted:
            self.add_runs(picker.selected_ids())

    def _load(self, ids: list[int]) -> None:
        runs: list[RunRow] = []
        samples: dict[int, list[float]] = {}
        with self.workspace.store() as store:
            for run_id in ids:
                try:
                    run = store.run(run_id)
                except BadInput:  # deleted since it was asked for
                    continue
                runs.append(run)
                samples[run_id] = store.samples(run_id)
        self._added = [run.id for run in runs]
        self.samples_ms = samples
        self._compare(runs)
        self._refresh()

    def _compare(self, runs: list[RunRow]) -> None:
        """The engine's comparison (the one `edgebench compare` prints): column order,
        baseline (the first timed run unless one was picked) and rows."""
        comparison = compare_runs(runs, self.baseline_id, self._grouping(runs))
        self.runs = list(comparison.runs)
        self.baseline_id = comparison.baseline_id
        self.rows = list(comparison.rows)

    def _grouping(self, runs: list[RunRow]) -> str:
        if self.grouping is not None:
            return self.grouping
        return "model" if spans_devices(runs) else "added"

    def set_grouping(self, grouping: str) -> None:
        """Order the columns ("added", "model" or "device"); the choice sticks."""
        if grouping in GROUPINGS:
            self.grouping = grouping
            by_id = {run.id: run for run in self.runs}
            self.runs = order_runs([by_id[i] for i in self._added if i in by_id], grouping)
            self._refresh()

    def _grouping_picked(self, index: int) -> None:
        key = self.group_combo.itemData(index)
        if key is not None:
            self.set_grouping(str(key))

    def _baseline_picked(self, index: int) -> None:
        if 0 <= index < len(self.runs):
            self.set_baseline(self.runs[index].id)

    # ------------------------------------------------------------------ drawing

    def _refresh(self) -> None:
        self._compare(list(self.runs))
        self._fill_baseline_combo()
        self.group_combo.blockSignals(True)
        self.group_combo.setCurrentIndex(list(GROUPINGS).index(self._grouping(self.runs)))
        self.group_combo.blockSignals(False)
        self._fill_table()
        self.charts.set_runs(self.runs, self.samples_ms)
        has_runs = bool(self.runs)
        self.empty_hint.setVisible(not has_runs)
        self.splitter.setVisible(has_runs)
        self._fit_splitter()
        for button in (self.markdown_button, self.csv_button, self.pdf_button, self.baseline_combo):
            button.setEnabled(has_runs)
        self._update_buttons()

    def _fill_baseline_combo(self) -> None:
        self.baseline_combo.blockSignals(True)  # filling it is not the user choosing
        self.baseline_combo.clear()
        for run in self.runs:
            self.baseline_combo.addItem(
                f"run {run.id}: {run.model_label} · {run.runtime} · {device_name(run)}", run.id
            )
        if self.baseline_id in self.run_ids():
            self.baseline_combo.setCurrentIndex(self.run_ids().index(self.baseline_id))
        self.baseline_combo.blockSignals(False)

    def _fill_table(self) -> None:
        table = self.table
        table.clear()
        table.setColumnCount(len(self.runs))
        table.setRowCount(len(self.rows))
        for column, run in enumerate(self.runs):
            title = run_header(run)
            if run.id == self.baseline_id:
                title += " · baseline"
            item = QTableWidgetItem(_swatch(run_colour(column)), title)
            item.setToolTip(
                f"{run.model_label} on {run.runtime} ({run.device}), run {run.id}, "
                f"{run.created_at[:19].replace('T', ' ')} UTC; right-click for options"
            )
            table.setHorizontalHeaderItem(column, item)
        bold = QFont(table.font())
        bold.setBold(True)
        for row_index, row in enumerate(self.rows):
            label = QTableWidgetItem(row.label)
            direction = {"lower": "Lower is better. ", "higher": "Higher is better. "}
            label.setToolTip(direction.get(row.better or "", "") + row.tooltip)
            table.setVerticalHeaderItem(row_index, label)
            for column, cell in enumerate(row.cells):
                item = QTableWidgetItem(cell.display)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if cell.is_best:
                    item.setFont(bold)
                    item.setBackground(BEST_BACKGROUND)
                    item.setToolTip(f"best {row.label} of these runs")
                table.setItem(row_index, column, item)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # to measure
        table.resizeColumnsToContents()
        self._widest_px = max((header.sectionSize(c) for c in range(len(self.runs))), default=0)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Equal columns as wide as the widest cell, stretched over the width when they
        fit (ragged widths make runs look unequal; a gap at the right looks unfinished)."""
        header = self.table.horizontalHeader()
        count = self.table.columnCount()
        if not count:
            return
        widest = self._widest_px + 12
        if widest * count <= self.table.viewport().width():
            header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            return
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column in range(count):
            header.resizeSection(column, widest)

    def _fit_splitter(self) -> None:
        """Give the table the height of all its rows when the charts keep enough room."""
        total = sum(self.splitter.sizes())
        if not self.runs or total <= 0:
            return
        table = self.table
        wanted = (
            table.horizontalHeader().height()
            + sum(table.rowHeight(r) for r in range(table.rowCount()))
            + 2 * table.frameWidth()
            + table.horizontalScrollBar().sizeHint().height()
        )
        charts_min = 300
        table_height = max(min(wanted, total - charts_min), 120)
        self.splitter.setSizes([table_height, total - table_height])

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit_splitter()
        self._fit_columns()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.table.selectedIndexes()))

    def _header_menu(self, position: QPoint) -> None:
        column = self.table.horizontalHeader().logicalIndexAt(position)
        if not 0 <= column < len(self.runs):
            return
        run_id = self.runs[column].id
        menu = QMenu(self)
        menu.addAction("Use as baseline", lambda: self.set_baseline(run_id))
        menu.addAction("Remove from comparison", lambda: self.remove_run(run_id))
        menu.exec(self.table.horizontalHeader().mapToGlobal(position))

    # ------------------------------------------------------------------ text out

    def table_text(self) -> dict[str, list[str]]:
        """Figure label -> the texts shown in its cells, column by column."""
        return {
            self.table.verticalHeaderItem(r).text(): [
                self.table.item(r, c).text() for c in range(self.table.columnCount())
            ]
            for r in range(self.table.rowCount())
        }

    def markdown(self) -> str:
        return to_markdown(self.runs, self.rows)

    def csv_text(self) -> str:
        return to_csv(self.runs, self.rows)

    def export_pdf(self, path: str = "") -> PdfExport | None:
        """Ask for a file and build the PDF report of the shown runs off the GUI thread."""
        export = PdfExport(self, self.workspace)
        return export if export.start(self.run_ids(), self.baseline_id, path) else None

    def copy_markdown(self) -> None:
        QApplication.clipboard().setText(self.markdown())

    def copy_csv(self) -> None:
        QApplication.clipboard().setText(self.csv_text())
