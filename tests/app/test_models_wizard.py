"""The Models page and the compression wizard, driven through their real widgets."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import save_screenshot as _save_screenshot
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from app.formatting import size
from app.pages.models import exact_count, shape_text
from app.widgets.op_histogram import top_ops
from app.widgets.settings_form import SettingsForm
from app.wizard import MODEL_PAGE, PRESET_PAGE, RESULT_PAGE, RUN_PAGE, SETTINGS_PAGE
from engines.compress.base import parse_settings
from engines.compress.catalogue import STEPS, step_class

BUILD_TIMEOUT_MS = 120_000


def save_screenshot(widget, name: str) -> None:
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()  # let pending layout requests settle before the grab
    _save_screenshot(widget, name)


def _import(workspace, path) -> int:
    from engines.models.artifacts import import_model

    with workspace.store() as store:
        artifact_id = import_model(path, store).id
    workspace.artifacts_changed.emit()
    workspace.set_current_artifact(artifact_id)
    return artifact_id


def _click_next(qtbot, wizard) -> None:
    button = wizard.button(QWizard.WizardButton.NextButton)
    assert button.isEnabled() and button.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _wizard_on(window, artifact_id):
    window.show_page("Compress")
    page = window.pages["Compress"]
    page.open_wizard(artifact_id)
    wizard = page.wizard
    assert wizard.currentId() == MODEL_PAGE
    assert wizard.model_page.selected_id() == artifact_id
    return wizard


def _walk_to_run(qtbot, wizard, preset: str, calibration: str = "", settings=None) -> None:
    _click_next(qtbot, wizard)
    assert wizard.currentId() == PRESET_PAGE
    wizard.select_preset(preset)
    wizard.set_calibration(calibration)
    _click_next(qtbot, wizard)
    assert wizard.currentId() == SETTINGS_PAGE
    if settings:
        wizard.forms()[0].set_values(settings)
    _click_next(qtbot, wizard)
    assert wizard.currentId() == RUN_PAGE


def test_models_page_shows_the_stored_inspection(window, workspace, qtbot, tiny_models):
    artifact_id = _import(workspace, tiny_models.onnx)
    window.show_page("Models")
    page = window.pages["Models"]
    assert page.shown_artifact_id == artifact_id
    with workspace.store() as store:
        artifact = store.artifact(artifact_id)
    inspection = artifact.inspection
    panel = page.panel
    assert panel.title.text() == artifact.name
    assert panel.value("Format") == "ONNX"
    assert size(artifact.size_bytes) in panel.value("File size")
    assert panel.value("Parameters") == exact_count(inspection["parameters"]) == "2,682"
    assert panel.value("MACs").startswith(exact_count(inspection["macs"]["macs"]))
    assert inspection["macs"]["method"] in panel.values["MACs"].toolTip()
    expected_io = [
        (kind, t["name"], shape_text(t["shape"]), t["dtype"])
        for kind in ("input", "output")
        for t in inspection[f"{kind}s"]
    ]
    assert panel.io_rows() == expected_io
    assert panel.io_rows()[0][2] == "batch × 3 × 8 × 8"  # symbolic dims by name
    assert panel.op_chart.rows == top_ops(inspection["op_histogram"])
    assert not panel.variant_box.isVisible()  # an imported model is no variant
    with qtbot.waitSignal(workspace.profile_requested) as blocker:
        qtbot.mouseClick(page.profile_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [[artifact_id]]
    window.show_page("Models")
    save_screenshot(window, "models-page")
    qtbot.mouseClick(page.compress_button, Qt.MouseButton.LeftButton)
    assert window.current_page_name() == "Compress"
    assert window.pages["Compress"].wizard.model_page.selected_id() == artifact_id


def test_settings_form_round_trips_defaults_and_respects_bounds(qtbot):
    for name in STEPS:
        form = SettingsForm(name)
        qtbot.addWidget(form)
        cls = step_class(name)
        assert parse_settings(cls, form.values()) == cls.Settings(), name
        assert form.changed_values() == {}
    form = SettingsForm("quantize-static", {"calibrate_method": "entropy"})
    qtbot.addWidget(form)
    assert form.values()["calibrate_method"] == "entropy"
    assert "calibration samples used at most" in form.editor("max_calibration_samples").toolTip()
    form.set_values({"max_calibration_samples": 10**9})
    assert form.values()["max_calibration_samples"] == 100_000  # clamped to the maximum
    form.set_values({"max_calibration_samples": 0})
    assert form.values()["max_calibration_samples"] == 1
    parse_settings(form.step, form.values())
    form.reset()
    assert form.values()["calibrate_method"] == "entropy"
    ratio = SettingsForm("prune-structured", {"ratio": 0.3})
    qtbot.addWidget(ratio)
    slider = ratio.editor("ratio")
    assert slider.spin.text() == "30.0 %"
    slider.slider.setValue(950)  # the slider stops at the step's maximum, 90%
    assert ratio.values()["ratio"] == 0.9
    assert parse_settings(ratio.step, ratio.values()).ratio == 0.9
    distill = SettingsForm("distill")
    qtbot.addWidget(distill)
    learning_rate = distill.editor("learning_rate")
    assert learning_rate.text() == "0.001"
    learning_rate.lineEdit().selectAll()
    qtbot.keyClicks(learning_rate, "2e-05")
    learning_rate.interpretText()
    assert distill.values()["learning_rate"] == pytest.approx(2e-05)
    assert distill.editor("time_budget_s").text() == "120 s"


def test_wizard_builds_an_int8_static_variant(window, workspace, qtbot, tiny_models, tmp_path):
    source_id = _import(workspace, tiny_models.onnx)
    wizard = _wizard_on(window, source_id)
    _click_next(qtbot, wizard)
    wizard.select_preset("int8-static")
    wizard.set_calibration("synthetic:8")
    page = wizard.preset_page
    assert page.heading.text() == "INT8 static (calibrated)"
    assert "calibration data" in page.description.text()
    targets = page.target.model()
    assert [targets.item(i).isEnabled() for i in range(3)] == [True, False, False]  # ONNX in
    assert not page.problem.isVisible()
    save_screenshot(window, "wizard-preset")
    _click_next(qtbot, wizard)
    assert [form.step.name for form in wizard.forms()] == ["quantize-static"]
    save_screenshot(window, "wizard-settings")
    with qtbot.waitSignal(workspace.artifacts_changed, timeout=BUILD_TIMEOUT_MS):
        _click_next(qtbot, wizard)
        assert wizard.currentId() == RUN_PAGE
    qtbot.waitUntil(lambda: wizard.currentId() == RESULT_PAGE, timeout=10_000)

    with workspace.store() as store:
        variant = store.artifact(wizard.variant_id)
        source = store.artifact(source_id)
    assert variant.parent_id == source_id and variant.step == "quantize-static"
    result = wizard.result_page
    report = variant.step_settings["report"]
    assert result.numbers["size_before"] == source.size_bytes
    assert result.numbers["size_after"] == variant.size_bytes
    assert result.numbers["cosine"] == report["parity"]["cosine"]
    assert result.numbers["max_abs_error"] == report["parity"]["max_abs_error"]
    assert f"{size(source.size_bytes)} → {size(variant.size_bytes)}" in result.value("Size")
    assert f"cosine {report['parity']['cosine']:.5f}" in result.value("Parity with source")

    job = wizard.evaluate()
    qtbot.waitUntil(lambda: not job.is_running(), timeout=BUILD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: result.evaluate_button.isEnabled(), timeout=10_000)
    assert "Agreement with the source" in result.evaluation.text()
    save_screenshot(window, "wizard-result")

    exported = wizard.export_to(tmp_path / "tiny-int8.onnx")
    assert exported.read_bytes() == Path(variant.path).read_bytes()
    with qtbot.waitSignal(workspace.profile_requested) as blocker:
        qtbot.mouseClick(result.profile_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [[variant.id, source_id]]

    models = window.pages["Models"]
    workspace.set_current_artifact(variant.id)
    window.show_page("Models")
    rows = models.panel.variant_rows()
    assert rows["Step"] == "quantize-static"
    assert f"{report['parity']['cosine']:.5f}" in rows["Parity with source"]
    # One size figure, the same words in the wizard and on the Models page.
    assert result.value("Size") in rows["Size"] and "smaller" in rows["Size"]
    assert models.tree.currentItem().parent() is models._items[source_id]
    save_screenshot(window, "models-page-variant")


def test_cancel_during_calibration_stores_nothing(window, workspace, qtbot, tiny_models):
    source_id = _import(workspace, tiny_models.onnx)
    wizard = _wizard_on(window, source_id)
    _walk_to_run(
        qtbot, wizard, "int8-static", "synthetic:5000", {"max_calibration_samples": 100_000}
    )
    run = wizard.run_page
    qtbot.waitUntil(lambda: "calibrating" in run.status.text(), timeout=BUILD_TIMEOUT_MS)
    assert not wizard.button(QWizard.WizardButton.BackButton).isEnabled()
    qtbot.mouseClick(run.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: run.failure is not None, timeout=30_000)
    assert run.failure["error_type"] == "cancelled"
    assert "Nothing was stored" in run.status.text()
    assert wizard.currentId() == RUN_PAGE and not wizard.is_running()
    with workspace.store() as store:
        assert [a.id for a in store.artifacts()] == [source_id]
    assert wizard.button(QWizard.WizardButton.BackButton).isEnabled()
    save_screenshot(window, "wizard-cancelled")


@pytest.mark.parametrize("preset", ["prune-structured-30"])
def test_a_preset_that_does_not_apply_says_why(window, workspace, qtbot, tiny_models, preset):
    source_id = _import(workspace, tiny_models.onnx)
    wizard = _wizard_on(window, source_id)
    _click_next(qtbot, wizard)
    wizard.select_preset(preset)
    assert "does not apply to onnx" in wizard.preset_page.problem.text()  # warned up front
    _click_next(qtbot, wizard)
    save_screenshot(window, "wizard-settings-ratio")
    _click_next(qtbot, wizard)
    run = wizard.run_page
    qtbot.waitUntil(lambda: run.failure is not None, timeout=BUILD_TIMEOUT_MS)
    assert run.failure["error_type"] == "BadInput"
    assert "does not apply to onnx models" in run.error.text()
    assert run.error.isVisible()
    save_screenshot(window, "wizard-failed")
    # Still usable: back to the presets, pick one that applies, and it builds.
    back = wizard.button(QWizard.WizardButton.BackButton)
    assert back.isEnabled()
    qtbot.mouseClick(back, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(back, Qt.MouseButton.LeftButton)
    assert wizard.currentId() == PRESET_PAGE
    wizard.select_preset("int8-dynamic")
    _click_next(qtbot, wizard)
    _click_next(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.currentId() == RESULT_PAGE, timeout=BUILD_TIMEOUT_MS)
    with workspace.store() as store:
        assert store.artifact(wizard.variant_id).step == "quantize-dynamic"


def test_a_torchscript_model_shows_its_forward_schema_and_what_it_needs(qtbot, workspace, tmp_path):
    import torch

    from app.pages.models import ModelsPage
    from engines.models.artifacts import import_model

    class Vad(torch.nn.Module):
        def forward(self, x: torch.Tensor, sr: int) -> torch.Tensor:
            return x * sr

    path = tmp_path / "vad.pt"
    torch.jit.script(Vad()).save(str(path))
    with workspace.store() as store:
        artifact_id = import_model(path, store, trust_code=True).id
    page = ModelsPage(workspace)
    qtbot.addWidget(page)
    page.select_artifact(artifact_id)
    values = page.panel.values
    assert values["Forward"].text() == "forward(x: Tensor, sr: int) -> Tensor"
    assert "--input-shape" in values["Note"].text()
    shapes = [page.panel.io_table.item(r, 2).text() for r in range(page.panel.io_table.rowCount())]
    assert shapes == ["not recorded", "scalar"]
