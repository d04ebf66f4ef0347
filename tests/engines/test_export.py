"""Exports torch -> ONNX / TFLite with parity checks: the parity judge, the exporters, the task.

The exports run once per module in a child process (torch.onnx, torch.export and
litert_torch pull in heavy native libraries and threads we keep out of pytest): a small
conv net with enough weights for the INT8 size ratio to show, exported to ONNX (static and
dynamic batch) and to TFLite (fp32, fp16, dynamic-int8, int8), plus a model torch.export
cannot trace. The test process opens the results with the project's runtime adapters and
checks the numbers itself.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engines.export.onnx_export import ExportFailed, describe_export_error
from engines.export.parity import (
    TOLERANCES,
    ShapeMismatch,
    ToleranceExceeded,
    check_parity,
    check_parity_samples,
    tolerance_for,
)
from engines.export.tflite_export import classify_op
from engines.floor.atomic import write_atomically
from engines.floor.errors import BadInput, RunFailed

ROOT = Path(__file__).resolve().parents[2]

BUILD_SCRIPT = r"""
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engines.floor.errors import BadInput
from engines.export.onnx_export import ExportFailed, export_onnx
from engines.export.tflite_export import export_tflite


class ConvNet(nn.Module):
    # ~94k weights (376 kB in float32), so int8 storage dominates the file size; two
    # chained residual adds, which full INT8 must quantize too (without the source tags
    # tflite_export adds, PT2E leaves both float between QUANTIZE/DEQUANTIZE pairs).
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1, stride=2), nn.ReLU(),
        )
        self.block1 = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.ReLU())
        self.block2 = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        f = self.features(x)
        f = f + self.block1(f)
        f = f + self.block2(f)
        return self.fc(torch.flatten(self.pool(f), 1))


class DataDependent(nn.Module):
    # Python control flow on a tensor's value: torch.export cannot trace it.
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        y = self.conv(x)
        if y.sum().item() > 0:
            return y * 2
        return y


class Vanishing(nn.Module):
    # Outputs ~1e-6: below the smallest int8 output scale PT2E allows (2**-12).
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 8)

    def forward(self, x):
        return self.fc(x) * 1e-6


out = Path(sys.argv[1])
torch.manual_seed(0)
model = ConvNet().eval()
gen = torch.Generator().manual_seed(1)
x = torch.randn(1, 3, 32, 32, generator=gen)
samples = torch.randn(16, 1, 3, 32, 32, generator=gen)
batch3 = torch.randn(3, 3, 32, 32, generator=gen)
with torch.no_grad():
    np.savez(
        out / "reference.npz",
        x=x.numpy(), y=model(x).numpy(),
        samples=samples.numpy(), samples_y=torch.cat([model(s) for s in samples]).numpy(),
        batch3=batch3.numpy(), batch3_y=model(batch3).numpy(),
    )
torch.export.save(torch.export.export(model, (x,)), str(out / "convnet.pt2"))
torch.export.save(
    torch.export.export(Vanishing().eval(), (torch.randn(1, 16),)), str(out / "vanishing.pt2")
)
batch = torch.export.Dim("batch")
torch.export.save(
    torch.export.export(model, (batch3[:2],), dynamic_shapes={"x": {0: batch}}),
    str(out / "convnet_dyn.pt2"),
)

results = {}
results["onnx_static"] = export_onnx(model, (x,), out / "static.onnx", input_names=["image"])
results["onnx_dynamic"] = export_onnx(
    model, (x,), out / "dynamic.onnx", dynamic_batch=True, input_names=["image"]
)
bad_dir = out / "bad"
bad_dir.mkdir()
try:
    export_onnx(DataDependent().eval(), (torch.randn(1, 3, 8, 8),), bad_dir / "bad.onnx")
    results["onnx_bad"] = {"raised": None}
except ExportFailed as exc:
    results["onnx_bad"] = {
        "raised": type(exc).__name__, "message": exc.message, "details": exc.details,
        "left": sorted(os.listdir(bad_dir)),
    }
