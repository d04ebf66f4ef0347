"""Compare and History pages, and the Qt-free comparison table under them.

Runs are written straight into the workspace's store with realistic statistics (from the
engine's own `summarize` over seeded samples), memory figures and evaluations.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from conftest import save_screenshot
from PySide6.QtWidgets import QApplication, QMessageBox

from app.formatting import ms, size
from app.pages.history import filter_runs
from engines.floor.stats import summarize
from engines.report.comparison import (
    GROUPINGS,
    accuracy_metric,
    comparison_rows,
    device_name,
    order_runs,
    to_csv,
    to_markdown,
)
from engines.report.figures import pareto_frontier
from engines.store.db import RunRow

MIB = 1024 * 1024

# (label, runtime, p50 ms, spread, model bytes, top-1, cosine, sqnr dB)
SWEEP = [
    ("resnet18 fp32", "onnxruntime", 12.8, 0.04, 44.6 * MIB, 0.699, 1.0, 120.0),
    ("resnet18 int8", "onnxruntime", 4.3, 0.06, 11.3 * MIB, 0.694, 0.9962, 27.4),
    ("resnet18 int8", "litert", 5.1, 0.08, 11.2 * MIB, 0.690, 0.9948, 25.9),
    ("resnet18 pruned50", "onnxruntime", 6.9, 0.05, 22.4 * MIB, 0.662, 0.9801, 18.3),
]


def _add_runs(workspace, device: str = "local") -> list[int]:
    """The four runs of a small sweep, plus nothing else; returns their ids in order."""
    rng = random.Random(3)
    ids = []
    with workspace.store() as store:
        for n, (label, runtime, p50, spread, size_bytes, top1, cosine, sqnr) in enumerate(SWEEP):
            artifact = store.add_artifact(
                sha256=f"{n:02d}" * 32,
                name=label,
                format="tflite" if runtime == "litert" else "onnx",
                path=f"/models/{label}.onnx",
                size_bytes=int(size_bytes),
                source="file",
            )
            samples = [p50 * rng.lognormvariate(0.0, spread) for _ in range(300)]
            statistics = summarize(samples)
            result = {
                "load_ms": p50 * 8.5,
                "first_ms": p50 * 2.2,
                "statistics": statistics,
                "memory": {
                    "rss_before_load_bytes": 180 * MIB,
                    "peak_rss_bytes": int(180 * MIB + 2.2 * size_bytes),
                    "peak_rss_delta_bytes": int(2.2 * size_bytes),
                    "model_file_bytes": int(size_bytes),
                },
                "environment": {"cpu_model": "Test CPU", "threads": 2},
                "evaluation": {
                    "count": 500,
                    "classification": {"count": 500, "top1": top1, "top5": top1 + 0.2},
                    "fidelity": {
                        "cosine_mean": cosine,
                        "cosine_min": cosine - 0.01,
                        "sqnr_db": sqnr,
                        "max_abs_error": 0.1,
                        "top1_agreement": 0.98,
                    },
                    "data": "imagenette val (500)",
                },
            }
            ids.append(
                store.add_run(
                    artifact_id=artifact.id,
                    model_label=label,
                    runtime=runtime,
                    device=device,
                    spec={"runtime": runtime},
                    result=result,
                    samples_ms=samples,
                )
            )
    return ids


def _add_failed_run(workspace) -> int:
    with workspace.store() as store:
        return store.add_run(
            artifact_id=None,
            model_label="mobilenet int8",
            runtime="litert",
            device="pi5",
            spec={},
            error={
                "error_type": "crashed",
                "phase": "load",
                "signal": "SIGSEGV",
                "message": "the worker crashed while loading the model (SIGSEGV)",
                "details": "Fatal Python error: Segmentation fault",
            },
        )


def _run(run_id: int, p50: float, **extra) -> RunRow:
    """A hand-made run for the table's unit tests (round numbers, ratios easy to check)."""
    statistics = {
        "count": 100,
        "p50_ms": p50,
        "p90_ms": p50 * 1.5,
        "p99_ms": p50 * 2,
        "mean_ms": p50,
        "std_ms": p50 / 10,
        "cv": 0.1,
        "min_ms": p50 / 2,
        "max_ms": p50 * 3,
        "throughput_per_s": 1000 / p50,
        "median_ci95_ms": [p50 * 0.9, p50 * 1.1],
    }
    statistics.update(extra.pop("statistics", {}))
    return RunRow(
        id=run_id,
        artifact_id=run_id,
        model_label=f"m{run_id}",
        runtime="onnxruntime",
        device="local",
        status="ok",
        spec={},
        environment=None,
        statistics=statistics,
        memory=extra.pop(
            "memory", {"peak_rss_delta_bytes": 100 * MIB, "model_file_bytes": 40 * MIB}
        ),
        result=extra.pop("result", {"load_ms": 50.0, "first_ms": 20.0}),
        error=None,
        created_at="2025-03-01T10:00:00.000Z",
    )


