"""Pipeline start-up figures (`python tests/benchmarks/bench_pipeline.py`).

1. Cold `edgebench --help`: a fresh process each time, against a bare `python -c pass`,
   interleaved (help, bare, help, bare ...).
2. From clicking Run on the Profile page to the first live latency sample, for
   zoo:mobilenet_v2 on LiteRT: with no cached export (the FP32 TFLite export happens
   first, shown as it goes) and with the export cached. Each round is a fresh process and
   a fresh data dir: cold first, then cached in the same dir; rounds repeat.
3. Cancel during that export: from setting the cancel event (as the GUI's Cancel does) to
   the pipeline's stream having ended, the export worker stopped.

Prints figures with their spread; asserts nothing.
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

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("EDGEBENCH_BENCH_ROUNDS", "3"))
HELP_ROUNDS = 7


def _spread(values: list[float]) -> str:
    if not values:
        return "no rounds finished"
    low, high = min(values), max(values)
    return (
        f"median {statistics.median(values):.2f} s (min {low:.2f}, max {high:.2f}, n={len(values)})"
    )


def _wall_s(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
    return time.perf_counter() - start


def cold_help() -> None:
    edgebench = str(Path(sys.executable).with_name("edgebench"))
    helps, bares = [], []
    _wall_s([edgebench, "--help"])  # warm the page cache once
    for _ in range(HELP_ROUNDS):
        helps.append(_wall_s([edgebench, "--help"]))
        bares.append(_wall_s([sys.executable, "-c", "pass"]))
    ratios = [h / b for h, b in zip(helps, bares, strict=True)]
    print(f"edgebench --help, cold process: {_spread(helps)}")
    print(f"  python -c pass, same rounds:  {_spread(bares)}")
    print(
        f"  help / bare, pair by pair: median {statistics.median(ratios):.1f}x "
        f"(min {min(ratios):.1f}, max {max(ratios):.1f})"
    )


ONE_RUN = r"""
import json, os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.pages.profile import ProfilePage
from app.workspace import Workspace
from engines.floor import paths
from engines.floor.spec import RunPolicy
from engines.models.refs import resolve
from engines.store.db import Store

with Store(paths.db_path()) as store:
    artifact_id = resolve("zoo:mobilenet_v2", store).id
workspace = Workspace(paths.db_path())
page = ProfilePage(workspace)
page.show()
page.select([artifact_id], ["litert"])
page.set_policy(RunPolicy(warmup_runs=1, warmup_min_s=0.1, min_runs=5, min_s=0.2))
page.setup.evaluate.setText("off")
app.processEvents()
marks = {"said": []}
idle = page.progress.format()
start = time.perf_counter()
page.run_button.click()
while page.is_running():
    app.processEvents()
    now = time.perf_counter() - start
    shown = page.progress.format()
    if shown != idle and (not marks["said"] or marks["said"][-1] != shown):
        marks["said"].append(shown)
        marks.setdefault("first_words", now)
    if "first_sample" not in marks and page.live.latency_ms.size > 0:
        marks["first_sample"] = now
    time.sleep(0.002)
(job,) = page.results()
marks["status"] = job.status
print(json.dumps(marks))
"""


def _script(code: str, home: Path) -> dict:
    """Run `code` in a fresh Python with `home` as its data dir; its last line as JSON."""
    env = {**os.environ, "EDGEBENCH_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=900,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_to_first_sample(home: Path) -> dict:
    return _script(ONE_RUN, home)


def first_sample() -> None:
    cold, cached, first_words = [], [], []
    words = ""
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder)
            a = run_to_first_sample(home)  # no export yet: it is made first
            b = run_to_first_sample(home)  # the export is cached
        if a["status"] != "done" or b["status"] != "done":
            print(f"  a round failed: {a} {b}")
            continue
        cold.append(a["first_sample"])
        cached.append(b["first_sample"])
        words = words or " | ".join(s for s in a.get("said", []) if "export" in s)
        first_words.append(a.get("first_words", float("nan")))
    print("Run clicked -> first live sample, zoo:mobilenet_v2 on LiteRT (fresh process each):")
    print(f"  no cached export: {_spread(cold)}")
    print(f"  export cached:    {_spread(cached)}")
    print(f"  no cached export, Run -> the first words of preparation: {_spread(first_words)}")
    print(f"  what the page said while exporting: {words!r}")


CANCEL_ONE = r"""
import json, threading, time
from engines.floor import paths
from engines.floor.errors import Cancelled
from engines.pipeline.profile import ProfileRequest, profile
from engines.store.db import Store

cancel = threading.Event()
request = ProfileRequest("zoo:mobilenet_v2", "litert", evaluate_data=None)
set_at = None
with Store(paths.db_path()) as store:
    try:
        for event in profile(request, store, cancel=cancel):
            if event["type"] == "preparing" and "exporting" in event["message"]:
                time.sleep(2.0)  # well inside the export
                set_at = time.perf_counter()
                cancel.set()
    except Cancelled:
        pass
print(json.dumps({"stopped_s": time.perf_counter() - set_at}))
"""


def cancel_during_export() -> None:
    stopped = []
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as folder:
            stopped.append(_script(CANCEL_ONE, Path(folder))["stopped_s"])
    print(
        f"Cancel during the TFLite export of zoo:mobilenet_v2 -> stream ended: {_spread(stopped)}"
    )


def main() -> None:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    print(f"machine: {cpu}, {os.cpu_count()} logical cores")
    cold_help()
    first_sample()
    cancel_during_export()


if __name__ == "__main__":
    main()
