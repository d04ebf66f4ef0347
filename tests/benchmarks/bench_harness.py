"""Harness fidelity and start-up figures (`make bench`). Prints ratios measured side by side.

1. For the same ONNX model and thread count: the median latency our agent reports vs a
   bare loop timing `session.run` in this process, interleaved (bare, agent, bare, agent)
   so drift hits both. Tiny model (~0.1 ms) and mobilenet_v2 at 224x224.
2. Cold `edgebench --help` (must not import torch).
3. `edgebench profile demo:digits-cnn` from start to result, demo model cached.
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
sys.path.insert(0, str(ROOT))
THREADS = 2
ROUNDS = 3


def tiny_mlp_onnx(folder: Path) -> Path:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(256, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 10),
    ).eval()
    path = folder / "tiny_mlp.onnx"
    torch.onnx.export(model, (torch.randn(1, 256),), str(path), dynamo=True, verbose=False)
    return path


def mobilenet_onnx() -> Path:
    from engines.export.runnable import runnable_artifact
    from engines.floor import paths
    from engines.models.refs import resolve
    from engines.runtimes.registry import get_runtime
    from engines.store.db import Store

    with Store(paths.db_path()) as store:
        artifact = resolve("zoo:mobilenet_v2", store)
        return Path(runnable_artifact(artifact, get_runtime("onnxruntime"), store).path)


def bare_loop_p50(path: Path, min_runs: int, min_s: float) -> float:
    """What a careful engineer writes by hand: same session options, time session.run."""
    import numpy as np

    from engines.runtimes.base import RuntimeOptions
    from engines.runtimes.feeds import synthesize
    from engines.runtimes.ort import OnnxRuntime

    session = OnnxRuntime().open(str(path), "onnx", RuntimeOptions(threads=THREADS))
    feeds = synthesize(session.inputs())
    call = session.timed_call(feeds)
    deadline = time.perf_counter() + 0.5
    while time.perf_counter() < deadline:
        call()
    samples = []
    start = time.perf_counter()
    while len(samples) < min_runs or time.perf_counter() - start < min_s:
        t0 = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return float(np.median(samples))


def agent_p50(path: Path, min_runs: int, min_s: float) -> float:
    from engines.devices.local import LocalDevice
    from engines.floor.spec import BenchSpec, ModelRef, RunPolicy

    spec = BenchSpec(
        ModelRef(str(path), "onnx"),
        "onnxruntime",
        threads=THREADS,
        policy=RunPolicy(min_runs=min_runs, min_s=min_s),
    )
    events = list(LocalDevice().run(spec))
    result = events[-1]
    if result["type"] != "result":
        raise RuntimeError(result)
    samples = [v for e in events if e["type"] == "sample" for v in e["ms"]]
    return statistics.median(samples)


def fidelity(label: str, path: Path, min_runs: int, min_s: float) -> None:
    bare, agent = [], []
    for _ in range(ROUNDS):
        bare.append(bare_loop_p50(path, min_runs, min_s))
        agent.append(agent_p50(path, min_runs, min_s))
    b, a = statistics.median(bare), statistics.median(agent)
    print(
        f"{label}: bare loop p50 {b * 1000:.1f} µs, agent p50 {a * 1000:.1f} µs, "
        f"ratio agent/bare {a / b:.4f} ({(a / b - 1) * 100:+.2f}%), "
        f"overhead per inference {(a - b) * 1000:+.2f} µs "
        f"[{ROUNDS} interleaved rounds, medians: bare {[round(x * 1000, 1) for x in bare]}, "
        f"agent {[round(x * 1000, 1) for x in agent]}]"
    )


def timed_command(args: list[str], env: dict[str, str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(args, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "EDGEBENCH_HOME": os.environ.get("EDGEBENCH_HOME", tmp)}
        os.environ.update(env)
        print(f"threads {THREADS}, {os.cpu_count()} logical cores")
        fidelity("tiny MLP (256-512-512-10)", tiny_mlp_onnx(Path(tmp)), 2000, 2.0)
        fidelity("mobilenet_v2 224x224", mobilenet_onnx(), 100, 4.0)

        edgebench = str(Path(sys.executable).parent / "edgebench")
        help_s = timed_command([edgebench, "--help"], env, 5)
        imports_torch = subprocess.run(
            [
                sys.executable,
                "-c",
                "import app.cli, sys; app.cli.build_parser(); print('torch' in sys.modules)",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        print(
            f"cold `edgebench --help`: median {statistics.median(help_s) * 1000:.0f} ms "
            f"over 5 runs; torch imported: {imports_torch}"
        )

        profile = [edgebench, "profile", "demo:digits-cnn", "--runtime", "onnxruntime", "--json"]
        first = timed_command(profile, env, 1)[0]
        warm = timed_command(profile, env, 3)
        out = subprocess.run(profile, env=env, capture_output=True, text=True, check=True)
        measured = json.loads(out.stdout)["statistics"]
        print(
            f"`edgebench profile demo:digits-cnn --runtime onnxruntime`: start to result "
            f"{statistics.median(warm):.2f} s with the demo cached (median of 3; "
            f"{measured['count']} samples over the 2 s default measuring window); "
            f"first run {first:.2f} s (includes training and export unless cached before)"
        )


if __name__ == "__main__":
    main()
