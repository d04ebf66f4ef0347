"""A sweep: build each preset's variant for each runtime, profile and evaluate it on the target.

The FP32 model on each runtime is the baseline its variants are compared with (speed-up,
size ratio, accuracy delta). A generator of events, like every long piece of engine work.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engines.bench.spec import RunPolicy
from engines.compress.recipe import Recipe, fp32
from engines.store.db import Store

RUNTIME_TARGETS = {"onnxruntime": "onnx", "litert": "tflite", "torch": "torch"}


@dataclass(frozen=True)
class SweepRequest:
    model: str
    recipes: tuple[Recipe, ...]
    runtimes: tuple[str, ...]
    calibration: str | None = None
    evaluate_data: str | None = None
    evaluate_limit: int | None = None
    threads: int | None = None
    policy: RunPolicy = field(default_factory=lambda: RunPolicy(min_s=1.0))
    trust_code: bool = False


def accuracy_of(evaluation: dict[str, Any] | None) -> tuple[str, float | None]:
    """(what, value): labelled top-1 when there are labels, else fidelity cosine mean."""
    if not evaluation:
        return "", None
    classification = evaluation.get("classification")
    if classification and classification.get("top1") is not None:
        return "top1", float(classification["top1"])
    fidelity = evaluation.get("fidelity")
    if fidelity and fidelity.get("cosine_mean") is not None:
        return "cosine", float(fidelity["cosine_mean"])
    return "", None


def sweep(
    request: SweepRequest, store: Store, cancel: threading.Event | None = None
) -> Iterator[dict[str, Any]]:
    """Yield log/progress events and one `row` per (variant, runtime), then `done`."""
    from engines.bench.profile import ProfileRequest, profile
    from engines.compress.build import VariantRequest, build_variant, default_data
    from engines.errors import EdgeBenchError
    from engines.models.refs import resolve

    source = resolve(request.model, store, trust_code=request.trust_code)
    evaluate_data = request.evaluate_data or default_data(source, "evaluation")
    recipes = (fp32(), *[r for r in request.recipes if r.name != "fp32"])
    rows: list[dict[str, Any]] = []
    total = len(recipes) * len(request.runtimes)
    done = 0
    for runtime in request.runtimes:
        target = RUNTIME_TARGETS.get(runtime, "onnx")
        baseline: dict[str, Any] | None = None
        for recipe in recipes:
            if cancel is not None and cancel.is_set():
                return
            label = f"{recipe.name} on {runtime}"
            yield {"type": "log", "level": "info", "message": f"[{done + 1}/{total}] {label}"}
            row: dict[str, Any] = {"variant": recipe.name, "runtime": runtime}
            try:
                artifact_id = source.id
                if recipe.steps:
                    variant_request = VariantRequest(
                        model=f"artifact:{source.id}",
                        recipe=recipe,
                        target=target,
                        calibration=request.calibration,
                    )
                    for event in build_variant(variant_request, store, cancel):
                        if event["type"] == "variant":
                            artifact_id = event["artifact_id"]
                            row["reports"] = event["reports"]
                        else:
                            yield {"type": "log", "level": "info", "message": event["message"]}
                profile_request = ProfileRequest(
                    model=f"artifact:{artifact_id}",
                    runtime=runtime,
                    threads=request.threads,
                    policy=request.policy,
                    evaluate_data=evaluate_data,
                    evaluate_limit=request.evaluate_limit,
                )
                for event in profile(profile_request, store):
                    if event["type"] == "spec":
                        row["model_file_bytes"] = event["model_file_bytes"]
                        row["artifact_id"] = event["artifact_id"]
                        row["format"] = store.artifact(event["artifact_id"]).format
                    elif event["type"] == "result":
                        row["result"] = event
                    elif event["type"] == "error":
                        row["error"] = event
                    elif event["type"] == "stored":
                        row["run_id"] = event["run_id"]
                    elif event["type"] in ("log", "progress", "phase"):
                        yield event
            except EdgeBenchError as exc:
                row["error"] = {"error_type": "failed", "message": exc.message}
            done += 1
            _figures(row, baseline)
            if recipe.name == "fp32" and "result" in row:
                baseline = row
            rows.append(row)
            yield {"type": "row", "row": row, "fraction": done / total}
    yield {"type": "done", "rows": rows, "evaluation_data": evaluate_data}


def _figures(row: dict[str, Any], baseline: dict[str, Any] | None) -> None:
    """p50/p99, size, accuracy and their ratios/deltas against the FP32 baseline."""
    result = row.get("result")
    if not result:
        return
    statistics = result.get("statistics") or {}
    row["p50_ms"] = statistics.get("p50_ms")
    row["p99_ms"] = statistics.get("p99_ms")
    # A zoo model's file is a JSON descriptor: its size says nothing about the model.
    row["size_bytes"] = None if row.get("format") == "zoo" else row.get("model_file_bytes")
    row["accuracy_kind"], row["accuracy"] = accuracy_of(result.get("evaluation"))
    fidelity = (result.get("evaluation") or {}).get("fidelity") or {}
    row["cosine_mean"] = fidelity.get("cosine_mean")
    if baseline is None:
        return
    if baseline.get("p50_ms") and row.get("p50_ms"):
        row["speedup"] = baseline["p50_ms"] / row["p50_ms"]
    if baseline.get("size_bytes") and row.get("size_bytes"):
        row["size_ratio"] = baseline["size_bytes"] / row["size_bytes"]
    comparable = baseline.get("accuracy_kind") == row.get("accuracy_kind")
    if comparable and baseline.get("accuracy") is not None and row.get("accuracy") is not None:
        row["accuracy_delta"] = row["accuracy"] - baseline["accuracy"]
