"""The Compress page (placeholder until it is built)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.workspace import Workspace


class CompressPage(QWidget):
    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Compress"))
