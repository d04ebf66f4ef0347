"""torch -> TFLite with litert-torch: FP32, FP16 weights, dynamic-range INT8, full INT8.

Modes:
- "fp32": ``litert_torch.convert(module, args)``.
- "fp16": float16 weights (float compute), litert-torch's FP16 weight-only recipe
  (``generative.quantize.quant_recipes.full_fp16_recipe``, applied by ai-edge-quantizer to
  every supported op).
- "dynamic-int8": int8 per-channel weights, float activations (dynamic-range kernels).
  PT2E with litert-torch's PT2EQuantizer and ``is_dynamic=True``.
- "int8": full integer. torch.export the module, ``prepare_pt2e`` with PT2EQuantizer and a
  symmetric per-channel static config, feed the calibration batches, ``convert_pt2e``, then
  ``litert_torch.convert(..., quant_config=QuantConfig(pt2e_quantizer=...))``. The result
  is inspected op by op (LiteRT interpreter, no delegate) to prove it runs integer kernels.

The file is written atomically (temp file in the destination folder, fsync, rename).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from engines.export.onnx_export import ExportFailed, describe_export_error
from engines.floor.atomic import write_atomically
from engines.floor.errors import BadInput

MODES = ("fp32", "fp16", "dynamic-int8", "int8")
_INT_KINDS = "iu"
_QUANT_OPS = {"QUANTIZE", "DEQUANTIZE"}


def _type_name(t: Any) -> str:
    try:
        return str(np.dtype(t).name)
    except TypeError:
        return str(t)


def _narrow_int(name: str) -> bool:
    return name in ("int8", "uint8", "int16", "int4")


def classify_op(op: dict[str, Any]) -> str:
    """ "integer" (narrow-int compute), "hybrid" (int weights, float activations),
    "float", "quantize" (QUANTIZE/DEQUANTIZE) or "other" (e.g. int32 index arithmetic)."""
    if op.get("op_name") in _QUANT_OPS:
        return "quantize"
    operands = [_type_name(t) for t in op.get("operand_types", [])]
    results = [_type_name(t) for t in op.get("result_types", [])]
    floats_out = any(t.startswith(("float", "bfloat")) for t in results)
    floats_in = any(t.startswith(("float", "bfloat")) for t in operands)
    narrow = any(_narrow_int(t) for t in operands + results)
    if narrow and not floats_out and not floats_in:
        return "integer"
    if floats_out and any(_narrow_int(t) for t in operands):
        return "hybrid"
    if floats_out or floats_in:
        return "float"
    return "other"


def _tensor_info(detail: dict[str, Any]) -> dict[str, Any]:
    signature = detail.get("shape_signature", detail["shape"])
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return {
        "name": detail["name"],
        "shape": [int(d) if d >= 0 else "?" for d in signature],
        "dtype": _type_name(detail["dtype"]),
        "quantization": [float(scale), int(zero_point)] if scale else None,
    }


def inspect_tflite(content: bytes) -> dict[str, Any]:
    """Ops, kernel classes and tensor dtypes of a .tflite model (no delegate applied)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_content=content,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()
    kinds: Counter[str] = Counter()
    float_ops: Counter[str] = Counter()
    integer_ops: Counter[str] = Counter()
    for op in ops:
        kind = classify_op(op)
        kinds[kind] += 1
        if kind == "float":
            float_ops[op["op_name"]] += 1
        elif kind == "integer":
            integer_ops[op["op_name"]] += 1
    dtypes = Counter(_type_name(t["dtype"]) for t in interpreter.get_tensor_details())
    return {
        "inputs": [_tensor_info(d) for d in interpreter.get_input_details()],
        "outputs": [_tensor_info(d) for d in interpreter.get_output_details()],
        "op_count": len(ops),
        "ops": dict(Counter(op["op_name"] for op in ops).most_common()),
        "kernels": {
            k: kinds.get(k, 0) for k in ("integer", "hybrid", "float", "quantize", "other")
        },
        "integer_ops": dict(integer_ops.most_common()),
        "float_ops": dict(float_ops.most_common()),
        "tensor_dtypes": dict(dtypes.most_common()),
        "int8_tensors": dtypes.get("int8", 0),
    }


def _tag_sources(graph: Any) -> int:
    """Give float add / cat / pooling nodes the `source_fn_stack` PT2EQuantizer looks for.

    PT2EQuantizer finds add, cat and pooling through `source_fn_stack` metadata, which
    only a strict (dynamo) capture records; a non-strict torch.export graph (the default,
    and every graph unlifted from a .pt2) has none, so residual adds would stay float
    between QUANTIZE/DEQUANTIZE pairs. Returns how many nodes were tagged.
    """
    import operator

    import torch
    import torch.nn.functional as F

    aten = torch.ops.aten
    sources: dict[Any, Any] = {
        aten.add.Tensor: operator.add,
        aten.add_.Tensor: operator.add,
        aten.cat.default: torch.cat,
        aten.max_pool2d.default: F.max_pool2d,
        aten.adaptive_avg_pool2d.default: F.adaptive_avg_pool2d,
    }
    tagged = 0
    for node in graph.graph.nodes:
        if node.op != "call_function" or node.meta.get("source_fn_stack"):
            continue
        source = sources.get(node.target)
        value = node.meta.get("val")
        if source is None or not (torch.is_tensor(value) and value.is_floating_point()):
            continue
        node.meta["source_fn_stack"] = [(node.name, source)]
        tagged += 1
    return tagged


