"""ONNX inspection sees the whole model: Constant-node weights (paddle2onnx) and subgraphs."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from engines.models.inspect import inspect_onnx


def _weights_in_constant_nodes(path) -> None:
    weight = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "w")
    shape = numpy_helper.from_array(np.array([1, -1], np.int64), "shape")
    half = numpy_helper.from_array(np.array(0.5, np.float32), "half")
    graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["w"], value=weight),
            helper.make_node("Constant", [], ["shape"], value=shape),
            helper.make_node("Constant", [], ["half"], value=half),
            helper.make_node("Conv", ["x", "w"], ["y"]),
            helper.make_node("Mul", ["y", "half"], ["z"]),
            helper.make_node("Reshape", ["z", "shape"], ["out"]),
        ],
        "paddle-like",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, None])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)]), str(path))


def test_weights_held_by_constant_nodes_are_parameters(tmp_path) -> None:
    path = tmp_path / "paddle_like.onnx"
    _weights_in_constant_nodes(path)
    info = inspect_onnx(str(path))
    # The 8x3x3x3 kernel counts; the int64 shape and the one-value scalar do not.
    assert info["parameters"] == 8 * 3 * 3 * 3


def _branch(name: str, weight_value: float) -> onnx.GraphProto:
    weight = numpy_helper.from_array(np.full((4, 4), weight_value, np.float32), f"{name}_w")
    return helper.make_graph(
        [helper.make_node("MatMul", ["x", f"{name}_w"], [f"{name}_out"])],
        name,
        [],
        [helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, [1, 4])],
        initializer=[weight],
    )


def test_networks_inside_if_branches_are_counted_and_shown(tmp_path) -> None:
    graph = helper.make_graph(
        [
            helper.make_node(
                "If",
                ["cond"],
                ["out"],
                then_branch=_branch("then", 1.0),
                else_branch=_branch("else", 2.0),
            )
        ],
        "gated",
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])],
    )
    path = tmp_path / "gated.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    info = inspect_onnx(str(path))
    assert info["parameters"] == 2 * 16
    assert info["op_histogram"] == {"MatMul": 2, "If": 1}
    assert sorted(info["subgraphs"], key=lambda g: g["name"]) == [
        {"name": "else", "depth": 1, "nodes": 1},
        {"name": "then", "depth": 1, "nodes": 1},
    ]


def test_macs_name_what_they_do_not_count(tmp_path, capsys) -> None:
    """Matrix work inside subgraphs and in fused com.microsoft ops is listed, not a silent 0."""
    graph = helper.make_graph(
        [
            helper.make_node(
                "If",
                ["cond"],
                ["branch_out"],
                then_branch=_branch("then", 1.0),
                else_branch=_branch("else", 2.0),
            ),
            helper.make_node(
                "FusedMatMul", ["branch_out", "w"], ["out"], domain="com.microsoft", alpha=1.0
            ),
        ],
        "fused",
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])],
        initializer=[numpy_helper.from_array(np.ones((4, 4), np.float32), "w")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    path = tmp_path / "fused.onnx"
    onnx.save(model, str(path))
    macs = inspect_onnx(str(path))["macs"]
    assert macs["uncounted"] == {"MatMul (in a subgraph)": 2, "com.microsoft.FusedMatMul": 1}
    assert "com.microsoft.FusedMatMul" in macs["uncounted_ops"]
    # and the CLI's text says so next to the figure
    from app.cli import main

    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "not counted (the figure is a lower bound): MatMul (in a subgraph) x2, " in out
    assert "com.microsoft.FusedMatMul x1" in out


def test_a_scikit_learn_model_from_skl2onnx_counts_and_runs(tmp_path) -> None:
    """ai.onnx.ml keeps the model in attributes; ZipMap gives a list of maps, which the
    runtime hands on as a [samples, classes] array so parity and fidelity can compare it."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from engines.runtimes.base import RuntimeOptions
    from engines.runtimes.ort import OnnxRuntime

    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    estimator = LogisticRegression(max_iter=500).fit(x, y)
    path = tmp_path / "logreg.onnx"
    path.write_bytes(
        to_onnx(estimator, x[:1], target_opset={"": 17, "ai.onnx.ml": 3}).SerializeToString()
    )
    assert inspect_onnx(str(path))["parameters"] == 4 * 3 + 3  # coefficients + intercepts
    session = OnnxRuntime().open(str(path), "onnx", RuntimeOptions(threads=1))
    labels, probabilities = session.run({"X": x[:2]})
    assert list(labels) == list(estimator.predict(x[:2]))
    assert isinstance(probabilities, np.ndarray) and probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities, estimator.predict_proba(x[:2]), atol=1e-5)
