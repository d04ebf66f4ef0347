"""The job matrix: models x runtimes x devices, one queue per device.

Devices run in parallel, one agent at a time on each; a device's jobs run in the order
planned. `run_matrix` is one event stream for the whole matrix (the Profile page shows it,
a script can drive it): every job's pipeline events tagged with the job's index, a
`job_started` and a `job_ended` per job, and a `device_closed` when a device's queue is
done. Cancelling (the event, or closing the stream) stops the running agents and runs
nothing more.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from engines.devices.base import Device
from engines.floor.errors import EdgeBenchError
from engines.pipeline.profile import ProfileRequest

#: Errors after which a device gets no more jobs from this matrix: its host key must be
#: checked first (the Devices page or `edgebench devices test`).
HOST_KEY_ERRORS = ("UnknownHostKey", "ChangedHostKey")
#: A job's end, in the words the Profile page's table shows.
DONE, FAILED, CANCELLED, NOT_RUN = "done", "failed", "cancelled", "not run"


@dataclass(frozen=True)
class MatrixJob:
    """One cell of the matrix: this request on this device."""

    index: int
    device: str
    request: ProfileRequest


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


def plan(
    models: Sequence[tuple[int, str]],
    runtimes: Sequence[str],
    devices: Sequence[str],
    device_runtimes: Mapping[str, Sequence[str]] | None = None,
) -> list[tuple[int, str, str]]:
    """(artifact id, runtime, device) for every model (id, format) on every runtime that
    can take it, on every device (a device that names its runtimes gets only those),
    model by model."""
    allowed = device_runtimes or {}
    return [
        (artifact_id, runtime, device)
        for artifact_id, fmt in models
        for runtime in runtimes
        if runtime in runtimes_for(fmt)
        for device in devices
        if not allowed.get(device) or runtime in allowed[device]
    ]


def open_named_device(name: str) -> Device:
    """A device profile by name (profiles/devices), opened; no network yet."""
    from engines.devices.profile import open_device
    from profiles.devices import get_device

    return cast(Device, open_device(get_device(name)))


def run_matrix(
    jobs: Sequence[MatrixJob],
    db_path: str | Path,
    cancel: threading.Event | None = None,
    open_device: Callable[[str], Device] | None = None,
) -> Iterator[dict[str, Any]]:
    """Run every job, one queue per device; yield `job_started`, `job` (one pipeline event
    of a job: {"job", "event"}), `job_ended` ({"job", "status", "error", "run_id"}) and
    `device_closed` events, then `matrix_done`."""
    stop = cancel or threading.Event()
    opener = open_device or open_named_device  # looked up now: a profile by its name
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    opened: dict[str, Device] = {}
    lanes = {
        name: [j for j in jobs if j.device == name]
        for name in dict.fromkeys(j.device for j in jobs)
    }
    threads = [
        threading.Thread(
            target=_run_lane,
            args=(name, lane, Path(db_path), stop, opener, opened, events),
            name=f"edgebench-matrix {name}",
            daemon=True,
        )
        for name, lane in lanes.items()
    ]
    for thread in threads:
        thread.start()
    try:
        while any(t.is_alive() for t in threads) or not events.empty():
            try:
                yield events.get(timeout=0.05)
            except queue.Empty:
                continue
        yield {"type": "matrix_done"}
    finally:
        if any(t.is_alive() for t in threads):
            stop.set()
            for device in list(opened.values()):
                device.cancel()
        for thread in threads:
            thread.join()


def _run_lane(
    name: str,
    lane: list[MatrixJob],
    db_path: Path,
    stop: threading.Event,
    open_device: Callable[[str], Device],
    opened: dict[str, Device],
    events: queue.Queue[dict[str, Any]],
) -> None:
    """One device's queue, in its own thread with its own store connection."""
    from engines.store.db import Store

    try:
        device = open_device(name)
    except EdgeBenchError as exc:
        error = {"error_type": type(exc).__name__, "message": exc.message, "details": exc.details}
        for job in lane:
            events.put({"type": "job_ended", "job": job.index, "status": FAILED, "error": error})
        return
    opened[name] = device
    skipped: dict[str, Any] | None = None
    try:
        with Store(db_path) as store:
            for job in lane:
                if stop.is_set() or skipped is not None:
                    events.put(
                        {"type": "job_ended", "job": job.index, "status": NOT_RUN, "error": skipped}
                    )
                    continue
                events.put({"type": "job_started", "job": job.index})
                ended = _run_job(job, store, device, stop, events)
                events.put(ended)
                error = ended.get("error") or {}
                if error.get("error_type") in HOST_KEY_ERRORS:
                    skipped = {
                        **error,
                        "message": f"{error.get('message', '')}. Test {name} on the Devices "
                        "page (or edgebench devices test) to check its host key",
                    }
                    ended["error"] = skipped
    finally:
        if device.kind != "local":
            try:
                device.close()
            except Exception:
                pass
        events.put({"type": "device_closed", "device": name})


def _run_job(
    job: MatrixJob,
    store: Any,
    device: Device,
    stop: threading.Event,
    events: queue.Queue[dict[str, Any]],
) -> dict[str, Any]:
    """Drive one job's pipeline; its `job_ended` event."""
    from engines.pipeline.profile import profile

    final: dict[str, Any] = {}
    pending: dict[str, Any] = {}
    run_id = None
    stream = profile(job.request, store, device, stop)
    try:
        for event in stream:
            events.put({"type": "job", "job": job.index, "event": event})
            if event["type"] in ("result", "error"):
                final = event
            elif event["type"] == "stored":
                run_id = int(event["run_id"])
            elif event["type"] == "pending":
                pending = event
            if stop.is_set():
                break
    except EdgeBenchError as exc:
        error_type = "cancelled" if type(exc).__name__ == "Cancelled" else type(exc).__name__
        final = {
            "type": "error",
            "error_type": error_type,
            # A run measured but not stored says where it is kept.
            "message": str(pending.get("message") or exc.message),
            "details": exc.details,
        }
    except Exception as exc:  # a bug of ours: the job fails, the matrix goes on
        import traceback

        final = {
            "type": "error",
            "error_type": "internal",
            "message": f"{type(exc).__name__}: {exc}",
            "details": traceback.format_exc(),
        }
    finally:
        stream.close()
    if final.get("type") == "result":
        status, error = DONE, None
    elif stop.is_set() or final.get("error_type") == "cancelled":
        status, error = CANCELLED, final or {"error_type": "cancelled", "message": "cancelled"}
    else:
        status = FAILED
        error = final or {"message": "the job ended without a result"}
    return {
        "type": "job_ended",
        "job": job.index,
        "status": status,
        "error": error,
        "run_id": run_id,
    }