def _pt2e_quantize(
    module: Any, example_args: tuple[Any, ...], batches: list[tuple[Any, ...]], dynamic: bool
) -> tuple[Any, Any, int]:
    """(quantized graph module, PT2EQuantizer, nodes tagged) ready for litert_torch.convert."""
    import torch
    from litert_torch.quantize.pt2e_quantizer import (
        PT2EQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = PT2EQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=True, is_dynamic=dynamic)
    )
    graph = torch.export.export(module, tuple(example_args)).module()
    tagged = _tag_sources(graph)
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for batch in batches:
            prepared(*batch)
    return convert_pt2e(prepared, fold_quantize=False), quantizer, tagged


def _as_tensors(batch: tuple[Any, ...]) -> tuple[Any, ...]:
    import torch

    return tuple(torch.as_tensor(np.asarray(b)) if not torch.is_tensor(b) else b for b in batch)


def export_tflite(
    module: Any,
    example_args: tuple[Any, ...],
    dst: Path,
    *,
    mode: str = "fp32",
    calibration: list[tuple[Any, ...]] | None = None,
) -> dict[str, Any]:
    """Convert `module` to a .tflite at `dst`; returns what was made (see inspect_tflite).

    calibration: input batches (tuples in the module's argument order) for "int8";
    required there, ignored by the other modes.
    """
    import litert_torch

    dst = Path(dst)
    if mode not in MODES:
        raise BadInput(f"unknown TFLite mode {mode!r}", f"choose one of: {', '.join(MODES)}")
    args = _as_tensors(tuple(example_args))
    report: dict[str, Any] = {"mode": mode}
    what = f"TFLite export ({mode}) failed"
    try:
        if mode == "fp32":
            edge = litert_torch.convert(module, args)
            report["method"] = "litert_torch.convert"
        elif mode == "fp16":
            from litert_torch.generative.quantize.quant_recipes import full_fp16_recipe

            edge = litert_torch.convert(module, args, quant_config=full_fp16_recipe())
            report["method"] = "litert_torch.convert + full_fp16_recipe (fp16 weights)"
        elif mode == "dynamic-int8":
            graph, quantizer, _ = _pt2e_quantize(module, args, [args], dynamic=True)
            from litert_torch.quantize.quant_config import QuantConfig

            edge = litert_torch.convert(
                graph, args, quant_config=QuantConfig(pt2e_quantizer=quantizer)
            )
            report["method"] = "PT2E dynamic, symmetric per-channel int8 weights"
        else:
            batches = [_as_tensors(tuple(b)) for b in (calibration or [])]
            if not batches:
                raise BadInput(
                    "full INT8 export needs calibration batches",
                    "pass representative inputs (a few dozen samples) as calibration",
                )
            graph, quantizer, tagged = _pt2e_quantize(module, args, batches, dynamic=False)
            report["source_tagged_nodes"] = tagged
            from litert_torch.quantize.quant_config import QuantConfig

            edge = litert_torch.convert(
                graph, args, quant_config=QuantConfig(pt2e_quantizer=quantizer)
            )
            report["method"] = "PT2E static, symmetric per-channel int8 weights, int8 activations"
            report["calibration_batches"] = len(batches)
        content = bytes(edge.model_content())
    except BadInput:
        raise
    except Exception as exc:
        raise describe_export_error(exc, what) from exc
    report.update(inspect_tflite(content))
    if mode == "int8" and report["kernels"]["integer"] == 0:
        raise ExportFailed(
            f"{what}: the converted model has no integer kernels (ops: {', '.join(report['ops'])})",
            str(report),
        )
    if mode == "dynamic-int8" and report["kernels"]["hybrid"] + report["kernels"]["integer"] == 0:
        raise ExportFailed(
            f"{what}: no op uses int8 weights (ops: {', '.join(report['ops'])})", str(report)
        )
    total_compute = sum(report["kernels"][k] for k in ("integer", "hybrid", "float"))
    report["integer_fraction"] = (
        report["kernels"]["integer"] / total_compute if total_compute else 0.0
    )

    def write(tmp: Path) -> None:
        tmp.write_bytes(content)

    write_atomically(dst, write)
    report["path"] = str(dst)
    report["size_bytes"] = dst.stat().st_size
    return report
