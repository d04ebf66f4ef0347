"""Every kind of GUI job, started with work that fails at once: the error is shown where
the user looks, nothing is left "starting…", and the page can start the job again.

A job's signals are connected before its thread starts (Workspace.start_job's `connect`),
so even a failure raised before the first event reaches the page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from engines.floor.errors import BadInput

MESSAGE = "instant failure for the test"
WAIT_MS = 10_000


def failing_generator(*_args, **_kwargs):
    """An engine stream that fails before its first event."""
    raise BadInput(MESSAGE, "a hint")
    yield  # a generator


def failing_call(*_args, **_kwargs):
    """A job factory that fails before it even returns a stream."""
    raise BadInput(MESSAGE, "a hint")


@pytest.fixture(params=[failing_generator, failing_call], ids=["generator", "factory"])
def failure(request):
    return request.param


def _idle(qtbot, workspace) -> None:
    qtbot.waitUntil(lambda: not workspace.running_jobs(), timeout=WAIT_MS)
    QApplication.processEvents()


def test_an_import_that_fails_at_once(window, workspace, qtbot, monkeypatch, failure):
    import engines.models.refs as refs

    boxes = []
    monkeypatch.setattr(refs, "resolve_events", failure)
    monkeypatch.setattr(QMessageBox, "open", lambda box: boxes.append(box.text()))
    window.load_model("demo:digits-cnn")
    _idle(qtbot, workspace)
    qtbot.waitUntil(lambda: bool(boxes), timeout=WAIT_MS)
    assert MESSAGE in boxes[0]
    assert not window.models_page().importing()
    window.load_model("demo:digits-cnn")  # usable: the same job starts again
    _idle(qtbot, workspace)
    assert len(boxes) == 2


def test_a_build_that_fails_at_once(window, workspace, qtbot, monkeypatch, failure, tiny_models):
    from test_models_wizard import _import, _walk_to_run, _wizard_on

    import app.wizard as wizard_module
    from app.wizard import RUN_PAGE

    monkeypatch.setattr(wizard_module, "build_events", failure)
    wizard = _wizard_on(window, _import(workspace, tiny_models.onnx))
    _walk_to_run(qtbot, wizard, "fp16")
    _idle(qtbot, workspace)
    qtbot.waitUntil(lambda: wizard.run_page.failure is not None, timeout=WAIT_MS)
    page = wizard.run_page
    assert MESSAGE in page.error.text() and page.error.isVisible()
    assert "starting" not in page.status.text()
    assert not wizard.is_running() and not page.cancel_button.isEnabled()
    assert wizard.currentId() == RUN_PAGE
    wizard.start_build()  # usable: the build can be started again
    _idle(qtbot, workspace)
    assert MESSAGE in page.error.text()


def test_an_evaluation_that_fails_at_once(window, workspace, qtbot, monkeypatch, failure):
    import app.wizard as wizard_module

    monkeypatch.setattr(wizard_module, "evaluate_events", failure)
    window.show_page("Compress")
    wizard = window.pages["Compress"].wizard
    wizard.outcome = {"artifact_id": 2, "source_id": 1}
    assert wizard.evaluate() is not None
    _idle(qtbot, workspace)
    page = wizard.result_page
    qtbot.waitUntil(lambda: MESSAGE in page.evaluation.text(), timeout=WAIT_MS)
    assert page.evaluate_button.isEnabled()
    assert wizard.evaluate() is not None  # usable again
    _idle(qtbot, workspace)


def test_a_report_that_fails_at_once(window, workspace, qtbot, monkeypatch, failure, tmp_path):
    import app.report_export as report_export
    from app.report_export import PdfExport

    shown = []
    monkeypatch.setattr(report_export, "report_events", failure)
    monkeypatch.setattr(QMessageBox, "open", lambda box: shown.append(box.text()))
    export = PdfExport(window, workspace)
    assert export.start([1], None, str(tmp_path / "r.pdf"))
    _idle(qtbot, workspace)
    qtbot.waitUntil(lambda: export.error is not None, timeout=WAIT_MS)
    assert MESSAGE in export.error["message"] and shown and MESSAGE in shown[0]
    assert export.dialog is None or not export.dialog.isVisible()


def test_a_device_test_and_an_adb_search_that_fail_at_once(workspace, qtbot, monkeypatch, failure):
    import app.pages.devices as devices_module
    from app.pages.devices import DevicesPage

    monkeypatch.setattr(devices_module, "connection_test_events", failure)
    monkeypatch.setattr(devices_module, "adb_list_events", failure)
    page = DevicesPage(workspace)
    qtbot.addWidget(page)
    page.show()
    assert page.test_connection() is not None
    _idle(qtbot, workspace)
    qtbot.waitUntil(lambda: not page.is_testing(), timeout=WAIT_MS)
    assert MESSAGE in page.test_status.text()
    assert page.test_button.isEnabled()
    assert page.find_adb_devices() is not None
    _idle(qtbot, workspace)
    qtbot.waitUntil(lambda: page.form.find_button.isEnabled(), timeout=WAIT_MS)
    assert MESSAGE in page.form.found_note.text()


def test_a_profile_queue_that_fails_at_once(workspace, qtbot, monkeypatch, failure, tiny_models):
    import app.pages.profile as profile_module
    from app.pages.profile import ProfilePage
    from app.pages.profile_jobs import NOT_RUN
    from engines.models.artifacts import import_model

    monkeypatch.setattr(profile_module, "matrix_events", failure)
    with workspace.store() as store:
        artifact_id = import_model(Path(tiny_models.onnx), store).id
    page = ProfilePage(workspace)
    qtbot.addWidget(page)
    page.show()
    workspace.artifacts_changed.emit()
    page.select([artifact_id], ["onnxruntime"])
    page.run()
    qtbot.waitUntil(lambda: not page.is_running(), timeout=WAIT_MS)
    (job,) = page.results()
    assert job.status == NOT_RUN and MESSAGE in job.error["message"]
    assert MESSAGE in page.table.item(0, page.table.STATUS).text()
    assert page.run_button.isEnabled() and not page.cancel_button.isEnabled()
    page.run()  # usable: the queue starts again
    qtbot.waitUntil(lambda: not page.is_running(), timeout=WAIT_MS)
    _idle(qtbot, workspace)


def test_a_device_that_cannot_be_opened_fails_its_jobs_not_the_queue(
    workspace, qtbot, tiny_models, monkeypatch
):
    """Inside the matrix: a device whose profile cannot be opened fails its own jobs with
    the reason; another device's jobs still run."""
    import engines.pipeline.matrix as matrix
    from app.pages.profile import ProfilePage
    from app.pages.profile_jobs import DONE, FAILED
    from engines.floor.spec import RunPolicy
    from engines.models.artifacts import import_model

    real = matrix.open_named_device

    def open_device(name):
        if name == "board":
            raise BadInput(MESSAGE)
        return real(name)

    monkeypatch.setattr(matrix, "open_named_device", open_device)
    with workspace.store() as store:
        artifact_id = import_model(Path(tiny_models.onnx), store).id
    page = ProfilePage(workspace)
    qtbot.addWidget(page)
    workspace.artifacts_changed.emit()
    page.select([artifact_id], ["onnxruntime"])
    page.set_policy(RunPolicy(warmup_runs=1, warmup_min_s=0.05, min_runs=10, min_s=0.1))
    jobs = page.planned_jobs()
    board = type(jobs[0])(artifact_id, jobs[0].model, "onnxruntime", "board")
    page.run([*jobs, board])
    qtbot.waitUntil(lambda: not page.is_running(), timeout=60_000)
    local, failed = page.results()
    assert local.status == DONE, local.error
    assert failed.status == FAILED and MESSAGE in failed.error["message"]
    _idle(qtbot, workspace)
