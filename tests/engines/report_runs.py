"""Runs for the report tests: inserted into a real store with statistics from the engine's
own `summarize` over seeded samples (realistic shapes, any number of runs, no agent)."""

from __future__ import annotations

import random

from engines.floor.stats import summarize

MIB = 1024 * 1024


def add_run(
    store,
    label: str,
    runtime: str = "onnxruntime",
    device: str = "local",
    p50_ms: float = 5.0,
    spread: float = 0.05,
    size_bytes: float = 10 * MIB,
    top1: float | None = 0.7,
    cosine: float | None = 0.999,
    seed: int = 0,
    count: int = 300,
    parent_id: int | None = None,
    step: str | None = None,
) -> int:
    rng = random.Random(seed)
    artifact = store.add_artifact(
        sha256=f"{seed:064x}",
        name=label,
        format="tflite" if runtime == "litert" else "onnx",
        path=f"/models/{seed}.onnx",
        size_bytes=int(size_bytes),
        source="compress" if step else "file",
        parent_id=parent_id,
        step=step,
        step_settings={"settings": {"ratio": 0.5}} if step else None,
    )
    samples = [p50_ms * rng.lognormvariate(0.0, spread) for _ in range(count)]
    evaluation = {}
    if top1 is not None:
        evaluation["classification"] = {"count": 500, "top1": top1, "top5": min(1.0, top1 + 0.2)}
    if cosine is not None:
        evaluation["fidelity"] = {"cosine_mean": cosine, "cosine_min": cosine - 0.01}
    result = {
        "load_ms": p50_ms * 8.5,
        "first_ms": p50_ms * 2.2,
        "statistics": summarize(samples),
        "memory": {
            "rss_before_load_bytes": 180 * MIB,
            "peak_rss_bytes": int(180 * MIB + 2.2 * size_bytes),
            "peak_rss_delta_bytes": int(2.2 * size_bytes),
            "model_file_bytes": int(size_bytes),
        },
        "environment": {"cpu_model": f"{device} CPU", "threads": 2, "tool_version": "0.1.0"},
        "runtime_options": {"intra_op_num_threads": 2},
        "evaluation": evaluation or None,
    }
    spec = {"runtime": runtime, "threads": 2, "batch": 1, "model": {"format": "onnx"}}
    return store.add_run(
        artifact_id=artifact.id,
        model_label=label,
        runtime=runtime,
        device=device,
        spec=spec,
        result=result,
        samples_ms=samples,
    )
