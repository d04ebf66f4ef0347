"""Static INT8 against FP32 on the corpus's real ONNX CNNs (`make bench`).

For each PaddleOCR model (rapidocr-onnxruntime 1.4.4): the INT8 variant is built with
EdgeBench's own static quantization (`quantize_static_onnx`, 16 seeded image-like
calibration samples), then FP32 and INT8 are timed interleaved in one process, A B A B
over ROUNDS rounds of RUNS calls each, on 2 threads. Prints per model: p50 of each round,
the median ratio FP32 / INT8 with its spread over rounds, the size ratio, the output
cosine on a held-out input, and the notes (per-tensor fallback, opset upgrade, weights
moved out of Constant nodes).

Calibration on synthetic data says nothing about accuracy; latency and size are what
this measures. Usage: python tests/benchmarks/bench_corpus.py
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

THREADS, ROUNDS, RUNS = 2, 5, 30
SHAPES = {
    "ch_PP-OCRv4_det_infer.onnx": (1, 3, 320, 320),
    "ch_PP-OCRv4_rec_infer.onnx": (1, 3, 48, 320),
    "ch_ppocr_mobile_v2.0_cls_infer.onnx": (1, 3, 48, 192),
}


def _session(path: Path):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _p50_ms(session, feed: dict[str, np.ndarray]) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(RUNS):
        start = time.perf_counter_ns()
        session.run(None, feed)
        times.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(times)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    from corpus.models import fetch

    from engines.compress.quantize_onnx import quantize_static_onnx

    models = [m.path for m in fetch() if m.path.name in SHAPES]
    print(f"CPU: {_cpu()}; {THREADS} threads; {ROUNDS} interleaved rounds of {RUNS} runs")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as work:
        for src in models:
            shape = SHAPES[src.name]
            calibration = {"x": ((rng.random((16, *shape[1:]), dtype=np.float32) - 0.5) / 0.5)}
            dst = Path(work) / f"{src.stem}.int8.onnx"
            report = quantize_static_onnx(src, dst, calibration)
            feed = {"x": ((rng.random(shape, dtype=np.float32) - 0.5) / 0.5)}
            fp32, int8 = _session(src), _session(dst)
            for session in (fp32, int8):  # warm-up
                for _ in range(5):
                    session.run(None, feed)
            pairs = []
            for _ in range(ROUNDS):
                pairs.append((_p50_ms(fp32, feed), _p50_ms(int8, feed)))
            ratios = [a / b for a, b in pairs]
            a, b = fp32.run(None, feed)[0].ravel(), int8.run(None, feed)[0].ravel()
            cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
            print(f"\n{src.name} at {'x'.join(map(str, shape))}")
            print("  FP32 p50 per round (ms): " + ", ".join(f"{p[0]:.2f}" for p in pairs))
            print("  INT8 p50 per round (ms): " + ", ".join(f"{p[1]:.2f}" for p in pairs))
            print(
                f"  speed-up FP32/INT8: median {statistics.median(ratios):.2f}x "
                f"(rounds {min(ratios):.2f}-{max(ratios):.2f}x)"
            )
            before, after = report["size_bytes_before"], report["size_bytes_after"]
            print(
                f"  size {before / 2**20:.2f} -> {after / 2**20:.2f} MiB "
                f"({report['size_ratio']:.2f}x); per-channel: {report['per_channel']}; "
                f"output cosine vs FP32 (synthetic calibration): {cosine:.4f}"
            )
            for note in report["notes"]:
                print(f"  note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
