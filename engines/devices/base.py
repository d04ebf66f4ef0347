"""The Device contract shared by local, SSH and ADB targets."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engines.floor.spec import BenchSpec

#: Phases whose budget a user may set (`--phase-timeout PHASE=SECONDS`).
SETTABLE_PHASES = ("start", "verify", "load", "first", "warmup", "measure", "evaluate", "finish")


@dataclass(frozen=True)
class PhaseBudgets:
    """Wall-clock seconds allowed per agent phase; a phase past its budget is a hang.

    `load` is `load_s` plus `load_s_per_gib` for each GiB of the model file (a small
    model's hang is found in about a minute, a 4 GiB model still gets time to load);
    `measure` gets the policy's max_s on top of its own margin. `overrides` (from
    `--phase-timeout`) replace any phase's budget outright.
    """

    start_s: float = 60.0
    verify_s: float = 60.0
    load_s: float = 60.0
    load_s_per_gib: float = 120.0
    first_s: float = 120.0
    warmup_s: float = 120.0
    measure_margin_s: float = 30.0
    evaluate_s: float = 900.0
    finish_s: float = 30.0
    overrides: tuple[tuple[str, float], ...] = ()

    def for_phase(self, phase: str, spec: BenchSpec, model_bytes: int | None = None) -> float:
        given = dict(self.overrides)
        if phase in given:
            return given[phase]
        if phase == "measure":
            return spec.policy.max_s + self.measure_margin_s
        if phase == "warmup":
            return max(self.warmup_s, spec.policy.warmup_min_s * 4)
        if phase == "load":
            return self.load_s + self.load_s_per_gib * (model_bytes or 0) / 2**30
        return float(getattr(self, f"{phase}_s", self.start_s))

    def with_overrides(self, budgets: dict[str, float]) -> PhaseBudgets:
        """These budgets with some phases set by the user (seconds, > 0)."""
        import dataclasses

        from engines.floor.errors import BadInput

        for phase, seconds in budgets.items():
            if phase not in SETTABLE_PHASES:
                raise BadInput(
                    f"--phase-timeout: unknown phase {phase!r}",
                    f"phases: {', '.join(SETTABLE_PHASES)}",
                )
            if not seconds > 0:
                raise BadInput(f"--phase-timeout {phase}={seconds:g}: seconds must be above 0")
        merged = {**dict(self.overrides), **budgets}
        return dataclasses.replace(self, overrides=tuple(sorted(merged.items())))


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
