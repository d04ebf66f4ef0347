"""The main window: pages, shortcuts, loading models (trust prompt, drop), closing cleanly."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import save_screenshot
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from app.window import PAGES


def test_window_has_every_page_and_shortcuts_switch_them(window, qtbot):
    assert [window.sidebar.item(i).text() for i in range(window.sidebar.count())] == list(PAGES)
    assert PAGES[-1] == "Devices" and len(PAGES) == 6  # Ctrl+1..6
    for index, name in enumerate(PAGES):
        qtbot.keyClick(window, Qt.Key.Key_1 + index, Qt.KeyboardModifier.ControlModifier)
        assert window.current_page_name() == name
    assert window.jobs_label.text() == "No jobs running"
    assert window.device_label.text().startswith("This machine: local-cpu")


def test_loading_a_model_selects_it_and_remembers_it(window, workspace, qtbot, tiny_models):
    with qtbot.waitSignal(workspace.current_artifact_changed, timeout=60_000) as blocker:
        window.load_model(str(tiny_models.onnx))
    artifact_id = blocker.args[0]
    with workspace.store() as store:
        assert store.artifact(artifact_id).format == "onnx"
    assert window.recent_models()[0] == str(tiny_models.onnx)
    assert window.recent_menu.actions()[0].text() == str(tiny_models.onnx)
    qtbot.waitUntil(lambda: not workspace.running_jobs(), timeout=10_000)


def test_a_model_with_code_asks_for_trust_first(window, workspace, qtbot, tiny_models, monkeypatch):
    asked = []

    def answer(parent, title, text, *args, **kwargs):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    with qtbot.waitSignal(workspace.current_artifact_changed, timeout=60_000) as blocker:
        window.load_model(str(tiny_models.pt2))
    assert asked and "contains Python code" in asked[0]
    with workspace.store() as store:
        assert store.artifact(blocker.args[0]).format == "torch-exported-program"
    qtbot.waitUntil(lambda: not workspace.running_jobs(), timeout=10_000)


def test_refusing_trust_loads_nothing(window, workspace, qtbot, tiny_models, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    job = window.load_model(str(tiny_models.pt2))
    qtbot.waitUntil(lambda: not job.is_running(), timeout=60_000)
    qtbot.waitUntil(lambda: not workspace.running_jobs(), timeout=10_000)
    with workspace.store() as store:
        assert store.artifacts() == []


def test_dropping_a_file_imports_it(window, workspace, qtbot, tiny_models):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tiny_models.tflite))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(workspace.current_artifact_changed, timeout=60_000):
        window.dropEvent(event)
    qtbot.waitUntil(lambda: not workspace.running_jobs(), timeout=10_000)


def test_bad_file_shows_a_readable_error(window, workspace, qtbot, tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not a model")
    job = window.load_model(str(bad))
    qtbot.waitUntil(lambda: not job.is_running(), timeout=30_000)
    qtbot.waitUntil(lambda: getattr(window, "_error_box", None) is not None, timeout=5_000)
    assert "broken.onnx" in window._error_box.text()
    window._error_box.close()


def test_closing_the_window_cancels_a_running_profile(window, workspace, qtbot, tiny_models):
    from engines.devices.local import LocalDevice
    from engines.floor.spec import RunPolicy
    from engines.pipeline.profile import ProfileRequest, profile

    device = LocalDevice()
    samples = []

    def events(cancel: threading.Event):
        with workspace.store() as store:
            request = ProfileRequest(
                model=str(tiny_models.onnx),
                runtime="onnxruntime",
                threads=1,
                policy=RunPolicy(min_runs=10, min_s=60.0, max_s=120.0),
            )
            yield from profile(request, store, device)

    job = workspace.start_job(events, "long profile")
    job.on_cancel(device.cancel)
    job.event.connect(lambda e: samples.append(e) if e["type"] == "sample" else None)
    qtbot.waitUntil(lambda: len(samples) > 3, timeout=60_000)
    save_screenshot(window, "main-window")
    started = time.monotonic()
    window.close()
    assert not job.is_running()
    assert time.monotonic() - started < 15


def _training_events(job) -> list[str]:
    messages: list[str] = []
    job.event.connect(lambda e: messages.append(e["message"]) if e["type"] == "progress" else None)
    return messages


@pytest.mark.slow
@pytest.mark.fresh_demo
def test_the_demo_trains_with_its_epochs_on_the_models_page(window, workspace, qtbot):
    window.show_page("Models")
    page = window.pages["Models"]
    job = window.load_model("demo:digits-cnn")
    messages = _training_events(job)
    assert page.import_box.isVisible() and not page.empty_hint.isVisible()
    qtbot.waitUntil(lambda: "epoch 3 of 30" in page.import_label.text(), timeout=120_000)
    assert job.is_running()
    assert page.import_bar.maximum() == 100 and page.import_bar.value() >= 10
    save_screenshot(window, "models-page-demo-training")
    qtbot.waitUntil(lambda: not job.is_running(), timeout=120_000)
    qtbot.waitUntil(lambda: not page.import_box.isVisible(), timeout=5_000)
    epochs = [m for m in messages if m.startswith("training the demo model: epoch")]
    assert epochs == [f"training the demo model: epoch {n} of 30" for n in range(1, 31)]
    assert page.tree.topLevelItemCount() == 1 and not page.empty_hint.isVisible()


@pytest.mark.fresh_demo
def test_cancel_on_the_models_page_stops_the_training(window, workspace, qtbot):
    page = window.pages["Models"]
    job = window.load_model("demo:digits-cnn")
    qtbot.waitUntil(lambda: "epoch" in page.import_label.text(), timeout=120_000)
    failures: list[dict] = []
    job.failed.connect(failures.append)
    qtbot.mouseClick(page.import_cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not job.is_running(), timeout=15_000)
    assert failures and failures[0]["error_type"] == "cancelled"
    qtbot.waitUntil(lambda: not page.import_box.isVisible(), timeout=5_000)
    assert getattr(window, "_error_box", None) is None  # a cancel is not an error
    with workspace.store() as store:
        assert store.artifacts() == []
    assert page.empty_hint.isVisible()


@pytest.mark.fresh_demo
def test_closing_the_window_while_the_demo_trains_ends_it_quickly(window, workspace, qtbot):
    page = window.pages["Models"]
    job = window.load_model("demo:digits-cnn")
    qtbot.waitUntil(lambda: "epoch" in page.import_label.text(), timeout=120_000)
    started = time.monotonic()
    window.close()
    assert not job.is_running()
    assert time.monotonic() - started < 10
    # The leftover-process guard (tests/conftest.py) checks that the worker is gone too.