try:  # a static .pt2 cannot become dynamic: refused, not quietly fixed to batch 1
    static = torch.export.load(str(out / "convnet.pt2")).module()
    export_onnx(static, (x,), bad_dir / "static.onnx", dynamic_batch=True, input_names=["x"])
    results["onnx_static_pt2_dynamic"] = {"raised": None}
except BadInput as exc:
    results["onnx_static_pt2_dynamic"] = {
        "raised": type(exc).__name__, "message": exc.message, "left": sorted(os.listdir(bad_dir)),
    }
calibration = [(s,) for s in samples]
for mode in ("fp32", "fp16", "dynamic-int8", "int8"):
    start = time.monotonic()
    report = export_tflite(
        model, (x,), out / f"{mode}.tflite", mode=mode,
        calibration=calibration if mode == "int8" else None,
    )
    report["seconds"] = time.monotonic() - start
    results[f"tflite_{mode}"] = report
(out / "results.json").write_text(json.dumps(results))
"""


# -- parity judge (numpy only) ------------------------------------------------------------


def _logits(seed: int = 0, shape: tuple[int, ...] = (4, 10)) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_parity_passes_within_tolerance_and_reports_json() -> None:
    ref = _logits()
    cand = ref + np.float32(1e-6) * _logits(1)
    report = check_parity(
        [ref, ref[:, :2]], [cand, ref[:, :2]], ["logits", "aux"], TOLERANCES["fp32"]
    )
    assert report["passed"] is True
    assert [o["name"] for o in report["outputs"]] == ["logits", "aux"]
    first = report["outputs"][0]
    assert first["shape"] == [4, 10]
    assert 0 < first["max_abs_error"] < 1e-5
    assert 0 < first["mean_abs_error"] <= first["max_abs_error"]
    assert first["cosine"] > 0.99999
    assert report["outputs"][1]["max_abs_error"] == 0.0
    assert report["tolerance"]["min_cosine"] == 0.9999
    json.dumps(report, allow_nan=False)  # JSON-able, no inf/nan


def test_parity_shape_mismatch_names_the_output_and_both_shapes() -> None:
    ref = _logits()
    with pytest.raises(ShapeMismatch) as info:
        check_parity([ref, ref], [ref, ref.reshape(1, 40)], ["logits", "probs"], TOLERANCES["fp32"])
    message = str(info.value)
    assert "'probs'" in message and "[1, 40]" in message and "[4, 10]" in message
    assert isinstance(info.value, RunFailed)
    assert info.value.report["passed"] is False
    assert [o["name"] for o in info.value.report["outputs"]] == ["logits"]  # compared so far


def test_parity_count_mismatch_is_a_shape_mismatch() -> None:
    with pytest.raises(ShapeMismatch, match="2 outputs; the source has 1"):
        check_parity([_logits()], [_logits(), _logits()], ["a"], TOLERANCES["fp32"])


def test_parity_perturbation_beyond_tolerance_gives_the_numbers() -> None:
    ref = _logits()
    cand = ref.copy()
    cand[2, 3] += 0.01  # max |ref| is ~2.3: allowed 1e-4 + 1e-3 * 2.3 ~= 2.4e-3
    with pytest.raises(ToleranceExceeded) as info:
        check_parity([ref], [cand], ["logits"], TOLERANCES["fp32"])
    message = info.value.message
    assert "'logits'" in message and "max abs error 0.01" in message
    allowed = 1e-4 + 1e-3 * float(np.max(np.abs(ref)))
    assert f"allowed {allowed:.4g}" in message and "fp32" in message
    assert "\n" not in message
    row = info.value.report["outputs"][0]
    assert row["max_abs_error"] == pytest.approx(0.01, rel=1e-4)
    assert info.value.report["passed"] is False
    # the same error passes the looser fp16 bound (1e-3 + 1e-2 * 2.3)
    assert check_parity([ref], [cand], ["logits"], TOLERANCES["fp16"])["passed"]


def test_parity_quantized_tolerance_judges_cosine_not_abs() -> None:
    ref = _logits(shape=(1, 1000)) * 10
    cand = ref + _logits(2, (1, 1000))  # abs errors ~3; cosine ~0.995
    report = check_parity([ref], [cand], ["y"], TOLERANCES["int8"])
    assert report["passed"] and report["outputs"][0]["max_abs_error"] > 1.0
    noisy = ref + 5 * _logits(2, (1, 1000))  # cosine ~0.89
    with pytest.raises(ToleranceExceeded, match=r"'y': cosine 0\.8\d+ < 0\.95"):
        check_parity([ref], [noisy], ["y"], TOLERANCES["int8"])
    assert tolerance_for("dynamic-int8").min_cosine == 0.99
    with pytest.raises(BadInput):
        tolerance_for("int4")


def test_parity_nan_in_candidate_fails() -> None:
    ref = _logits()
    cand = ref.copy()
    cand[0, 0] = np.nan
    with pytest.raises(ToleranceExceeded, match="NaN/inf"):
        check_parity([ref], [cand], ["logits"], TOLERANCES["int8"])


def test_parity_over_samples_keeps_the_worst_and_names_the_failing_sample() -> None:
    refs = [[_logits(s).astype(np.float64)] for s in range(3)]
    cands = [[r[0] + 1e-6 * (i + 1)] for i, r in enumerate(refs)]
    report = check_parity_samples(refs, cands, ["logits"], TOLERANCES["fp32"])
    assert report["samples"] == 3
    assert report["outputs"][0]["max_abs_error"] == pytest.approx(3e-6, rel=1e-2)
    assert report["cosine"] == report["outputs"][0]["cosine"]
    cands[1] = [refs[1][0] + 1.0]
    with pytest.raises(ToleranceExceeded, match="parity sample 2 of 3") as info:
        check_parity_samples(refs, cands, ["logits"], TOLERANCES["fp32"])
    assert info.value.report["sample"] == 1


# -- shared helpers (no torch) ------------------------------------------------------------


def test_write_atomically_leaves_nothing_on_failure(tmp_path: Path) -> None:
    dst = tmp_path / "model.onnx"
    dst.write_bytes(b"old")

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(dst, broken)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    assert dst.read_bytes() == b"old"
    write_atomically(dst, lambda tmp: tmp.write_bytes(b"new"))
    assert dst.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_export_error_message_is_the_root_cause_on_one_line() -> None:
    class TorchExportError(RuntimeError):
        pass

    try:
        try:
            raise ValueError("Could not guard on data-dependent expression u0 > 0\nmore text")
        except ValueError as cause:
            raise TorchExportError("Failed to export the model\n- advice\n- more advice") from cause
    except TorchExportError as exc:
        error = describe_export_error(exc, "ONNX export failed")
    assert isinstance(error, ExportFailed) and isinstance(error, RunFailed)
    assert error.message.startswith(
        "ONNX export failed: ValueError: Could not guard on data-dependent expression u0 > 0"
    )
    assert "\n" not in error.message and "advice" not in error.message
    assert "more advice" in error.details and "more text" in error.details


def test_classify_op_tells_integer_hybrid_and_float_kernels() -> None:
    i8, f32, i32 = np.int8, np.float32, np.int32
    assert (
        classify_op({"op_name": "CONV_2D", "operand_types": [i8, i8, i32], "result_types": [i8]})
        == "integer"
    )
    assert (
        classify_op({"op_name": "CONV_2D", "operand_types": [f32, i8, f32], "result_types": [f32]})
        == "hybrid"
    )
    assert (
        classify_op({"op_name": "MEAN", "operand_types": [f32, i32], "result_types": [f32]})
        == "float"
    )
    assert (
        classify_op({"op_name": "QUANTIZE", "operand_types": [f32], "result_types": [i8]})
        == "quantize"
    )


# -- real exports (built once in a child process) -----------------------------------------


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("exports")
    script = out / "build.py"
    script.write_text(BUILD_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        pytest.fail(f"building the exports failed:\n{proc.stderr[-6000:]}")
    return out, json.loads((out / "results.json").read_text())


def _reference(out: Path) -> dict[str, np.ndarray]:
    with np.load(out / "reference.npz") as data:
        return {k: data[k] for k in data.files}


def _run(path: Path, fmt: str, feeds: list[np.ndarray]) -> list[np.ndarray]:
    """Outputs of the exported model, int8 inputs quantized and outputs dequantized."""
    from engines.runtimes.base import RuntimeOptions
    from engines.runtimes.litert import LiteRTRuntime
    from engines.runtimes.ort import OnnxRuntime

    runtime = OnnxRuntime() if fmt == "onnx" else LiteRTRuntime()
    session = runtime.open(str(path), fmt, RuntimeOptions(threads=1))
    (inp,), (outp,) = session.inputs(), session.outputs()
    results = []
    for x in feeds:
        if inp.quantization:
            scale, zp = inp.quantization
            x = np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)
        (y,) = session.run({inp.name: x})
        if outp.quantization:
            scale, zp = outp.quantization
            y = (y.astype(np.float32) - zp) * scale
        results.append(y)
    session.close()
    return results


@pytest.mark.slow
def test_onnx_static_export_matches_torch(exports: tuple[Path, dict[str, Any]]) -> None:
    out, results = exports
    report = results["onnx_static"]
    assert report["inputs"] == [{"name": "image", "shape": [1, 3, 32, 32], "dtype": "float32"}]
    assert report["opset"] == 18 and report["dynamic_batch"] is False
    assert report["ops"].get("Conv") == 4
    assert report["size_bytes"] == (out / "static.onnx").stat().st_size
    ref = _reference(out)
    (y,) = _run(out / "static.onnx", "onnx", [ref["x"]])
    assert check_parity([ref["y"]], [y], ["y"], TOLERANCES["fp32"])["passed"]
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]


@pytest.mark.slow
def test_onnx_dynamic_batch_runs_at_batch_3(exports: tuple[Path, dict[str, Any]]) -> None:
    out, results = exports
    report = results["onnx_dynamic"]
    assert report["dynamic_batch"] is True
    assert report["inputs"][0]["shape"] == ["batch", 3, 32, 32]
    ref = _reference(out)
    (y,) = _run(out / "dynamic.onnx", "onnx", [ref["batch3"]])
    assert y.shape == (3, 10)
    assert check_parity([ref["batch3_y"]], [y], ["y"], TOLERANCES["fp32"])["passed"]


@pytest.mark.slow
def test_untraceable_model_gives_one_line_export_failed(
    exports: tuple[Path, dict[str, Any]],
) -> None:
    _, results = exports
    bad = results["onnx_bad"]
    assert bad["raised"] == "ExportFailed"
    message = bad["message"]
    assert "\n" not in message and len(message) < 600
    assert message.startswith("ONNX export failed: ")
    assert "data-dependent" in message  # the torch.export reason, not the wrapper's advice
    assert "Modify the model code" not in message
    assert "build.py" in message  # where in the model's code
    assert "Traceback" in bad["details"] and "Modify the model code" in bad["details"]
    assert bad["left"] == []


@pytest.mark.slow
def test_dynamic_batch_from_a_static_pt2_is_refused(exports: tuple[Path, dict[str, Any]]) -> None:
    _, results = exports
    refused = results["onnx_static_pt2_dynamic"]
    assert refused["raised"] == "BadInput"
    assert "fixes the batch of input 'x' to 1" in refused["message"]
    assert refused["left"] == []


@pytest.mark.slow
def test_tflite_fp32_and_fp16_match_torch(exports: tuple[Path, dict[str, Any]]) -> None:
    out, results = exports
    ref = _reference(out)
    fp32, fp16 = results["tflite_fp32"], results["tflite_fp16"]
    assert fp32["kernels"]["integer"] == 0 and fp32["int8_tensors"] == 0
    assert fp32["inputs"][0]["dtype"] == "float32" and fp32["inputs"][0]["shape"] == [1, 3, 32, 32]
    assert fp16["tensor_dtypes"].get("float16", 0) >= 5  # 4 conv + 1 linear weights
    assert 1.7 < fp32["size_bytes"] / fp16["size_bytes"] < 2.2
    xs = list(ref["samples"][:4])
    ys = list(ref["samples_y"][:4, None])
    for mode in ("fp32", "fp16"):
        got = _run(out / f"{mode}.tflite", "tflite", xs)
        report = check_parity_samples(
            [[y] for y in ys], [[g] for g in got], ["y"], TOLERANCES[mode]
        )
        assert report["passed"], mode


@pytest.mark.slow
def test_tflite_dynamic_int8_has_int8_weights_float_activations(
    exports: tuple[Path, dict[str, Any]],
) -> None:
    out, results = exports
    report = results["tflite_dynamic-int8"]
    assert report["inputs"][0]["dtype"] == "float32" and report["inputs"][0]["quantization"] is None
    assert report["kernels"]["hybrid"] >= 5  # 4 conv + 1 fully connected
    assert report["int8_tensors"] >= 5
    assert results["tflite_fp32"]["size_bytes"] / report["size_bytes"] > 3.0
    ref = _reference(out)
    got = _run(out / "dynamic-int8.tflite", "tflite", list(ref["samples"][:8]))
    parity = check_parity_samples(
        [[y] for y in ref["samples_y"][:8, None]],
        [[g] for g in got],
        ["y"],
        TOLERANCES["dynamic-int8"],
    )
    assert parity["cosine"] >= 0.99


@pytest.mark.slow
def test_tflite_int8_is_integer_4x_smaller_and_close(exports: tuple[Path, dict[str, Any]]) -> None:
    out, results = exports
    report = results["tflite_int8"]
    assert report["calibration_batches"] == 16
    assert report["inputs"][0]["dtype"] == "int8" and report["inputs"][0]["quantization"]
    assert report["outputs"][0]["dtype"] == "int8"
    assert report["kernels"]["integer"] >= 8 and report["kernels"]["float"] == 0
    assert report["kernels"]["quantize"] == 0  # no float islands inside the graph
    assert report["integer_ops"].get("CONV_2D") == 4
    assert report["integer_ops"].get("FULLY_CONNECTED") == 1
    assert report["integer_ops"].get("ADD") == 2  # the residual adds, too
    assert report["integer_fraction"] == 1.0
    ratio = results["tflite_fp32"]["size_bytes"] / report["size_bytes"]
    assert 3.0 < ratio < 4.5, ratio
    ref = _reference(out)
    got = _run(out / "int8.tflite", "tflite", list(ref["samples"]))
    assert got[0].dtype == np.float32  # dequantized
    parity = check_parity_samples(
        [[y] for y in ref["samples_y"][:, None]], [[g] for g in got], ["y"], TOLERANCES["int8"]
    )
    assert parity["cosine"] >= 0.98
    # and it is really quantized: not bit-identical to the float model
    assert parity["max_abs_error"] > 1e-6


# -- the worker task, end to end ----------------------------------------------------------


@pytest.mark.slow
def test_export_task_int8_tflite_with_calibration_file(
    exports: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    from engines.workers import run_task

    out, _ = exports
    ref = _reference(out)
    calibration = tmp_path / "calib.npz"
    np.savez(calibration, x=ref["samples"][:, 0])  # input "x" of convnet.pt2, N x 3 x 32 x 32
    dst = tmp_path / "exported" / "convnet-int8.tflite"
    dst.parent.mkdir()
    messages: list[str] = []
    result = run_task(
        "export",
        {
            "source_path": str(out / "convnet.pt2"),
            "source_format": "torch-exported-program",
            "to": "tflite",
            "out_path": str(dst),
            "mode": "int8",
            "calibration_npz": str(calibration),
            "parity_samples": 6,
        },
        progress=lambda message, fraction: messages.append(message),
    )
    assert result["path"] == str(dst) and dst.is_file()
    assert sorted(p.name for p in dst.parent.iterdir()) == [dst.name]
    assert result["to"] == "tflite" and result["mode"] == "int8" and result["opset"] is None
    assert result["inputs"][0]["name"] == "x"
    parity = result["parity"]
    assert parity["passed"] is True and parity["samples"] == 6
    assert parity["inputs"] == "calibration file (16 samples)"
    assert parity["tolerance"]["name"] == "int8" and parity["tolerance"]["atol"] is None
    assert 0.98 <= parity["cosine"] < 1.0
    assert parity["outputs"][0]["shape"] == [1, 10]
    export = result["export"]
    assert export["calibration_batches"] == 16
    assert export["kernels"]["integer"] >= 8 and export["kernels"]["float"] == 0
    assert export["integer_ops"].get("ADD") == 2  # also from a graph unlifted from a .pt2
    assert result["size_bytes"] == dst.stat().st_size
    assert any("parity" in m for m in messages)


@pytest.mark.slow
def test_export_task_onnx_with_the_runnable_payload(
    exports: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The FP32 payload engines/export/runnable.py sends, from a dynamic-batch .pt2."""
    from engines.workers import run_task

    out, _ = exports
    dst = tmp_path / "convnet.onnx"
    result = run_task(
        "export",
        {
            "source_path": str(out / "convnet_dyn.pt2"),
            "source_format": "torch-exported-program",
            "to": "onnx",
            "out_path": str(dst),
            "opset": 18,
            "dynamic_batch": True,
        },
    )
    assert dst.is_file() and result["mode"] == "fp32" and result["opset"] == 18
    parity = result["parity"]
    assert parity["passed"] and parity["samples"] == 8 and parity["cosine"] > 0.9999
    assert parity["inputs"] == "seeded N(0,1) inputs"
    assert parity["batched"]["batch"] == 8 and parity["batched"]["cosine"] > 0.9999
    assert result["export"]["inputs"][0]["shape"][0] == "batch"
    assert math.isfinite(parity["max_abs_error"]) and parity["max_abs_error"] < 1e-3