def _evaluation(top1: float | None, cosine: float, sqnr: float) -> dict:
    return {
        "load_ms": 50.0,
        "first_ms": 20.0,
        "evaluation": {
            "classification": {"top1": top1} if top1 is not None else None,
            "fidelity": {"cosine_mean": cosine, "sqnr_db": sqnr},
        },
    }


# ---------------------------------------------------------------------------- compare_table


def test_rows_show_ratios_and_deltas_against_the_baseline():
    base = _run(1, 12.0, result=_evaluation(0.700, 1.0, 120.0))
    fast = _run(
        2,
        4.0,
        memory={"peak_rss_delta_bytes": 50 * MIB, "model_file_bytes": 10 * MIB},
        result=_evaluation(0.692, 0.9962, 27.4),
        statistics={"cv": 0.125},
    )
    rows = {row.key: row for row in comparison_rows([base, fast], baseline_id=1)}

    p50 = rows["p50_ms"].cells
    assert p50[0].display == "12.000 ms"  # the baseline has no change
    assert p50[1].display == "4.000 ms (3.00x faster)"  # 12 / 4
    assert (p50[0].is_best, p50[1].is_best) == (False, True)
    # 1000/12 = 83.3 inf/s against 250: 3x higher, and higher is the best.
    assert rows["throughput_per_s"].cells[1].display == "250.0 inf/s (3.00x higher)"
    assert rows["throughput_per_s"].cells[1].is_best
    assert rows["model_file_bytes"].cells[1].display == "10.0 MiB (4.00x smaller)"
    assert rows["peak_rss_delta_bytes"].cells[1].change == "2.00x smaller"
    assert rows["cv"].cells[1].display == "12.5% (+2.5 pt)"  # 12.5% - 10.0%
    assert rows["cv"].cells[0].is_best  # lower CV wins
    assert rows["top1"].cells[1].display == "69.2% (-0.8 pt)"  # 69.2 - 70.0
    assert rows["top1"].cells[0].is_best
    assert rows["cosine_mean"].cells[1].display == "0.9962 (-0.0038)"
    assert rows["sqnr_db"].cells[1].display == "27.4 dB (-92.6 dB)"
    assert rows["mean_ms"].cells[0].text == "12.000 ± 1.200 ms"
    assert rows["count"].cells[1].display == "100"
    # Equal sample counts and equal load times: nothing is highlighted.
    assert not any(c.is_best for c in rows["count"].cells)
    assert not any(c.is_best for c in rows["load_ms"].cells)


def test_changing_the_baseline_turns_the_ratios_around():
    runs = [_run(1, 12.0), _run(2, 4.0), _run(3, 16.0)]
    rows = {row.key: row for row in comparison_rows(runs, baseline_id=2)}
    assert [c.change for c in rows["p50_ms"].cells] == ["3.00x slower", "", "4.00x slower"]
    assert [c.is_best for c in rows["p50_ms"].cells] == [False, True, False]
    same = comparison_rows([_run(1, 5.0), _run(2, 5.0)], baseline_id=1)
    assert same[0].cells[1].change == "same"


