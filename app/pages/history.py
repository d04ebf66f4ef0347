"""The History page: every stored run, filtered; compare, re-run or delete them, and read
why a run failed.

Filtering happens here on the rows read from the store (model text, runtime, device,
age), so the page needs nothing from the store beyond `Store.runs`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.formatting import ms
from app.report_export import PdfExport
from app.workspace import Workspace
from engines.store.db import RunRow

HISTORY_LIMIT = 5000
ALL = "All"
#: (label, days); None: any age.
AGES: tuple[tuple[str, int | None], ...] = (
    ("Any time", None),
    ("Last 24 hours", 1),
    ("Last 7 days", 7),
    ("Last 30 days", 30),
    ("Last 90 days", 90),
)
COLUMNS = ("id", "date", "model", "runtime", "device", "status", "p50 ms", "p99 ms", "samples")
NUMERIC_COLUMNS = {0, 6, 7, 8}
FAILED_COLOUR = QColor("#d62728")


def created(run: RunRow) -> datetime:
    """The run's creation time (stored in UTC with a trailing Z)."""
    return datetime.fromisoformat(run.created_at.replace("Z", "+00:00"))


def filter_runs(
    runs: Sequence[RunRow],
    model: str = "",
    runtime: str | None = None,
    device: str | None = None,
    days: int | None = None,
    now: datetime | None = None,
) -> list[RunRow]:
    """Runs whose model label contains `model` (any case), on that runtime and device,
    created within the last `days` days of `now`."""
    needle = model.strip().lower()
    since = (now or datetime.now(timezone.utc)) - timedelta(days=days) if days else None
    return [
        run
        for run in runs
        if needle in run.model_label.lower()
        and (runtime is None or run.runtime == runtime)
        and (device is None or run.device == device)
        and (since is None or created(run) >= since)
    ]


class _SortableItem(QTableWidgetItem):
    """Sorts by the number in UserRole, so "10.5" comes after "9.8" and "-" sorts first."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine, theirs = self.data(Qt.ItemDataRole.UserRole), other.data(Qt.ItemDataRole.UserRole)
        if mine is None or theirs is None:
            return super().__lt__(other)
        return float(mine) < float(theirs)


def error_text(error: dict | None) -> tuple[str, str]:
    """(one-line message, details) of a failed run's stored error."""
    if not error:
        return "No error was stored for this run.", ""
    message = str(error.get("message") or error.get("error_type") or "the run failed")
    facts = {k: v for k, v in error.items() if k not in ("message", "details", "type")}
    details = "\n".join(f"{key}: {value}" for key, value in facts.items())
    if error.get("details"):
        details += ("\n\n" if details else "") + str(error["details"])
    return message, details or json.dumps(error, indent=2)


