"""Export PDF… on the Compare and History pages: a real PDF built off the GUI thread,
progress while it runs, a readable message when it cannot be written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import save_screenshot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engines"))
from report_runs import add_run


def _runs(workspace) -> list[int]:
    with workspace.store() as store:
        return [
            add_run(store, "resnet18 fp32", p50_ms=12.8, top1=0.699, seed=1),
            add_run(store, "resnet18 int8", p50_ms=4.3, top1=0.694, seed=2, size_bytes=3e6),
            add_run(store, "resnet18 int8", "litert", p50_ms=5.1, top1=0.690, seed=3),
        ]


def _pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return int(
        next(line.split()[-1] for line in info.stdout.splitlines() if line.startswith("Pages"))
    )


def test_compare_export_pdf_builds_off_the_gui_thread(qtbot, window, workspace, tmp_path):
    ids = _runs(workspace)
    workspace.compare_requested.emit(ids)
    page = window.pages["Compare"]
    window.show_page("Compare")
    window.resize(1400, 900)
    assert page.pdf_button.isEnabled()
    out = tmp_path / "compare.pdf"
    export = page.export_pdf(str(out))
    assert export is not None
    qtbot.waitUntil(lambda: not export.is_running() and export.result is not None, timeout=60_000)
    assert out.is_file() and export.error is None
    assert _pages(out) == export.result["pages"] >= 3
    save_screenshot(window, "compare-export-pdf")


def test_history_export_pdf_of_selected_runs(qtbot, workspace, tmp_path, monkeypatch):
    from app.pages.history import HistoryPage

    ids = _runs(workspace)
    page = HistoryPage(workspace)
    qtbot.addWidget(page)
    page.resize(1200, 600)
    page.show()
    page.select_ids(set(ids[:2]))
    assert page.pdf_button.isEnabled()
    out = tmp_path / "picked"
    monkeypatch.setattr("app.report_export.ask_path", lambda *_a: str(out) + ".pdf")
    page.pdf_button.click()  # the file dialog is replaced by the path above
    from app.report_export import PdfExport

    export = page.findChild(PdfExport)
    assert export is not None
    qtbot.waitUntil(lambda: not export.is_running() and export.result is not None, timeout=60_000)
    assert export.result["runs"] == sorted(ids[:2])
    assert (tmp_path / "picked.pdf").is_file()
    save_screenshot(page, "history-export-pdf")


def test_export_error_is_a_readable_message(qtbot, workspace, tmp_path):
    from app.pages.history import HistoryPage

    ids = _runs(workspace)
    page = HistoryPage(workspace)
    qtbot.addWidget(page)
    page.select_ids({ids[0]})
    with workspace.store() as store:  # deleted after it was selected
        store.delete_run(ids[0])
    export = page.export_pdf(str(tmp_path / "gone.pdf"))
    qtbot.waitUntil(lambda: export.error is not None, timeout=30_000)
    assert f"no run with id {ids[0]}" in export.error["message"]
    assert "was not written" in export.message_box.text()
    assert not (tmp_path / "gone.pdf").exists()
    export.message_box.close()
