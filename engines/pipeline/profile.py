"""Profile one model on one runtime: resolve, make runnable, run the agent, store the run.

A generator of events, like every long piece of engine work: the CLI prints them, the
GUI's worker forwards them as signals, and closing the generator stops the agent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from engines.devices.base import Device
from engines.floor.spec import BenchSpec, InputSpec, ModelRef, RunPolicy, RunStatus
from engines.store.db import Store

#: `evaluate_data` value: evaluate on the data the model knows, where it knows any.
AUTO = "auto"


@dataclass(frozen=True)
class ProfileRequest:
    model: str
    runtime: str
    #: None: the device's own default (`resolve_threads`), in the CLI and the GUI alike.
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
    #: Accuracy data: a source (digits, synthetic[:N], a folder, an .npz); AUTO for the
    #: data the model knows (`auto_evaluation_data`); None to measure latency only.
    evaluate_data: str | None = AUTO
    evaluate_limit: int | None = None
    #: The agent's address-space cap in bytes; None: the default (a fraction of the
    #: device's memory, `engines.floor.limits`); 0: no cap.
    memory_limit_bytes: int | None = None

    @classmethod
    def replaying(cls, run: Any, store: Store | None = None) -> ProfileRequest:
        """The request that runs a stored run's spec again: the same model file, runtime,
        threads, batch, accelerator, inputs, policy and evaluation data. A run of a torch
        model's cached FP32 export names the model it was asked for (so the new run has the
        same label); the pipeline finds the same cached export again."""
        try:
            spec = BenchSpec.from_dict(dict(run.spec))
        except (KeyError, TypeError, ValueError) as exc:
            from engines.floor.errors import BadInput

            raise BadInput(
                f"run {run.id} cannot be run again: its stored spec is incomplete ({exc})",
                "profile its model afresh instead",
            ) from None
        evaluate = spec.evaluate or {}
        model_id = run.artifact_id
        if store is not None and model_id is not None:
            artifact = store.artifact(model_id)
            if artifact.source == "export" and artifact.parent_id is not None:
                model_id = artifact.parent_id
        return cls(
            model=f"artifact:{model_id}",
            runtime=spec.runtime,
            threads=spec.threads,
            batch=spec.batch,
            accelerator=spec.accelerator,
            policy=spec.policy,
            inputs=spec.inputs,
            measure=spec.measure,
            evaluate_data=evaluate.get("source"),
            evaluate_limit=evaluate.get("limit"),
            memory_limit_bytes=spec.memory_limit_bytes,
        )


#: More threads than this many per core of the device only contend: refused.
MAX_THREADS_PER_CORE = 8


def resolve_threads(requested: int | None, device: Device) -> int:
    """The thread count a run uses: the user's, else the device's own default. The one
    place threads are resolved: the CLI and the GUI both leave them unset by default."""
    from engines.floor.errors import BadInput

    if requested is not None and requested < 1:
        raise BadInput(
            f"threads must be 1 or more, not {requested}", "leave it unset for the device's default"
        )
    if requested is None:
        return device.default_threads()
    if requested > 8:  # only then can it pass the cap; asking a remote device costs a trip
        default = device.default_threads()
        most = max(MAX_THREADS_PER_CORE * default, 8)
        if requested > most:
            # Thousands of runtime threads only contend, and each has a stack: refused
            # before the run, not left to the out-of-memory killer.
            raise BadInput(
                f"{requested} threads on {device.name}, whose default is {default}: at most "
                f"{most} are allowed ({MAX_THREADS_PER_CORE} per thread of its default)",
                "leave --threads unset for the device's default",
            )
    return requested


def auto_evaluation_data(source: Any, store: Store) -> tuple[str | None, str]:
    """(data, why) for a profile left to evaluate on what the model knows: the demo's
    digits (labelled top-1), seeded inputs for a variant (fidelity to its FP32 source),
    nothing for a model of the user's that came with no data."""
    from engines.compress.build import default_data, root_of

    root = root_of(source, store)
    if root.source == "demo":
        return "digits", "the demo's own test digits"
    if source.parent_id is not None:
        data = default_data(root, "evaluation")
        return data, f"fidelity to the FP32 source {root.name}"
    return None, "the model came with no data: give evaluation data to measure accuracy"


def _evaluation_data(
    source: Any, data_source: str, request: ProfileRequest, store: Store, cancel: Any
) -> Generator[dict[str, Any], None, dict[str, Any]]:
    """Prepare the evaluation .npz with the FP32 source model's outputs for fidelity."""
    from engines.compress.build import prepare_data, root_of

    reference = root_of(source, store)
    data: dict[str, Any] = {}
    # Fidelity needs the reference's outputs, except for the reference itself on its own
    # labelled data, where it would only say 1.0.
    with_reference = source.id != reference.id or request.evaluate_data != AUTO
    for event in prepare_data(
        reference,
        data_source,
        request.evaluate_limit,
        cancel,
        with_reference=with_reference,
        asked=request.inputs,
    ):
        if event["type"] == "data":
            data = event
        else:
            yield preparing(event)
    description = f"{data['description']} ({data['count']} samples)"
    return {
        "data_path": data["path"],
        "description": description + (f"; reference: {reference.name}" if with_reference else ""),
        "limit": request.evaluate_limit,
        "reference_artifact_id": reference.id if with_reference else None,
        "source": data_source,
    }