class HistoryPage(QWidget):
    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.all_runs: list[RunRow] = []
        self.shown: list[RunRow] = []

        layout = QVBoxLayout(self)
        filters = QHBoxLayout()
        self.model_filter = QLineEdit(placeholderText="Model contains…")
        self.model_filter.setClearButtonEnabled(True)
        self.runtime_filter = QComboBox()
        self.device_filter = QComboBox()
        self.age_filter = QComboBox()
        for label, days in AGES:
            self.age_filter.addItem(label, days)
        self.count_label = QLabel()
        filters.addWidget(QLabel("Model:"))
        filters.addWidget(self.model_filter, 2)
        filters.addWidget(QLabel("Runtime:"))
        filters.addWidget(self.runtime_filter, 1)
        filters.addWidget(QLabel("Device:"))
        filters.addWidget(self.device_filter, 1)
        filters.addWidget(QLabel("Date:"))
        filters.addWidget(self.age_filter, 1)
        filters.addStretch(1)
        filters.addWidget(self.count_label)
        layout.addLayout(filters)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for column in NUMERIC_COLUMNS:
            self.table.horizontalHeaderItem(column).setTextAlignment(
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            )
        # Newest first, as the store lists them; a click on a header sorts by it.
        self.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.DescendingOrder)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.cellDoubleClicked.connect(self._double_clicked)

        buttons = QHBoxLayout()
        self.compare_button = QPushButton("Compare selected")
        self.compare_button.setToolTip("Open the selected successful runs on the Compare page")
        self.compare_button.clicked.connect(self.compare_selected)
        self.rerun_button = QPushButton("Re-run")
        self.rerun_button.setToolTip(
            "Run the selected runs again exactly as specified (device, runtime, threads, "
            "inputs, policy), on the Profile page"
        )
        self.rerun_button.clicked.connect(self.rerun_selected)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the selected runs and their raw samples")
        self.delete_button.clicked.connect(self.delete_selected)
        self.pdf_button = QPushButton("Export PDF…")
        self.pdf_button.setToolTip("Write a PDF report of the selected successful runs")
        self.pdf_button.clicked.connect(self.export_pdf)
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.rerun_button)
        buttons.addWidget(self.pdf_button)
        buttons.addStretch(1)
        buttons.addWidget(self.delete_button)

        self.error_box = QGroupBox("Why this run failed")
        error_layout = QVBoxLayout(self.error_box)
        self.error_message = QLabel()
        self.error_message.setWordWrap(True)
        self.error_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_details = QPlainTextEdit()
        self.error_details.setReadOnly(True)
        self.error_details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        error_layout.addWidget(self.error_message)
        error_layout.addWidget(self.error_details)
        self.error_box.setVisible(False)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.table, 1)
        top_layout.addLayout(buttons)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.error_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        layout.addWidget(splitter, 1)

        self.model_filter.textChanged.connect(self.apply_filters)
        for combo in (self.runtime_filter, self.device_filter, self.age_filter):
            combo.currentIndexChanged.connect(self.apply_filters)
        workspace.runs_changed.connect(self.refresh)
        self.refresh()

    # ------------------------------------------------------------------ data

    def refresh(self) -> None:
        """Re-read the runs from the store, keeping the filters and the selection."""
        selected = set(self.selected_ids())
        with self.workspace.store() as store:
            self.all_runs = store.runs(limit=HISTORY_LIMIT)
        self._fill_combo(self.runtime_filter, {r.runtime for r in self.all_runs}, "runtimes")
        self._fill_combo(self.device_filter, {r.device for r in self.all_runs}, "devices")
        self.apply_filters()
        self.select_ids(selected)

    @staticmethod
    def _fill_combo(combo: QComboBox, values: set[str], what: str) -> None:
        current = combo.currentData()
        combo.blockSignals(True)  # refilling is not the user choosing
        combo.clear()
        combo.addItem(f"All {what}", None)
        for value in sorted(values):
            combo.addItem(value, value)
        index = combo.findData(current)
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)

    def apply_filters(self) -> None:
        self.shown = filter_runs(
            self.all_runs,
            self.model_filter.text(),
            self.runtime_filter.currentData(),
            self.device_filter.currentData(),
            self.age_filter.currentData(),
        )
        self._fill_table()
        self.count_label.setText(f"{len(self.shown)} of {len(self.all_runs)} runs")
        self._selection_changed()

    def _fill_table(self) -> None:
        table = self.table
        table.setSortingEnabled(False)  # sorting while filling scrambles the rows
        table.setRowCount(len(self.shown))
        for row, run in enumerate(self.shown):
            stats = run.statistics or {}
            local = created(run).astimezone()
            cells: list[tuple[str, float | None]] = [
                (str(run.id), run.id),
                (local.strftime("%Y-%m-%d %H:%M"), local.timestamp()),
                (run.model_label, None),
                (run.runtime, None),
                (run.device, None),
                (run.status, None),
                (ms(stats.get("p50_ms")), stats.get("p50_ms", -1.0)),
                (ms(stats.get("p99_ms")), stats.get("p99_ms", -1.0)),
                (str(stats.get("count", "-")), stats.get("count", -1)),
            ]
            for column, (text, key) in enumerate(cells):
                item = _SortableItem(text)
                if key is not None:
                    item.setData(Qt.ItemDataRole.UserRole, key)
                if column in NUMERIC_COLUMNS:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if run.status != "ok" and column == 5:
                    item.setForeground(FAILED_COLOUR)
                # The run id rides on every cell so a sorted table still finds its run.
                item.setData(Qt.ItemDataRole.UserRole + 1, run.id)
                table.setItem(row, column, item)
        table.setSortingEnabled(True)
        table.resizeColumnsToContents()
        header = table.horizontalHeader()
        for column in range(table.columnCount()):
            header.resizeSection(column, header.sectionSize(column) + 14)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

    # ------------------------------------------------------------------ selection

    def _run_at(self, row: int) -> RunRow | None:
        item = self.table.item(row, 0)
        if item is None:
            return None
        run_id = item.data(Qt.ItemDataRole.UserRole + 1)
        return next((r for r in self.shown if r.id == run_id), None)

    def selected_runs(self) -> list[RunRow]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [run for run in map(self._run_at, rows) if run is not None]

    def selected_ids(self) -> list[int]:
        return [run.id for run in self.selected_runs()]

    def select_ids(self, ids: set[int]) -> None:
        self.table.clearSelection()
        mode = self.table.selectionMode()
        # MultiSelection toggles rows one by one without clearing the others.
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for row in range(self.table.rowCount()):
            run = self._run_at(row)
            if run is not None and run.id in ids:
                self.table.selectRow(row)
        self.table.setSelectionMode(mode)

    def _selection_changed(self) -> None:
        runs = self.selected_runs()
        self.compare_button.setEnabled(any(r.status == "ok" for r in runs))
        self.pdf_button.setEnabled(any(r.status == "ok" for r in runs))
        self.rerun_button.setEnabled(any(r.artifact_id is not None for r in runs))
        self.delete_button.setEnabled(bool(runs))
        failed = [r for r in runs if r.status != "ok"]
        if len(runs) == 1 and failed:
            run = failed[0]
            message, details = error_text(run.error)
            self.error_box.setTitle(f"Why run {run.id} ({run.model_label}) {run.status}")
            self.error_message.setText(message)
            self.error_details.setPlainText(details)
        self.error_box.setVisible(len(runs) == 1 and bool(failed))

    # ------------------------------------------------------------------ actions

    def compare_selected(self) -> None:
        ids = sorted(r.id for r in self.selected_runs() if r.status == "ok")
        if ids:
            self.workspace.compare_requested.emit(ids)

    def export_pdf(self, path: str = "") -> PdfExport | None:
        """Ask for a file and build the PDF report of the selected successful runs."""
        ids = sorted(r.id for r in self.selected_runs() if r.status == "ok")
        export = PdfExport(self, self.workspace)
        return export if export.start(ids, None, path) else None

    def rerun_selected(self) -> None:
        """Run the selected runs again as stored: same device, runtime, threads, inputs,
        policy and evaluation data (the Profile page shows them as they run)."""
        ids = [r.id for r in self.selected_runs() if r.artifact_id is not None]
        if ids:
            self.workspace.rerun_requested.emit(ids)

    def delete_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        what = f"run {ids[0]}" if len(ids) == 1 else f"{len(ids)} runs"
        answer = QMessageBox.question(
            self,
            "Delete runs",
            f"Delete {what} with their raw samples? This cannot be undone.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        with self.workspace.store() as store:
            for run_id in ids:
                store.delete_run(run_id)
        self.workspace.runs_changed.emit()

    def _double_clicked(self, row: int, _column: int) -> None:
        run = self._run_at(row)
        if run is not None and run.status == "ok":
            self.workspace.compare_requested.emit([run.id])
