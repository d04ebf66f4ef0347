"""A sweep: build each preset's variant for each runtime, profile and evaluate it on the target.

The FP32 model on each runtime and device is the baseline its variants are compared with
(speed-up, size ratio, accuracy delta); with several devices, each row also gives its p50
against the same variant on the first device. Variants are built once on the host and
profiled on every device in turn. A generator of events, like every long piece of engine
work.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from engines.compress.recipe import Recipe, fp32
from engines.devices.base import Device
from engines.floor.spec import InputSpec, RunPolicy
from engines.report.figures import accuracy_of
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
    inputs: InputSpec = field(default_factory=InputSpec)


def sweep(
    request: SweepRequest,
    store: Store,
    cancel: threading.Event | None = None,
    devices: Sequence[Device] = (),
) -> Iterator[dict[str, Any]]:
    """Yield log/progress events and one `row` per (variant, runtime, device), then `done`."""
    from engines.compress.build import default_data
    from engines.devices.local import LocalDevice
    from engines.models.refs import resolving
    from engines.workers import progress_as_log

    targets = list(devices) or [LocalDevice()]
    source = yield from progress_as_log(
        resolving(request.model, store.path, trust_code=request.trust_code, cancel=cancel)
    )
    evaluate_data = request.evaluate_data or default_data(source, "evaluation")
    recipes = (fp32(), *[r for r in request.recipes if r.name != "fp32"])
    rows: list[dict[str, Any]] = []
    total = len(recipes) * len(request.runtimes) * len(targets)
    done = 0
    for runtime in request.runtimes:
        baselines: dict[str, dict[str, Any]] = {}
        for recipe in recipes:
            if cancel is not None and cancel.is_set():
                return
            built = yield from _build(request, store, source, recipe, runtime, cancel)
            first: dict[str, Any] | None = None
            for device in targets:
                if cancel is not None and cancel.is_set():
                    return
                label = f"{recipe.name} on {runtime}, {device.name}"
                yield {"type": "log", "level": "info", "message": f"[{done + 1}/{total}] {label}"}
                row = yield from _profile_row(
                    request, store, recipe, runtime, device, built, evaluate_data
                )
                done += 1
                _figures(row, baselines.get(device.name))
                if first is None:
                    first = row
                elif first.get("p50_ms") and row.get("p50_ms"):
                    row["vs_first_device"] = row["p50_ms"] / first["p50_ms"]
                if recipe.name == "fp32" and "result" in row:
                    baselines[device.name] = row
                rows.append(row)
                yield {"type": "row", "row": row, "fraction": done / total}
    yield {
        "type": "done",
        "rows": rows,
        "evaluation_data": evaluate_data,
        "devices": [d.name for d in targets],
    }


def _build(
    request: SweepRequest,
    store: Store,
    source: Any,
    recipe: Recipe,
    runtime: str,
    cancel: threading.Event | None,
) -> Generator[dict[str, Any], None, dict[str, Any]]:
    """The recipe's variant for the runtime, built once on this machine for every device:
    {"artifact_id", "reports"}, or {"error"} when it cannot be built."""
    from engines.compress.build import VariantRequest, build_variant
    from engines.floor.errors import EdgeBenchError

    built: dict[str, Any] = {"artifact_id": source.id}
    if not recipe.steps:
        return built
    variant_request = VariantRequest(
        model=f"artifact:{source.id}",
        recipe=recipe,
        target=RUNTIME_TARGETS.get(runtime, "onnx"),
        calibration=request.calibration,
        inputs=request.inputs,
    )
    try:
        for event in build_variant(variant_request, store, cancel):
            if event["type"] == "variant":
                built["artifact_id"] = event["artifact_id"]
                built["reports"] = event["reports"]
            else:
                yield {"type": "log", "level": "info", "message": event["message"]}
    except EdgeBenchError as exc:
        return {"error": {"error_type": "failed", "message": exc.message}}
    return built


def _profile_row(
    request: SweepRequest,
    store: Store,
    recipe: Recipe,
    runtime: str,
    device: Device,
    built: dict[str, Any],
    evaluate_data: str | None,
) -> Generator[dict[str, Any], None, dict[str, Any]]:
    """Profile and evaluate the built variant on `device`: one row of the sweep."""
    from engines.floor.errors import EdgeBenchError
    from engines.pipeline.profile import ProfileRequest, profile

    row: dict[str, Any] = {"variant": recipe.name, "runtime": runtime, "device": device.name}
    if "error" in built:
        row["error"] = built["error"]
        return row
    try:
        if "reports" in built:
            row["reports"] = built["reports"]
        profile_request = ProfileRequest(
            model=f"artifact:{built['artifact_id']}",
            runtime=runtime,
            threads=request.threads,
            policy=request.policy,
            inputs=request.inputs,
            evaluate_data=evaluate_data,
            evaluate_limit=request.evaluate_limit,
        )
        for event in profile(profile_request, store, device):
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
            elif event["type"] in ("log", "progress", "phase", "preparing"):
                yield event
    except EdgeBenchError as exc:
        row["error"] = {"error_type": "failed", "message": exc.message}
    return row


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