def test_accuracy_rows_only_when_evaluated_and_missing_values_show_a_dash():
    plain = comparison_rows([_run(1, 3.0), _run(2, 2.0)])
    assert "top1" not in {row.key for row in plain}
    mixed = {
        row.key: row
        for row in comparison_rows(
            [_run(1, 3.0), _run(2, 2.0, result=_evaluation(None, 0.99, 30.0))]
        )
    }
    assert "top1" not in mixed
    assert [c.text for c in mixed["cosine_mean"].cells] == ["-", "0.9900"]
    assert not any(c.is_best for c in mixed["cosine_mean"].cells)  # one value: no contest


def test_pareto_frontier_keeps_only_non_dominated_points():
    points = [
        (12.8, 69.9),  # 0: most accurate -> frontier
        (4.3, 69.4),  # 1: fastest -> frontier
        (5.1, 69.1),  # 2: slower and less accurate than 4 -> dominated
        (6.9, 66.2),  # 3: slower and less accurate than 1 -> dominated
        (5.0, 69.6),  # 4: between 1 and 0 -> frontier
        (12.8, 69.0),  # 5: as slow as 0 but less accurate -> dominated
    ]
    assert pareto_frontier(points) == [1, 4, 0]
    assert pareto_frontier([(1.0, 0.5), (1.0, 0.5)]) == [0, 1]  # equal points both stay
    assert pareto_frontier([]) == []


def test_accuracy_metric_falls_back_to_fidelity_when_a_run_has_no_labels():
    labelled = _run(1, 3.0, result=_evaluation(0.7, 1.0, 99.0))
    unlabelled = _run(2, 2.0, result=_evaluation(None, 0.99, 30.0))
    assert accuracy_metric([labelled])[0] == "top1"
    assert accuracy_metric([labelled, unlabelled])[0] == "cosine"
    assert accuracy_metric([_run(3, 1.0)])[0] == ""


def test_markdown_and_csv_text():
    runs = [_run(1, 12.0), _run(2, 4.0)]
    rows = comparison_rows(runs)
    markdown = to_markdown(runs, rows)
    assert markdown.splitlines()[0] == (
        "| figure | m1 · onnxruntime · local · run 1 | m2 · onnxruntime · local · run 2 |"
    )
    assert "| p50 latency | 12.000 ms | **4.000 ms (3.00x faster)** |" in markdown
    csv_lines = to_csv(runs, rows).splitlines()
    assert "p50_ms,12,4" in csv_lines
    assert "std_ms,1.2,0.4" in csv_lines
    assert "count,100,100" in csv_lines


# ---------------------------------------------------------------------------- Compare page


@pytest.fixture
def compare_page(window):
    return window.pages["Compare"]


def test_compare_page_shows_requested_runs_with_stored_values(window, workspace, compare_page):
    ids = _add_runs(workspace)
    workspace.compare_requested.emit(ids)
    assert window.current_page_name() == "Compare"
    assert compare_page.run_ids() == ids
    with workspace.store() as store:
        runs = [store.run(i) for i in ids]
    texts = compare_page.table_text()
    base, int8 = runs[0].statistics, runs[1].statistics
    assert texts["p50 latency"][0] == f"{ms(base['p50_ms'])} ms"
    assert texts["p50 latency"][1] == (
        f"{ms(int8['p50_ms'])} ms ({base['p50_ms'] / int8['p50_ms']:.2f}x faster)"
    )
    assert texts["p99 latency"][2].startswith(f"{ms(runs[2].statistics['p99_ms'])} ms (")
    assert texts["samples"] == ["300"] * 4
    assert texts["model size"][0] == size(runs[0].memory["model_file_bytes"])
    assert texts["top-1 accuracy"][1] == "69.4% (-0.5 pt)"
    assert texts["SQNR"][3] == "18.3 dB (-101.7 dB)"
    # The INT8 ONNX run is the fastest at p50: its cell is the one highlighted.
    p50_row = list(texts).index("p50 latency")
    bold = [compare_page.table.item(p50_row, c).font().bold() for c in range(4)]
    assert bold == [False, True, False, False]
    assert compare_page.table.verticalHeaderItem(p50_row).toolTip().count("sorted[floor(n*p)]")
    assert "run 1" in compare_page.table.horizontalHeaderItem(0).text()
    assert "baseline" in compare_page.table.horizontalHeaderItem(0).text()


