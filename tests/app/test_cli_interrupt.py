"""Ctrl-C in the middle of a run: the shell's exit status (130), nothing half-done is
stored, and no agent is left running (the conftest guard checks the last)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engines.store.db import Store

ROOT = Path(__file__).resolve().parents[2]


def test_ctrl_c_during_a_run_exits_130_and_stores_nothing(tmp_path: Path, tiny_models) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "EDGEBENCH_HOME": str(home)}
    env.pop("EDGEBENCH_DB", None)
    command = [
        sys.executable, "-m", "app.cli", "profile", str(tiny_models.onnx),
        "--runtime", "onnxruntime", "--threads", "1", "--min-seconds", "60",
        "--max-seconds", "60", "--no-evaluate",
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    said = []
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        said.append(line)
        if "measure" in line or not line:
            break
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, "".join(said) + rest
    assert "cancelled" in rest and "Traceback" not in rest, rest
    with Store(home / "results.sqlite") as store:
        assert store.runs() == []
