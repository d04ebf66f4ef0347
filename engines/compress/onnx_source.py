"""Make a real-world ONNX file fit for ONNX Runtime's quantizer and FP16 converter.

Models from other tools break those in ways that have nothing to do with the model:
paddle2onnx keeps weights in Constant nodes and torch.onnx passes shared weights through
Identity nodes (the quantizer looks only at initializers),
IR 3 files list every initializer as a graph input (the FP16 converter leaves graph
inputs alone, so no weight is converted), opsets below 13 have no per-channel
DequantizeLinear (ONNX Runtime then refuses the QDQ file it wrote), and an FP16 model
cannot be quantized until it is FP32 again. `prepared_source` writes a fixed copy and
says, in words, what it changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The first opset with per-channel (axis) QuantizeLinear/DequantizeLinear.
QDQ_PER_CHANNEL_OPSET = 13


@dataclass
class Prepared:
    path: Path
    notes: list[str] = field(default_factory=list)
    #: The source's inputs were float16 and are float32 in `path`.
    was_fp16: bool = False


def default_opset(model: Any) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def is_fp16_model(model: Any) -> bool:
    """Whether the model computes in float16: float16 weights or float16 inputs."""
    import onnx

    f16 = onnx.TensorProto.FLOAT16
    if any(init.data_type == f16 for init in model.graph.initializer):
        return True
    return any(v.type.tensor_type.elem_type == f16 for v in model.graph.input)


def _constants_to_initializers(model: Any) -> int:
    from engines.models.inspect import constant_tensor

    graph = model.graph
    keep, moved = [], 0
    for node in graph.node:
        tensor = constant_tensor(node)
        if tensor is not None:
            tensor.name = node.output[0]
            graph.initializer.append(tensor)
            moved += 1
        else:
            keep.append(node)
    if moved:
        del graph.node[:]
        graph.node.extend(keep)
    return moved


def _fold_identity_weights(model: Any) -> int:
    """Identity nodes that only rename an initializer (torch.onnx writes one per extra use of
    a shared weight): consumers read the initializer itself, so the quantizer sees it."""
    graph = model.graph
    weights = {init.name for init in graph.initializer}
    outputs = {value.name for value in graph.output}
    renamed: dict[str, str] = {}
    keep = []
    for node in graph.node:
        if (
            node.op_type == "Identity"
            and node.domain in ("", "ai.onnx")
            and node.input
            and node.input[0] in weights
            and node.output[0] not in outputs
        ):
            renamed[node.output[0]] = node.input[0]
        else:
            keep.append(node)
    if not renamed:
        return 0
    for node in keep:
        for index, name in enumerate(node.input):
            if name in renamed:
                node.input[index] = renamed[name]
    del graph.node[:]
    graph.node.extend(keep)
    return len(renamed)


def _initializers_off_inputs(model: Any) -> int:
    """IR < 4: drop initializers from graph.input (IR 4 allows the split)."""
    graph = model.graph
    names = {init.name for init in graph.initializer}
    keep = [value for value in graph.input if value.name not in names]
    dropped = len(graph.input) - len(keep)
    if dropped:
        del graph.input[:]
        graph.input.extend(keep)
    return dropped


def _float16_to_float32(model: Any) -> int:
    """Every float16 tensor, type and Cast of the main graph as float32; returns the
    number of weights converted."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    f16, f32 = onnx.TensorProto.FLOAT16, onnx.TensorProto.FLOAT
    graph = model.graph
    converted = 0
    for index, init in enumerate(graph.initializer):
        if init.data_type == f16:
            array = numpy_helper.to_array(init).astype(np.float32)
            graph.initializer[index].CopyFrom(numpy_helper.from_array(array, init.name))
            converted += 1
    for value in [*graph.input, *graph.output, *graph.value_info]:
        if value.type.tensor_type.elem_type == f16:
            value.type.tensor_type.elem_type = f32
    for node in graph.node:
        for attribute in node.attribute:
            if node.op_type == "Cast" and attribute.name == "to" and attribute.i == f16:
                attribute.i = f32
            elif attribute.type == 4 and attribute.t.data_type == f16:  # e.g. ConstantOfShape
                array = numpy_helper.to_array(attribute.t).astype(np.float32)
                attribute.t.CopyFrom(numpy_helper.from_array(array, attribute.t.name))
    return converted


def prepared_source(src: Path, work: Path, purpose: str) -> Prepared:
    """A copy of `src` that `purpose` ("int8-static", "int8-dynamic", "fp16") can take,
    or `src` itself when nothing needs changing. Raises BadInput where the step cannot
    apply (FP16 of a model that already is FP16)."""
    import onnx

    from engines.floor.errors import BadInput

    model = onnx.load(str(src), load_external_data=False)
    if any(init.data_location == onnx.TensorProto.EXTERNAL for init in model.graph.initializer):
        return Prepared(src)  # rewritten only when it fits in one file
    notes: list[str] = []
    fp16 = is_fp16_model(model)
    if purpose == "fp16" and fp16:
        raise BadInput(
            f"{src.name} already computes in float16: there is nothing for the fp16 step to do",
            "profile it as it is, or quantize it (int8-static / int8-dynamic convert it to "
            "FP32 first)",
        )
    moved = _constants_to_initializers(model)
    if moved:
        notes.append(f"{moved} weights held in Constant nodes were made initializers first")
    folded = _fold_identity_weights(model)
    if folded:
        notes.append(f"{folded} shared weights read through Identity nodes are read directly")
    if model.ir_version < 4:
        dropped = _initializers_off_inputs(model)
        notes.append(
            f"IR {model.ir_version} file: {dropped} initializers listed as graph inputs were "
            "taken off the inputs (IR 4), as the quantizer and the FP16 converter expect"
        )
        model.ir_version = 4
    if fp16 and purpose.startswith("int8"):
        count = _float16_to_float32(model)
        notes.append(
            f"the model is FP16: converted to FP32 first ({count} weights), so the variant "
            "takes float32 inputs"
        )
    opset = default_opset(model)
    if purpose == "int8-static" and 0 < opset < QDQ_PER_CHANNEL_OPSET:
        from onnx import version_converter

        try:
            model = version_converter.convert_version(model, QDQ_PER_CHANNEL_OPSET)
            notes.append(
                f"opset {opset} has no per-channel DequantizeLinear: upgraded to opset "
                f"{QDQ_PER_CHANNEL_OPSET} with ONNX's version converter"
            )
        except Exception as exc:  # the converter's own limits: fall back to per-tensor
            notes.append(
                f"opset {opset} could not be upgraded ({type(exc).__name__}): "
                "quantized per tensor instead of per channel"
            )
    if not notes:
        return Prepared(src)
    return Prepared(_save(model, work, src), notes, fp16)


def needs_per_tensor(prepared: Prepared) -> bool:
    return any("quantized per tensor" in note for note in prepared.notes)


def _save(model: Any, work: Path, src: Path) -> Path:
    import onnx

    out = work / f"{src.stem}.prepared.onnx"
    onnx.save(model, str(out))
    return out
