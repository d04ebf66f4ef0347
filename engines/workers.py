"""Run one host task (inspect, build a demo model, export) in a worker process."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

from engines.floor.errors import BadInput, Cancelled, RunFailed
from engines.process import EOF_MARK, crash_message, start_child

ProgressFn = Callable[[str, float | None], None]
T = TypeVar("T")
_DONE = object()


def iter_task(
    task: str,
    payload: dict[str, Any],
    timeout_s: float = 600.0,
    cancel: threading.Event | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the worker's progress events as they come, then {"type": "done", "result"}.

    Cancelling (the event, or closing the generator) kills the worker's process group, so
    nothing it was writing survives past its own temp files.
    """
    child = start_child("engines.worker_main")
    deadline = time.monotonic() + timeout_s
    try:
        child.send_line(json.dumps({"task": task, "payload": payload}))
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{task} cancelled")
            if time.monotonic() > deadline:
                raise RunFailed(
                    f"{task} took longer than {timeout_s:g} s and was stopped", child.stderr_tail()
                )
            try:
                raw = child.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if raw == EOF_MARK:
                returncode = child.proc.wait(timeout=10)
                message, _ = crash_message(returncode, task, child.killed_by_oom())
                raise RunFailed(f"the {task} worker {message}", child.stderr_tail())
            try:
                event = json.loads(raw)
            except json.JSONDecodeError:
                continue  # stray native output on stdout is ignored, not trusted
            if event.get("type") == "progress":
                yield event
            elif event.get("type") == "done":
                yield {"type": "done", "result": dict(event.get("result") or {})}
                return
            elif event.get("type") == "error":
                kind = event.get("error_type")
                error = {"bad_input": BadInput, "cancelled": Cancelled}.get(kind, RunFailed)
                raise error(str(event.get("message")), str(event.get("details", "")))
    finally:
        child.stop(grace_s=1.0)


def run_task(
    task: str,
    payload: dict[str, Any],
    timeout_s: float = 600.0,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """The task's JSON result; BadInput / RunFailed with a readable message otherwise."""
    for event in iter_task(task, payload, timeout_s, cancel):
        if event["type"] == "done":
            return dict(event["result"])
        if progress:
            progress(str(event.get("message", "")), event.get("fraction"))
    raise RunFailed(f"the {task} worker ended without a result")


def progress_events(
    work: Callable[[ProgressFn], T], cancel: threading.Event
) -> Generator[dict[str, Any], None, T]:
    """Run `work(progress)` in a thread and yield its progress calls as events as they
    happen; `value = yield from progress_events(...)` gets its result (or its exception).

    `work` must watch `cancel`; closing this generator early sets it and waits for the
    thread, so nothing runs on behind a caller that has gone.
    """
    calls: queue.Queue[Any] = queue.Queue()
    outcome: dict[str, Any] = {}

    def report(message: str, fraction: float | None = None) -> None:
        calls.put((message, fraction))

    def target() -> None:
        try:
            outcome["value"] = work(report)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            calls.put(_DONE)

    thread = threading.Thread(target=target, name="edgebench-progress", daemon=True)
    thread.start()
    try:
        while (item := calls.get()) is not _DONE:
            yield {"type": "progress", "message": str(item[0]), "fraction": item[1]}
    finally:
        if thread.is_alive():
            cancel.set()
            thread.join(timeout=30)
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def relay(
    stream: Generator[dict[str, Any], None, T],
    transform: Callable[[dict[str, Any]], dict[str, Any]],
) -> Generator[dict[str, Any], None, T]:
    """`yield from` a stream with each event transformed; returns the stream's value and
    closes (and so cancels) it if the caller leaves early."""
    try:
        while True:
            try:
                event = next(stream)
            except StopIteration as done:
                value: T = done.value
                return value
            yield transform(event)
    finally:
        stream.close()


def _as_log(event: dict[str, Any]) -> dict[str, Any]:
    return {"type": "log", "level": "info", "message": str(event.get("message", ""))}


def progress_as_log(
    stream: Generator[dict[str, Any], None, T],
) -> Generator[dict[str, Any], None, T]:
    """The same stream with its progress events as `log` events (for consumers that print
    logs); returns the stream's value and closes it if left early."""
    return relay(stream, _as_log)
