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

from app.formatting import ms, size
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


# (figure, tooltip with its definition from the README)
FIGURE_TIPS = {
    "p50": "Median, nearest-rank sorted[floor(n*0.5)]",
    "p50 95% CI": "Distribution-free 95% confidence interval of the median (binomial "
    "order statistics)",
    "p99": "Nearest-rank sorted[floor(n*0.99)]; a p99 claim needs at least 662 samples "
    "(MLPerf early stopping)",
    "mean ± std": "Mean and population standard deviation of the measured samples",
    "CV": "std / mean; above 10% the machine was noisy or the model warms up slowly",
    "throughput": "batch / mean latency",
    "load_ms": "Session/interpreter creation, including delegates",
    "first_ms": "The first inference, cold",
    "peak_rss_delta": "peak_rss (the highest of all readings: RSS before and after load, "
    "at phase boundaries, sampled, and the kernel's high-water marks) minus rss_before_load",
    "model size": "model_file_bytes: the file the runtime opened",
    "top-1 / top-5": "Labelled accuracy on the evaluation data, on this runtime",
    "inputs": "The shape of every input fed to the timed runs",
    "input default": "An input the run fed with a default (set it in the Inputs table)",
}
_FIDELITY_TIP = "Fidelity to the FP32 source model on the same inputs"
FIGURE_TIPS["cosine (mean, min)"] = f"{_FIDELITY_TIP}: cosine similarity of the outputs"
FIGURE_TIPS["SQNR"] = f"{_FIDELITY_TIP}: signal-to-quantization-noise ratio in dB"
FIGURE_TIPS["top-1 agreement"] = f"{_FIDELITY_TIP}: share of inputs with the same top class"


def summary_rows(job: ProfileJob) -> list[tuple[str, str]]:
    """(figure, value) of a finished job, in the words of the README's definitions."""
    result = job.result or {}
    stats, memory = job.statistics, result.get("memory") or {}
    rows: list[tuple[str, str]] = []
    if stats:
        ci = stats.get("median_ci95_ms") or [None, None]
        rows += [
            ("p50", f"{ms(stats['p50_ms'])} ms"),
            ("p50 95% CI", f"{ms(ci[0])} - {ms(ci[1])} ms"),
            ("p99", f"{ms(stats['p99_ms'])} ms  ({stats['count']:,} samples)"),
            ("mean ± std", f"{ms(stats['mean_ms'])} ± {ms(stats['std_ms'])} ms"),
            ("CV", f"{stats['cv']:.1%}"),
            ("throughput", f"{stats['throughput_per_s']:,.1f} inferences/s"),
        ]
    if result:
        rows += [
            ("load_ms", f"{ms(result.get('load_ms'))} ms"),
            ("first_ms", f"{ms(result.get('first_ms'))} ms"),
            ("peak_rss_delta", size(memory.get("peak_rss_delta_bytes"))),
            ("model size", size(memory.get("model_file_bytes", job.model_file_bytes))),
        ]
        shapes = result.get("input_shapes") or {}
        if shapes:
            rows.append(("inputs", ", ".join(f"{k} {list(v)}" for k, v in shapes.items())))
        rows += [("input default", note) for note in result.get("input_notes") or []]
    evaluation = result.get("evaluation") or {}
    classification = evaluation.get("classification") or {}
    if classification.get("top1") is not None:
        top5 = classification.get("top5")
        rows.append(
            (
                "top-1 / top-5",
                f"{classification['top1']:.2%}" + (f" / {top5:.2%}" if top5 is not None else ""),
            )
        )
    fidelity = evaluation.get("fidelity") or {}
    if fidelity.get("cosine_mean") is not None:
        rows.append(
            ("cosine (mean, min)", f"{fidelity['cosine_mean']:.4f}, {fidelity['cosine_min']:.4f}")
        )
        rows.append(("SQNR", f"{fidelity['sqnr_db']:.1f} dB"))
        if fidelity.get("top1_agreement") is not None:
            rows.append(("top-1 agreement", f"{fidelity['top1_agreement']:.2%}"))
    return rows


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
        rows = summary_rows(job)
        self.figures.setRowCount(len(rows))
        for row, (name, value) in enumerate(rows):
            for column, text in enumerate((name, value)):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{value}\n\n{FIGURE_TIPS.get(name, '')}".strip())
                self.figures.setItem(row, column, item)
        self.figures.setVisible(bool(rows))
        details = ((job.error or {}).get("details") or "").strip()
        has_error = job.error is not None and job.status != DONE
        self.details.setPlainText(details or "The agent sent no details.")
        self.details_button.setVisible(has_error)
        self.details_button.setChecked(False)
