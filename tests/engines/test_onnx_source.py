"""Real-world ONNX files through INT8 and FP16: old opsets, IR 3, FP16 models, Constant weights.

The files are built the way other exporters write them (an opset-9 CNN, an IR-3 opset-7
file that lists its initializers as inputs, an FP16 model with float16 inputs, weights in
Constant nodes); each step must give a variant that opens in ONNX Runtime and matches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from engines.compress.onnx_source import is_fp16_model
from engines.compress.quantize_onnx import (
    convert_fp16_onnx,
    quantize_dynamic_onnx,
    quantize_static_onnx,
)
from engines.floor.errors import BadInput

RNG = np.random.default_rng(0)
W1 = RNG.standard_normal((8, 1, 3, 3)).astype(np.float32)
W2 = (RNG.standard_normal((10, 8 * 6 * 6)) * 0.1).astype(np.float32)


def cnn(opset: int, ir: int, *, constants: bool = False, fp16: bool = False) -> onnx.ModelProto:
    """Conv -> Relu -> Reshape -> Gemm on 1x1x8x8, in the style of an old exporter."""
    dtype = np.float16 if fp16 else np.float32
    elem = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    tensors = {
        "w1": W1.astype(dtype),
        "b1": np.zeros(8, dtype),
        "w2": W2.astype(dtype),
        "b2": np.zeros(10, dtype),
        "shape": np.array([1, -1], np.int64),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c"]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["f"]),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], transB=1),
    ]
    inits = [numpy_helper.from_array(v, k) for k, v in tensors.items()]
    if constants:  # paddle2onnx style: every weight is a Constant node
        nodes = [helper.make_node("Constant", [], [t.name], value=t) for t in inits] + nodes
        inits = []
    inputs = [helper.make_tensor_value_info("x", elem, [1, 1, 8, 8])]
    if ir < 4:
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in inits]
    graph = helper.make_graph(
        nodes, "cnn", inputs, [helper.make_tensor_value_info("y", elem, [1, 10])], inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir
    onnx.checker.check_model(model)
    return model


def _save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    info = session.get_inputs()[0]
    feed = x.astype(np.float16 if info.type == "tensor(float16)" else np.float32)
    return session.run(None, {info.name: feed})[0].astype(np.float32)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel(), b.ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


CALIBRATION = {"x": RNG.random((16, 1, 1, 8, 8), dtype=np.float32).reshape(16, 1, 8, 8)}
CHECK = RNG.random((1, 1, 8, 8), dtype=np.float32)


@pytest.mark.parametrize(("opset", "ir"), [(9, 4), (7, 3)])
def test_static_int8_of_an_old_opset_upgrades_it_and_keeps_per_channel(
    tmp_path: Path, opset: int, ir: int
) -> None:
    src = _save(cnn(opset, ir), tmp_path / "old.onnx")
    dst = tmp_path / "int8.onnx"
    report = quantize_static_onnx(src, dst, CALIBRATION)
    assert report["per_channel"] is True
    assert any(f"opset {opset} has no per-channel" in note for note in report["notes"])
    written = onnx.load(str(dst))
    assert next(o.version for o in written.opset_import if o.domain in ("", "ai.onnx")) == 13
    assert _cosine(_run(src, CHECK), _run(dst, CHECK)) > 0.99


def test_fp16_of_an_ir3_file_really_halves_the_weights(tmp_path: Path) -> None:
    src = _save(cnn(7, 3), tmp_path / "ir3.onnx")
    dst = tmp_path / "fp16.onnx"
    report = convert_fp16_onnx(src, dst)
    assert report["size_ratio"] > 1.8, report["size_ratio"]
    assert report["initializer_dtypes"].get("float16", 0) >= 4
    assert any("IR 3 file" in note for note in report["notes"])
    assert _cosine(_run(src, CHECK), _run(dst, CHECK)) > 0.999


def test_an_fp16_model_is_made_fp32_before_int8_and_refused_by_fp16(tmp_path: Path) -> None:
    src = _save(cnn(13, 8, fp16=True), tmp_path / "half.onnx")
    assert is_fp16_model(onnx.load(str(src)))
    for name, run in (
        ("static", lambda d: quantize_static_onnx(src, d, CALIBRATION)),
        ("dynamic", lambda d: quantize_dynamic_onnx(src, d)),
    ):
        dst = tmp_path / f"{name}.onnx"
        report = run(dst)
        assert any("the model is FP16: converted to FP32 first" in n for n in report["notes"])
        session = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
        assert session.get_inputs()[0].type == "tensor(float)"
        assert _cosine(_run(src, CHECK), _run(dst, CHECK)) > 0.99, name
    with pytest.raises(BadInput, match="already computes in float16"):
        convert_fp16_onnx(src, tmp_path / "again.onnx")


def test_weights_in_constant_nodes_are_quantized(tmp_path: Path) -> None:
    src = _save(cnn(13, 8, constants=True), tmp_path / "constants.onnx")
    dst = tmp_path / "dynamic.onnx"
    report = quantize_dynamic_onnx(src, dst)
    assert report["graph"]["quantized_total"] >= 1
    assert any("weights held in Constant nodes" in note for note in report["notes"])
    assert _cosine(_run(src, CHECK), _run(dst, CHECK)) > 0.99


def test_dynamic_int8_of_a_model_with_fused_contrib_ops(tmp_path: Path) -> None:
    """A MatMul fed by com.microsoft.SkipLayerNormalization (as ORT's transformer optimizer
    writes it): ONNX shape inference knows no type for its output, the quantizer must
    still quantize the MatMul."""
    hidden = 16
    tensors = {
        "gamma": np.ones(hidden, np.float32),
        "beta": np.zeros(hidden, np.float32),
        "w": (RNG.standard_normal((hidden, hidden)) * 0.1).astype(np.float32),
    }
    graph = helper.make_graph(
        [
            helper.make_node(
                "SkipLayerNormalization",
                ["x", "skip", "gamma", "beta"],
                ["normed"],
                domain="com.microsoft",
                epsilon=1e-5,
            ),
            helper.make_node("MatMul", ["normed", "w"], ["h"]),
            # activation x activation, as in attention scores: the quantizer needs h's
            # type, which shape inference cannot give after the contrib op
            helper.make_node("Transpose", ["h"], ["h_t"], perm=[0, 2, 1]),
            helper.make_node("MatMul", ["h", "h_t"], ["y"]),
        ],
        "fused",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, hidden]),
            helper.make_tensor_value_info("skip", TensorProto.FLOAT, [1, 4, hidden]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4])],
        [numpy_helper.from_array(v, k) for k, v in tensors.items()],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    model.ir_version = 8
    src = _save(model, tmp_path / "fused.onnx")
    dst = tmp_path / "dynamic.onnx"
    report = quantize_dynamic_onnx(src, dst)
    assert report["graph"]["quantized_total"] >= 1
    x = RNG.standard_normal((1, 4, hidden)).astype(np.float32)
    feeds = {"x": x, "skip": x[:, ::-1].copy()}

    def run(path: Path) -> np.ndarray:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, feeds)[0]

    assert _cosine(run(src), run(dst)) > 0.99


def test_a_shared_weight_read_through_identity_is_quantized(tmp_path: Path) -> None:
    """torch.onnx writes Identity(weight) for a weight used twice; the quantizer must see
    the initializer behind it."""
    model = cnn(13, 8)
    graph = model.graph
    for node in graph.node:
        if node.op_type == "Conv":
            node.input[1] = "w1_shared"
    graph.node.insert(0, helper.make_node("Identity", ["w1"], ["w1_shared"]))
    src = _save(model, tmp_path / "shared.onnx")
    dst = tmp_path / "dynamic.onnx"
    report = quantize_dynamic_onnx(src, dst)
    assert any("1 shared weights read through Identity" in note for note in report["notes"])
    assert _cosine(_run(src, CHECK), _run(dst, CHECK)) > 0.99
