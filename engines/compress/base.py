"""The compression step contract (Olive's Pass shape): typed settings, what it applies to, run.

A step is a registered class with a frozen `Settings` dataclass whose fields carry a
description, a unit and bounds in their metadata (the wizard builds its widgets from
them), a statement of which model kinds it applies to, and one `run` method that does the
work inside a worker process and imports its heavy library there.

Model kinds a step sees:
  "torch"  an nn.Module in memory (demo, zoo, .pt2 graphs); steps return a new module
  "onnx"   an .onnx file on disk; steps write a new file
  "tflite" produced by conversion from a torch module (see engines/export)
"""

from __future__ import annotations

import dataclasses
import threading
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from engines.floor.errors import BadInput, Cancelled

__all__ = ["BadInput", "Cancelled", "Step", "StepContext", "parse_settings", "setting"]

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
    meta = {
        "description": description,
        "minimum": minimum,
        "maximum": maximum,
        "unit": unit,
        "choices": choices,
        "widget": widget,
    }
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


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

    @dataclass(frozen=True)
    class Settings:
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


def _type_of(cls: type, name: str) -> Any:
    hints = typing.get_type_hints(cls)
    return hints[name]


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except BadInput as exc:
                errors.append(exc.message)
        raise BadInput(errors[0] if errors else f"{where}: unexpected value {value!r}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise BadInput(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        items = [_coerce(v, inner, where) for v in value]
        return tuple(items) if origin is tuple else items
    if hint is bool:
        if not isinstance(value, bool):
            raise BadInput(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadInput(f"{where}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadInput(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise BadInput(f"{where}: expected text, got {value!r}")
        return value
    return value


def parse_settings(step: type[Step], raw: dict[str, Any], where: str = "") -> Any:
    """Build a step's Settings from plain data; every error names the field and the rule."""
    settings_cls = step.Settings
    prefix = f"{where}{step.name}" if where else step.name
    known = {f.name: f for f in dataclasses.fields(settings_cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise BadInput(
            f"{prefix}: unknown setting {unknown[0]!r}",
            f"settings of {step.name}: {', '.join(known) or 'none'}",
        )
    values: dict[str, Any] = {}
    for name, f in known.items():
        if name not in raw:
            continue
        where_field = f"{prefix}.{name}"
        value = _coerce(raw[name], _type_of(settings_cls, name), where_field)
        meta = f.metadata
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if meta.get("minimum") is not None and value < meta["minimum"]:
                raise BadInput(f"{where_field} = {value} is below the minimum {meta['minimum']}")
            if meta.get("maximum") is not None and value > meta["maximum"]:
                raise BadInput(f"{where_field} = {value} is above the maximum {meta['maximum']}")
        if meta.get("choices") and value not in meta["choices"]:
            raise BadInput(f"{where_field} = {value!r} is not one of: {', '.join(meta['choices'])}")
        values[name] = value
    return settings_cls(**values)


def describe_settings(step: type[Step]) -> list[dict[str, Any]]:
    """Settings as plain data for a form: name, type, default, description, bounds."""
    out = []
    hints = typing.get_type_hints(step.Settings)
    for f in dataclasses.fields(step.Settings):
        default = (
            f.default
            if f.default is not dataclasses.MISSING
            else (f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        )
        out.append(
            {
                "name": f.name,
                "type": getattr(hints[f.name], "__name__", str(hints[f.name])),
                "default": default,
                **{k: v for k, v in f.metadata.items() if v not in (None, "")},
            }
        )
    return out
