"""`edgebench compress | export | evaluate | variants | sweep | presets` end to end."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from engines.floor.errors import EXIT_BAD_INPUT, EXIT_OK
from engines.store.db import Store

FAST = ["--runs", "20", "--min-seconds", "0.1", "--threads", "1"]


def test_presets_lists_every_preset_with_its_steps(capsys):
    assert main(["presets"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "prune-structured-30+distill+int8" in out
    assert "Channel pruning (torch-pruning) → Knowledge distillation" in out or "→" in out


def test_export_with_a_missing_calibration_file_is_bad_input(tiny_models, capsys, tmp_path):
    code = main(
        [
            "export",
            str(tiny_models.pt2),
            "--to",
            "onnx",
            "--int8",
            "--trust-code",
            "--calib",
            str(tmp_path / "nowhere.npz"),
        ]
    )
    assert code == EXIT_BAD_INPUT
    assert "nowhere.npz" in capsys.readouterr().err


def test_compress_an_onnx_model_with_a_torch_step_is_bad_input(tiny_models, capsys):
    code = main(["compress", str(tiny_models.onnx), "--preset", "prune-50"])
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "prune-magnitude" in err and "onnx" in err


@pytest.mark.slow
def test_export_writes_the_file_and_variants_shows_the_tree(tiny_models, capsys, tmp_path):
    out = tmp_path / "exported.onnx"
    code = main(
        [
            "export",
            str(tiny_models.pt2),
            "--to",
            "onnx",
            "--trust-code",
            "--opset",
            "17",
            "--out",
            str(out),
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    payload = json.loads(captured.out)
    assert out.is_file() and payload["path"] == str(out)
    assert payload["reports"][0]["report"]["parity"]["passed"] is True
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert main(["variants", str(tiny_models.pt2), "--trust-code"]) == EXIT_OK
    tree = capsys.readouterr().out
    assert "export-onnx-fp32-opset17" in tree
    # a static .pt2 cannot grow a dynamic batch: said plainly, exit 2
    code = main(["export", str(tiny_models.pt2), "--to", "onnx", "--trust-code", "--dynamic-batch"])
    assert code == EXIT_BAD_INPUT
    assert "dynamic batch" in capsys.readouterr().err


@pytest.mark.slow
def test_sweep_on_the_demo_prints_the_table_and_stores_runs(capsys, edgebench_home):
    code = main(
        [
            "sweep",
            "demo:digits-cnn",
            "--presets",
            "int8-static",
            "--runtimes",
            "onnxruntime,litert",
            *FAST,
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    rows = json.loads(captured.out)
    assert [(r["variant"], r["runtime"]) for r in rows] == [
        ("fp32", "onnxruntime"),
        ("int8-static", "onnxruntime"),
        ("fp32", "litert"),
        ("int8-static", "litert"),
    ]
    with Store(edgebench_home / "results.sqlite") as store:
        for row in rows:
            assert row["accuracy_kind"] == "top1"
            run = store.run(row["run_id"])
            evaluation = run.result["evaluation"]
            # the table shows what the store holds
            assert evaluation["classification"]["top1"] == row["accuracy"]
            assert run.statistics["p50_ms"] == row["p50_ms"]
            assert evaluation["count"] == 450
        fp32, int8 = rows[0], rows[1]
        assert int8["speedup"] == pytest.approx(fp32["p50_ms"] / int8["p50_ms"])
        assert int8["size_ratio"] > 2.5
        assert abs(int8["accuracy_delta"]) <= 0.01
        assert rows[3]["cosine_mean"] > 0.99
    assert (
        main(
            [
                "sweep",
                "demo:digits-cnn",
                "--presets",
                "int8-static",
                "--runtimes",
                "onnxruntime",
                *FAST,
            ]
        )
        == EXIT_OK
    )
    table = capsys.readouterr().out
    assert "speed-up" in table and "top-1" in table and "1.00x (baseline)" in table


def test_a_multi_input_model_is_calibrated_on_every_input(tmp_path, capsys):
    """Static INT8 of a two-input model: synthetic feeds follow the profile's rules (ids
    below the 5-row table they index); an .npz keyed by input name (samples on axis 0,
    the batch axis) is used as given."""
    import numpy as np
    from support.onnx_models import embedding_model

    model = embedding_model(tmp_path / "embedding.onnx")
    assert main(["inspect", str(model), "--json"]) == EXIT_OK
    inputs = {i["name"]: i for i in json.loads(capsys.readouterr().out)["inputs"]}
    assert inputs["ids"]["id_limit"] == 5 and "id_limit" not in inputs["x"]

    base = ["compress", str(model), "--preset", "int8-static", "--dim", "seq=3", "--json"]
    assert main([*base, "--calib", "synthetic:8"]) == EXIT_OK, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)["reports"][-1]["report"]
    assert report["calibration_samples"] == 8
    assert report["parity"]["passed"]

    rng = np.random.default_rng(1)
    data = tmp_path / "calib.npz"
    x = rng.standard_normal((6, 3, 8)).astype("float32")
    np.savez(data, ids=rng.integers(0, 5, (6, 3)), x=x)
    assert main([*base, "--calib", str(data)]) == EXIT_OK, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)["reports"][-1]["report"]
    assert report["calibration_samples"] == 6

    np.savez(data, ids=rng.integers(0, 5, (6, 3)))
    assert main([*base, "--calib", str(data)]) == EXIT_BAD_INPUT
    assert "no array for input(s) x" in capsys.readouterr().err


def test_a_multi_input_model_is_evaluated_on_every_input(tmp_path, capsys):
    """Fidelity of a two-input model and of its INT8 variant against the FP32 source, on
    synthetic feeds and on an .npz keyed by input name."""
    import numpy as np
    from support.onnx_models import embedding_model

    model = embedding_model(tmp_path / "embedding.onnx")
    base = ["evaluate", str(model), "--dim", "seq=3", "--json"]
    assert main([*base, "--data", "synthetic:6"]) == EXIT_OK, capsys.readouterr().err
    fidelity = json.loads(capsys.readouterr().out)["evaluation"]["fidelity"]
    assert fidelity["count"] == 6 and fidelity["cosine_mean"] > 0.99999

    rng = np.random.default_rng(2)
    data = tmp_path / "eval.npz"
    x = rng.standard_normal((5, 3, 8)).astype("float32")
    np.savez(data, ids=rng.integers(0, 5, (5, 3)), x=x)
    compress = ["compress", str(model), "--preset", "int8-static", "--dim", "seq=3"]
    assert main([*compress, "--calib", str(data), "--json"]) == EXIT_OK
    variant = json.loads(capsys.readouterr().out)["artifact_id"]
    evaluate = ["evaluate", f"artifact:{variant}", "--dim", "seq=3", "--data", str(data)]
    assert main([*evaluate, "--json"]) == EXIT_OK
    fidelity = json.loads(capsys.readouterr().out)["evaluation"]["fidelity"]
    assert fidelity["count"] == 5
    assert 0.9 < fidelity["cosine_mean"] < 1.0


def test_sweep_says_in_text_when_a_variant_is_slower_or_a_step_warns():
    from app.cli_compress import sweep_warnings

    note = "INT8 did not take: no Conv/MatMul/Gemm runs quantized after onnxruntime's fusion"
    rows = [
        {"variant": "fp32", "runtime": "onnxruntime", "device": "local-cpu"},
        {
            "variant": "int8-static",
            "runtime": "onnxruntime",
            "device": "pi",
            "speedup": 0.9,
            "reports": [{"report": {"notes": [note]}}, {"report": {"notes": [note]}}],
        },
        {"variant": "fp16", "runtime": "onnxruntime", "device": "pi", "speedup": 1.4},
    ]
    assert sweep_warnings(rows) == [
        "int8-static on onnxruntime, pi is slower than FP32 (0.90x)",
        f"int8-static on onnxruntime, pi: {note}",
    ]


def test_compress_feeds_the_values_a_model_needs(tmp_path, capsys):
    """Parity and synthetic calibration use --input values: this model runs only with
    width=8, so without the flag the check fails inside the runtime."""
    from support.onnx_models import needs_value_model

    model = needs_value_model(tmp_path / "needs-value.onnx")
    base = ["compress", str(model), "--preset", "int8-dynamic", "--json"]
    assert main(base) != EXIT_OK
    capsys.readouterr()
    assert main([*base, "--input", "width=8"]) == EXIT_OK, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)["reports"][-1]["report"]
    assert report["parity"]["passed"]
    static = ["compress", str(model), "--preset", "int8-static", "--calib", "synthetic:4"]
    assert main([*static, "--input", "width=8", "--json"]) == EXIT_OK, capsys.readouterr().err


def test_a_variant_that_does_not_match_says_what_it_was_checked_on(tmp_path, capsys):
    """x * 6e4 * 10 / 6e5 overflows float16: the FP16 variant fails parity, and the error
    says on what it was checked and what to do, with exit 3."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    constants = [
        numpy_helper.from_array(np.array(v, np.float32), n)
        for n, v in (("big", 6e4), ("ten", 10.0), ("back", 6e5))
    ]
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["x", "big"], ["a"]),
            helper.make_node("Mul", ["a", "ten"], ["b"]),
            helper.make_node("Div", ["b", "back"], ["y"]),
        ],
        "overflow",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        constants,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "overflow.onnx"
    onnx.save(model, str(path))
    assert main(["compress", str(path), "--preset", "fp16"]) == 3
    err = capsys.readouterr().err
    assert "exported model does not match its source" in err
    assert "checked on 4 seeded synthetic inputs (N(0,1) floats); the variant is not kept." in err
    assert "float16 overflows" in err
