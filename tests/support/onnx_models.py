"""Small hand-built ONNX models (onnx.helper) for the cases torch cannot produce."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 18


def _save(model: onnx.ModelProto, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Serialise directly: onnx.save would try to manage external data itself.
    path.write_bytes(model.SerializeToString())
    return path


def external_data_model(path: Path, location: str, length: int = 16) -> Path:
    """Y = X + W, where the 4-float initializer W lives in external file `location`."""
    weight = TensorProto()
    weight.name = "W"
    weight.data_type = TensorProto.FLOAT
    weight.dims.extend([4])
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(length))):
        entry = weight.external_data.add()
        entry.key = key
        entry.value = value
    graph = helper.make_graph(
        [helper.make_node("Add", ["X", "W"], ["Y"])],
        "external",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [4])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return _save(model, path)


def write_weights(path: Path, values: list[float]) -> Path:
    path.write_bytes(np.asarray(values, dtype=np.float32).tobytes())
    return path


def relu_model(
    path: Path, dims: list[int | str], dtype: int = TensorProto.FLOAT, name: str = "tokens"
) -> Path:
    """Y = Relu(X) (or Identity for non-float types) with the given input dims."""
    op = "Relu" if dtype == TensorProto.FLOAT else "Identity"
    graph = helper.make_graph(
        [helper.make_node(op, [name], ["Y"])],
        "relu",
        [helper.make_tensor_value_info(name, dtype, dims)],
        [helper.make_tensor_value_info("Y", dtype, dims)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return _save(model, path)


def tokens_model(path: Path) -> Path:
    """ids, attention_mask ([batch, seq] int64) and a scalar `scale` -> ids * mask * scale."""
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["input_ids", "attention_mask"], ["masked"]),
            helper.make_node("Cast", ["masked"], ["as_float"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["as_float", "scale"], ["out"]),
        ],
        "tokens",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, []),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", "seq"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def embedding_model(path: Path) -> Path:
    """Two inputs: `ids` [batch, seq] int64 index a 5-row embedding; `x` [batch, seq, 8] is
    added; a MatMul to 4 features. Ids 5 and up are out of range for the table."""
    rng = np.random.default_rng(0)
    table = onnx.numpy_helper.from_array(rng.standard_normal((5, 8)).astype(np.float32), "table")
    weight = onnx.numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "ids"], ["embedded"], axis=0),
            helper.make_node("Add", ["embedded", "x"], ["summed"]),
            helper.make_node("MatMul", ["summed", "w"], ["out"]),
        ],
        "embedding",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", 8]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", "seq", 4])],
        initializer=[table, weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return _save(model, path)


def needs_value_model(path: Path) -> Path:
    """`x` [1, 8] plus range(width), times an 8x4 weight: it runs only when the scalar int64
    input `width` is 8 (or 1), as a model's `sr` must be 16000."""
    rng = np.random.default_rng(0)
    weight = onnx.numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "w")
    start = onnx.numpy_helper.from_array(np.array(0, np.int64), "start")
    step = onnx.numpy_helper.from_array(np.array(1, np.int64), "step")
    graph = helper.make_graph(
        [
            helper.make_node("Range", ["start", "width", "step"], ["positions"]),
            helper.make_node("Cast", ["positions"], ["offsets"], to=TensorProto.FLOAT),
            helper.make_node("Add", ["x", "offsets"], ["shifted"]),
            helper.make_node("MatMul", ["shifted", "w"], ["out"]),
        ],
        "needs-value",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8]),
            helper.make_tensor_value_info("width", TensorProto.INT64, []),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])],
        initializer=[weight, start, step],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return _save(model, path)
