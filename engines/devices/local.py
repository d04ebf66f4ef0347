"""The local device: one agent child process per measured configuration.

The child runs in its own process group with `-X faulthandler`; the run loop it shares
with SSH and ADB devices (`engines.devices.agent_device`) gives every phase a wall-clock
budget, and cancel, a hang, a crash or malformed output all end the job with one typed
`error` event naming the phase (and the signal), with the process group gone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engines.devices.agent_device import AgentDevice
from engines.devices.base import PhaseBudgets
from engines.floor.spec import BenchSpec
from engines.process import Child, start_child

AGENT_MODULE = "engines.bench.agent"


DEFAULT_NAME = "local-cpu"


class LocalDevice(AgentDevice):
    """This machine: the agent is a child process in its own process group."""

    kind = "local"

    def __init__(
        self,
        budgets: PhaseBudgets | None = None,
        extra_env: dict[str, Any] | None = None,
        name: str = DEFAULT_NAME,
        accelerator: str = "cpu",
        threads: int | None = None,
    ) -> None:
        super().__init__(name, budgets, accelerator, threads)
        self.extra_env = extra_env or {}

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

    def default_threads(self) -> int:
        """The profile's threads, else this machine's physical cores."""
        from engines.bench.environment import host_threads

        return self.threads or host_threads()

    def start(self, spec: BenchSpec) -> Child:
        return start_child(AGENT_MODULE, self.extra_env)


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