def test_baseline_change_updates_the_ratios(workspace, compare_page):
    ids = _add_runs(workspace)
    compare_page.show_runs(ids[:2])
    with workspace.store() as store:
        fp32, int8 = (store.run(i).statistics["p50_ms"] for i in ids[:2])
    compare_page.baseline_combo.setCurrentIndex(1)
    assert compare_page.baseline_id == ids[1]
    texts = compare_page.table_text()["p50 latency"]
    assert texts == [f"{ms(fp32)} ms ({fp32 / int8:.2f}x slower)", f"{ms(int8)} ms"]
    assert "baseline" in compare_page.table.horizontalHeaderItem(1).text()


def test_add_remove_and_picker_lists_only_finished_runs(workspace, compare_page):
    ids = _add_runs(workspace)
    failed = _add_failed_run(workspace)
    compare_page.show_runs(ids[:1])
    compare_page.add_runs([ids[2], ids[0]])
    assert compare_page.run_ids() == [ids[0], ids[2]]
    compare_page.remove_run(ids[0])
    assert compare_page.run_ids() == [ids[2]] and compare_page.baseline_id == ids[2]
    compare_page.add_runs([ids[3]])
    compare_page.table.selectColumn(1)
    compare_page.remove_button.click()
    assert compare_page.run_ids() == [ids[2]]
    compare_page.add_runs([ids[3]])
    with workspace.store() as store:  # deleted elsewhere: the column goes on the next refresh
        store.delete_run(ids[3])
    workspace.runs_changed.emit()
    assert compare_page.run_ids() == [ids[2]]

    from app.pages.compare import RunPicker

    picker = RunPicker(workspace, exclude={ids[2]})
    listed = [run.id for run in picker.runs]
    assert failed not in listed and ids[2] not in listed
    assert sorted(listed) == sorted([ids[0], ids[1]])  # ids[3] was deleted above
    picker.table.selectRow(0)
    assert picker.selected_ids() == [picker.runs[0].id]
    picker.close()


def test_copy_as_markdown_and_csv(workspace, compare_page):
    ids = _add_runs(workspace)
    compare_page.show_runs(ids)
    with workspace.store() as store:
        p50 = store.run(ids[1]).statistics["p50_ms"]
    compare_page.markdown_button.click()
    markdown = QApplication.clipboard().text()
    assert markdown.startswith("| figure | resnet18 fp32 · onnxruntime · local · run")
    assert f"{ms(p50)} ms" in markdown and "x faster" in markdown
    compare_page.csv_button.click()
    csv_text = QApplication.clipboard().text()
    assert f",{p50!r}," in next(line for line in csv_text.splitlines() if line.startswith("p50_ms"))


def test_charts_have_a_bar_group_per_run_and_the_frontier(workspace, compare_page):
    ids = _add_runs(workspace)
    compare_page.show_runs(ids)
    charts = compare_page.charts
    assert charts.bar_groups == ids
    # top-1 vs p50: fp32 is the most accurate, INT8 ONNX the fastest, INT8 LiteRT is
    # slower and less accurate than INT8 ONNX, pruned is slower and less accurate still.
    assert charts.frontier_ids == [ids[1], ids[0]]
    assert charts.trade_off_plot.getAxis("left").labelText == "top-1 accuracy (%)"


def test_compare_page_screenshot(window, workspace, compare_page, qtbot):
    ids = _add_runs(workspace)
    workspace.compare_requested.emit(ids)
    qtbot.wait(50)
    save_screenshot(window, "compare-page")


