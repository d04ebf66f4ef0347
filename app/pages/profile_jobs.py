"""Profile jobs as plain data: what runs where and in which order, and the event streams
a job drives (no widgets here)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def runtimes_for(fmt: str) -> list[str]:
    """Runtimes that open this format, or that a torch model can be exported to."""
    from engines.pipeline.matrix import runtimes_for as matrix_runtimes

    return matrix_runtimes(fmt)


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
    """The engine's job matrix (`engines.pipeline.matrix.plan`) as the page's rows: every
    checked model on every checked runtime that can take it, on every checked device (a
    device that names its runtimes gets only those), model by model."""
    from engines.pipeline.matrix import plan

    by_id = {a.id: a for a in artifacts}
    cells = plan([(a.id, a.format) for a in artifacts], runtimes, devices, device_runtimes)
    return [ProfileJob(aid, by_id[aid].name, runtime, device) for aid, runtime, device in cells]


def matrix_events(
    db_path: Path, jobs: Sequence[Any], cancel: threading.Event | None = None
) -> Iterator[dict[str, Any]]:
    """The job matrix's events, in batches (run in the queue's own GUI job thread)."""
    from engines.pipeline.matrix import run_matrix

    yield from batched(run_matrix(jobs, db_path, cancel))


def _streamed(event: dict[str, Any]) -> bool:
    inner = event.get("event") if event["type"] == "job" else event
    return isinstance(inner, dict) and inner.get("type") in STREAMED


def batched(
    events: Iterator[dict[str, Any]], window_s: float = BATCH_WINDOW_S
) -> Iterator[dict[str, Any]]:
    """Gather streamed events (samples, memory, progress) into one `batch` event per
    window: a tiny model sends over a thousand lines a second, and each one would be a
    cross-thread signal. Any other event flushes the batch and passes at once."""
    pending: list[dict[str, Any]] = []
    first_s = 0.0
    for event in events:
        if _streamed(event):
            if not pending:
                first_s = time.monotonic()
            pending.append(event)
            if time.monotonic() - first_s < window_s:
                continue
        if pending:
            yield {"type": "batch", "events": pending}
            pending = []
        if not _streamed(event):
            yield event
    if pending:
        yield {"type": "batch", "events": pending}
