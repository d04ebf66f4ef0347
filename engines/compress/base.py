"""The compression step contract (Olive's Pass shape): typed settings, what it applies to, run.

A step is a registered class with a frozen `Settings` pydantic model (`StepSettings`:
unknown keys refused, strict types) whose fields carry a description, a unit, bounds and
choices (the wizard builds its widgets from them, `parse_settings` validates with them), a
statement of which model kinds it applies to, and one `run` method that does the work
inside a worker process and imports its heavy library there.

Model kinds a step sees:
  "torch"  an nn.Module in memory (demo, zoo, .pt2 graphs); steps return a new module
  "onnx"   an .onnx file on disk; steps write a new file
  "tflite" produced by conversion from a torch module (see engines/export)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from engines.floor.errors import BadInput, Cancelled

__all__ = [
    "BadInput",
    "Cancelled",
    "Step",
    "StepContext",
    "StepSettings",
    "describe_settings",
    "parse_settings",
    "setting",
]

ProgressFn = Callable[[str, float | None], None]


def setting(
    default: Any,
    description: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    unit: str = "",
    choices: tuple[str, ...] | None = None,
    widget: str = "",
) -> Any:
    """A typed setting with the words and bounds a person sees in the wizard.

    widget hints: "ratio" (slider 0..1), "file" (path picker), "" (from the type).
    """
    extra: dict[str, Any] = {"unit": unit, "widget": widget}
    if choices:
        extra["choices"] = list(choices)
    if isinstance(default, (list, dict)):
        return Field(
            default_factory=lambda: type(default)(default),
            description=description,
            json_schema_extra=extra,
        )
    return Field(default, description=description, ge=minimum, le=maximum, json_schema_extra=extra)


class StepSettings(BaseModel):
    """A step's settings: frozen, unknown keys refused, types strict (1.5 is not a whole
    number, "1" is not a number), bounds and choices checked from the fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def _one_of_the_choices(cls, value: Any, info: ValidationInfo) -> Any:
        choices = _extra(cls.model_fields[str(info.field_name)]).get("choices")
        if choices and value not in choices:
            raise ValueError(f"{value!r} is not one of: {', '.join(choices)}")
        return value


def _extra(info: Any) -> dict[str, Any]:
    extra = info.json_schema_extra
    return dict(extra) if isinstance(extra, dict) else {}


@dataclass
class StepContext:
    """What a step may use besides its input: data, the reference model, progress, cancel."""

    progress: ProgressFn
    cancel: threading.Event = field(default_factory=threading.Event)
    #: Calibration / training inputs, N x ... float32, already preprocessed for the model.
    calibration: Any = None
    #: Labels for `calibration` when the data set has them (distillation may use them).
    labels: Any = None
    #: The FP32 source module (teacher for distillation, reference for fidelity).
    reference: Any = None
    #: One example input per model input (torch tensors), for tracing.
    example_inputs: tuple[Any, ...] = ()
    #: Names of the model's inputs, in order (ONNX calibration readers need them).
    input_names: tuple[str, ...] = ()
    #: Where a step may write files (ONNX steps write their output here).
    workdir: str = ""
    #: What the variant will run on: "x86" or "arm" decides INT8 formats.
    target_arch: str = "x86"

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("compression cancelled")


class Step:
    """Base class of compression steps. Subclasses set the class attributes and `run`."""

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    #: Model kinds this step takes: any of "torch", "onnx", "tflite".
    kinds: ClassVar[tuple[str, ...]]
    #: What it usually does, in a person's words, for the wizard.
    effect: ClassVar[str] = ""
    #: True when the step changes the module's structure (needs a real nn.Module).
    structural: ClassVar[bool] = False
    #: True when the step needs calibration / training data.
    needs_data: ClassVar[bool] = False

    class Settings(StepSettings):
        pass

    @classmethod
    def applies_to(cls, kind: str) -> str | None:
        """None when the step can run on this kind of model, else the reason it cannot."""
        if kind in cls.kinds:
            return None
        return (
            f"step {cls.name!r} does not apply to {kind} models: it works on "
            f"{' or '.join(cls.kinds)} models"
        )

    def run(self, model: Any, settings: Any, ctx: StepContext) -> tuple[Any, dict[str, Any]]:
        """Return (new model, report). Report: JSON-able figures the step measured."""
        raise NotImplementedError


# ------------------------------------------------------------------------ settings parsing

#: pydantic's error types, in the words a preset's author reads.
_EXPECTED = {
    "bool_type": "expected true or false",
    "int_type": "expected a whole number",
    "float_type": "expected a number",
    "string_type": "expected text",
    "list_type": "expected a list",
}


def parse_settings(step: type[Step], raw: dict[str, Any], where: str = "") -> Any:
    """Build a step's Settings from plain data; every error names the field and the rule."""
    settings_cls = step.Settings
    prefix = f"{where}{step.name}" if where else step.name
    try:
        return settings_cls.model_validate(raw)
    except ValidationError as exc:
        raise _in_words(exc, prefix, step) from None


def _in_words(exc: ValidationError, prefix: str, step: type[Step]) -> BadInput:
    problem = exc.errors()[0]
    name = str(problem["loc"][0]) if problem["loc"] else ""
    where_field = f"{prefix}.{name}"
    value, kind, ctx = problem.get("input"), problem["type"], problem.get("ctx", {})
    if kind == "extra_forbidden":
        known = ", ".join(step.Settings.model_fields) or "none"
        return BadInput(f"{prefix}: unknown setting {name!r}", f"settings of {step.name}: {known}")
    if kind == "greater_than_equal":
        return BadInput(f"{where_field} = {value} is below the minimum {ctx['ge']}")
    if kind == "less_than_equal":
        return BadInput(f"{where_field} = {value} is above the maximum {ctx['le']}")
    if kind == "value_error":
        return BadInput(f"{where_field} = {ctx['error']}")
    expected = _EXPECTED.get(kind, problem["msg"].lower())
    return BadInput(f"{where_field}: {expected}, got {value!r}")


def describe_settings(step: type[Step]) -> list[dict[str, Any]]:
    """Settings as plain data for a form, read from the pydantic fields: name, type,
    default, description, bounds, unit, choices and widget."""
    out = []
    for name, info in step.Settings.model_fields.items():
        bounds: dict[str, Any] = {}
        for rule in info.metadata:
            if isinstance(rule, annotated_types.Ge):
                bounds["minimum"] = rule.ge
            elif isinstance(rule, annotated_types.Le):
                bounds["maximum"] = rule.le
        extra = _extra(info)
        if extra.get("choices"):
            extra["choices"] = tuple(extra["choices"])
        described = {
            "name": name,
            "type": getattr(info.annotation, "__name__", str(info.annotation)),
            "default": info.get_default(call_default_factory=True),
            "description": info.description or "",
            **bounds,
            **extra,
        }
        out.append({k: v for k, v in described.items() if v not in (None, "")})
    return out
