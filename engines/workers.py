"""Run one host task (inspect, build a demo model, export) in a worker process."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from engines.errors import BadInput, RunFailed
from engines.process import EOF_MARK, crash_message, start_child

ProgressFn = Callable[[str, float | None], None]


def run_task(
    task: str,
    payload: dict[str, Any],
    timeout_s: float = 600.0,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """The task's JSON result; BadInput / RunFailed with a readable message otherwise."""
    child = start_child("engines.worker_main")
    deadline = time.monotonic() + timeout_s
    try:
        child.send_line(json.dumps({"task": task, "payload": payload}))
        while True:
            if cancel is not None and cancel.is_set():
                raise RunFailed(f"{task} cancelled")
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
                message, _ = crash_message(returncode, task)
                raise RunFailed(f"the {task} worker {message}", child.stderr_tail())
            try:
                event = json.loads(raw)
            except json.JSONDecodeError:
                continue  # stray native output on stdout is ignored, not trusted
            if event.get("type") == "progress" and progress:
                progress(str(event.get("message", "")), event.get("fraction"))
            elif event.get("type") == "done":
                return dict(event.get("result") or {})
            elif event.get("type") == "error":
                error = BadInput if event.get("error_type") == "bad_input" else RunFailed
                raise error(str(event.get("message")), str(event.get("details", "")))
    finally:
        child.stop(grace_s=1.0)
