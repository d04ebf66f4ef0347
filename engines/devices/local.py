"""The local device: one agent child process per measured configuration.

The child runs in its own process group with `-X faulthandler`; every phase has a
wall-clock budget; cancel, a hang, a crash or malformed output all end the job with one
typed `error` event naming the phase (and the signal), and the process group is gone.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from engines.devices.base import Device, PhaseBudgets
from engines.floor.events import ProtocolError, error_event, parse_event
from engines.floor.spec import BenchSpec
from engines.process import EOF_MARK, Child, crash_message, kill_group, start_child

AGENT_MODULE = "engines.bench.agent"


DEFAULT_NAME = "local-cpu"


class LocalDevice(Device):
    kind = "local"

    def __init__(
        self,
        budgets: PhaseBudgets | None = None,
        extra_env: dict[str, Any] | None = None,
        name: str = DEFAULT_NAME,
        accelerator: str = "cpu",
        threads: int | None = None,
    ) -> None:
        self.name = name
        self.accelerator = accelerator
        self.threads = threads
        self.budgets = budgets or PhaseBudgets()
        self.extra_env = extra_env or {}
        self._cancel = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None

    def info(self) -> dict[str, Any]:
        """The same facts a remote device's probe reports, read in this process."""
        from engines.devices.probe import probe

        where = "this machine" + (" (CUDA)" if self.accelerator == "cuda" else "")
        return {"device": self.name, "kind": self.kind, "address": where, **probe()}

    def setup_check(self) -> list[Any]:
        from engines.devices.setup import setup_checks

        checks = setup_checks(self.info())
        if self.accelerator == "cuda":
            checks.append(cuda_check())
        return checks

    def cancel(self) -> None:
        self._cancel.set()

    def run(self, spec: BenchSpec) -> Iterator[dict[str, Any]]:
        from engines.floor.errors import DeviceUnreachable

        self._cancel.clear()
        try:
            spec = yield from self._prepare(spec)
            if self._cancel.is_set():
                yield error_event("cancelled", "spawn", "cancelled before the agent started")
                return
            child = self._start()
        except DeviceUnreachable as exc:
            # The same outcome for every kind of device that cannot be reached.
            yield error_event("unreachable", "spawn", exc.message, exc.details)
            return
        self._proc = child.proc
        try:
            child.send_line(spec.to_json())
            for event in self._events(child, spec):
                if event["type"] == "result" and isinstance(event.get("environment"), dict):
                    event["environment"].setdefault("device", self.device_record())
                yield event
        finally:
            child.stop()
            self._proc = None

    def default_threads(self) -> int:
        """The profile's threads, else this machine's physical cores."""
        from engines.bench.environment import host_threads

        return self.threads or host_threads()

    def device_record(self) -> dict[str, Any]:
        """Which device ran it, stored in the run's environment beside what the agent saw."""
        return {"name": self.name, "kind": self.kind, "accelerator": self.accelerator}

    def _prepare(self, spec: BenchSpec) -> Generator[dict[str, Any], None, BenchSpec]:
        """Make the spec's files reachable by the agent; remote devices upload them here."""
        return spec
        yield  # a generator: remote devices report upload progress

    def _start(self) -> Child:
        """Start the agent; remote devices start it through their connection."""
        return start_child(AGENT_MODULE, self.extra_env)

    def _events(self, child: Child, spec: BenchSpec) -> Iterator[dict[str, Any]]:
        proc, lines, details = child.proc, child.lines, child.stderr_tail
        phase = "spawn"
        deadline = time.monotonic() + self.budgets.start_s

        while True:
            self._tick(proc)
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
                budget = self.budgets.for_phase(phase, spec)
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
                deadline = time.monotonic() + self.budgets.for_phase(phase, spec)
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
        yield self._exit_error(returncode, phase, details())

    def _tick(self, proc: subprocess.Popen[bytes]) -> None:
        """Called about every 100 ms while the agent runs (remote devices ping it)."""

    def _exit_error(self, returncode: int | None, phase: str, details: str) -> dict[str, Any]:
        message, signal_used = crash_message(returncode, phase)
        extra = {"signal": signal_used} if signal_used else {"exit_code": returncode}
        return error_event("crashed", phase, f"the agent {message}", details, **extra)


#: Where an NVIDIA driver shows itself on Linux; with none of them no runtime can use CUDA.
NVIDIA_DRIVER_FILES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0")


def cuda_driver_missing() -> str | None:
    """Why this machine cannot run on a CUDA GPU at all, read from the file system alone
    (instant, no runtime imported); None when a driver is present (a runtime may still
    lack CUDA: `cuda_check` and `edgebench devices test local-cuda` ask each one)."""
    if any(Path(p).exists() for p in NVIDIA_DRIVER_FILES):
        return None
    return "no NVIDIA GPU driver on this machine (" + ", ".join(NVIDIA_DRIVER_FILES) + " absent)"


def cuda_check() -> Any:
    """Whether any installed runtime can run on a CUDA GPU here, with each one's reason."""
    from engines.devices.setup import Check
    from engines.runtimes.registry import all_runtimes

    reasons = {}
    for runtime in all_runtimes():
        if not runtime.available().ok:
            continue
        try:
            reasons[runtime.name] = runtime.accelerators().get("cuda", "unavailable")
        except Exception as exc:  # a runtime that fails to say must not hide the others
            reasons[runtime.name] = f"unavailable: {type(exc).__name__}: {exc}"
    usable = [name for name, why in reasons.items() if why.startswith("available")]
    detail = "; ".join(f"{name}: {why}" for name, why in reasons.items()) or "no runtime"
    return Check(
        "cuda",
        bool(usable),
        detail,
        ""
        if usable
        else "run on a machine with an NVIDIA GPU and its driver, with onnxruntime-gpu or a "
        "CUDA build of torch",
    )
