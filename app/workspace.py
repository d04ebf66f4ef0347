"""What every page shares: where the store is, the model in focus, and the running jobs.

Pages read the store on the GUI thread (short reads); jobs write from their own thread
through their own connection. Signals tell pages when to refresh.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from app.worker import EventFactory, EventWorker


class Workspace(QObject):
    artifacts_changed = Signal()
    runs_changed = Signal()
    current_artifact_changed = Signal(int)
    jobs_changed = Signal()
    #: Ask the Profile page to profile these artifact ids (from the wizard or Models).
    profile_requested = Signal(list)
    #: Ask the Profile page to run these stored runs again, exactly as specified.
    rerun_requested = Signal(list)
    #: Ask the Compare page to show these run ids.
    compare_requested = Signal(list)
    #: A device profile was added, edited or removed (the Devices page).
    devices_changed = Signal()

    def __init__(self, db_path: str | Path) -> None:
        super().__init__()
        self.db_path = Path(db_path)
        self.current_artifact_id: int | None = None
        self.jobs: list[EventWorker] = []
        #: Jobs that have said they ended whose threads are still winding down: held here
        #: until the thread is gone, so no QThread is destroyed while it runs.
        self._ending: list[EventWorker] = []

    def store(self) -> Any:
        """A new connection to the results store (use it in a `with` block)."""
        from engines.store.db import Store

        return Store(self.db_path)

    def set_current_artifact(self, artifact_id: int) -> None:
        self.current_artifact_id = artifact_id
        self.current_artifact_changed.emit(artifact_id)

    def start_job(
        self,
        factory: EventFactory,
        label: str,
        connect: Callable[[EventWorker], None] | None = None,
    ) -> EventWorker:
        """Start a job; `connect` connects its signals before its thread starts, so not
        even an instant failure is emitted to nobody."""
        worker = EventWorker(factory, label)
        self.jobs.append(worker)
        # Bound slots of this GUI-thread object, not lambdas: a lambda would run in the
        # worker's thread (PySide6 has no thread affinity for plain callables).
        worker.finished.connect(self._job_finished)
        worker.failed.connect(self._job_failed)
        worker.thread_finished.connect(self._thread_finished)
        if connect is not None:
            connect(worker)
        worker.start()
        self.jobs_changed.emit()
        return worker

    def running_jobs(self) -> list[EventWorker]:
        return [job for job in self.jobs if job.is_running()]

    def cancel_all(self, wait_ms: int = 30_000) -> None:
        """Cancel every job and wait for its thread (closing the window)."""
        for job in list(self.jobs):
            job.cancel()
        for job in [*self.jobs, *self._ending]:
            job.wait(wait_ms)

    @Slot()
    def _job_finished(self) -> None:
        self._ended(self.sender())

    @Slot(object)
    def _job_failed(self, _error: object) -> None:
        self._ended(self.sender())

    def _ended(self, worker: Any) -> None:
        # No wait here (the GUI thread never blocks on a job): the thread is dropped when
        # it has finished (`_thread_finished`).
        if worker in self.jobs:
            self.jobs.remove(worker)
            self._ending.append(worker)
        self.jobs_changed.emit()

    @Slot()
    def _thread_finished(self) -> None:
        for worker in list(self._ending):
            if not worker.thread_running():
                self._ending.remove(worker)
