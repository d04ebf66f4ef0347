"""The Compress page: the compression wizard, inside the window rather than in a dialog.

"Compress…" on the Models page opens it on that model; Run (Ctrl+R) starts it over on the
model in focus. While a build runs the wizard stays where it is.
"""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.wizard import MODEL_PAGE, CompressionWizard
from app.workspace import Workspace


class CompressPage(QWidget):
    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        self.wizard = CompressionWizard(workspace, embedded=True)
        layout.addWidget(self.wizard)
        workspace.current_artifact_changed.connect(self._follow_current)
        workspace.artifacts_changed.connect(self._refresh_models)

    def run(self) -> None:
        """Open the wizard on the model in focus (Run menu, Ctrl+R)."""
        self.open_wizard(self.workspace.current_artifact_id)

    def open_wizard(self, artifact_id: int | None = None) -> None:
        self.wizard.open_for(artifact_id)

    def _follow_current(self, artifact_id: int) -> None:
        # Only on the first page: a person part-way through keeps the model they chose.
        if self.wizard.currentId() in (-1, MODEL_PAGE) and not self.wizard.is_running():
            self.wizard.source_id = artifact_id
            self.wizard.select_model(artifact_id)

    def _refresh_models(self) -> None:
        if self.wizard.currentId() == MODEL_PAGE:
            self.wizard.model_page.refresh()
