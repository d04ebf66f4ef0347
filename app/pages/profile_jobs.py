"""Profile jobs as plain data: what runs where and in which order, and the event streams
a job drives (no widgets here)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.workspace import Workspace
from engines.store.db import ArtifactRow

RUNTIMES = ("onnxruntime", "litert", "torch")
FAILED_COLOUR = "#d62728"
PHASE_WORDS = {
    "preparing": "preparing the model",
    "spawn": "starting the worker",
    "spec": "starting the worker",
    "verify": "checking the model file",
    "load": "loading (load_ms)",
    "first": "first inference (first_ms)",
    "warmup": "warming up",
    "measure": "measuring",
    "evaluate": "evaluating accuracy",
    "finish": "finishing",
}
# Job states, in the words the results table shows.
QUEUED, RUNNING, DONE, FAILED, CANCELLED, NOT_RUN = (
    "queued",
    "running",
    "done",
    "failed",
    "cancelled",
    "not run",
)
#: Streamed events are sent to the page in batches of this long (see `batched`).
BATCH_WINDOW_S = 0.03
STREAMED = frozenset({"sample", "memory", "progress"})
DEFAULT_DEVICE = "local-cpu"
HOST_KEY_ERRORS = ("UnknownHostKey", "ChangedHostKey")


def runtimes_for(fmt: str) -> list[str]:
    """Runtimes that open this format, or that a torch model can be exported to."""
    from engines.export.runnable import EXPORT_TARGETS, TORCH_SOURCES
    from engines.runtimes.registry import all_runtimes

    return [
        rt.name
        for rt in all_runtimes()
        if fmt in rt.formats
        or (fmt in TORCH_SOURCES and any(f in EXPORT_TARGETS for f in rt.formats))
    ]


@dataclass
class ProfileJob:
    """One (model, runtime, device) of the queue and what became of it."""

    artifact_id: int
    model: str
    runtime: str
    device: str = DEFAULT_DEVICE
    status: str = QUEUED
    run_id: int | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    model_file_bytes: int | None = None
    #: What arrived so far, so the live view can switch to this job while it runs.
    samples_ms: list[float] = field(default_factory=list)
    memory: list[tuple[float, int]] = field(default_factory=list)
    phase: str = "preparing"
    progress: dict[str, Any] | None = None
    #: A stored run's own request when the job runs it again (Re-run); None: the page's.
    request: Any = None

    @property
    def statistics(self) -> dict[str, Any]:
        return (self.result or {}).get("statistics") or {}


def plan_jobs(
    artifacts: Sequence[ArtifactRow],
    runtimes: Sequence[str],
    devices: Sequence[str] = (DEFAULT_DEVICE,),
    device_runtimes: Mapping[str, Sequence[str]] | None = None,
) -> list[ProfileJob]:
    """Every checked model on every checked runtime that can take it, on every checked
    device (a device that names its runtimes gets only those), model by model."""
    allowed = device_runtimes or {}
    return [
        ProfileJob(artifact.id, artifact.name, runtime, device)
        for artifact in artifacts
        for runtime in runtimes
        if runtime in runtimes_for(artifact.format)
        for device in devices
        if not allowed.get(device) or runtime in allowed[device]
    ]


def profile_events(
    workspace: Workspace, request: Any, device: Any, cancel: threading.Event | None = None
) -> Iterator[dict[str, Any]]:
    """The job's generator, run in the job's thread with its own store connection
    (sqlite connections must not cross threads)."""
    from engines.pipeline.profile import profile

    with workspace.store() as store:
        yield from batched(profile(request, store, device, cancel))


def close_events(device: Any) -> Iterator[dict[str, Any]]:
    """End a device's shared connection when its queue is done (ssh -O exit: off the GUI
    thread, like every call that reaches a device)."""
    device.close()
    yield {"type": "closed", "device": device.name}


def batched(
    events: Iterator[dict[str, Any]], window_s: float = BATCH_WINDOW_S
) -> Iterator[dict[str, Any]]:
    """Gather streamed events (samples, memory, progress) into one `batch` event per
    window: a tiny model sends over a thousand lines a second, and each one would be a
    cross-thread signal. Any other event flushes the batch and passes at once."""
    pending: list[dict[str, Any]] = []
    first_s = 0.0
    for event in events:
        if event["type"] in STREAMED:
            if not pending:
                first_s = time.monotonic()
            pending.append(event)
            if time.monotonic() - first_s < window_s:
                continue
        if pending:
            yield {"type": "batch", "events": pending}
            pending = []
        if event["type"] not in STREAMED:
            yield event
    if pending:
        yield {"type": "batch", "events": pending}
