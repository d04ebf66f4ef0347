"""Inspection of one model file: IO signature, parameters, MACs, size, op histogram.

Runs inside a worker process (native parsers can crash on bad files); returns plain JSON.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engines.floor.errors import BadInput
from engines.models import sniff as formats

_ONNX_DTYPES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    10: "float16",
    11: "float64",
    16: "bfloat16",
}


def _onnx_io(values: Any) -> list[dict[str, Any]]:
    out = []
    for v in values:
        tensor = v.type.tensor_type
        shape: list[int | str] = [
            d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in tensor.shape.dim
        ]
        out.append(
            {
                "name": v.name,
                "shape": shape,
                "dtype": _ONNX_DTYPES.get(tensor.elem_type, str(tensor.elem_type)),
            }
        )
    return out


def _external_locations(graph: Any, functions: Any = ()) -> set[str]:
    """Every external-data location a file can reference: initializers, sparse
    initializers (values and indices), tensor and sparse-tensor attributes, nested
    subgraphs, and the bodies of the model's local functions."""
    import onnx

    tensors = list(graph.initializer)
    for sparse in graph.sparse_initializer:
        tensors.extend([sparse.values, sparse.indices])
    locations: set[str] = set()
    nodes = list(graph.node) + [node for function in functions for node in function.node]
    for node in nodes:
        for attr in node.attribute:
            tensors.extend([attr.t] if attr.HasField("t") else [])
            tensors.extend(attr.tensors)
            for sparse in ([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []) + list(
                attr.sparse_tensors
            ):
                tensors.extend([sparse.values, sparse.indices])
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                locations |= _external_locations(sub)
    for tensor in tensors:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            locations |= {e.value for e in tensor.external_data if e.key == "location"}
    return locations


#: Initializer dtypes that hold learned values: floats and quantized integer weights.
#: int64 (and plain int32) constants are shapes, axes and indices, not parameters.
_ONNX_PARAM_DTYPES = {1, 2, 3, 4, 5, 10, 11, 16, 21, 22}
#: (op, input index) slots that hold quantization scales and zero points.
_QUANT_META_SLOTS = {
    ("QuantizeLinear", 1),
    ("QuantizeLinear", 2),
    ("DequantizeLinear", 1),
    ("DequantizeLinear", 2),
}


def onnx_graphs(graph: Any, depth: int = 0) -> list[tuple[Any, int]]:
    """The graph and every subgraph inside it (If branches, Loop and Scan bodies), with
    their nesting depth."""
    found = [(graph, depth)]
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == 5:  # GRAPH
                found += onnx_graphs(attribute.g, depth + 1)
            elif attribute.type == 10:  # GRAPHS
                for sub in attribute.graphs:
                    found += onnx_graphs(sub, depth + 1)
    return found


def constant_tensor(node: Any) -> Any:
    """The tensor a Constant node holds (its `value` attribute), or None."""
    if node.op_type != "Constant" or node.domain not in ("", "ai.onnx"):
        return None
    return next((a.t for a in node.attribute if a.name == "value" and a.type == 4), None)


def _onnx_parameters(graph: Any) -> int:
    """Learned values in the initializers and in Constant nodes, in the graph and its
    subgraphs: the same count torch reports for the module.

    Quantization scales and zero points are metadata, an int32 bias counts only when it
    feeds a DequantizeLinear (a quantized bias), and a one-value Constant is a scalar of
    the arithmetic, not a weight. ai.onnx.ml ops count their float attributes (a linear
    model's coefficients, a tree ensemble's thresholds and leaf weights).
    """
    graphs = [g for g, _ in onnx_graphs(graph)]
    uses: dict[str, set[tuple[str, int]]] = {}
    for g in graphs:
        for node in g.node:
            for index, name in enumerate(node.input):
                uses.setdefault(name, set()).add((node.op_type, index))
    tensors = [(init.name, init) for g in graphs for init in g.initializer]
    for g in graphs:
        for node in g.node:
            tensor = constant_tensor(node)
            if tensor is not None and node.output and math.prod(tensor.dims) > 1:
                tensors.append((node.output[0], tensor))
    total = 0
    for g in graphs:  # ai.onnx.ml (scikit-learn via skl2onnx) keeps its model in attributes
        for node in g.node:
            if node.domain == "ai.onnx.ml":
                total += sum(len(a.floats) for a in node.attribute if a.type == 6)
                total += sum(math.prod(a.t.dims) for a in node.attribute if a.type == 4)
    for name, tensor in tensors:
        slots = uses.get(name, set())
        if slots and slots <= _QUANT_META_SLOTS:
            continue
        quantized_bias = tensor.data_type == 6 and ("DequantizeLinear", 0) in slots
        if tensor.data_type in _ONNX_PARAM_DTYPES or quantized_bias:
            total += math.prod(tensor.dims)
    return total


def _tflite_is_parameter(tensor: dict[str, Any]) -> bool:
    """Floats and quantized tensors count; int32/int64 shape and permutation constants do not."""
    import numpy as np

    dtype = np.dtype(tensor["dtype"])
    scales = (tensor.get("quantization_parameters") or {}).get("scales")
    quantized = scales is not None and len(scales) > 0
    return dtype.kind == "f" or (dtype.kind in "iu" and (dtype.itemsize == 1 or quantized))


#: Ops an index input may pass through on its way to an embedding's Gather.
_INDEX_PASS_THROUGH = {"Cast", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity"}


def onnx_id_limits(graph: Any) -> dict[str, int]:
    """Integer inputs that index a table (an embedding's Gather on axis 0): the table's
    row count, the bound every id must stay below (BERT's token_type_ids: 2)."""
    tables = {init.name: list(init.dims) for init in graph.initializer}
    for node in graph.node:  # in graph order, so a table passed on stays a table
        tensor = constant_tensor(node)
        if tensor is not None and node.output:
            tables[node.output[0]] = list(tensor.dims)
        elif (
            node.op_type in ("DequantizeLinear", "Cast", "Identity")  # a QDQ or cast table
            and node.output
            and node.input
            and node.input[0] in tables
        ):
            tables[node.output[0]] = tables[node.input[0]]
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    limits: dict[str, int] = {}
    for value in graph.input:
        if value.name in tables or value.type.tensor_type.elem_type not in (6, 7, 12, 13):
            continue  # int32, int64, uint32, uint64 only
        frontier, seen = [value.name], set()
        while frontier:
            current = frontier.pop()
            seen.add(current)
            for node in consumers.get(current, []):
                axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
                if node.op_type == "Gather" and node.input[1:2] == [current] and axis == 0:
                    rows = (tables.get(node.input[0]) or [0])[0]
                    if rows > 0:
                        limits[value.name] = min(rows, limits.get(value.name, rows))
                elif node.op_type in _INDEX_PASS_THROUGH and node.input[:1] == [current]:
                    frontier += [out for out in node.output if out not in seen]
    return limits


def inspect_onnx(path: str) -> dict[str, Any]:
    import onnx

    from engines.models.macs import count_onnx_macs

    model = onnx.load(path, load_external_data=False)
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    external = sorted(_external_locations(graph, model.functions))
    # Before anything below could open one: every location is a plain file in the
    # model's own folder (lstat first: a symbolic or hard link is refused unopened).
    from engines.models.artifacts import check_external_data

    check_external_data(Path(path), external)
    inputs = _onnx_io([i for i in graph.input if i.name not in initializers])
    limits = onnx_id_limits(graph)
    for entry in inputs:
        if entry["name"] in limits:
            entry["id_limit"] = limits[entry["name"]]
    return {
        "inputs": inputs,
        "outputs": _onnx_io(graph.output),
        "parameters": _onnx_parameters(graph),
        "macs": count_onnx_macs(model),
        "op_histogram": dict(
            Counter(n.op_type for g, _ in onnx_graphs(graph) for n in g.node).most_common()
        ),
        "subgraphs": _subgraph_summary(graph),
        "opset": {o.domain or "ai.onnx": o.version for o in model.opset_import},
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "external_data": external,
    }


def _subgraph_summary(graph: Any) -> list[dict[str, Any]]:
    """Each subgraph (name, depth, node count): shown so nested networks are not hidden."""
    return [
        {"name": g.name or f"subgraph {k}", "depth": depth, "nodes": len(g.node)}
        for k, (g, depth) in enumerate(onnx_graphs(graph))
        if depth > 0
    ]


def inspect_tflite(path: str) -> dict[str, Any]:
    from engines.models.macs import count_tflite_macs
    from engines.runtimes.litert import _info, _interpreter_class

    interpreter_class, _ = _interpreter_class()
    try:
        it = interpreter_class(model_content=Path(path).read_bytes())
    except (RuntimeError, ValueError) as exc:
        # LiteRT refuses it (TFLite Micro only, unknown ops, a newer schema): read the file.
        return inspect_tflite_flatbuffer(path, refused=str(exc).strip().splitlines()[0][:300])
    ops = it._get_ops_details()
    tensors = {int(t["index"]): t for t in it.get_tensor_details()}
    produced = {int(o) for op in ops for o in op["outputs"]}
    graph_inputs = {int(d["index"]) for d in it.get_input_details()}
    consumed = {int(i) for op in ops for i in op["inputs"] if int(i) >= 0}
    constants = consumed - produced - graph_inputs
    return {
        "inputs": [_info(d).to_dict() for d in it.get_input_details()],
        "outputs": [_info(d).to_dict() for d in it.get_output_details()],
        "parameters": int(
            sum(
                math.prod(tensors[i]["shape"])
                for i in constants
                if i in tensors and _tflite_is_parameter(tensors[i])
            )
        ),
        "macs": count_tflite_macs(ops, tensors),
        "op_histogram": dict(Counter(op["op_name"] for op in ops).most_common()),
    }


def inspect_tflite_flatbuffer(path: str, refused: str = "") -> dict[str, Any]:
    """Signature, parameters and ops read from the .tflite flatbuffer itself, with no
    interpreter (for files LiteRT rejects); MACs are not counted this way."""
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.ModelT.InitFromPackedBuf(Path(path).read_bytes(), 0)
    except Exception as exc:  # a damaged flatbuffer raises anything from struct to Index
        raise BadInput(f"{Path(path).name} is not a readable TFLite flatbuffer ({exc})") from None
    if not model.subgraphs:
        raise BadInput(f"{Path(path).name} has no subgraph")
    types = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    builtins = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    graph = model.subgraphs[0]

    def name(raw: Any) -> str:
        return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")

    def io(index: int) -> dict[str, Any]:
        tensor = graph.tensors[index]
        shape = list(tensor.shapeSignature if tensor.shapeSignature is not None else tensor.shape)
        return {
            "name": name(tensor.name),
            "shape": [int(d) if d >= 0 else "?" for d in shape],
            "dtype": types.get(tensor.type, str(tensor.type)).replace("float32", "float32"),
        }

    def op_name(code: Any) -> str:
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if builtins.get(builtin) == "CUSTOM":
            return f"custom: {name(code.customCode)}"
        return str(builtins.get(builtin, f"op {builtin}"))

    ops = Counter(op_name(model.operatorCodes[op.opcodeIndex]) for op in graph.operators or [])
    parameters = 0
    for tensor in graph.tensors or []:
        buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
        holds_data = buffer is not None and (
            (buffer.data is not None and len(buffer.data) > 0) or (buffer.size or 0) > 0
        )
        dtype = types.get(tensor.type, "")
        if holds_data and (dtype.startswith("float") or dtype in ("int8", "uint8", "int4")):
            parameters += math.prod(int(d) for d in tensor.shape) if tensor.shape is not None else 0
    note = "read from the flatbuffer (no interpreter); MACs not counted"
    if refused:
        note += f"; LiteRT refused to open it: {refused}"
    return {
        "inputs": [io(i) for i in graph.inputs],
        "outputs": [io(i) for i in graph.outputs],
        "parameters": int(parameters),
        "macs": None,
        "op_histogram": dict(ops.most_common()),
        "note": note,
    }


def _torch_macs(module: Any, example: list[Any]) -> dict[str, Any]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        module(*example)
    flops = counter.get_total_flops()
    by_op: dict[str, int] = {}
    for op, count in counter.get_flop_counts().get("Global", {}).items():
        name = str(op).split(".")[-1]
        by_op[name] = by_op.get(name, 0) + int(count) // 2
    from engines.models.macs import UNIT

    return {
        "macs": flops // 2,
        "macs_by_op": by_op,
        "unit": UNIT,
        "method": "torch.utils.flop_counter on one forward pass (FLOPs / 2)",
    }


def inspect_torch(path: str, fmt: str) -> dict[str, Any]:
    import torch

    if fmt == formats.STATE_DICT:
        state = torch.load(path, map_location="cpu", weights_only=True)
        tensors = _tensors_in(state)
        return {
            "inputs": [],
            "outputs": [],
            "parameters": sum(t.numel() for t in tensors),
            "macs": None,
            "op_histogram": {},
            "note": "weights only: a state_dict has no architecture or inputs",
        }
    if fmt == formats.EXPORTED_PROGRAM:
        from engines.runtimes.torch_runtime import _exported_inputs

        program = torch.export.load(path)
        inputs = [i.to_dict() for i in _exported_inputs(program)]
        module = program.module()
        histogram = Counter(
            str(n.target).replace("aten.", "").split(".")[0]
            for n in program.graph.nodes
            if n.op == "call_function"
        )
        params = sum(v.numel() for v in program.state_dict.values())
    elif fmt == formats.ZOO:
        from engines.runtimes.zoo import build_module, read_descriptor

        desc = read_descriptor(path)
        module = build_module(desc)
        inputs = [{"name": desc["input_name"], "shape": desc["input_shape"], "dtype": "float32"}]
        histogram = Counter(type(m).__name__ for m in module.modules() if not list(m.children()))
        params = sum(p.numel() for p in module.parameters())
    else:
        raise BadInput(f"inspection of {fmt} files needs a declared input shape")
    example = [torch.zeros([d if isinstance(d, int) else 1 for d in i["shape"]]) for i in inputs]
    with torch.inference_mode():
        outs = module(*example)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    return {
        "inputs": inputs,
        "outputs": [
            {
                "name": f"output_{k}",
                "shape": list(o.shape),
                "dtype": str(o.dtype).replace("torch.", ""),
            }
            for k, o in enumerate(outs)
        ],
        "parameters": int(params),
        "macs": _torch_macs(module, example),
        "op_histogram": dict(histogram.most_common()),
    }


def _tensors_in(obj: Any) -> list[Any]:
    import torch

    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _tensors_in(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _tensors_in(v)]
    return []


def inspect_torchscript(path: str) -> dict[str, Any]:
    """The forward schema, parameters, aten op histogram and any state forward keeps."""
    import torch

    from engines.runtimes.torch_runtime import (
        torchscript_inputs,
        torchscript_schema,
        torchscript_state,
    )

    module = torch.jit.load(path, map_location="cpu")
    histogram = Counter(
        node.kind().split("::")[-1]
        for node in module.inlined_graph.nodes()
        if node.kind().startswith("aten::")
    )
    info = {
        "inputs": [i.to_dict() for i in torchscript_inputs(module, [])],
        "outputs": [],
        "macs": None,
        "parameters": sum(p.numel() for p in module.parameters()),
        "op_histogram": dict(histogram.most_common()),
        "forward_schema": torchscript_schema(module),
        "note": "TorchScript records no tensor shapes: give them with --input-shape "
        "(and values for int arguments with --input NAME=VALUE)",
    }
    state = torchscript_state(module)
    if state:
        info["keeps_state"] = state
        info["note"] += (
            f"; forward changes {', '.join(state)} on every call, so each timed run "
            "starts from a different state"
        )
    return info


def _parsed(path: str, fmt: str, inspect: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """`inspect(path)`, with a parser's failure on a damaged file said as bad input."""
    label = {
        formats.ONNX: "ONNX",
        formats.TFLITE: "TFLite",
        formats.TORCHSCRIPT: "TorchScript",
        formats.STATE_DICT: "PyTorch state_dict",
        formats.EXPORTED_PROGRAM: "PyTorch ExportedProgram (.pt2)",
    }[fmt]
    try:
        return inspect(path)
    except (BadInput, MemoryError):
        raise
    except Exception as exc:  # protobuf DecodeError, PytorchStreamReader, IndexError, ...
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        raise BadInput(
            f"{Path(path).name} is not a readable {label} model: the parser stopped "
            f"({type(exc).__name__}{': ' + reason if reason else ''})",
            "the file is damaged or truncated, or not a model of this format: export or "
            "download it again",
        ) from None


def inspect_file(payload: dict[str, Any], progress: Callable[..., None]) -> dict[str, Any]:
    """Worker task: payload {"path", "format"}."""
    path, fmt = payload["path"], payload["format"]
    progress(f"inspecting {Path(path).name}")
    if fmt in (formats.ONNX, formats.TFLITE):
        info = _parsed(path, fmt, inspect_onnx if fmt == formats.ONNX else inspect_tflite)
    elif fmt in (formats.STATE_DICT, formats.EXPORTED_PROGRAM):
        info = _parsed(path, fmt, lambda p: inspect_torch(p, fmt))
    elif fmt == formats.ZOO:
        info = inspect_torch(path, fmt)
    elif fmt == formats.TORCHSCRIPT:
        info = _parsed(path, fmt, inspect_torchscript)
    else:
        raise BadInput(f"cannot inspect {fmt} files")
    return {"format": fmt, "file_bytes": os.path.getsize(path), **info}
