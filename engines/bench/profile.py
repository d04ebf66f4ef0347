"""Profile one model on one runtime: resolve, make runnable, run the agent, store the run.

A generator of events, like every long piece of engine work: the CLI prints them, the
GUI's worker forwards them as signals, and closing the generator stops the agent.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from engines.bench.spec import BenchSpec, InputSpec, ModelRef, RunPolicy
from engines.devices.base import Device
from engines.store.db import Store


@dataclass(frozen=True)
class ProfileRequest:
    model: str
    runtime: str
    threads: int | None = None
    batch: int = 1
    accelerator: str = "cpu"
    policy: RunPolicy = field(default_factory=RunPolicy)
    inputs: InputSpec = field(default_factory=InputSpec)
    trust_code: bool = False
    keep_run: bool = True
    fault: str | None = None
    #: Time the model; False for an accuracy-only run (`edgebench evaluate`).
    measure: bool = True
    #: Accuracy data source (digits, synthetic[:N], a folder, an .npz) or None.
    evaluate_data: str | None = None
    evaluate_limit: int | None = None


def default_threads() -> int:
    import os

    from engines.bench.environment import physical_cores

    return physical_cores() or os.cpu_count() or 1


def _evaluation_data(
    source: Any, request: ProfileRequest, store: Store
) -> Generator[dict[str, Any], None, dict[str, Any]]:
    """Prepare the evaluation .npz with the FP32 source model's outputs for fidelity."""
    from engines.compress.build import prepare_data, root_of

    reference = root_of(source, store)
    data: dict[str, Any] = {}
    assert request.evaluate_data is not None
    for event in prepare_data(
        reference,
        request.evaluate_data,
        request.evaluate_limit,
        None,
        with_reference=True,
        asked=request.inputs,
    ):
        if event["type"] == "data":
            data = event
        else:
            yield {"type": "log", "level": "info", "message": str(event.get("message", ""))}
    return {
        "data_path": data["path"],
        "description": f"{data['description']} ({data['count']} samples); reference: "
        f"{reference.name}",
        "limit": request.evaluate_limit,
        "reference_artifact_id": reference.id,
    }


def profile(
    request: ProfileRequest, store: Store, device: Device | None = None
) -> Iterator[dict[str, Any]]:
    """Yield agent events, then a `stored` event (run id) or the final `error`."""
    from engines.devices.local import LocalDevice
    from engines.export.runnable import runnable_events
    from engines.models.refs import resolving
    from engines.runtimes.registry import get_runtime
    from engines.workers import progress_as_log

    device = device or LocalDevice()
    runtime = get_runtime(request.runtime)
    availability = runtime.available()
    # A device's own agent says whether it has the runtime; here only the host is known.
    if device.kind == "local" and not availability.ok:
        from engines.errors import BadInput

        raise BadInput(f"runtime {runtime.name} is unavailable: {availability.reason}")
    yield {"type": "log", "level": "info", "message": f"resolving {request.model}"}
    source = yield from progress_as_log(
        resolving(request.model, store.path, trust_code=request.trust_code)
    )
    artifact = yield from progress_as_log(runnable_events(source, runtime, store))
    evaluate = None
    if request.evaluate_data:
        evaluate = yield from _evaluation_data(source, request, store)
    threads = request.threads or device.default_threads() or default_threads()
    declared = (artifact.inspection or {}).get("inputs", [])
    data_files = [f["path"] for f in artifact.data_files]
    spec = BenchSpec(
        model=ModelRef(artifact.path, artifact.format, artifact.file_sha256, declared, data_files),
        runtime=runtime.name,
        threads=threads,
        batch=request.batch,
        accelerator=request.accelerator if request.accelerator != "cpu" else device.accelerator,
        policy=request.policy,
        inputs=request.inputs,
        fault=request.fault,
        measure=request.measure,
        evaluate=evaluate,
    )
    yield {
        "type": "spec",
        "spec": spec.to_json(),
        "artifact_id": artifact.id,
        "model_label": source.name,
        "model_file_bytes": artifact.size_bytes,
        "device": device.name,
    }
    samples: list[float] = []
    memory: list[tuple[float, int]] = []
    final: dict[str, Any] | None = None
    for event in device.run(spec):
        kind = event["type"]
        if kind == "sample":
            samples.extend(event["ms"])
        elif kind == "memory":
            memory.append((event["t_s"], event["rss_bytes"]))
        elif kind in ("result", "error"):
            final = event
        yield event
    if final is None or not request.keep_run:
        return
    is_result = final["type"] == "result"
    status = (
        "ok" if is_result else ("cancelled" if final.get("error_type") == "cancelled" else "failed")
    )
    run_id = store.add_run(
        artifact_id=artifact.id,
        model_label=source.name,
        runtime=runtime.name,
        device=device.name,
        spec=json.loads(spec.to_json()),
        result=final if is_result else None,
        error=None if is_result else final,
        samples_ms=samples if is_result else (),
        memory_trace=memory,
        status=status,
    )
    yield {"type": "stored", "run_id": run_id, "status": status}
