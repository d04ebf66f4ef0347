"""`make corpus`: every path on every real model of the corpus, as one table.

Each row is one command on one model, run as a user runs it (the `edgebench` CLI in a
fresh process, on an empty data dir) and classified by what the user gets:

- works: exit 0;
- refused: exit 2 with a readable reason (the first line of the error);
- mismatch: the variant was built and does not match its source on the check's inputs
  (exit 3 with the figures: a measured verdict, e.g. FP16 overflow, INT8 calibrated on
  synthetic data);
- FAILURE: anything else (exit 3 for another reason, a crash, a raw traceback, a timeout).

Prints the table and a count per class; exits 1 when any row is a failure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from corpus.models import CorpusModel, fetch  # noqa: E402

QUICK = ["--runs", "10", "--min-seconds", "0.2", "--warmup", "1", "--warmup-seconds", "0"]


def commands(model: CorpusModel) -> list[tuple[str, list[str]]]:
    """(path name, CLI words) for each path that applies to the model's format."""
    path = str(model.path)
    runtime = "onnxruntime" if model.path.suffix == ".onnx" else "litert"
    rows = [
        ("inspect", ["inspect", path]),
        ("profile", ["profile", path, "--runtime", runtime, *QUICK, *model.input_flags]),
        ("evaluate", ["evaluate", path, "--data", "synthetic:8", *model.input_flags]),
    ]
    if model.path.suffix == ".onnx":
        for preset in ("int8-dynamic", "int8-static", "fp16"):
            words = ["compress", path, "--preset", preset, "--to", "onnx", *model.input_flags]
            if preset == "int8-static":
                words += ["--calib", "synthetic:8"]
            rows.append((f"compress {preset}", words))
    return rows


def classify(code: int, err: str) -> tuple[str, str]:
    lines = [line.strip() for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error")]
    reason = (errors[0] if errors else (lines[-1] if lines else ""))[:140]
    if "Traceback (most recent call last)" in err:
        return "FAILURE", "traceback: " + (lines[-1] if lines else "")[:120]
    if code == 0:
        return "works", ""
    if code == 2:
        return "refused", reason
    if code == 3 and "does not match its source" in reason:
        return "mismatch", reason.removeprefix("error: exported model does not match its source: ")
    return "FAILURE", f"exit {code}: {reason}"


def run_row(words: list[str], home: Path, timeout_s: float) -> tuple[str, str, float]:
    env = {**os.environ, "EDGEBENCH_HOME": str(home)}
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", *words],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return "FAILURE", f"no answer in {timeout_s:.0f} s", time.monotonic() - started
    verdict, reason = classify(done.returncode, done.stderr)
    return verdict, reason, time.monotonic() - started


def run_table(models: list[CorpusModel], timeout_s: float, out: Any = None) -> list[dict[str, Any]]:
    """Every row for `models` on a fresh data dir; prints each as it ends."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edgebench-corpus-") as home:
        print(f"{'model':42} {'path':22} {'result':8} {'s':>6}  reason", file=out, flush=True)
        for model in models:
            for name, words in commands(model):
                verdict, reason, seconds = run_row(words, Path(home), timeout_s)
                rows.append(
                    {
                        "model": model.path.name,
                        "path": name,
                        "result": verdict,
                        "seconds": seconds,
                        "reason": reason,
                    }
                )
                print(
                    f"{model.path.name[:42]:42} {name:22} {verdict:8} {seconds:6.1f}  {reason}",
                    file=out,
                    flush=True,
                )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="substring of the model file names to run")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per command")
    args = parser.parse_args(argv)
    models = [m for m in fetch() if not args.only or args.only in m.path.name]
    counts = {"works": 0, "refused": 0, "mismatch": 0, "FAILURE": 0}
    for row in run_table(models, args.timeout):
        counts[row["result"]] += 1
    total = sum(counts.values())
    print(
        f"\n{total} rows: {counts['works']} work, {counts['refused']} refused with a reason, "
        f"{counts['mismatch']} built but do not match their source, {counts['FAILURE']} fail"
    )
    return 1 if counts["FAILURE"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
