"""GUI responsiveness and fidelity figures (`python tests/benchmarks/bench_gui.py`).

1. The Profile page profiles a tiny MLP (ONNX Runtime, ~5 s of measuring) while a 5 ms
   QTimer records the event loop's tick gaps: longest stall and p99 gap (targets < 50 ms
   and < 20 ms), samples per second streamed, and the page's redraw cost.
2. The median latency measured with the GUI running vs the same spec from the CLI,
   side by side (GUI, CLI, GUI, CLI) so drift hits both.
3. Start-up: from spawning a Python process to the main window shown.

Prints figures only; asserts nothing.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_harness import tiny_mlp_onnx  # noqa: E402

MEASURE_S = 5.0
MIN_RUNS = 50
ROUNDS = 2
TICK_MS = 5


class TickGaps:
    """Every gap between ticks of a 5 ms QTimer: how long the event loop was busy."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.gaps_ms: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps_ms.append((now - self._last) * 1000)
        self._last = now

    def stop(self) -> None:
        self.timer.stop()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def gui_round(page, workspace, threads: int) -> dict:
    """Profile once through the page; returns its p50 and the event loop's figures."""
    from PySide6.QtCore import QEventLoop

    from engines.floor.spec import RunPolicy

    live = page.live
    draw_ms: list[float] = []
    plain_refresh = live.refresh

    def timed_refresh() -> None:
        started = time.perf_counter()
        plain_refresh()
        draw_ms.append((time.perf_counter() - started) * 1000)

    live.refresh = timed_refresh
    page.setup.threads.setValue(threads)
    page.set_policy(RunPolicy(min_runs=MIN_RUNS, min_s=MEASURE_S))
    ticks = TickGaps()
    loop = QEventLoop()
    first_sample_s: list[float] = []

    def watch() -> None:  # runs on every tick: cheap checks only
        if not first_sample_s and live.latency_ms.size:
            first_sample_s.append(time.perf_counter())
        if not page.is_running():
            loop.quit()

    ticks.timer.timeout.connect(watch)
    page.run()
    loop.exec()
    ended_s = time.perf_counter()
    ticks.stop()
    live.refresh = plain_refresh
    (job,) = page.results()
    if job.status != "done":
        raise RuntimeError(f"the GUI run ended {job.status}: {job.error}")
    streamed_s = ended_s - (first_sample_s[0] if first_sample_s else ended_s)
    return {
        "p50_ms": job.statistics["p50_ms"],
        "count": job.statistics["count"],
        "gaps_ms": ticks.gaps_ms,
        "samples_per_s": live.latency_ms.size / streamed_s if streamed_s > 0 else 0.0,
        "draw_ms": draw_ms,
    }


def cli_round(model: Path, db: Path, threads: int) -> float:
    edgebench = str(Path(sys.executable).parent / "edgebench")
    args = [
        edgebench,
        "--db",
        str(db),
        "profile",
        str(model),
        "--runtime",
        "onnxruntime",
        "--json",
        "--threads",
        str(threads),
        "--runs",
        str(MIN_RUNS),
        "--min-seconds",
        str(MEASURE_S),
    ]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout)["statistics"]["p50_ms"])


STARTUP_SCRIPT = """
import sys, time
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from app.window import MainWindow
from app.workspace import Workspace
window = MainWindow(Workspace(sys.argv[1]), QSettings(sys.argv[2], QSettings.Format.IniFormat))
window.show()
def shown():
    print(time.time(), window.isVisible(), flush=True)
    app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""


def startup_s(folder: Path, repeat: int = 3) -> list[float]:
    """From spawning Python to the first event-loop turn after the window is shown."""
    times = []
    for i in range(repeat):
        started = time.time()
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                STARTUP_SCRIPT,
                str(folder / f"startup-{i}.sqlite"),
                str(folder / "startup.ini"),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        shown_at, visible = out.stdout.split()[:2]
        if visible != "True":
            raise RuntimeError("the window was not visible")
        times.append(float(shown_at) - started)
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["EDGEBENCH_HOME"] = os.environ.get("EDGEBENCH_HOME", str(folder / "home"))
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication(sys.argv[:1])
        from app.pages.profile import ProfilePage
        from app.workspace import Workspace
        from engines.bench.environment import host_threads
        from engines.models.artifacts import import_model

        model = tiny_mlp_onnx(folder)
        workspace = Workspace(folder / "gui.sqlite")
        with workspace.store() as store:
            artifact_id = import_model(model, store).id
        page = ProfilePage(workspace)
        page.resize(1130, 780)
        page.show()
        page.select([artifact_id], ["onnxruntime"])
        app.processEvents()
        threads = host_threads()
        print(
            f"tiny MLP (256-512-512-10) on onnxruntime, {threads} threads, "
            f"{os.cpu_count()} logical cores, measuring >= {MEASURE_S:g} s per run"
        )

        gui, cli = [], []
        for _ in range(ROUNDS):
            gui.append(gui_round(page, workspace, threads))
            cli.append(cli_round(model, folder / "cli.sqlite", threads))

        gaps = [g for r in gui for g in r["gaps_ms"]]
        draws = [d for r in gui for d in r["draw_ms"]]
        print(
            f"event loop during live profiling ({len(gaps):,} ticks of a {TICK_MS} ms timer): "
            f"longest stall {max(gaps):.1f} ms (target < 50), p99 tick gap "
            f"{percentile(gaps, 0.99):.1f} ms (target < 20), median "
            f"{statistics.median(gaps):.1f} ms"
        )
        print(
            "samples streamed to the page: "
            + ", ".join(f"{r['samples_per_s']:,.0f}/s ({r['count']:,} samples)" for r in gui)
        )
        print(
            f"live view redraw: {len(draws):,} redraws, median {statistics.median(draws):.2f} ms, "
            f"p99 {percentile(draws, 0.99):.2f} ms, max {max(draws):.2f} ms"
        )
        gui_p50 = statistics.median(r["p50_ms"] for r in gui)
        cli_p50 = statistics.median(cli)
        print(
            f"median latency, GUI running vs CLI (interleaved GUI, CLI x{ROUNDS}): "
            f"GUI {gui_p50 * 1000:.1f} µs, CLI {cli_p50 * 1000:.1f} µs, ratio GUI/CLI "
            f"{gui_p50 / cli_p50:.3f} [GUI {[round(r['p50_ms'] * 1000, 1) for r in gui]}, "
            f"CLI {[round(c * 1000, 1) for c in cli]}]"
        )
        workspace.cancel_all()
        page.close()

        times = startup_s(folder)
        print(
            f"start to visible main window: median {statistics.median(times):.2f} s over "
            f"{len(times)} runs {[round(t, 2) for t in times]} (offscreen, empty store)"
        )


if __name__ == "__main__":
    main()
