"""Child-process plumbing shared by the benchmark device and the host workers."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from engines.floor.events import MAX_LINE_BYTES

EOF_MARK = b""
TERM_GRACE_S = 2.0
ENGINE_ROOT = str(Path(__file__).resolve().parents[1])


def signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {}), "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ENGINE_ROOT, env.get("PYTHONPATH")]))
    return env


def spawn(module: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `python -X faulthandler -m module` in its own process group, pipes on all three."""
    return subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-u", "-m", module],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=child_env(extra_env),
    )


def kill_group(proc: subprocess.Popen[bytes], grace_s: float = TERM_GRACE_S) -> None:
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


def pump_lines(stream: IO[bytes], out: queue.Queue[Any]) -> None:
    """Move capped lines from a pipe into a queue; EOF_MARK when the pipe closes."""
    try:
        while True:
            line = stream.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            out.put(line)
    finally:
        out.put(EOF_MARK)


def pump_tail(stream: IO[bytes], tail: deque[Any]) -> None:
    """Keep the last lines of a pipe (stderr: faulthandler tracebacks, runtime logs)."""
    for line in iter(lambda: stream.readline(4096), b""):
        tail.append(line.decode("utf-8", "replace").rstrip())


def close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


#: What a SIGKILL was, by whether this cgroup's OOM-kill count rose (None: no cgroup says).
SIGKILL_HINTS = {
    True: "killed by the kernel's out-of-memory killer (this cgroup's oom_kill count rose)",
    False: "killed from outside, not by the out-of-memory killer (this cgroup's oom_kill "
    "count did not change)",
    None: "killed from outside: by a person, a supervisor or the kernel's out-of-memory "
    "killer (the kernel log, dmesg, says which)",
}


def crash_message(
    returncode: int | None, doing: str, killed_by_oom: bool | None = None
) -> tuple[str, str | None]:
    """A person's sentence for how a child ended, and the signal name if any. A SIGKILL is
    blamed on the OOM killer only when the cgroup's counter says so (`killed_by_oom`)."""
    if returncode is not None and returncode < 0:
        name = signal_name(returncode)
        hint = {
            "SIGSEGV": "a segmentation fault in native code (runtime or model)",
            "SIGABRT": "the runtime aborted",
            "SIGKILL": SIGKILL_HINTS[killed_by_oom],
            "SIGBUS": "a bus error in native code",
        }.get(name, "killed by a signal")
        return f"crashed with {name} during {doing}: {hint}", name
    return f"exited with code {returncode} during {doing} without a result", None


@dataclass
class Child:
    """A spawned child with its stdout lines queued and the tail of its stderr kept."""

    proc: subprocess.Popen[bytes]
    #: This cgroup's OOM-kill count when the child started (None: no cgroup says).
    oom_before: int | None = None
    lines: queue.Queue[Any] = field(default_factory=queue.Queue[Any])
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=60))
    threads: list[threading.Thread] = field(default_factory=list)

    def send_line(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def stderr_tail(self) -> str:
        return "\n".join(self.tail)

    def killed_by_oom(self) -> bool | None:
        from engines.floor.oom import killed_by_oom

        return killed_by_oom(self.oom_before)

    def stop(self, grace_s: float = TERM_GRACE_S) -> None:
        """Kill the process group, close the pipes, let the pump threads finish."""
        kill_group(self.proc, grace_s)
        close_pipes(self.proc)
        for thread in self.threads:
            thread.join(timeout=2)


def start_child(module: str, extra_env: dict[str, str] | None = None) -> Child:
    return watch(spawn(module, extra_env))


def start_command(argv: list[str]) -> Child:
    """Start a program (ssh, adb) in its own process group, pipes on all three."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    return watch(proc)


def watch(proc: subprocess.Popen[bytes]) -> Child:
    """Pump a started child's stdout lines and stderr tail in daemon threads."""
    from engines.floor.oom import oom_kills

    child = Child(proc, oom_before=oom_kills())
    assert child.proc.stdout is not None and child.proc.stderr is not None
    child.threads = [
        threading.Thread(target=pump_lines, args=(child.proc.stdout, child.lines), daemon=True),
        threading.Thread(target=pump_tail, args=(child.proc.stderr, child.tail), daemon=True),
    ]
    for thread in child.threads:
        thread.start()
    return child
