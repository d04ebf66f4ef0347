"""Export PDF… for the Compare and History pages: ask where, build the report off the GUI
thread (engines/report through the workspace's job worker), show progress, and say
plainly what went wrong if it did."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog, QWidget

from app.worker import EventWorker
from app.workspace import Workspace


def report_events(db_path: Path, request: Any, cancel: threading.Event) -> Iterator[dict[str, Any]]:
    """The engine's report events, read through this thread's own store connection."""
    from engines.report.build import build_report
    from engines.store.db import Store

    with Store(db_path) as store:
        yield from build_report(request, store, cancel)


def ask_path(parent: QWidget, suggested: str) -> str:
    """The PDF file name the user picked ("" when they cancelled)."""
    path, _filter = QFileDialog.getSaveFileName(
        parent, "Export PDF report", suggested, "PDF report (*.pdf)"
    )
    if path and not path.lower().endswith(".pdf"):
        path += ".pdf"
    return path


class PdfExport(QObject):
    """One export: a progress dialog while the job runs, a message when it ends."""

    def __init__(self, parent: QWidget, workspace: Workspace) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.workspace = workspace
        self.job: Any = None
        self.path = ""
        self.result: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.dialog: QProgressDialog | None = None

    def start(self, run_ids: list[int], baseline_id: int | None, path: str = "") -> bool:
        """Ask for a file (unless given) and start building; False when nothing started."""
        from engines.report.build import ReportRequest

        if not run_ids:
            return False
        first = min(run_ids)
        path = path or ask_path(self.parent_widget, f"edgebench-report-runs-{first}.pdf")
        if not path:
            return False
        self.path = path
        request = ReportRequest(run_ids=tuple(run_ids), out=Path(path), baseline_id=baseline_id)
        db_path = self.workspace.db_path

        def connect(worker: EventWorker) -> None:
            # Before the thread starts; bound methods of this GUI-thread object, never
            # lambdas (see CONTRIBUTING).
            self.job = worker
            worker.event.connect(self._on_event)
            worker.finished.connect(self._on_finished)
            worker.failed.connect(self._on_failed)

        self.workspace.start_job(
            lambda cancel: report_events(db_path, request, cancel),
            f"report of {len(run_ids)} runs",
            connect=connect,
        )
        dialog = QProgressDialog("Building the PDF report…", "Cancel", 0, 100, self.parent_widget)
        dialog.setWindowTitle("Export PDF")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)
        dialog.canceled.connect(self._on_cancel)
        self.dialog = dialog
        return True

    def is_running(self) -> bool:
        return self.job is not None and self.job.is_running()

    @Slot(object)
    def _on_event(self, event: dict[str, Any]) -> None:
        dialog = self.dialog  # setValue may process events, and the job may end meanwhile
        if event.get("type") == "progress" and dialog is not None:
            dialog.setLabelText(str(event.get("message") or ""))
            dialog.setValue(min(99, round(100 * float(event.get("fraction") or 0))))
        elif event.get("type") == "report":
            self.result = event

    @Slot()
    def _on_cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self._on_cancel)
            self.dialog.close()
            self.dialog = None

    @Slot()
    def _on_finished(self) -> None:
        self._close_dialog()
        pages = (self.result or {}).get("pages", 0)
        self.workspace.jobs_changed.emit()
        window = self.parent_widget.window()
        status = getattr(window, "statusBar", None)
        if callable(status):
            status().showMessage(f"Wrote {self.path} ({pages} pages)", 8000)

    @Slot(object)
    def _on_failed(self, error: dict[str, Any]) -> None:
        self._close_dialog()
        self.error = error
        if error.get("error_type") == "cancelled":
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Export PDF",
            f"The report was not written: {error.get('message')}",
            QMessageBox.StandardButton.Ok,
            self.parent_widget,
        )
        if error.get("details"):
            box.setInformativeText(str(error["details"]).strip().splitlines()[0])
            box.setDetailedText(str(error["details"]))
        self.message_box = box
        box.open()
