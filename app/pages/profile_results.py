"""The Profile page's results: the jobs table and the summary of the selected job."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.formatting import ms
from app.pages.profile_jobs import (
    DONE,
    FAILED,
    FAILED_COLOUR,
    NOT_RUN,
    ProfileJob,
)

# ---------------------------------------------------------------------- results


class ResultsTable(QTableWidget):
    """One row per job of the queue: model, runtime, device, status, p50, p99, run id."""

    HEADERS = ("Model", "Runtime", "Device", "Status", "p50 (ms)", "p99 (ms)", "Run")
    STATUS, P50, P99, RUN = 3, 4, 5, 6

    def __init__(self) -> None:
        super().__init__(0, len(self.HEADERS))
        self.setHorizontalHeaderLabels(self.HEADERS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.horizontalHeader()
        for column in range(len(self.HEADERS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(self.STATUS, QHeaderView.ResizeMode.Stretch)
        # One line per job; a long error is elided here and shown whole in the summary.
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.horizontalHeaderItem(self.P50).setToolTip("Nearest-rank sorted[floor(n*0.5)]")
        self.horizontalHeaderItem(self.P99).setToolTip("Nearest-rank sorted[floor(n*0.99)]")

    def show_jobs(self, jobs: Sequence[ProfileJob]) -> None:
        self.setRowCount(len(jobs))
        for row, job in enumerate(jobs):
            self.show_job(row, job)

    def show_job(self, row: int, job: ProfileJob) -> None:
        stats = job.statistics
        status = job.status
        if job.status == FAILED and job.error:
            status = f"failed: {job.error.get('message', '')}"
        if job.status == NOT_RUN and job.error:
            status = f"not run: {job.error.get('message', '')}"
        cells = (
            job.model,
            job.runtime,
            job.device,
            status,
            ms(stats.get("p50_ms")) if stats else "",
            ms(stats.get("p99_ms")) if stats else "",
            str(job.run_id) if job.run_id is not None else "",
        )
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if column >= self.P50:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if column == self.STATUS and job.status in (FAILED, NOT_RUN) and job.error:
                item.setForeground(QColor(FAILED_COLOUR))
            item.setToolTip(text)
            self.setItem(row, column, item)


#: Tooltips of the rows that are not catalogue figures.
FIGURE_TIPS = {
    "inputs": "The shape of every input fed to the timed runs",
    "input default": "An input the run fed with a default (set it in the Inputs table)",
}


def summary_rows(job: ProfileJob) -> list[tuple[str, str]]:
    """(figure, value) of a finished job: the catalogue's figures (engines.floor.figures,
    the same names and formats as Compare, the CLI and the report), then its inputs."""
    return [(name, value) for name, value, _tip in summary_lines(job)]


def summary_lines(job: ProfileJob) -> list[tuple[str, str, str]]:
    """(figure, value, definition) of a finished job."""
    from engines.floor.figures import run_summary

    result = job.result or {}
    timed = bool(job.request.measure if job.request is not None else True)
    lines = [
        (line.label, line.text, line.definition)
        for line in run_summary(result, timed, job.model_file_bytes)
    ]
    if result:
        shapes = result.get("input_shapes") or {}
        if shapes:
            text = ", ".join(f"{k} {list(v)}" for k, v in shapes.items())
            lines.append(("inputs", text, FIGURE_TIPS["inputs"]))
        for note in result.get("input_notes") or []:
            lines.append(("input default", note, FIGURE_TIPS["input default"]))
    return lines


class JobSummary(QWidget):
    """The figures of one job, or its error with a Details… expander."""

    def __init__(self) -> None:
        super().__init__()
        self.title = QLabel("Select a job to see its figures")
        self.title.setWordWrap(True)
        self.figures = QTableWidget(0, 2)
        self.figures.setHorizontalHeaderLabels(("Figure", "Value"))
        self.figures.verticalHeader().setVisible(False)
        self.figures.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.figures.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents
        )
        self.figures.horizontalHeader().setStretchLastSection(True)
        self.figures.setWordWrap(False)
        self.figures.verticalHeader().setDefaultSectionSize(22)
        self.details_button = QPushButton("Details…")
        self.details_button.setCheckable(True)
        self.details_button.setVisible(False)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        # Tracebacks read best unwrapped, in a fixed-width font.
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setVisible(False)
        self.details_button.toggled.connect(self.details.setVisible)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.figures, 1)
        layout.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.details, 1)

    def show_job(self, job: ProfileJob) -> None:
        model = html.escape(job.model)
        head = f"<b>{model}</b> on <b>{job.runtime}</b> · {job.device}: {job.status}"
        if job.run_id is not None:
            head += f" (run {job.run_id})"
        if job.error and job.status != DONE:
            error = job.error
            where = f"{error.get('error_type', 'error')}, phase {error.get('phase', '?')}"
            head += f"<br>{html.escape(error.get('message', ''))} <i>({html.escape(where)})</i>"
        for warning in job.statistics.get("warnings", []):
            head += f"<br><small>Note: {html.escape(warning)}</small>"
        self.title.setText(head)
        rows = summary_lines(job)
        self.figures.setRowCount(len(rows))
        for row, (name, value, definition) in enumerate(rows):
            for column, text in enumerate((name, value)):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{value}\n\n{definition}".strip())
                self.figures.setItem(row, column, item)
        self.figures.setVisible(bool(rows))
        details = ((job.error or {}).get("details") or "").strip()
        has_error = job.error is not None and job.status != DONE
        self.details.setPlainText(details or "The agent sent no details.")
        self.details_button.setVisible(has_error)
        self.details_button.setChecked(False)
