"""The Profile page: pick models, runtimes and devices, run them, watch them live.

Each (model, runtime, device) is one job through `Workspace.start_job`; the job opens its
own store connection in its own thread. Each device has its own queue (one job at a time
on a device, so runs there do not disturb each other); different devices run at once.
Event slots only append to the live view's buffers; the view redraws from its own timer,
so thousands of samples a second never stall the window. Finished jobs land in a results
table with their summary and, on failure, the agent's message and details.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.formatting import ms, size
from app.widgets.live_plots import LiveRunView
from app.worker import EventWorker
from app.workspace import Workspace
from engines.bench.spec import RunPolicy
from engines.store.db import ArtifactRow

RUNTIMES = ("onnxruntime", "litert", "torch")
FAILED_COLOUR = "#d62728"
PHASE_WORDS = {
    "preparing": "preparing the model",
    "spawn": "starting the worker",
    "spec": "starting the worker",
    "verify": "checking the model file",
    "load": "loading (load_ms)",
    "first": "first inference (first_ms)",
    "warmup": "warming up",
    "measure": "measuring",
    "evaluate": "evaluating accuracy",
    "finish": "finishing",
}
# Job states, in the words the results table shows.
QUEUED, RUNNING, DONE, FAILED, CANCELLED, NOT_RUN = (
    "queued",
    "running",
    "done",
    "failed",
    "cancelled",
    "not run",
)
#: Streamed events are sent to the page in batches of this long (see `batched`).
BATCH_WINDOW_S = 0.03
STREAMED = frozenset({"sample", "memory", "progress"})
#: How long a job's thread waits for the page to connect to its signals (see `_start_next`).
CONNECT_WAIT_S = 10.0
DEFAULT_DEVICE = "local-cpu"
HOST_KEY_ERRORS = ("UnknownHostKey", "ChangedHostKey")


def runtimes_for(fmt: str) -> list[str]:
    """Runtimes that open this format, or that a torch model can be exported to."""
    from engines.export.runnable import EXPORT_TARGETS, TORCH_SOURCES
    from engines.runtimes.registry import all_runtimes

    return [
        rt.name
        for rt in all_runtimes()
        if fmt in rt.formats
        or (fmt in TORCH_SOURCES and any(f in EXPORT_TARGETS for f in rt.formats))
    ]


@dataclass
class ProfileJob:
    """One (model, runtime, device) of the queue and what became of it."""

    artifact_id: int
    model: str
    runtime: str
    device: str = DEFAULT_DEVICE
    status: str = QUEUED
    run_id: int | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    model_file_bytes: int | None = None
    #: What arrived so far, so the live view can switch to this job while it runs.
    samples_ms: list[float] = field(default_factory=list)
    memory: list[tuple[float, int]] = field(default_factory=list)
    phase: str = "preparing"
    progress: dict[str, Any] | None = None

    @property
    def statistics(self) -> dict[str, Any]:
        return (self.result or {}).get("statistics") or {}


def plan_jobs(
    artifacts: Sequence[ArtifactRow],
    runtimes: Sequence[str],
    devices: Sequence[str] = (DEFAULT_DEVICE,),
    device_runtimes: Mapping[str, Sequence[str]] | None = None,
) -> list[ProfileJob]:
    """Every checked model on every checked runtime that can take it, on every checked
    device (a device that names its runtimes gets only those), model by model."""
    allowed = device_runtimes or {}
    return [
        ProfileJob(artifact.id, artifact.name, runtime, device)
        for artifact in artifacts
        for runtime in runtimes
        if runtime in runtimes_for(artifact.format)
        for device in devices
        if not allowed.get(device) or runtime in allowed[device]
    ]


def profile_events(
    workspace: Workspace, request: Any, device: Any, connected: threading.Event | None = None
) -> Iterator[dict[str, Any]]:
    """The job's generator, run in the job's thread with its own store connection
    (sqlite connections must not cross threads)."""
    from engines.bench.profile import profile

    if connected is not None:
        connected.wait(CONNECT_WAIT_S)
    with workspace.store() as store:
        yield from batched(profile(request, store, device))


def close_events(device: Any) -> Iterator[dict[str, Any]]:
    """End a device's shared connection when its queue is done (ssh -O exit: off the GUI
    thread, like every call that reaches a device)."""
    device.close()
    yield {"type": "closed", "device": device.name}


def batched(
    events: Iterator[dict[str, Any]], window_s: float = BATCH_WINDOW_S
) -> Iterator[dict[str, Any]]:
    """Gather streamed events (samples, memory, progress) into one `batch` event per
    window: a tiny model sends over a thousand lines a second, and each one would be a
    cross-thread signal. Any other event flushes the batch and passes at once."""
    pending: list[dict[str, Any]] = []
    first_s = 0.0
    for event in events:
        if event["type"] in STREAMED:
            if not pending:
                first_s = time.monotonic()
            pending.append(event)
            if time.monotonic() - first_s < window_s:
                continue
        if pending:
            yield {"type": "batch", "events": pending}
            pending = []
        if event["type"] not in STREAMED:
            yield event
    if pending:
        yield {"type": "batch", "events": pending}


# ---------------------------------------------------------------------- choosing


class SetupPanel(QWidget):
    """What to run: models × runtimes × devices, threads, run policy and optional
    evaluation data."""

    def __init__(self) -> None:
        super().__init__()
        self._formats: dict[int, str] = {}
        self._base_policy = RunPolicy()

        self.models = QListWidget()
        self.models.setToolTip("Check the models to profile; variants sit under their source")
        self.models.itemChanged.connect(self._update_runtimes)
        models_box = QGroupBox("Models")
        QVBoxLayout(models_box).addWidget(self.models)

        self.runtime_boxes: dict[str, QCheckBox] = {}
        runtime_box = QGroupBox("Runtimes")
        runtime_layout = QHBoxLayout(runtime_box)
        for name in RUNTIMES:
            box = QCheckBox(name)
            box.setChecked(name == "onnxruntime")
            self.runtime_boxes[name] = box
            runtime_layout.addWidget(box)
        runtime_layout.addStretch(1)

        self.devices = QListWidget()
        self.devices.setToolTip(
            "Check where to run: each device runs one job at a time, different devices "
            "run at once. Add devices on the Devices page."
        )
        self.devices.setMaximumHeight(92)
        self.device_runtimes: dict[str, tuple[str, ...]] = {}
        self.devices_error = QLabel()
        self.devices_error.setTextFormat(Qt.TextFormat.PlainText)
        self.devices_error.setWordWrap(True)
        self.devices_error.setStyleSheet(f"color: {FAILED_COLOUR};")
        self.devices_error.setVisible(False)
        devices_box = QGroupBox("Devices")
        devices_layout = QVBoxLayout(devices_box)
        devices_layout.addWidget(self.devices)
        devices_layout.addWidget(self.devices_error)

        self.threads = QSpinBox()
        self.threads.setRange(0, max(256, os.cpu_count() or 1))
        self.threads.setSpecialValueText("each device's default")
        self.threads.setToolTip(
            "Threads for the runtime; lowest: each device's own default (its profile's "
            "threads, else its physical cores)"
        )
        self.warmup_runs = QSpinBox()
        self.warmup_runs.setRange(0, 100_000)
        self.warmup_runs.setToolTip("Warm-up lasts until both this many runs and 0.5 s are met")
        self.min_runs = QSpinBox()
        self.min_runs.setRange(1, 1_000_000)
        self.min_runs.setToolTip("Measuring lasts until both the runs and the seconds are met")
        self.min_s = QDoubleSpinBox()
        self.min_s.setRange(0.0, 150.0)
        self.min_s.setDecimals(1)
        self.min_s.setSuffix(" s")
        self.min_s.setToolTip(self.min_runs.toolTip() + " (capped at 150 s)")
        self.evaluate = QLineEdit()
        self.evaluate.setPlaceholderText("digits, synthetic:32, a path")
        self.evaluate.setToolTip(
            "Also measure accuracy on this data: top-1/top-5 where labels exist and "
            "fidelity to the FP32 source model (cosine, SQNR, top-1 agreement). "
            "Empty: latency and memory only."
        )
        settings_box = QGroupBox("Settings")
        form = QFormLayout(settings_box)
        form.addRow("Threads", self.threads)
        form.addRow("Warm-up runs", self.warmup_runs)
        form.addRow("Runs, at least", self.min_runs)
        form.addRow("Seconds, at least", self.min_s)
        form.addRow("Evaluate on", self.evaluate)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(models_box, 1)
        layout.addWidget(runtime_box)
        layout.addWidget(devices_box)
        layout.addWidget(settings_box)
        from engines.bench.profile import default_threads

        self.threads.setValue(default_threads())
        self.set_policy(self._base_policy)
        self.refresh_devices()

    # ------------------------------------------------------------------ devices

    def refresh_devices(self) -> None:
        """Re-read the device profiles, keeping what was checked (local-cpu at first)."""
        from profiles.devices import all_devices

        checked = set(self.checked_devices()) or {DEFAULT_DEVICE}
        try:
            profiles = all_devices()
            self.devices_error.setVisible(False)
        except Exception as exc:  # a broken profile file: say so, keep this machine
            profiles = {}
            self.devices_error.setText(getattr(exc, "message", str(exc)))
            self.devices_error.setVisible(True)
        self.device_runtimes = {name: p.runtimes for name, p in profiles.items()}
        self.devices.blockSignals(True)
        self.devices.clear()
        for name, device in (profiles or {DEFAULT_DEVICE: None}).items():
            where = device.describe() if device is not None else "this machine (cpu)"
            item = QListWidgetItem(f"{name}  ·  {where}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            state = Qt.CheckState.Checked if name in checked else Qt.CheckState.Unchecked
            item.setCheckState(state)
            tip = where
            if device is not None and device.runtimes:
                tip += f"\nruns only: {', '.join(device.runtimes)}"
            if device is not None and device.notes:
                tip += f"\n{device.notes}"
            item.setToolTip(tip)
            self.devices.addItem(item)
        self.devices.blockSignals(False)

    def checked_devices(self) -> list[str]:
        return [
            str(item.data(Qt.ItemDataRole.UserRole))
            for item in map(self.devices.item, range(self.devices.count()))
            if item.checkState() == Qt.CheckState.Checked
        ]

    def select_devices(self, names: Sequence[str]) -> None:
        wanted = set(names)
        for item in map(self.devices.item, range(self.devices.count())):
            checked = str(item.data(Qt.ItemDataRole.UserRole)) in wanted
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    # ------------------------------------------------------------------ models

    def set_artifacts(self, artifacts: Sequence[ArtifactRow], checked: set[int]) -> None:
        """Fill the list, variants under their source, keeping `checked` checked."""
        self.models.blockSignals(True)
        self.models.clear()
        self._formats = {a.id: a.format for a in artifacts}
        for artifact, depth in _tree_order(artifacts):
            prefix = "    " * depth + ("↳ " if depth else "")
            item = QListWidgetItem(f"{prefix}{artifact.name}  ·  {artifact.format}")
            item.setData(Qt.ItemDataRole.UserRole, artifact.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            state = Qt.CheckState.Checked if artifact.id in checked else Qt.CheckState.Unchecked
            item.setCheckState(state)
            item.setToolTip(
                f"artifact {artifact.id}: {artifact.format}, {size(artifact.size_bytes)}"
                + (f"\nmade by {artifact.step}" if artifact.step else "")
                + f"\nruns on: {', '.join(runtimes_for(artifact.format)) or 'no runtime'}"
            )
            self.models.addItem(item)
        self.models.blockSignals(False)
        self._update_runtimes()

    def checked_ids(self) -> list[int]:
        return [
            int(item.data(Qt.ItemDataRole.UserRole))
            for item in map(self.models.item, range(self.models.count()))
            if item.checkState() == Qt.CheckState.Checked
        ]

    def select(self, artifact_ids: Sequence[int], runtimes: Sequence[str] | None = None) -> None:
        wanted = set(artifact_ids)
        for item in map(self.models.item, range(self.models.count())):
            checked = int(item.data(Qt.ItemDataRole.UserRole)) in wanted
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        if runtimes is not None:
            for name, box in self.runtime_boxes.items():
                box.setChecked(name in runtimes)

    def checked_runtimes(self) -> list[str]:
        return [n for n, box in self.runtime_boxes.items() if box.isChecked() and box.isEnabled()]

    def _update_runtimes(self) -> None:
        """Offer only runtimes that some checked model can go to."""
        checked = self.checked_ids()
        usable = {rt for i in checked for rt in runtimes_for(self._formats.get(i, ""))}
        for name, box in self.runtime_boxes.items():
            box.setEnabled(not checked or name in usable)

    # ------------------------------------------------------------------ settings

    def policy(self) -> RunPolicy:
        return dataclasses.replace(
            self._base_policy,
            warmup_runs=self.warmup_runs.value(),
            min_runs=self.min_runs.value(),
            min_s=self.min_s.value(),
        )

    def set_policy(self, policy: RunPolicy) -> None:
        """Show `policy`; its fields without a control (warm-up seconds, caps) are kept."""
        self._base_policy = policy
        self.warmup_runs.setValue(policy.warmup_runs)
        self.min_runs.setValue(policy.min_runs)
        self.min_s.setValue(policy.min_s)

    def evaluate_data(self) -> str | None:
        return self.evaluate.text().strip() or None


def _tree_order(artifacts: Sequence[ArtifactRow]) -> list[tuple[ArtifactRow, int]]:
    """Sources first, each followed by its variants (depth-first), with their depth."""
    ids = {a.id for a in artifacts}
    children: dict[int | None, list[ArtifactRow]] = {}
    for artifact in artifacts:
        parent = artifact.parent_id if artifact.parent_id in ids else None
        children.setdefault(parent, []).append(artifact)
    ordered: list[tuple[ArtifactRow, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for artifact in children.get(parent, []):
            ordered.append((artifact, depth))
            walk(artifact.id, depth + 1)

    walk(None, 0)
    return ordered


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


# (figure, tooltip quoting MEASUREMENT.md)
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
    "peak_rss_delta": "peak_rss (high-water mark: ru_maxrss plus a sampling thread) minus "
    "rss_before_load",
    "model size": "model_file_bytes: the file the runtime opened",
    "top-1 / top-5": "Labelled accuracy on the evaluation data, on this runtime",
}
_FIDELITY_TIP = "Fidelity to the FP32 source model on the same inputs"
FIGURE_TIPS["cosine (mean, min)"] = f"{_FIDELITY_TIP}: cosine similarity of the outputs"
FIGURE_TIPS["SQNR"] = f"{_FIDELITY_TIP}: signal-to-quantization-noise ratio in dB"
FIGURE_TIPS["top-1 agreement"] = f"{_FIDELITY_TIP}: share of inputs with the same top class"


def summary_rows(job: ProfileJob) -> list[tuple[str, str]]:
    """(figure, value) of a finished job, in the words of MEASUREMENT.md."""
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
        head = f"<b>{_escape(job.model)}</b> on <b>{job.runtime}</b> · {job.device}: {job.status}"
        if job.run_id is not None:
            head += f" (run {job.run_id})"
        if job.error and job.status != DONE:
            error = job.error
            where = f"{error.get('error_type', 'error')}, phase {error.get('phase', '?')}"
            head += f"<br>{_escape(error.get('message', ''))} <i>({_escape(where)})</i>"
        for warning in job.statistics.get("warnings", []):
            head += f"<br><small>Note: {_escape(warning)}</small>"
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


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------------- the page


@dataclass
class DeviceLane:
    """One device's queue while it runs: the opened device and its one running job."""

    name: str
    device: Any = None
    job: ProfileJob | None = None
    worker: EventWorker | None = None
    #: The job that ends the device's shared connection once its queue is done.
    closing: EventWorker | None = None


