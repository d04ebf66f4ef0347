"""The main window: a sidebar of pages, menus and shortcuts, drag and drop, a status bar.

Models, Compress, Profile, Compare, History and Devices are pages over one `Workspace`. Closing
the window cancels running jobs and waits for them, so no child process outlives it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QWidget,
)

from app.workspace import Workspace

PAGES = ("Models", "Compress", "Profile", "Compare", "History", "Devices")
STYLE_SHEET = Path(__file__).resolve().parents[1] / "resources" / "style.qss"
MODEL_FILTER = "Models (*.onnx *.tflite *.pt2 *.pt *.pth);;All files (*)"
MAX_RECENT = 8


class MainWindow(QMainWindow):
    def __init__(self, workspace: Workspace, settings: QSettings | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.settings = settings or QSettings("EdgeBench", "EdgeBench")
        self.setWindowTitle("EdgeBench")
        self.setAcceptDrops(True)
        self.setStyleSheet(STYLE_SHEET.read_text(encoding="utf-8"))
        self.pages: dict[str, QWidget] = {}
        self._imports: dict[Any, str] = {}
        self._build_pages()
        self._build_menus()
        self._build_status_bar()
        workspace.jobs_changed.connect(self._update_status)
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        self.show_page(str(self.settings.value("window/page", "Models")))

    # ------------------------------------------------------------------ layout

    def _build_pages(self) -> None:
        from app.pages.compare import ComparePage
        from app.pages.compress import CompressPage
        from app.pages.devices import DevicesPage
        from app.pages.history import HistoryPage
        from app.pages.models import ModelsPage
        from app.pages.profile import ProfilePage

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setFixedWidth(160)
        self.stack = QStackedWidget()
        for name, cls in zip(
            PAGES,
            (ModelsPage, CompressPage, ProfilePage, ComparePage, HistoryPage, DevicesPage),
            strict=True,
        ):
            page = cls(self.workspace)
            self.pages[name] = page
            self.stack.addWidget(page)
            self.sidebar.addItem(name)
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.workspace.profile_requested.connect(lambda _ids: self.show_page("Profile"))
        self.workspace.rerun_requested.connect(lambda _ids: self.show_page("Profile"))
        self.workspace.compare_requested.connect(lambda _ids: self.show_page("Compare"))

    def show_page(self, name: str) -> None:
        if name in PAGES:
            self.sidebar.setCurrentRow(PAGES.index(name))

    def current_page_name(self) -> str:
        return PAGES[self.stack.currentIndex()]

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction(
            "&Open model…", self, shortcut=QKeySequence(QKeySequence.StandardKey.Open)
        )
        open_action.triggered.connect(self.open_model_dialog)
        file_menu.addAction(open_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self._fill_recent()
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence(QKeySequence.StandardKey.Quit))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        run_menu = self.menuBar().addMenu("&Run")
        self.run_action = QAction("&Run", self, shortcut=QKeySequence("Ctrl+R"))
        self.run_action.triggered.connect(self.run_current_page)
        run_menu.addAction(self.run_action)
        self.cancel_action = QAction("&Cancel running jobs", self, shortcut=QKeySequence("Esc"))
        self.cancel_action.triggered.connect(self.cancel_jobs)
        run_menu.addAction(self.cancel_action)

        view_menu = self.menuBar().addMenu("&View")
        for index, name in enumerate(PAGES):
            action = QAction(name, self, shortcut=QKeySequence(f"Ctrl+{index + 1}"))
            action.triggered.connect(lambda _=False, n=name: self.show_page(n))
            view_menu.addAction(action)

    def _build_status_bar(self) -> None:
        from engines.bench.environment import capture

        try:
            cpu = capture("host").get("cpu_model") or "CPU"
        except Exception:  # environment probing must never stop the window
            cpu = "CPU"
        self.device_label = QLabel(f"This machine: local-cpu ({cpu})")
        self.jobs_label = QLabel("No jobs running")
        self.job_progress = QProgressBar()
        self.job_progress.setMaximumWidth(180)
        self.job_progress.setRange(0, 0)
        self.job_progress.setVisible(False)
        bar = self.statusBar()
        bar.addWidget(self.device_label)
        bar.addPermanentWidget(self.jobs_label)
        bar.addPermanentWidget(self.job_progress)

    def _update_status(self) -> None:
        running = self.workspace.running_jobs()
        if running:
            names = ", ".join(job.label for job in running[:3])
            self.jobs_label.setText(f"{len(running)} running: {names}  (Esc cancels)")
        else:
            self.jobs_label.setText("No jobs running")
        self.job_progress.setVisible(bool(running))

    # ------------------------------------------------------------------ actions

    def run_current_page(self) -> None:
        run = getattr(self.stack.currentWidget(), "run", None)
        if callable(run):
            run()

    def cancel_jobs(self) -> None:
        for job in self.workspace.running_jobs():
            job.cancel()

    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", "", MODEL_FILTER)
        if path:
            self.load_model(path)

    def load_model(self, ref: str, trust_code: bool = False) -> Any:
        """Import a file or `demo:`/`zoo:` reference in a job; returns the job."""
        from engines.models.refs import resolve_events

        db_path = self.workspace.db_path

        def connect(job: Any) -> None:
            self._imports[job] = ref
            # Bound slots (queued to the GUI thread), never lambdas: see Workspace.start_job.
            job.event.connect(self._on_import_event)
            job.failed.connect(self._on_import_failed_signal)
            job.finished.connect(self._on_import_done)

        job = self.workspace.start_job(
            lambda cancel: resolve_events(ref, db_path, trust_code=trust_code, cancel=cancel),
            f"import {Path(ref).name}",
            connect,
        )
        self.models_page().import_started(job, ref)
        return job

    def models_page(self) -> Any:
        return self.pages["Models"]

    @Slot(object)
    def _on_import_event(self, event: dict[str, Any]) -> None:
        ref = self._imports.get(self.sender(), "")
        if event["type"] == "progress":
            self.statusBar().showMessage(str(event["message"]), 5000)
            self.models_page().import_progress(
                self.sender(), str(event["message"]), event.get("fraction")
            )
        elif event["type"] == "artifact":
            self._remember(ref)
            self.workspace.artifacts_changed.emit()
            self.workspace.set_current_artifact(int(event["artifact_id"]))
            self.statusBar().showMessage(f"loaded {event['name']}", 5000)

    @Slot(object)
    def _on_import_failed_signal(self, error: dict[str, Any]) -> None:
        ref = self._imports.pop(self.sender(), "")
        self.models_page().import_ended(self.sender())
        self._on_import_failed(ref, error)

    @Slot()
    def _on_import_done(self) -> None:
        self._imports.pop(self.sender(), None)
        self.models_page().import_ended(self.sender())

    def _on_import_failed(self, ref: str, error: dict[str, Any]) -> None:
        if error.get("error_type") == "cancelled":
            self.statusBar().showMessage(f"stopped loading {ref}", 5000)
            return
        if error.get("error_type") == "TrustRequired":
            answer = QMessageBox.question(
                self,
                "This model contains code",
                f"{error['message']}.\n\n{Path(ref).name}\n\nLoad it anyway?",
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.load_model(ref, trust_code=True)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Could not load the model", error["message"])
        box.setDetailedText(error.get("details") or "")
        box.open()
        self._error_box = box  # keep a reference while it is open

    def _remember(self, ref: str) -> None:
        recent = [r for r in self.recent_models() if r != ref]
        self.settings.setValue("models/recent", [ref, *recent][:MAX_RECENT])
        self._fill_recent()

    def recent_models(self) -> list[str]:
        value = self.settings.value("models/recent", [])
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value] if isinstance(value, list) else []

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for ref in self.recent_models():
            action = self.recent_menu.addAction(ref)
            action.triggered.connect(lambda _=False, r=ref: self.load_model(r))
        self.recent_menu.setEnabled(bool(self.recent_models()))

    # ------------------------------------------------------------------ Qt events

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.load_model(url.toLocalFile())
        event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/page", self.current_page_name())
        self.workspace.cancel_all()
        super().closeEvent(event)
