"""The local device: one agent child process per measured configuration.

The child runs in its own process group with `-X faulthandler`; every phase has a
wall-clock budget; cancel, a hang, a crash or malformed output all end the job with one
typed `error` event naming the phase (and the signal), and the process group is gone.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from engines.bench.events import MAX_LINE_BYTES, ProtocolError, error_event, parse_event
from engines.bench.spec import BenchSpec
from engines.devices.base import Device, PhaseBudgets

_EOF = b""
TERM_GRACE_S = 2.0
_ENGINE_ROOT = str(Path(__file__).resolve().parents[2])


def signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def agent_command() -> list[str]:
    return [sys.executable, "-X", "faulthandler", "-u", "-m", "engines.bench.agent"]


def kill_group(proc: subprocess.Popen, grace_s: float = TERM_GRACE_S) -> None:
    """SIGTERM the child's process group, then SIGKILL after a grace period."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def _pump_lines(stream: IO[bytes], out: queue.Queue) -> None:
    try:
        while True:
            line = stream.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            out.put(line)
    finally:
        out.put(_EOF)


def _pump_tail(stream: IO[bytes], tail: deque) -> None:
    for line in iter(lambda: stream.readline(4096), b""):
        tail.append(line.decode("utf-8", "replace").rstrip())


class LocalDevice(Device):
    name = "local"
    kind = "local"

    def __init__(self, budgets: PhaseBudgets | None = None, extra_env: dict | None = None) -> None:
        self.budgets = budgets or PhaseBudgets()
        self.extra_env = extra_env or {}
        self._cancel = threading.Event()
        self._proc: subprocess.Popen | None = None

    def info(self) -> dict[str, Any]:
        from engines.bench.environment import capture

        return capture("host")

    def cancel(self) -> None:
        self._cancel.set()

    def run(self, spec: BenchSpec) -> Iterator[dict[str, Any]]:
        self._cancel.clear()
        env = {**os.environ, **self.extra_env, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_ENGINE_ROOT, env.get("PYTHONPATH")]))
        proc = subprocess.Popen(
            agent_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=env,
        )
        self._proc = proc
        assert proc.stdin and proc.stdout and proc.stderr
        lines: queue.Queue = queue.Queue()
        stderr_tail: deque[str] = deque(maxlen=60)
        threads = [
            threading.Thread(target=_pump_lines, args=(proc.stdout, lines), daemon=True),
            threading.Thread(target=_pump_tail, args=(proc.stderr, stderr_tail), daemon=True),
        ]
        for t in threads:
            t.start()
        try:
            proc.stdin.write(spec.to_json().encode() + b"\n")
            proc.stdin.flush()
            yield from self._events(proc, spec, lines, stderr_tail)
        finally:
            kill_group(proc)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    stream.close()
                except OSError:
                    pass
            for t in threads:
                t.join(timeout=2)
            self._proc = None

    def _events(
        self, proc: subprocess.Popen, spec: BenchSpec, lines: queue.Queue, tail: deque[str]
    ) -> Iterator[dict[str, Any]]:
        phase = "spawn"
        deadline = time.monotonic() + self.budgets.start_s

        def details() -> str:
            return "\n".join(tail)

        while True:
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
                budget = self.budgets.for_phase(phase, spec) if phase != "spawn" else (
                    self.budgets.start_s)
                yield error_event(
                    "timeout", phase,
                    f"the agent stopped answering during {phase} "
                    f"(budget {budget:g} s); it was stopped", details())
                return
            try:
                raw = lines.get(timeout=min(0.1, remaining))
            except queue.Empty:
                continue
            if raw == _EOF:
                break
            try:
                event = parse_event(raw)
            except ProtocolError as exc:
                kill_group(proc)
                yield error_event("protocol", phase,
                                  f"the agent sent malformed output during {phase}: {exc}",
                                  details())
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

    @staticmethod
    def _exit_error(returncode: int | None, phase: str, details: str) -> dict[str, Any]:
        if returncode is not None and returncode < 0:
            name = signal_name(returncode)
            hint = {
                "SIGSEGV": "a segmentation fault in native code (runtime or model)",
                "SIGABRT": "the runtime aborted",
                "SIGKILL": "killed from outside, most often by the kernel's out-of-memory killer",
                "SIGBUS": "a bus error in native code",
            }.get(name, "killed by a signal")
            return error_event("crashed", phase,
                               f"the agent crashed with {name} during {phase}: {hint}",
                               details, signal=name)
        return error_event("crashed", phase,
                           f"the agent exited with code {returncode} during {phase} "
                           "without a result", details, exit_code=returncode)
