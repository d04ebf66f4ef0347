"""The Profile page: pick models, runtimes and devices, run them, watch them live.

The queue is the engine's job matrix (`engines.pipeline.matrix.run_matrix`), run as one
GUI job: each device has its own queue (one job at a time on a device, so runs there do
not disturb each other), different devices run at once, each with its own store
connection. The page only shows what the matrix reports.
Event slots only append to the live view's buffers; the view redraws from its own timer,
so thousands of samples a second never stall the window. Finished jobs land in a results
table with their summary and, on failure, the agent's message and details.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.pages.profile_jobs import (
    CANCELLED,
    DEFAULT_DEVICE,
    DONE,
    FAILED,
    NOT_RUN,
    PHASE_WORDS,
    QUEUED,
    RUNNING,
    ProfileJob,
    matrix_events,
    plan_jobs,
)
from app.pages.profile_results import (
    JobSummary,
    ResultsTable,
)
from app.pages.profile_setup import (
    SetupPanel,
)
from app.widgets.live_plots import LiveRunView
from app.worker import EventWorker
from app.workspace import Workspace
from engines.floor.spec import RunPolicy
from engines.store.db import ArtifactRow

# ---------------------------------------------------------------------- the page


class ProfilePage(QWidget):
    """Run checked models × runtimes × devices, one job at a time per device; see the
    latest (or the selected running) job live, then every job's figures.

    For other pages and tests: `select(artifact_ids, runtimes)`, `select_devices(names)`,
    `set_policy(policy)`, `run()`, `cancel()`, `is_running()`, `results()` (the jobs) and
    `run_ids()`.
    """

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        from engines.floor.spec import InputSpec

        self._inputs = InputSpec()
        self.workspace = workspace
        self.jobs: list[ProfileJob] = []
        self._artifacts: list[ArtifactRow] = []
        #: The matrix job while a queue runs.
        self._matrix: EventWorker | None = None
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
        self.run_button.clicked.connect(self._run_clicked)
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
        workspace.rerun_requested.connect(self.rerun)
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

    def _run_clicked(self) -> None:
        self.run()

    def rerun(self, run_ids: list[int]) -> None:
        """Run stored runs again exactly as they were specified: each on its own device,
        with its runtime, threads, inputs, policy and evaluation data (not this page's)."""
        from engines.floor.errors import BadInput
        from engines.pipeline.profile import ProfileRequest

        if self.is_running() or not run_ids:
            return
        jobs, refused = [], []
        with self.workspace.store() as store:
            for run_id in run_ids:
                run = store.run(run_id)
                if run.artifact_id is None:
                    continue
                try:
                    request = ProfileRequest.replaying(run, store)
                except BadInput as exc:
                    refused.append(exc.message)
                    continue
                device = DEFAULT_DEVICE if run.device in ("", "local") else run.device
                job = ProfileJob(run.artifact_id, run.model_label, run.runtime, device)
                job.request = request
                jobs.append(job)
        if jobs:
            self.run(jobs)
        if refused:
            self.job_label.setText("Not run again: " + "; ".join(refused))

    def run(self, planned: list[ProfileJob] | None = None) -> None:
        """Queue every checked model × runtime × device (or the `planned` jobs) and start
        each device's first job."""
        if self.is_running():
            return
        jobs = planned if planned is not None else self.planned_jobs()
        if not jobs:
            self.job_label.setText(
                "Check at least one model, a runtime that can run it and a device."
            )
            return
        from engines.floor.errors import BadInput

        try:
            self._inputs = self.setup.inputs.input_spec()
        except BadInput as exc:
            self.job_label.setText(f"Inputs: {exc.message}")
            return
        self.jobs = jobs
        self._live, self._pinned = None, False
        fault = os.environ.get("EDGEBENCH_TEST_FAULT") or None
        for job in jobs:
            # Hidden test switch, as in the CLI: the agent obeys it only when
            # EDGEBENCH_ALLOW_FAULTS=1.
            job.request = job.request or self.setup.request(
                f"artifact:{job.artifact_id}", job.runtime, fault
            )
        self.table.show_jobs(jobs)
        self.compare_button.setEnabled(False)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._start_matrix(jobs)

    def cancel(self) -> None:
        """Stop the running jobs (on every device) and drop the rest of the queue."""
        if not self.is_running():
            return
        for row, job in enumerate(self.jobs):
            if job.status == QUEUED:
                job.status = NOT_RUN
                self.table.show_job(row, job)
        self.job_label.setText("Cancelling…")
        if self._matrix is not None:
            self._matrix.cancel()

    def is_running(self) -> bool:
        return self._matrix is not None

    def results(self) -> list[ProfileJob]:
        """The jobs of the last queue, in order, with their status and figures."""
        return list(self.jobs)

    def run_ids(self) -> list[int]:
        """Stored runs of the last queue that finished with figures."""
        return [j.run_id for j in self.jobs if j.status == DONE and j.run_id is not None]

    def running_jobs(self) -> list[ProfileJob]:
        return [job for job in self.jobs if job.status == RUNNING]

    def _start_matrix(self, jobs: list[ProfileJob]) -> None:
        from engines.pipeline.matrix import MatrixJob

        matrix = [MatrixJob(index, job.device, job.request) for index, job in enumerate(jobs)]
        db_path = self.workspace.db_path

        def connect(worker: EventWorker) -> None:
            # Before the thread starts, so nothing (not even an instant failure) is lost.
            # Bound methods of this page, not lambdas: PySide runs a lambda slot in the
            # sender's (the job's) thread, a bound method of a QObject in the GUI thread.
            self._matrix = worker
            worker.event.connect(self._on_event)
            worker.finished.connect(self._on_matrix_ended)
            worker.failed.connect(self._on_matrix_failed)

        self.workspace.start_job(
            lambda cancel: matrix_events(db_path, matrix, cancel),
            f"profile {len(jobs)} job{'s' if len(jobs) != 1 else ''}",
            connect=connect,
        )
        self._show_job_label()

    # ------------------------------------------------------------------ events

    def _on_event(self, event: dict[str, Any]) -> None:
        """Called for every event of the matrix (streamed ones come in batches): samples
        go into their job's lists and, for the job on show, the live view's buffers; its
        own timer redraws the plots."""
        if self.sender() is not self._matrix:
            return
        items = event["events"] if event["type"] == "batch" else [event]
        for item in items:
            self._on_matrix_event(item)
        live = self._live
        if event["type"] == "batch" and live is not None and live.progress is not None:
            # Only the latest progress of a batch is drawn (a progress bar repaint is not
            # free), and only once.
            self._show_progress(live.progress)

    def _on_matrix_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "job":
            self._handle(self.jobs[event["job"]], event["event"])
        elif kind == "job_started":
            job = self.jobs[event["job"]]
            job.status = RUNNING
            self.table.show_job(event["job"], job)
            if not self._pinned or self._live is None:
                self._show_live(job)
            else:
                self._show_job_label()
        elif kind == "job_ended":
            job = self.jobs[event["job"]]
            job.status = event["status"]
            job.error = event.get("error") or (job.error if job.status != DONE else None)
            if event.get("run_id") is not None:
                job.run_id = int(event["run_id"])
            self._job_ended(job)

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
        elif kind == "preparing":
            # Before the agent starts: "exporting to TFLite", "training the demo model…".
            job.progress = {**event, "phase": "preparing"}
            if live:
                self._show_progress(job.progress)
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

    def _on_matrix_ended(self) -> None:
        self._matrix_over(None)

    def _on_matrix_failed(self, error: dict[str, Any]) -> None:
        self._matrix_over(error)

    def _matrix_over(self, error: dict[str, Any] | None) -> None:
        """The matrix job has ended: a job it never reported on is cancelled (Cancel) or
        failed with the matrix's error; then the queue's summary."""
        if self.sender() is not self._matrix:
            return
        self._matrix = None
        cancelled = error is not None and error.get("error_type") == "cancelled"
        for row, job in enumerate(self.jobs):
            if job.status in (RUNNING, QUEUED):
                if job.status == QUEUED:
                    job.status = NOT_RUN
                else:
                    job.status = CANCELLED if cancelled else FAILED
                job.error = job.error or error or {"message": "the queue ended early"}
                self.table.show_job(row, job)
        if self._live is not None and self._live.status != RUNNING:
            self.live.finish()
        self._queue_finished()

    def _job_ended(self, job: ProfileJob) -> None:
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
            f"<b>{html.escape(job.model)}</b> on <b>{job.runtime}</b> · <b>{job.device}</b> "
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
        words = event.get("message") or PHASE_WORDS.get(event["phase"], event["phase"])
        if event.get("fraction") is None:  # a preparation step without a known share
            self.progress.setValue(0)
            self.progress.setFormat(f"{words}…")
            return
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