def preparing(event: dict[str, Any]) -> dict[str, Any]:
    """A preparation step's progress (import, demo training, export, data) as a host-side
    `preparing` event with its words and share done (None when the step cannot tell):
    what the CLI prints and the GUI shows before the agent starts."""
    fraction = event.get("fraction")
    return {
        "type": "preparing",
        "message": str(event.get("message", "")),
        "fraction": float(fraction) if isinstance(fraction, (int, float)) else None,
    }


def _prepared(stream: Generator[dict[str, Any], None, Any]) -> Generator[dict[str, Any], None, Any]:
    """`yield from` a preparation stream, its events as `preparing` progress; closing this
    closes (and so cancels) the stream."""
    from engines.workers import relay

    return relay(stream, preparing)


def profile(
    request: ProfileRequest,
    store: Store,
    device: Device | None = None,
    cancel: threading.Event | None = None,
) -> Generator[dict[str, Any], None, None]:
    """Resolve, prepare (import, export, evaluation data), run on the device, store: yield
    preparation progress, the agent's events, then `stored` (run id) or the final `error`.
    Setting `cancel` or closing the generator stops whichever step is running."""
    from engines.devices.local import LocalDevice
    from engines.export.runnable import runnable_events
    from engines.models.refs import resolving
    from engines.runtimes.registry import get_runtime

    device = device or LocalDevice()
    if request.keep_run and not getattr(store, "writable", True):
        from engines.store.errors import StoreReadOnly

        # Before anything is measured: a run that could only be thrown away is not started.
        raise StoreReadOnly(
            f"runs cannot be stored: {store.path} is read-only",
            "make it writable, or point --db / EDGEBENCH_DB at a writable file",
        )
    runtime = get_runtime(request.runtime)
    availability = runtime.available()
    # A device's own agent says whether it has the runtime; here only the host is known.
    if device.kind == "local" and not availability.ok:
        from engines.floor.errors import BadInput

        raise BadInput(f"runtime {runtime.name} is unavailable: {availability.reason}")
    yield preparing({"message": f"resolving {request.model}"})
    source = yield from _prepared(
        resolving(request.model, store.path, trust_code=request.trust_code, cancel=cancel)
    )
    artifact = yield from _prepared(runnable_events(source, runtime, store, cancel))
    evaluate = None
    data_source = request.evaluate_data
    if data_source == AUTO:
        data_source, why = auto_evaluation_data(source, store)
        if data_source is None:
            yield {"type": "log", "level": "info", "message": f"no evaluation: {why}"}
        else:
            yield {"type": "log", "level": "info", "message": f"evaluating on {data_source}: {why}"}
    if data_source:
        evaluate = yield from _evaluation_data(source, data_source, request, store, cancel)
    threads = resolve_threads(request.threads, device)
    # Only a local device is asked here: a remote one answers while it is prepared.
    if request.threads and device.kind == "local" and threads > device.default_threads():
        yield {
            "type": "log",
            "level": "warning",
            "message": f"{threads} threads on {device.name}, whose default is "
            f"{device.default_threads()}: threads beyond its cores contend, and latency "
            "usually gets worse",
        }
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
        memory_limit_bytes=request.memory_limit_bytes,
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
    if cancel is not None and cancel.is_set():
        return
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
    status = RunStatus.of(final)
    run = {
        "artifact_id": artifact.id,
        "model_label": source.name,
        "runtime": runtime.name,
        "device": device.name,
        "spec": json.loads(spec.to_json()),
        "result": final if is_result else None,
        "error": None if is_result else final,
        "samples_ms": samples if is_result else [],
        "memory_trace": memory,
        "status": status.value,
    }
    yield from _store_run(store, run)


def _store_run(store: Store, run: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`stored` with the new run id; when the store cannot take it (full, locked, gone
    read-only), the measured run is kept in the pending folder and `pending` says where
    (it is imported the next time the store opens), then the store's error is raised."""
    from engines.store.errors import StoreError
    from engines.store.pending import keep_pending

    try:
        run_id = store.add_run(**run)
    except StoreError as exc:
        try:
            kept = keep_pending(store.path, run)
        except OSError as also:
            exc.message += f"; the measured run could not be kept either ({also.strerror})"
            raise exc from None
        yield {
            "type": "pending",
            "path": str(kept),
            "status": run["status"],
            "message": f"the run was measured but not stored ({exc.message}); it is kept "
            f"in {kept} and stored the next time the store opens",
        }
        raise
    yield {"type": "stored", "run_id": run_id, "status": run["status"]}
