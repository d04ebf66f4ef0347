"""torch -> ONNX with the dynamo exporter, written atomically, with readable failures.

`export_onnx` traces the module with ``torch.onnx.export(..., dynamo=True)`` (optionally
with a dynamic batch axis), saves the model to a temp file in the destination folder,
fsyncs it and renames it into place; nothing is left behind on failure. When the exporter
cannot trace the model, `ExportFailed` carries ONE readable line with the real reason (the
torch.export / dynamo error found in the exception chain, not the exporter's wrapper) and
the full text in `details`.

Shared with the TFLite exporter: `ExportFailed`, `describe_export_error`.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from engines.floor.atomic import write_atomically
from engines.floor.errors import BadInput, RunFailed

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Exceptions that only wrap the real cause (their own message is generic advice).
_WRAPPER_NAMES = {"OnnxExporterError", "TorchExportError", "ConversionError"}
_MAX_REASON = 400


class ExportFailed(RunFailed):
    """The exporter could not trace or convert the model; `details` holds the full text."""


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_wrapper(exc: BaseException) -> bool:
    return any(cls.__name__ in _WRAPPER_NAMES for cls in type(exc).__mro__)


def _first_line(text: str) -> str:
    for raw in _ANSI.sub("", text).splitlines():
        line = " ".join(raw.split())
        if line:
            return line
    return ""


def _user_frame(exc: BaseException) -> str:
    """'file.py:12 in forward' for the innermost frame outside torch and the stdlib."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    prefixes = tuple(p for p in {sys.prefix, sys.base_prefix, os.path.dirname(os.__file__)} if p)
    skip = ("site-packages", "dist-packages", "<frozen", "<string>", "<eval_with_key")
    for frame in reversed(frames):
        name = frame.filename
        if name.startswith(prefixes) or any(s in name for s in skip):
            continue
        if Path(name).parent == Path(__file__).parent:
            continue  # our own exporter code, not the model's
        return f"{Path(name).name}:{frame.lineno} in {frame.name}"
    return ""


def root_cause(exc: BaseException) -> BaseException:
    """The first exception in the chain that is not a generic exporter wrapper."""
    chain = _chain(exc)
    return next((e for e in chain if not _is_wrapper(e) and _first_line(str(e))), chain[-1])


def describe_export_error(exc: BaseException, what: str) -> ExportFailed:
    """ExportFailed with one readable line (what failed, the real reason, where) + details."""
    cause = root_cause(exc)
    reason = _first_line(str(cause)) or type(cause).__name__
    reason = f"{type(cause).__name__}: {reason}"
    if len(reason) > _MAX_REASON:
        reason = reason[: _MAX_REASON - 3] + "..."
    where = _user_frame(cause)
    message = f"{what}: {reason}" + (f" (at {where})" if where else "")
    details = _ANSI.sub("", "".join(traceback.format_exception(exc)))
    return ExportFailed(message, details)


def _value_info(value: Any) -> dict[str, Any]:
    import onnx

    tensor = value.type.tensor_type
    shape: list[int | str] = [
        d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim
    ]
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
    return {"name": value.name, "shape": shape, "dtype": dtype}


def onnx_report(path: Path) -> dict[str, Any]:
    """Inputs, outputs, opset and op counts of a saved ONNX file."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}
    ops = Counter(node.op_type for node in model.graph.node)
    return {
        "inputs": [_value_info(v) for v in model.graph.input if v.name not in initializers],
        "outputs": [_value_info(v) for v in model.graph.output],
        "opset": next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None),
        "node_count": len(model.graph.node),
        "ops": dict(ops.most_common()),
        "size_bytes": path.stat().st_size,
    }


def _require_dynamic_batch(program: Any, names: list[str]) -> None:
    """torch.export may quietly specialise a batch it was asked to keep dynamic (a module
    unlifted from a static ExportedProgram carries its batch-1 guards): refuse that."""
    fixed = []
    for value in program.model.graph.inputs:
        shape = value.shape
        if value.name in names and shape is not None and len(shape) and isinstance(shape[0], int):
            fixed.append(f"{value.name!r} to {shape[0]}")
    if fixed:
        raise BadInput(
            "dynamic batch was asked for, but the model fixes the batch of input "
            + ", ".join(fixed)
            + " (a .pt2 exported with a static shape keeps it)",
            "re-export the .pt2 with dynamic_shapes={<input>: {0: torch.export.Dim('batch')}}, "
            "or export without a dynamic batch",
        )


def export_onnx(
    module: Any,
    example_args: tuple[Any, ...],
    dst: Path,
    *,
    opset: int = 18,
    dynamic_batch: bool = False,
    input_names: list[str] | None = None,
) -> dict[str, Any]:
    """Export `module` to ONNX at `dst`; returns onnx_report plus the export settings.

    dynamic_batch: axis 0 of every input is one symbolic dimension named "batch".
    Raises ExportFailed when torch.export / the ONNX translation fails.
    """
    import torch

    dst = Path(dst)
    names = list(input_names) if input_names else [f"input_{i}" for i in range(len(example_args))]
    if len(names) != len(example_args):
        raise ValueError(f"{len(names)} input names for {len(example_args)} inputs")
    dynamic_shapes: tuple[dict[int, Any], ...] | None = None
    if dynamic_batch:
        batch = torch.export.Dim("batch")
        dynamic_shapes = tuple({0: batch} for _ in example_args)
    what = "ONNX export failed" + (" (dynamic batch)" if dynamic_batch else "")
    try:
        program = torch.onnx.export(
            module,
            tuple(example_args),
            dynamo=True,
            opset_version=int(opset),
            input_names=names,
            dynamic_shapes=dynamic_shapes,
            verbose=False,
        )
    except Exception as exc:
        raise describe_export_error(exc, what) from exc
    if program is None:
        raise ExportFailed(f"{what}: torch.onnx.export returned no program")
    if dynamic_batch:
        _require_dynamic_batch(program, names)

    def write(tmp: Path) -> None:
        # external_data=False: one self-contained file (edge models are far below 2 GB).
        program.save(str(tmp), external_data=False)

    write_atomically(dst, write)
    report = onnx_report(dst)
    report.update({"path": str(dst), "dynamic_batch": bool(dynamic_batch), "exporter": "dynamo"})
    report["requested_opset"] = int(opset)
    return report