@pytest.mark.slow
def test_export_task_parity_failure_leaves_no_file_unless_asked(
    exports: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    from engines.workers import run_task

    out, _ = exports
    dst = tmp_path / "vanishing.tflite"
    payload = {
        "source_path": str(out / "vanishing.pt2"),
        "source_format": "torch-exported-program",
        "to": "tflite",
        "out_path": str(dst),
        "mode": "int8",
        "parity_samples": 2,
    }
    with pytest.raises(RunFailed) as info:
        run_task("export", payload)
    message = info.value.message
    assert message.startswith("parity sample 1 of 2: exported model does not match its source")
    assert "cosine" in message and "< 0.95" in message and "int8 tolerance" in message
    assert "\n" not in message
    assert info.value.details.startswith("parity report: {")
    assert list(tmp_path.iterdir()) == []

    result = run_task("export", {**payload, "keep_on_parity_failure": True})
    assert dst.is_file() and sorted(p.name for p in tmp_path.iterdir()) == [dst.name]
    parity = result["parity"]
    assert parity["passed"] is False and parity["cosine"] < 0.95
    assert parity["message"].startswith("parity sample 1 of 2")
    assert result["export"]["kernels"]["integer"] >= 1


def test_export_task_rejects_quantized_onnx_before_loading(tmp_path: Path) -> None:
    from engines.workers import run_task

    with pytest.raises(BadInput, match="FP32 only"):
        run_task(
            "export",
            {
                "source_path": str(tmp_path / "missing.pt2"),
                "source_format": "torch-exported-program",
                "to": "onnx",
                "out_path": str(tmp_path / "m.onnx"),
                "mode": "int8",
            },
            timeout_s=120,
        )
    assert not (tmp_path / "m.onnx").exists()
