"""The runtime contract: what every adapter offers the agent (stdlib + numpy only)."""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engines.runtimes.versions import module_version


@dataclass(frozen=True)
class TensorInfo:
    """One input or output: shape entries are ints, or strings for symbolic dims."""

    name: str
    shape: list[int | str]
    dtype: str
    #: (scale, zero_point) for quantized tensors, else None.
    quantization: tuple[float, int] | None = None
    #: "tensor", or "scalar" for a plain int/float/bool argument (TorchScript `sr: int`).
    kind: str = "tensor"

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "quantization": list(self.quantization) if self.quantization else None,
        }
        if self.kind != "tensor":
            out["kind"] = self.kind
        return out


#: The shape of a tensor whose rank nobody recorded (a TorchScript `Tensor` argument).
UNKNOWN_RANK: list[int | str] = ["*"]


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str
    version: str | None = None
    accelerators: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RuntimeOptions:
    #: Always given (no runtime picks its own default): the device's resolved threads.
    threads: int
    accelerator: str = "cpu"
    #: Input signature declared by the caller, for formats that carry none.
    declared_inputs: list[dict[str, Any]] = field(default_factory=list)


class Session(ABC):
    """An opened model. `options_used` is recorded with every run."""

    options_used: dict[str, Any]

    @abstractmethod
    def inputs(self) -> list[TensorInfo]: ...

    @abstractmethod
    def outputs(self) -> list[TensorInfo]: ...

    @abstractmethod
    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run once and return outputs as numpy arrays (for accuracy and parity)."""

    @abstractmethod
    def timed_call(self, feeds: dict[str, np.ndarray]) -> Callable[[], object]:
        """Bind inputs once and return the zero-argument call the agent times.

        Only the runtime's own run call is inside it (the README's definitions), plus a device
        synchronisation where the runtime is asynchronous (CUDA).
        """

    def peak_accelerator_bytes(self) -> int | None:
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


class Runtime(ABC):
    name: str
    formats: tuple[str, ...]
    #: The Python module(s) whose presence makes this runtime usable, in preference order.
    modules: tuple[str, ...]
    label: str

    def available(self) -> Availability:
        """Cheap check (no import of the runtime): is a module installed, which version."""
        for module in self.modules:
            if importlib.util.find_spec(module) is not None:
                return Availability(True, f"{module} installed", module_version(module))
        return Availability(False, f"not installed: pip install {self.modules[0]}")

    def import_library(self) -> None:
        """Import the runtime's module up front, so `load_ms` times session creation only."""
        import importlib

        for module in self.modules:
            if importlib.util.find_spec(module) is not None:
                importlib.import_module(module)
                return

    @abstractmethod
    def open(self, path: str, fmt: str, options: RuntimeOptions) -> Session: ...

    def accelerators(self) -> dict[str, str]:
        """Accelerator name -> "available" or the reason it is not (imports the runtime)."""
        return {}