# ---------------------------------------------------------------------------- devices


def _add_device_runs(workspace, slowdown: float = 4.0) -> tuple[list[int], list[int]]:
    """The first two sweep runs on this machine and again on a "pi5" (each `slowdown`
    times slower); returns (local ids, pi5 ids)."""
    local = _add_runs(workspace, device="local-cpu")[:2]
    pi = []
    with workspace.store() as store:
        for run_id in local:
            run = store.run(run_id)
            samples = [value * slowdown for value in store.samples(run_id)]
            result = {**run.result, "statistics": summarize(samples)}
            pi.append(
                store.add_run(
                    artifact_id=run.artifact_id,
                    model_label=run.model_label,
                    runtime=run.runtime,
                    device="pi5",
                    spec={},
                    result=result,
                    samples_ms=samples,
                )
            )
    return local, pi


def _runs(workspace, ids):
    with workspace.store() as store:
        return [store.run(i) for i in ids]


def test_order_runs_puts_the_same_model_on_every_device_side_by_side(workspace):
    local, pi = _add_device_runs(workspace)
    runs = _runs(workspace, [local[0], local[1], pi[0], pi[1]])
    by_model = [run.id for run in order_runs(runs, "model")]
    assert by_model == [local[0], pi[0], local[1], pi[1]]
    by_device = [run.id for run in order_runs(runs, "device")]
    assert by_device == [local[0], local[1], pi[0], pi[1]]
    assert [run.id for run in order_runs(runs, "added")] == [run.id for run in runs]
    assert device_name(_run(1, 1.0)) == "local-cpu"  # runs stored as "local" before profiles


def test_compare_page_groups_devices_and_reads_the_pi_as_a_slowdown(workspace, compare_page, qtbot):
    local, pi = _add_device_runs(workspace, slowdown=4.0)
    workspace.compare_requested.emit([*local, *pi])
    # Runs from two devices: the same model sits side by side, the local run first.
    assert compare_page.run_ids() == [local[0], pi[0], local[1], pi[1]]
    assert compare_page.group_combo.currentData() == "model"
    headers = [compare_page.table.horizontalHeaderItem(c).text() for c in range(4)]
    assert [h.split("\n")[1].split(" · ")[1] for h in headers] == [
        "local-cpu",
        "pi5",
        "local-cpu",
        "pi5",
    ]
    texts = compare_page.table_text()["p50 latency"]
    assert texts[1].endswith("(4.00x slower)")
    assert "local-cpu" in compare_page.baseline_combo.itemText(0)
    ticks = compare_page.charts.latency_plot.getAxis("bottom")._tickLevels[0]
    assert ticks[1][1] == f"run {pi[0]}\npi5"

    # The Pi's own run as the baseline turns the ratio around.
    compare_page.set_baseline(pi[0])
    assert compare_page.table_text()["p50 latency"][0].endswith("(4.00x faster)")

    compare_page.group_combo.setCurrentIndex(list(GROUPINGS).index("device"))
    assert compare_page.run_ids() == [local[0], local[1], pi[0], pi[1]]
    compare_page.group_combo.setCurrentIndex(list(GROUPINGS).index("added"))
    assert compare_page.run_ids() == [*local, *pi]
    compare_page.remove_run(local[1])
    assert compare_page.run_ids() == [local[0], *pi]  # the chosen order sticks
    compare_page.group_combo.setCurrentIndex(list(GROUPINGS).index("model"))
    compare_page.add_runs([local[1]])
    assert compare_page.run_ids() == [local[0], pi[0], local[1], pi[1]]
    qtbot.wait(50)
    save_screenshot(compare_page.window(), "compare-page-devices")


