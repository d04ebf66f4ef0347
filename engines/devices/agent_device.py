"""The agent device: one run loop for every device that runs our agent (local, SSH, ADB).

What differs between kinds is a small transport interface that each kind implements:

- `prepare(spec)`: make the spec's files reachable by the agent (uploads), yielding
  progress; returns the spec as the device will see it;
- `start(spec)`: start the agent there and return its `Child` (stdout lines, stderr tail);
- `keepalive(proc)`: called about every 100 ms while the agent runs (SSH pings it);
- `classify_exit(returncode, phase, details)`: the `error` event for an agent that ended
  without a result, in the transport's own terms (a signal, a lost connection, a timeout);
- `record_environment(environment)`: what the device adds to the run's environment.

Everything else is shared: phase budgets, cancel, malformed output, the one outcome for a
device that cannot be reached (`unreachable`, before the agent starts), and the child
process pump of `engines.process`, which the host workers use too.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from abc import abstractmethod
from collections.abc import Generator, Iterator
from typing import Any

from engines.devices.base import Device, PhaseBudgets
from engines.floor.errors import Cancelled, RunFailed
from engines.floor.events import ProtocolError, error_event, parse_event
from engines.floor.spec import BenchSpec
from engines.process import EOF_MARK, Child, crash_message, kill_group


class AgentDevice(Device):
    """A device whose runs are our agent speaking JSON lines over a transport."""

    def __init__(
        self,
        name: str,
        budgets: PhaseBudgets | None = None,
        accelerator: str = "cpu",
        threads: int | None = None,
    ) -> None:
        self.name = name
        self.accelerator = accelerator
        self.threads = threads
        self.budgets = budgets or PhaseBudgets()
        self._cancel = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._child: Child | None = None
        self._model_bytes: int | None = None

    # --- the transport interface ------------------------------------------------------

    def prepare(self, spec: BenchSpec) -> Generator[dict[str, Any], None, BenchSpec]:
        """Make the spec's files reachable by the agent; remote devices upload them here.
        Raises `RunFailed` (the device was not reached) or `Cancelled`."""
        return spec
        yield  # a generator: remote devices report upload progress

    @abstractmethod
    def start(self, spec: BenchSpec) -> Child:
        """Start the agent on the device (it then reads the spec from its stdin)."""

    def keepalive(self, proc: subprocess.Popen[bytes]) -> None:
        """Called about every 100 ms while the agent runs."""

    def classify_exit(self, returncode: int | None, phase: str, details: str) -> dict[str, Any]:
        """The error event for an agent that ended without a result (a SIGKILL is blamed
        on the OOM killer only when this cgroup's counter rose)."""
        oom = self._child.killed_by_oom() if self._child is not None else None
        message, signal_used = crash_message(returncode, phase, oom)
        extra = {"signal": signal_used} if signal_used else {"exit_code": returncode}
        return error_event("crashed", phase, f"the agent {message}", details, **extra)

    def record_environment(self, environment: dict[str, Any]) -> dict[str, Any]:
        """The agent's environment plus which device ran it."""
        environment.setdefault("device", self.device_record())
        return environment

    def device_record(self) -> dict[str, Any]:
        """Which device ran it, stored in the run's environment beside what the agent saw."""
        return {"name": self.name, "kind": self.kind, "accelerator": self.accelerator}

    # --- the shared run loop -----------------------------------------------------------

    def cancel(self) -> None:
        self._cancel.set()

    def run(self, spec: BenchSpec) -> Iterator[dict[str, Any]]:
        self._cancel.clear()
        # The load budget grows with the model; its size is read here, on this machine.
        try:
            self._model_bytes = os.path.getsize(spec.model.path)
        except OSError:
            self._model_bytes = None
        try:
            spec = yield from self.prepare(spec)
            if self._cancel.is_set():
                raise Cancelled("cancelled before the agent started")
            child = self.start(spec)
        except Cancelled:
            yield error_event("cancelled", "spawn", "cancelled before the agent started")
            return
        except RunFailed as exc:
            # The same outcome for every kind of device that cannot be reached.
            yield error_event("unreachable", "spawn", exc.message, exc.details)
            return
        self._proc, self._child = child.proc, child
        try:
            child.send_line(spec.to_json())
            for event in self._events(child, spec):
                if event["type"] == "result" and isinstance(event.get("environment"), dict):
                    event["environment"] = self.record_environment(event["environment"])
                yield event
        finally:
            child.stop()
            self._proc = None

    def _events(self, child: Child, spec: BenchSpec) -> Iterator[dict[str, Any]]:
        proc, lines, details = child.proc, child.lines, child.stderr_tail
        phase = "spawn"
        deadline = time.monotonic() + self.budgets.start_s

        while True:
            self.keepalive(proc)
            if self._cancel.is_set():
                try:
                    assert proc.stdin is not None
                    proc.stdin.write(b"cancel\n")
                    proc.stdin.flush()
                except (BrokenPipeError, OSError):
                    pass
                kill_group(proc)
                yield error_event("cancelled", phase, f"cancelled during {phase}")
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                kill_group(proc)
                budget = self.budgets.for_phase(phase, spec, self._model_bytes)
                yield error_event(
                    "timeout",
                    phase,
                    f"the agent stopped answering during {phase} "
                    f"(budget {budget:g} s); it was stopped",
                    details(),
                )
                return
            try:
                raw = lines.get(timeout=min(0.1, remaining))
            except queue.Empty:
                continue
            if raw == EOF_MARK:
                break
            try:
                event = parse_event(raw)
            except ProtocolError as exc:
                kill_group(proc)
                yield error_event(
                    "protocol",
                    phase,
                    f"the agent sent malformed output during {phase}: {exc}",
                    details(),
                )
                return
            if event["type"] == "phase":
                phase = event["phase"]
                deadline = time.monotonic() + self.budgets.for_phase(phase, spec, self._model_bytes)
            elif event["type"] == "hello":
                phase = "spec"
                deadline = time.monotonic() + self.budgets.start_s
            yield event
            if event["type"] in ("result", "error"):
                if event["type"] == "error":
                    event.setdefault("phase", phase)
                return
        try:
            returncode = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            returncode = proc.returncode
        yield self.classify_exit(returncode, phase, details())
