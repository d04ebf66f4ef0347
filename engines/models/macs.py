"""MACs from an ONNX graph's static shapes: conv/matmul/gemm apart from element-wise work.

Unit: 1 MAC = one multiply-accumulate = 2 FLOPs. Symbolic dims count as 1 (one sample).
"""

from __future__ import annotations

import math
from typing import Any

UNIT = "MACs (multiply-accumulate; 1 MAC = 2 FLOPs)"
#: The ops whose multiply-accumulates this counter models.
MATRIX_OPS = frozenset(
    {
        "Conv",
        "ConvTranspose",
        "MatMul",
        "Gemm",
        "ConvInteger",
        "QLinearConv",
        "MatMulInteger",
        "QLinearMatMul",
    }
)


def _shapes(model: Any) -> dict[str, list[int]]:
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    shapes: dict[str, list[int]] = {}
    for value in [*graph.input, *graph.output, *graph.value_info]:
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = [d.dim_value if d.HasField("dim_value") else 1 for d in dims]
    for init in graph.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def count_onnx_macs(model: Any) -> dict[str, Any]:
    shapes = _shapes(model)
    by_op: dict[str, int] = {}
    elementwise = 0
    unknown: set[str] = set()
    for node in model.graph.node:
        out = shapes.get(node.output[0]) if node.output else None
        ins = [shapes.get(name) for name in node.input]
        macs = 0
        if node.op_type in ("Conv", "ConvInteger", "QLinearConv"):
            weight = ins[3] if node.op_type == "QLinearConv" else ins[1]
            if out and weight:
                macs = math.prod(out) * math.prod(weight[1:])
        elif node.op_type == "ConvTranspose":
            if ins[0] and ins[1]:
                macs = math.prod(ins[0]) * math.prod(ins[1][1:])
        elif node.op_type in ("MatMul", "MatMulInteger", "QLinearMatMul"):
            a = ins[0]
            if out and a:
                macs = math.prod(out) * a[-1]
        elif node.op_type == "Gemm":
            a = ins[0]
            trans_a = next((att.i for att in node.attribute if att.name == "transA"), 0)
            if out and a:
                macs = math.prod(out) * (a[0] if trans_a else a[-1])
        elif out:
            elementwise += math.prod(out)
        if node.op_type in MATRIX_OPS:
            if macs == 0:
                unknown.add(node.op_type)
            by_op[node.op_type] = by_op.get(node.op_type, 0) + macs
    heavy = _uncounted_compute(model.graph)
    return {
        "macs": sum(by_op.values()),
        "macs_by_op": by_op,
        "elementwise_ops": elementwise,
        "unit": UNIT,
        "method": "ONNX static shapes after shape inference; symbolic dims counted as 1",
        "uncounted_ops": sorted(unknown | set(heavy)),
        "uncounted": heavy,
    }


#: Ops that do matrix work this counter does not model.
HEAVY_OPS = {"LSTM", "GRU", "RNN", "Attention", "MultiHeadAttention", "Einsum", "ConvTranspose3D"}


def _uncounted_compute(graph: Any) -> dict[str, int]:
    """Nodes whose multiply-accumulates are not in the count, by op type (with their
    count): recurrent and attention ops, Einsum, com.microsoft fused ops, and every
    matrix op inside If/Loop/Scan subgraphs."""
    from engines.models.inspect import onnx_graphs

    found: dict[str, int] = {}
    for sub, depth in onnx_graphs(graph):
        for node in sub.node:
            label = ""
            if node.domain == "com.microsoft":
                label = f"com.microsoft.{node.op_type}"
            elif node.op_type in HEAVY_OPS:
                label = node.op_type
            elif depth > 0 and node.op_type in MATRIX_OPS:
                label = f"{node.op_type} (in a subgraph)"
            if label:
                found[label] = found.get(label, 0) + 1
    return found


def count_tflite_macs(
    ops: list[dict[str, Any]], tensors: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    """MACs from LiteRT op details: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, BATCH_MATMUL."""
    by_op: dict[str, int] = {}

    def shape(index: int) -> list[int]:
        return [max(int(d), 1) for d in tensors[index]["shape"]] if index in tensors else []

    for op in ops:
        name = op["op_name"]
        inputs = [int(i) for i in op["inputs"] if int(i) >= 0]
        outputs = [int(i) for i in op["outputs"]]
        out = shape(outputs[0]) if outputs else []
        macs = 0
        if name == "CONV_2D" and len(inputs) > 1:
            macs = math.prod(out) * math.prod(shape(inputs[1])[1:])  # filter [O, H, W, I]
        elif name == "DEPTHWISE_CONV_2D" and len(inputs) > 1:
            w = shape(inputs[1])  # [1, H, W, O]
            macs = math.prod(out) * w[1] * w[2] if len(w) == 4 else 0
        elif name == "FULLY_CONNECTED" and len(inputs) > 1:
            macs = math.prod(out) * shape(inputs[1])[-1]
        elif name == "BATCH_MATMUL":
            macs = math.prod(out) * shape(inputs[0])[-1]
        else:
            continue
        by_op[name] = by_op.get(name, 0) + macs
    return {
        "macs": sum(by_op.values()),
        "macs_by_op": by_op,
        "unit": UNIT,
        "method": "LiteRT op details and tensor shapes",
    }