def test_compare_page_keeps_the_order_runs_were_added_on_one_device(workspace, compare_page):
    ids = _add_runs(workspace)
    compare_page.show_runs(list(reversed(ids)))
    assert compare_page.run_ids() == list(reversed(ids))
    assert compare_page.group_combo.currentData() == "added"
    ticks = compare_page.charts.latency_plot.getAxis("bottom")._tickLevels[0]
    assert "\n" not in ticks[0][1]


# ---------------------------------------------------------------------------- History page


@pytest.fixture
def history_page(window):
    window.show_page("History")
    return window.pages["History"]


def _age_run(workspace, run_id: int, days: int) -> None:
    when = datetime.now(timezone.utc) - timedelta(days=days)
    with sqlite3.connect(workspace.db_path) as db:
        db.execute(
            "UPDATE runs SET created_at=? WHERE id=?",
            (when.strftime("%Y-%m-%dT%H:%M:%S.000Z"), run_id),
        )


def test_history_filters_narrow_the_rows(workspace, history_page):
    ids = _add_runs(workspace)
    failed = _add_failed_run(workspace)
    _age_run(workspace, ids[0], days=40)
    workspace.runs_changed.emit()
    page = history_page
    assert page.table.rowCount() == 5 and page.count_label.text() == "5 of 5 runs"
    page.model_filter.setText("INT8")
    assert sorted(r.id for r in page.shown) == sorted([ids[1], ids[2], failed])
    page.runtime_filter.setCurrentIndex(page.runtime_filter.findData("litert"))
    assert sorted(r.id for r in page.shown) == sorted([ids[2], failed])
    page.device_filter.setCurrentIndex(page.device_filter.findData("pi5"))
    assert [r.id for r in page.shown] == [failed]
    page.model_filter.clear()
    page.runtime_filter.setCurrentIndex(0)
    page.device_filter.setCurrentIndex(0)
    page.age_filter.setCurrentIndex(page.age_filter.findData(30))
    assert ids[0] not in [r.id for r in page.shown] and page.table.rowCount() == 4


def test_filter_runs_by_age():
    old, new = _run(1, 1.0), _run(2, 1.0)
    now = datetime(2025, 3, 20, tzinfo=timezone.utc)  # both made 2025-03-01
    assert filter_runs([old, new], days=30, now=now) == [old, new]
    assert filter_runs([old, new], days=7, now=now) == []
    assert filter_runs([old, new], model="M2") == [new]


def _select(page, ids: list[int]) -> None:
    page.select_ids(set(ids))
    assert sorted(page.selected_ids()) == sorted(ids)


@pytest.mark.parametrize("answer", [QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No])
def test_delete_asks_first(workspace, history_page, monkeypatch, answer):
    ids = _add_runs(workspace)
    history_page.refresh()
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or answer)
    _select(history_page, ids[:2])
    history_page.delete_button.click()
    assert len(asked) == 1
    with workspace.store() as store:
        left = [r.id for r in store.runs()]
    if answer == QMessageBox.StandardButton.Yes:
        assert sorted(left) == sorted(ids[2:])
        assert history_page.table.rowCount() == 2
    else:
        assert sorted(left) == sorted(ids)
        assert history_page.table.rowCount() == 4


def test_compare_rerun_and_double_click_emit_signals(workspace, history_page, qtbot):
    ids = _add_runs(workspace)
    failed = _add_failed_run(workspace)
    history_page.refresh()
    _select(history_page, [ids[3], ids[1], failed])
    with qtbot.waitSignal(workspace.compare_requested, timeout=1000) as blocker:
        history_page.compare_button.click()
    assert blocker.args == [[ids[1], ids[3]]]  # the failed run has nothing to compare
    _select(history_page, [ids[1]])
    with qtbot.waitSignal(workspace.rerun_requested, timeout=1000) as blocker:
        history_page.rerun_button.click()
    assert blocker.args == [[ids[1]]]  # the run itself, replayed as stored
    row = next(r for r in range(4) if history_page.table.item(r, 0).text() == str(ids[2]))
    with qtbot.waitSignal(workspace.compare_requested, timeout=1000) as blocker:
        history_page.table.cellDoubleClicked.emit(row, 2)
    assert blocker.args == [[ids[2]]]


