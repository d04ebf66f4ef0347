"""BenchSpec: everything a run needs, as plain JSON-able data (stdlib only: the agent reads it)."""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass, field
from typing import Any

SPEC_VERSION = 1


@dataclass(frozen=True)
class RunPolicy:
    """Warm-up and measurement stopping rules (both counts AND times)."""

    warmup_runs: int = 5
    warmup_min_s: float = 0.5
    min_runs: int = 50
    min_s: float = 2.0
    max_s: float = 150.0
    max_runs: int = 1_000_000

    def validate(self) -> None:
        if self.warmup_runs < 0 or self.min_runs < 1:
            raise ValueError("warmup_runs must be >= 0 and min_runs >= 1")
        if self.min_s < 0 or self.warmup_min_s < 0 or self.max_s <= 0:
            raise ValueError("times must be >= 0 and max_s > 0")
        if self.max_runs < self.min_runs:
            raise ValueError("max_runs must be >= min_runs")


@dataclass(frozen=True)
class ModelRef:
    """Which model file the agent opens; `sha256` is checked before loading."""

    path: str
    format: str
    sha256: str = ""
    #: Declared input signature [{"name", "shape", "dtype"}] for formats that do not carry
    #: one (TorchScript, zoo modules); runtimes that read it from the file ignore it.
    inputs: list[dict[str, Any]] = field(default_factory=list)
    #: External-data files beside the model (relative names), for devices that copy it.
    data_files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class InputSpec:
    """What the model is fed, as the user asked for it; the rest is synthesised.

    `shapes` sets whole shapes per input, `dims` binds a symbolic dimension by name
    wherever it appears, `values` gives an input a constant or a generator
    ("16000", "ones", "zeros", "range:0:30522"), and `data_path` names an .npz of real
    arrays by input name (it wins over the others for the inputs it holds).
    """

    shapes: dict[str, list[int]] = field(default_factory=dict)
    dims: dict[str, int] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    data_path: str | None = None

    def is_default(self) -> bool:
        return not (self.shapes or self.dims or self.values or self.data_path)


@dataclass(frozen=True)
class BenchSpec:
    model: ModelRef
    runtime: str
    #: Threads for the runtime, always set: the device resolves its own default (the
    #: pipeline asks it), and no runtime falls back on a default of its own.
    threads: int = 1
    batch: int = 1
    accelerator: str = "cpu"  # "cpu" | "cuda"
    policy: RunPolicy = field(default_factory=RunPolicy)
    input_seed: int = 0
    #: Shapes, named dims, values and real arrays for the model's inputs.
    inputs: InputSpec = field(default_factory=InputSpec)
    memory_interval_ms: float = 10.0
    memory_limit_bytes: int | None = None
    #: Time the model (warm-up + measured runs). False for an accuracy-only run.
    measure: bool = True
    #: Accuracy on the target: {"data_path": .npz from engines.evaluate.datasets.save_npz,
    #: "description": words for reports, "limit": max samples or None}.
    evaluate: dict[str, Any] | None = None
    #: Remote devices: the agent exits when no line arrives from its parent for this long
    #: (the parent pings), so a run ends when the device loses its controller.
    parent_heartbeat_s: float | None = None
    #: Test-only fault injection; the agent honours it only with EDGEBENCH_ALLOW_FAULTS=1.
    fault: str | None = None
    version: int = SPEC_VERSION

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchSpec:
        data = dict(data)
        if data.get("version", SPEC_VERSION) != SPEC_VERSION:
            raise ValueError(f"spec version {data.get('version')} is not {SPEC_VERSION}")
        data["model"] = ModelRef(**data["model"])
        legacy_shapes = data.pop("input_shapes", None)  # specs stored before InputSpec
        inputs = dict(data.get("inputs") or {})
        if legacy_shapes and not inputs.get("shapes"):
            inputs["shapes"] = legacy_shapes
        data["inputs"] = InputSpec(**inputs)
        data["policy"] = RunPolicy(**data.get("policy", {}))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown spec fields: {sorted(unknown)}")
        spec = cls(**data)
        spec.policy.validate()
        if spec.batch < 1:
            raise ValueError("batch must be >= 1")
        if not isinstance(spec.threads, int) or isinstance(spec.threads, bool) or spec.threads < 1:
            raise ValueError(f"threads must be a whole number >= 1, not {spec.threads!r}")
        return spec


class RunStatus(str, enum.Enum):
    """What became of a stored run: the one set of words the store, CLI and GUI use."""

    OK = "ok"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @classmethod
    def of(cls, final: dict[str, Any]) -> RunStatus:
        """The status a run's final event (`result` or `error`) gives it."""
        if final.get("type") == "result":
            return cls.OK
        return cls.CANCELLED if final.get("error_type") == "cancelled" else cls.FAILED
