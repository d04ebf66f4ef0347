"""The Device contract shared by local, SSH and ADB targets."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engines.floor.spec import BenchSpec


@dataclass(frozen=True)
class PhaseBudgets:
    """Wall-clock seconds allowed per agent phase; a phase past its budget is a hang.

    `measure` gets the policy's max_s on top of its own margin.
    """

    start_s: float = 60.0
    verify_s: float = 60.0
    load_s: float = 300.0
    first_s: float = 120.0
    warmup_s: float = 120.0
    measure_margin_s: float = 30.0
    evaluate_s: float = 900.0
    finish_s: float = 30.0

    def for_phase(self, phase: str, spec: BenchSpec) -> float:
        if phase == "measure":
            return spec.policy.max_s + self.measure_margin_s
        if phase == "warmup":
            return max(self.warmup_s, spec.policy.warmup_min_s * 4)
        return float(getattr(self, f"{phase}_s", self.start_s))


class Device(ABC):
    name: str
    kind: str
    #: What runs use unless the user asks for another ("cpu" | "cuda").
    accelerator: str = "cpu"

    @abstractmethod
    def info(self) -> dict[str, Any]: ...

    @abstractmethod
    def run(self, spec: BenchSpec) -> Iterator[dict[str, Any]]:
        """Yield events; always ends with exactly one `result` or `error` event."""

    @abstractmethod
    def cancel(self) -> None: ...

    def setup_check(self) -> list[Any]:
        """`engines.devices.setup.Check`s: what works there and what to install."""
        return []

    def default_threads(self) -> int:
        """Threads to use when the user names none: the device's profile, else its own
        cores. The only place a default thread count is chosen (`resolve_threads`)."""
        return 1

    def close(self) -> None:
        """Release connections held for reuse (nothing for a local device)."""
        return None