class ProfilePage(QWidget):
    """Run checked models × runtimes × devices, one job at a time per device; see the
    latest (or the selected running) job live, then every job's figures.

    For other pages and tests: `select(artifact_ids, runtimes)`, `select_devices(names)`,
    `set_policy(policy)`, `run()`, `cancel()`, `is_running()`, `results()` (the jobs) and
    `run_ids()`.
    """

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.jobs: list[ProfileJob] = []
        self._artifacts: list[ArtifactRow] = []
        self._lanes: dict[str, DeviceLane] = {}
        self._workers: dict[EventWorker, ProfileJob] = {}
        #: The job the live view shows, and whether the user chose it (a selected row).
        self._live: ProfileJob | None = None
        self._pinned = False

        self.setup = SetupPanel()
        self.setup.setFixedWidth(290)
        self.run_button = QPushButton("Run")
        self.run_button.setDefault(True)
        self.run_button.setToolTip(
            "Run every checked model on every checked runtime and device (Ctrl+R)"
        )
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running jobs and the rest of the queue")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.cancel_button)
        left = QVBoxLayout()
        left.addWidget(self.setup, 1)
        left.addLayout(buttons)

        self.job_label = QLabel("Check models, runtimes and devices, then Run.")
        self.job_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        self.live = LiveRunView()
        live_box = QWidget()
        live_layout = QVBoxLayout(live_box)
        live_layout.setContentsMargins(0, 0, 0, 0)
        live_layout.addWidget(self.job_label)
        live_layout.addWidget(self.progress)
        live_layout.addWidget(self.live, 1)

        self.table = ResultsTable()
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.summary = JobSummary()
        self.compare_button = QPushButton("Compare these runs")
        self.compare_button.setEnabled(False)
        self.compare_button.setToolTip("Open the finished runs of this queue on the Compare page")
        self.compare_button.clicked.connect(self._compare)
        results_box = QWidget()
        results_layout = QHBoxLayout(results_box)
        results_layout.setContentsMargins(0, 0, 0, 0)
        table_column = QVBoxLayout()
        table_column.addWidget(self.table, 1)
        table_column.addWidget(self.compare_button, 0, Qt.AlignmentFlag.AlignRight)
        results_layout.addLayout(table_column, 5)
        results_layout.addWidget(self.summary, 4)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(live_box)
        splitter.addWidget(results_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([470, 310])
        layout = QHBoxLayout(self)
        layout.addLayout(left)
        layout.addWidget(splitter, 1)

        workspace.artifacts_changed.connect(self.refresh_artifacts)
        workspace.profile_requested.connect(self.select)
        workspace.current_artifact_changed.connect(self._on_current_artifact)
        self.setup.models.itemChanged.connect(self._update_run_button)
        for box in self.setup.runtime_boxes.values():
            box.toggled.connect(self._update_run_button)
        self.setup.devices.itemChanged.connect(self._update_run_button)
        workspace.devices_changed.connect(self.refresh_devices)
        self.refresh_artifacts()

    # ------------------------------------------------------------------ choosing

    def refresh_artifacts(self) -> None:
        """Re-read the models from the store, keeping what was checked."""
        checked = set(self.setup.checked_ids())
        if not checked and self.workspace.current_artifact_id is not None:
            checked = {self.workspace.current_artifact_id}
        try:
            with self.workspace.store() as store:
                self._artifacts = store.artifacts()
        except Exception as exc:  # an unreadable store must not take the window down
            self._artifacts = []
            self.job_label.setText(f"Could not read the models: {exc}")
        self.setup.set_artifacts(self._artifacts, checked)
        self._update_run_button()

    def select(self, artifact_ids: Sequence[int], runtimes: Sequence[str] | None = None) -> None:
        """Check exactly these models (and, if given, these runtimes)."""
        known = {a.id for a in self._artifacts}
        if not set(artifact_ids) <= known:
            self.refresh_artifacts()  # asked for a model imported since the last refresh
        self.setup.select(artifact_ids, runtimes)
        self._update_run_button()

    def set_policy(self, policy: RunPolicy) -> None:
        self.setup.set_policy(policy)

    def select_devices(self, names: Sequence[str]) -> None:
        self.setup.select_devices(names)
        self._update_run_button()

    def refresh_devices(self) -> None:
        self.setup.refresh_devices()
        self._update_run_button()

    def _on_current_artifact(self, artifact_id: int) -> None:
        """The model in focus is a good default, but never overrides a choice."""
        if not self.setup.checked_ids():
            self.select([artifact_id])

    def planned_jobs(self) -> list[ProfileJob]:
        checked = set(self.setup.checked_ids())
        chosen = [a for a in self._artifacts if a.id in checked]
        return plan_jobs(
            chosen,
            self.setup.checked_runtimes(),
            self.setup.checked_devices(),
            self.setup.device_runtimes,
        )

    def _update_run_button(self) -> None:
        if self.is_running():
            return
        count = len(self.planned_jobs())
        self.run_button.setEnabled(count > 0)
        self.run_button.setText(f"Run {count} job{'s' if count != 1 else ''}" if count else "Run")

    # ------------------------------------------------------------------ running

    def run(self) -> None:
        """Queue every checked model × runtime × device and start each device's first job."""
        if self.is_running():
            return
        jobs = self.planned_jobs()
        if not jobs:
            self.job_label.setText(
                "Check at least one model, a runtime that can run it and a device."
            )
            return
        self.jobs = jobs
        self._live, self._pinned = None, False
        self._lanes = {name: DeviceLane(name) for name in dict.fromkeys(j.device for j in jobs)}
        self.table.show_jobs(jobs)
        self.compare_button.setEnabled(False)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._start_next()

    def cancel(self) -> None:
        """Stop the running jobs (on every device) and drop the rest of the queue."""
        if not self.is_running():
            return
        for row, job in enumerate(self.jobs):
            if job.status == QUEUED:
                job.status = NOT_RUN
                self.table.show_job(row, job)
        self.job_label.setText("Cancelling…")
        for lane in self._lanes.values():
            if lane.worker is not None:
                lane.worker.cancel()

    def is_running(self) -> bool:
        return bool(self._lanes)

    def results(self) -> list[ProfileJob]:
        """The jobs of the last queue, in order, with their status and figures."""
        return list(self.jobs)

    def run_ids(self) -> list[int]:
        """Stored runs of the last queue that finished with figures."""
        return [j.run_id for j in self.jobs if j.status == DONE and j.run_id is not None]

    def running_jobs(self) -> list[ProfileJob]:
        return [lane.job for lane in self._lanes.values() if lane.job is not None]

    def _start_next(self) -> None:
        """Give every idle device its next queued job; a device with none left is closed."""
        for lane in list(self._lanes.values()):
            if lane.job is not None or lane.closing is not None:
                continue
            job = next((j for j in self.jobs if j.status == QUEUED and j.device == lane.name), None)
            if job is None:
                self._close_lane(lane)
            else:
                self._start_job(lane, job)
        if not self._lanes:
            self._queue_finished()

    def _open(self, lane: DeviceLane) -> bool:
        """Open the lane's device once (no network: that happens in the jobs)."""
        if lane.device is not None:
            return True
        from engines.devices.profile import open_device
        from engines.errors import BadInput
        from profiles.devices import get_device

        try:
            lane.device = open_device(get_device(lane.name))
            return True
        except BadInput as exc:
            error = {"error_type": "BadInput", "message": exc.message, "details": exc.details}
            for row, job in enumerate(self.jobs):
                if job.device == lane.name and job.status == QUEUED:
                    job.status, job.error = FAILED, error
                    self.table.show_job(row, job)
            return False

    def _start_job(self, lane: DeviceLane, job: ProfileJob) -> None:
        if not self._open(lane):
            self._start_next()
            return
        from engines.bench.profile import ProfileRequest

        job.status = RUNNING
        self.table.show_job(self.jobs.index(job), job)
        request = ProfileRequest(
            model=f"artifact:{job.artifact_id}",
            runtime=job.runtime,
            threads=self.setup.threads.value() or None,
            policy=self.setup.policy(),
            evaluate_data=self.setup.evaluate_data(),
            # Hidden test switch, as in the CLI: the agent obeys it only when
            # EDGEBENCH_ALLOW_FAULTS=1.
            fault=os.environ.get("EDGEBENCH_TEST_FAULT") or None,
        )
        device = lane.device
        workspace = self.workspace

        def connect(worker: EventWorker) -> None:
            # Before the thread starts, so nothing (not even an instant failure) is lost.
            # Bound methods of this page, not lambdas: PySide runs a lambda slot in the
            # sender's (the job's) thread, a bound method of a QObject in the GUI thread.
            worker.on_cancel(device.cancel)
            worker.event.connect(self._on_event)
            worker.finished.connect(self._on_finished)
            worker.failed.connect(self._on_failed)
            self._workers[worker] = job

        lane.job = job
        lane.worker = workspace.start_job(
            lambda _cancel: profile_events(workspace, request, device),
            f"profile {job.model} on {job.runtime} ({job.device})",
            connect=connect,
        )
        if not self._pinned or self._live is None:
            self._show_live(job)
        else:
            self._show_job_label()

    def _close_lane(self, lane: DeviceLane) -> None:
        device = lane.device
        if device is None or device.kind == "local":
            self._lanes.pop(lane.name, None)
            return

        def connect(worker: EventWorker) -> None:
            worker.finished.connect(self._on_lane_closed)
            worker.failed.connect(self._on_lane_closed)

        lane.closing = self.workspace.start_job(
            lambda _cancel: close_events(device), f"disconnect {lane.name}", connect=connect
        )

    def _on_lane_closed(self, _error: Any = None) -> None:
        sender = self.sender()
        for name, lane in list(self._lanes.items()):
            if lane.closing is sender:
                del self._lanes[name]
        if not self._lanes:
            self._queue_finished()

    # ------------------------------------------------------------------ events

    def _on_event(self, event: dict[str, Any]) -> None:
        """Called for every event of every job (streamed ones come in batches): samples
        go into the job's lists and, for the job on show, the live view's buffers; its
        own timer redraws the plots."""
        job = self._workers.get(self.sender())
        if job is not None:
            self._handle(job, event)

    def _handle(self, job: ProfileJob, event: dict[str, Any]) -> None:
        live = job is self._live
        kind = event["type"]
        if kind == "batch":
            for item in event["events"]:
                self._handle(job, item)
            if live and job.progress is not None:
                # Only the latest progress of a batch is drawn (a progress bar repaint
                # is not free), and only once.
                self._show_progress(job.progress)
        elif kind == "sample":
            job.samples_ms.extend(event["ms"])
            if live:
                self.live.add_samples(event["ms"])
        elif kind == "memory":
            job.memory.append((event["t_s"], event["rss_bytes"]))
            if live:
                self.live.add_memory(event["t_s"], event["rss_bytes"])
        elif kind == "progress":
            job.progress = event
        elif kind == "phase":
            job.progress = None
            job.phase = event["phase"]
            if live:
                self._show_phase(job.phase)
        elif kind == "spec":
            job.model_file_bytes = event.get("model_file_bytes")
        elif kind == "result":
            job.result = event
            if live:
                self.live.show_memory_result(event.get("memory") or {})
        elif kind == "error":
            job.error = event
        elif kind == "stored":
            job.run_id = int(event["run_id"])

    def _on_finished(self) -> None:
        job = self._workers.pop(self.sender(), None)
        if job is None:
            return
        if job.result is not None:
            job.status = DONE
        elif job.error and job.error.get("error_type") == "cancelled":
            job.status = CANCELLED
        else:
            job.status = FAILED
            job.error = job.error or {"message": "the job ended without a result"}
        self._job_ended(job)

    def _on_failed(self, error: dict[str, Any]) -> None:
        job = self._workers.pop(self.sender(), None)
        if job is None:
            return
        if error.get("error_type") == "cancelled":
            job.status = CANCELLED
            job.error = job.error or error
        elif error.get("error_type") in HOST_KEY_ERRORS:
            job.status = FAILED
            job.error = {
                **error,
                "message": f"{error.get('message', '')}. Test {job.device} on the Devices "
                "page to check its host key",
            }
            self._skip_device(job.device, job.error)
        else:
            job.status = FAILED
            job.error = error
        self._job_ended(job)

    def _skip_device(self, device: str, error: dict[str, Any]) -> None:
        """A device that cannot be trusted yet gets no more jobs from this queue."""
        for row, job in enumerate(self.jobs):
            if job.device == device and job.status == QUEUED:
                job.status, job.error = NOT_RUN, error
                self.table.show_job(row, job)

    def _job_ended(self, job: ProfileJob) -> None:
        lane = self._lanes.get(job.device)
        if lane is not None and lane.job is job:
            lane.job, lane.worker = None, None
        row = self.jobs.index(job)
        self.table.show_job(row, job)
        if job is self._live:
            self.live.finish()
            self._pinned = False
            others = self.running_jobs()
            if others:
                self._show_live(others[-1])
        if not self.running_jobs():
            self.table.selectRow(row)
            self.summary.show_job(job)
        if job.run_id is not None:
            self.workspace.runs_changed.emit()
        self._start_next()
        self._show_job_label()

    # ------------------------------------------------------------------ the live view

    def _show_live(self, job: ProfileJob) -> None:
        """Show this job in the live view, with what it has sent so far."""
        self._live = job
        self.live.start()
        if job.samples_ms:
            self.live.add_samples(job.samples_ms)
        for t_s, rss_bytes in job.memory:
            self.live.add_memory(t_s, rss_bytes)
        if job.progress is not None:
            self._show_progress(job.progress)
        else:
            self._show_phase(job.phase)
        self._show_job_label()

    def _show_job_label(self) -> None:
        job = self._live
        if job is None or job.status != RUNNING:
            return
        position = f"job {self.jobs.index(job) + 1} of {len(self.jobs)}"
        running = len(self.running_jobs())
        if running > 1:
            position += f"; {running} running, select one to watch it"
        self.job_label.setText(
            f"<b>{_escape(job.model)}</b> on <b>{job.runtime}</b> · <b>{job.device}</b> "
            f"({position})"
        )

    def _queue_finished(self) -> None:
        counts = {s: sum(j.status == s for j in self.jobs) for s in (DONE, FAILED, CANCELLED)}
        words = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        self.job_label.setText(f"Queue finished: {words or 'nothing ran'}.")
        self.progress.setValue(self.progress.maximum() if counts[DONE] else 0)
        self.progress.setFormat(f"finished: {words}" if words else "cancelled")
        self.cancel_button.setEnabled(False)
        self.compare_button.setEnabled(bool(self.run_ids()))
        self._update_run_button()

    def _compare(self) -> None:
        ids = self.run_ids()
        if ids:
            self.workspace.compare_requested.emit(ids)

    # ------------------------------------------------------------------ progress

    def _show_phase(self, phase: str) -> None:
        self.progress.setValue(0)
        self.progress.setFormat(PHASE_WORDS.get(phase, phase) + "…")

    def _show_progress(self, event: dict[str, Any]) -> None:
        fraction = float(event.get("fraction") or 0.0)
        elapsed_s = float(event.get("elapsed_s") or 0.0)
        words = PHASE_WORDS.get(event["phase"], event["phase"])
        text = f"{words}: {fraction:.0%}"
        if 0 < fraction < 1:
            text += f", about {_duration(elapsed_s * (1 - fraction) / fraction)} left"
        self.progress.setValue(round(fraction * self.progress.maximum()))
        self.progress.setFormat(text)

    def _show_selected(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if len(rows) == 1:
            row = rows.pop()
            if row >= len(self.jobs):
                return
            job = self.jobs[row]
            if job.status == RUNNING and job is not self._live:
                self._pinned = True
                self._show_live(job)
            elif job.status not in (QUEUED, RUNNING):
                self.summary.show_job(job)


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"
