"""The whole path a person takes, on real widgets: demo model -> INT8 wizard -> profile FP32
and INT8 on two runtimes -> Compare, whose table must show what the store holds."""

from __future__ import annotations

import pytest
from conftest import save_screenshot
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from app.formatting import ms
from engines.floor.spec import RunPolicy

FAST = RunPolicy(warmup_runs=2, warmup_min_s=0.1, min_runs=20, min_s=0.2)


@pytest.mark.slow
def test_from_demo_model_to_a_comparison_without_a_terminal(window, workspace, qtbot):
    with qtbot.waitSignal(workspace.current_artifact_changed, timeout=180_000) as loaded:
        window.load_model("demo:digits-cnn")
    demo_id = loaded.args[0]
    qtbot.waitUntil(lambda: not workspace.running_jobs(), timeout=10_000)

    # Compress: the wizard with int8-static on the demo's own calibration data
    window.show_page("Compress")
    compress = window.pages["Compress"]
    compress.open_wizard(demo_id)
    wizard = compress.wizard
    next_button = wizard.button(QWizard.WizardButton.NextButton)
    qtbot.mouseClick(next_button, Qt.MouseButton.LeftButton)
    wizard.select_preset("int8-static")
    qtbot.mouseClick(next_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(wizard.variant_made, timeout=300_000) as made:
        qtbot.mouseClick(next_button, Qt.MouseButton.LeftButton)
    variant_id = made.args[0]

    # Profile: FP32 demo on onnxruntime and litert, the INT8 variant on onnxruntime
    wizard.profile_variant()
    assert window.current_page_name() == "Profile"
    profile = window.pages["Profile"]
    profile.select([demo_id, variant_id], ["onnxruntime", "litert"])
    profile.set_policy(FAST)
    planned = {(job.artifact_id, job.runtime) for job in profile.planned_jobs()}
    assert planned == {
        (demo_id, "onnxruntime"),
        (demo_id, "litert"),
        (variant_id, "onnxruntime"),
    }
    profile.run()
    qtbot.waitUntil(lambda: bool(profile.jobs) and not profile.is_running(), timeout=300_000)
    assert all(job.status == "done" for job in profile.results()), [
        job.error for job in profile.results()
    ]

    # Compare: every figure in the table is the store's
    qtbot.mouseClick(profile.compare_button, Qt.MouseButton.LeftButton)
    assert window.current_page_name() == "Compare"
    compare = window.pages["Compare"]
    run_ids = profile.run_ids()
    assert sorted(compare.run_ids()) == sorted(run_ids)
    table = compare.table_text()
    with workspace.store() as store:
        runs = {run_id: store.run(run_id) for run_id in compare.run_ids()}
    for column, run_id in enumerate(compare.run_ids()):
        statistics = runs[run_id].statistics
        assert table["p50 latency"][column].startswith(f"{ms(statistics['p50_ms'])} ms")
        assert table["p99 latency"][column].startswith(f"{ms(statistics['p99_ms'])} ms")
    save_screenshot(window, "flow-compare")
