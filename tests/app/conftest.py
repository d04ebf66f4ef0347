"""GUI fixtures: a workspace on a temporary store, a main window with temporary settings."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def collect_qt_garbage():
    """Collect each GUI test's cycles while the QApplication is alive.

    Left to the interpreter's final collection, PySide6 objects from many tests are torn
    down after Qt and the process can abort at exit (a refcount error inside PySide6).
    """
    yield
    gc.collect()


@pytest.fixture
def workspace(tmp_path: Path):
    from app.workspace import Workspace

    space = Workspace(tmp_path / "gui-store.sqlite")
    yield space
    space.cancel_all()
    # A job thread still running after its test is a leak, like a stray child process.
    assert not space.running_jobs(), [job.label for job in space.running_jobs()]


@pytest.fixture
def window(qtbot, workspace, tmp_path: Path):
    from PySide6.QtCore import QSettings

    from app.window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(workspace, settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    workspace.cancel_all()


SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def save_screenshot(widget, name: str) -> Path:
    """Save a PNG of a widget into screenshots/ (git ignores it) for a person to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    widget.grab().save(str(path))
    return path