def test_failed_run_shows_its_error(workspace, history_page):
    ids = _add_runs(workspace)
    failed = _add_failed_run(workspace)
    history_page.refresh()
    _select(history_page, [failed])
    assert history_page.error_box.isVisibleTo(history_page)
    assert "SIGSEGV" in history_page.error_message.text()
    assert "phase: load" in history_page.error_details.toPlainText()
    assert "Segmentation fault" in history_page.error_details.toPlainText()
    status_row = next(r for r in range(5) if history_page.table.item(r, 0).text() == str(failed))
    assert history_page.table.item(status_row, 5).foreground().color().name() == "#d62728"
    _select(history_page, [ids[0]])
    assert not history_page.error_box.isVisibleTo(history_page)


def test_history_page_screenshot(window, workspace, history_page, qtbot):
    _add_runs(workspace)
    failed = _add_failed_run(workspace)
    workspace.runs_changed.emit()
    _select(history_page, [failed])
    assert history_page.table.item(0, 0).text() == str(failed)  # newest first
    qtbot.wait(50)
    save_screenshot(window, "history-page")


def _evaluation_only(workspace, timed_id: int) -> int:
    """The wizard's Evaluate kind of run: accuracy and a cold first inference, no timing."""
    with workspace.store() as store:
        timed = store.run(timed_id)
        return store.add_run(
            artifact_id=timed.artifact_id,
            model_label=timed.model_label,
            runtime=timed.runtime,
            device="local",
            spec={"runtime": timed.runtime, "measure": False},
            result={
                "load_ms": 3.0,
                "first_ms": 0.05,  # a warm process: 246x "faster" than a timed run's cold one
                "statistics": None,
                "memory": {"model_file_bytes": 1000, "peak_rss_delta_bytes": 10},
                "environment": {},
                "evaluation": {"fidelity": {"cosine_mean": 0.99, "sqnr_db": 30.0}},
            },
        )


def test_an_evaluation_only_run_is_never_divided_into_a_ratio(workspace):
    from engines.report.comparison import NOT_TIMED, compare_runs

    ids = _add_runs(workspace)
    only = _evaluation_only(workspace, ids[0])
    with workspace.store() as store:
        runs = [store.run(only), store.run(ids[0])]
    comparison = compare_runs(runs)
    assert comparison.baseline_id == ids[0]  # the first timed run, not the first added
    rows = {row.key: row for row in comparison.rows}
    position = [run.id for run in comparison.runs].index(only)
    for key in ("p50_ms", "first_ms", "load_ms", "peak_rss_delta_bytes", "throughput_per_s"):
        cell = rows[key].cells[position]
        assert cell.value is None and cell.text == NOT_TIMED and not cell.change, key
        assert not any(c.is_best for c in rows[key].cells), key
    # Its accuracy still compares with the baseline's.
    assert rows["cosine_mean"].cells[position].change


def test_edgebench_compare_prints_what_the_compare_page_shows(
    window, workspace, compare_page, capsys
):
    import json

    from app.cli import main

    ids = _add_runs(workspace)
    only = _evaluation_only(workspace, ids[1])
    workspace.compare_requested.emit([*ids, only])
    shown = compare_page.table_text()
    db = ["--db", str(workspace.db_path)]
    assert main([*db, "compare", *map(str, [*ids, only]), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["baseline_run_id"] == compare_page.baseline_id
    assert [r["id"] for r in printed["runs"]] == compare_page.run_ids()
    for figure in printed["figures"]:
        texts = [
            f"{c['text']} ({c['change']})" if c["change"] else c["text"] for c in figure["cells"]
        ]
        assert shown[figure["label"]] == texts, figure["label"]
    assert main([*db, "compare", *map(str, ids), "--baseline", str(ids[2]), "--markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("| figure |") and "faster" in markdown
    assert main([*db, "compare", str(ids[0]), "--baseline", "999"]) == 2
