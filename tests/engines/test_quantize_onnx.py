"""ONNX quantization and FP16 conversion on small real models exported by torch.onnx (dynamo).

The models are built once per module in a child process (torch.onnx pulls in heavy native
libraries and threads we keep out of pytest): an MLP (linear-heavy), a small CNN with enough
weights for the size ratio to show, and a two-input model for the calibration checks.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from engines.compress.base import Cancelled
from engines.compress.quantize_onnx import (
    convert_fp16_onnx,
    onnx_input_signature,
    quantize_dynamic_onnx,
    quantize_static_onnx,
)
from engines.floor.errors import BadInput, RunFailed

ROOT = Path(__file__).resolve().parents[2]

BUILD_SCRIPT = r"""
import inspect
import sys
from pathlib import Path

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
        )

    def forward(self, x):
        return self.net(x)


class ConvNet(nn.Module):
    # ~57k weights (228 kB in float32), so int8 storage dominates the file size.
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
        )
        self.head = nn.Linear(64, 10)

    def forward(self, image):
        return self.head(self.features(image).mean(dim=(2, 3)))


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 4)
        self.b = nn.Linear(8, 4)

    def forward(self, image, mask):
        return self.a(image) + self.b(mask)


def export(model, args, names, path):
    batch = torch.export.Dim("batch", min=1, max=64)
    params = list(inspect.signature(model.forward).parameters)
    program = torch.onnx.export(
        model.eval(), args, dynamo=True, input_names=names,
        dynamic_shapes={p: {0: batch} for p in params}, verbose=False,
    )
    program.save(str(path))


out = Path(sys.argv[1])
torch.manual_seed(0)
export(MLP(), (torch.randn(2, 64),), ["x"], out / "mlp.onnx")
export(ConvNet(), (torch.randn(2, 3, 16, 16),), ["image"], out / "convnet.onnx")
export(TwoInputs(), (torch.randn(2, 8), torch.randn(2, 8)), ["image", "mask"],
       out / "two_inputs.onnx")
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quant-models")
    proc = subprocess.run(
        [sys.executable, "-c", BUILD_SCRIPT, str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        pytest.fail(f"exporting the test models failed:\n{proc.stderr[-4000:]}")
    return out


def _images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 16, 16)).astype(np.float32)


def _run(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, feeds)[0])


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------------ signature


def test_input_signature_of_exported_models(models: Path) -> None:
    assert onnx_input_signature(models / "convnet.onnx") == [
        {"name": "image", "shape": ["batch", 3, 16, 16], "dtype": "float32"}
    ]
    names = [s["name"] for s in onnx_input_signature(models / "two_inputs.onnx")]
    assert names == ["image", "mask"]


# -------------------------------------------------------------------------------- dynamic


def test_dynamic_quantization_of_mlp_is_integer_smaller_and_close(
    models: Path, tmp_path: Path
) -> None:
    src, dst = models / "mlp.onnx", tmp_path / "out" / "mlp_int8.onnx"
    report = quantize_dynamic_onnx(src, dst)

    assert report["method"] == "dynamic"
    assert report["weight_type"] == "int8"
    assert report["graph"]["quantized_ops"].get("MatMulInteger", 0) == 3
    assert report["graph"]["conversion_ops"].get("DynamicQuantizeLinear", 0) >= 1
    assert report["graph"]["float_total"] == 0
    assert report["optimized"]["quantized_total"] == 3
    ops = {n.op_type for n in onnx.load(str(dst)).graph.node}
    assert "MatMulInteger" in ops and not ops & {"MatMul", "Gemm"}

    assert report["size_bytes_before"] == src.stat().st_size
    assert report["size_bytes_after"] == dst.stat().st_size
    assert report["size_ratio"] > 3.0  # 4 bytes -> 1 byte per weight, minus overhead

    x = np.random.default_rng(1).standard_normal((16, 64)).astype(np.float32)
    ref, got = _run(src, {"x": x}), _run(dst, {"x": x})
    # The declared dynamic-int8 tolerance is cosine >= 0.99 (engines/export/parity.py):
    # per-tensor activations quantized per run leave a few per cent of max |ref| through
    # three layers (8.3% with onnxruntime 1.31-1.32), while a broken quantization is off
    # by the order of the output itself.
    assert _cosine(ref, got) > 0.99
    assert np.abs(ref - got).max() < 0.15 * np.abs(ref).max()
    assert _leftovers(dst.parent) == ["mlp_int8.onnx"]


def test_dynamic_quantization_warns_about_convolutions(models: Path, tmp_path: Path) -> None:
    report = quantize_dynamic_onnx(models / "convnet.onnx", tmp_path / "c.onnx")
    assert any("CNNs slower" in note for note in report["notes"])


def test_dynamic_rejects_unknown_weight_type(models: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="weight_type 'int4'"):
        quantize_dynamic_onnx(models / "mlp.onnx", tmp_path / "m.onnx", weight_type="int4")
    assert not (tmp_path / "m.onnx").exists()


# --------------------------------------------------------------------------------- static


def test_static_x86_gives_u8s8_qdq_that_fuses_and_stays_accurate(
    models: Path, tmp_path: Path
) -> None:
    src, dst = models / "convnet.onnx", tmp_path / "out" / "conv_int8.onnx"
    messages: list[tuple[str, float | None]] = []
    report = quantize_static_onnx(
        src,
        dst,
        {"image": _images(24, seed=0)},
        target_arch="x86",
        max_calibration_samples=16,
        progress=lambda m, f: messages.append((m, f)),
    )

    assert report["format"] == "QDQ"
    assert (report["activation_type"], report["weight_type"]) == ("uint8", "int8")
    assert report["per_channel"] is True
    assert report["calibration_samples"] == 16
    assert report["calibration_samples_given"] == 24
    assert report["preprocess_applied"] is True

    # The written file is QDQ: float Convs wrapped in Quantize/DequantizeLinear ...
    model = onnx.load(str(dst))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") >= 3 and ops.count("DequantizeLinear") >= 6
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    dq_inputs = [n.input[0] for n in model.graph.node if n.op_type == "DequantizeLinear"]
    conv_weights = [inits[name] for name in dq_inputs if name in inits and inits[name].ndim == 4]
    assert len(conv_weights) == 3 and all(w.dtype == np.int8 for w in conv_weights)
    activation_q = [inits[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert activation_q and all(zp.dtype == np.uint8 for zp in activation_q)
    assert report["quantized_weight_dtypes"]["int8"] == 4  # 3 convs + the linear head

    # ... which onnxruntime fuses into integer kernels: INT8 took.
    optimized = report["optimized"]
    assert optimized["quantized_ops"].get("QLinearConv", 0) == 3
    assert optimized["float_ops"].get("Conv", 0) == 0
    assert report["int8_took"] is True

    assert report["size_bytes_after"] == dst.stat().st_size
    assert report["size_ratio"] > 2.5

    held_out = _images(8, seed=123)
    ref, got = _run(src, {"image": held_out}), _run(dst, {"image": held_out})
    assert got.dtype == np.float32 and got.shape == ref.shape == (8, 10)
    assert _cosine(ref, got) > 0.98

    calibrating = [f for m, f in messages if m.startswith("calibrating: sample")]
    assert len(calibrating) == 16 and calibrating == sorted(calibrating)
    assert messages[-1] == ("done", 1.0)
    assert _leftovers(dst.parent) == ["conv_int8.onnx"]


def test_static_arm_picks_s8s8(models: Path, tmp_path: Path) -> None:
    dst = tmp_path / "arm.onnx"
    report = quantize_static_onnx(
        models / "convnet.onnx",
        dst,
        {"image": _images(4, seed=0)},
        target_arch="arm",
        preprocess=False,
    )
    assert (report["activation_type"], report["weight_type"]) == ("int8", "int8")
    assert report["preprocess_applied"] is False
    assert report["preprocess_note"] == "not requested"
    model = onnx.load(str(dst))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    zero_points = [inits[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert zero_points and all(zp.dtype == np.int8 for zp in zero_points)


def test_static_with_failing_preprocess_falls_back_and_says_so(
    models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime.quantization.shape_inference as shape_inference

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("symbolic shape inference exploded\nsecond line")

    monkeypatch.setattr(shape_inference, "quant_pre_process", broken)
    report = quantize_static_onnx(
        models / "convnet.onnx", tmp_path / "q.onnx", {"image": _images(4, seed=0)}
    )
    assert report["preprocess_applied"] is False
    assert report["preprocess_note"].startswith("failed, quantized the raw model instead")
    note = report["preprocess_note"]
    assert "exploded" in note and "second line" not in note
    assert report["optimized"]["quantized_ops"].get("QLinearConv", 0) == 3


def test_static_two_inputs_calibrates_each(models: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    calibration = {
        "image": rng.standard_normal((8, 8)).astype(np.float32),
        "mask": rng.standard_normal((8, 8)).astype(np.float32),
    }
    src, dst = models / "two_inputs.onnx", tmp_path / "two.onnx"
    report = quantize_static_onnx(src, dst, calibration)
    assert report["calibration_samples"] == 8
    assert report["optimized"]["quantized_total"] >= 2
    ref, got = _run(src, calibration), _run(dst, calibration)
    assert _cosine(ref, got) > 0.98


@pytest.mark.parametrize(
    ("model", "calibration", "pattern"),
    [
        pytest.param(
            "convnet.onnx",
            {"image": np.zeros((4, 3, 32, 32), np.float32)},
            r"'image' has shape \(4, 3, 32, 32\), expected \(N, 3, 16, 16\) float32",
            id="wrong-static-dim",
        ),
        pytest.param(
            "convnet.onnx",
            {"image": np.zeros((3, 16, 16), np.float32)},
            r"'image' has shape \(3, 16, 16\), expected \(N, 3, 16, 16\) float32",
            id="missing-sample-axis",
        ),
        pytest.param(
            "convnet.onnx",
            {"image": np.zeros((4, 3, 16, 16), np.float64)},
            r"'image' is float64, expected float32.*\(4, 3, 16, 16\) float64.*"
            r"\(N, 3, 16, 16\) float32",
            id="wrong-dtype",
        ),
        pytest.param(
            "two_inputs.onnx",
            {"image": np.zeros((4, 8), np.float32)},
            r"no data for model input 'mask': expected \(N, 8\) float32",
            id="missing-input",
        ),
        pytest.param(
            "convnet.onnx",
            {"image": np.zeros((4, 3, 16, 16), np.float32), "labels": np.zeros(4)},
            r"'labels', which is not an input",
            id="unknown-input",
        ),
        pytest.param(
            "two_inputs.onnx",
            {"image": np.zeros((4, 8), np.float32), "mask": np.zeros((5, 8), np.float32)},
            r"different numbers of samples.*'image': 4, 'mask': 5",
            id="uneven-samples",
        ),
        pytest.param(
            "convnet.onnx",
            {"image": np.zeros((0, 3, 16, 16), np.float32)},
            r"'image' has no samples",
            id="empty",
        ),
        pytest.param(
            "convnet.onnx",
            {"image": [[0.0]]},
            r"'image' is a list, expected a numpy array",
            id="not-an-array",
        ),
    ],
)
def test_static_rejects_bad_calibration(
    models: Path, tmp_path: Path, model: str, calibration: dict, pattern: str
) -> None:
    dst = tmp_path / "never.onnx"
    with pytest.raises(BadInput, match=pattern):
        quantize_static_onnx(models / model, dst, calibration)
    assert _leftovers(tmp_path) == []


def test_static_rejects_unknown_target_and_method(models: Path, tmp_path: Path) -> None:
    calibration = {"image": _images(2, seed=0)}
    with pytest.raises(BadInput, match="target_arch 'riscv'"):
        quantize_static_onnx(
            models / "convnet.onnx", tmp_path / "q.onnx", calibration, target_arch="riscv"
        )
    with pytest.raises(BadInput, match="calibrate_method 'mse'"):
        quantize_static_onnx(
            models / "convnet.onnx", tmp_path / "q.onnx", calibration, calibrate_method="mse"
        )
    with pytest.raises(BadInput, match="not found"):
        quantize_static_onnx(tmp_path / "nope.onnx", tmp_path / "q.onnx", calibration)


def test_cancel_during_calibration_raises_and_leaves_old_file(models: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out" / "q.onnx"
    dst.parent.mkdir()
    dst.write_bytes(b"previous result")
    cancel = threading.Event()
    seen: list[str] = []

    def progress(message: str, fraction: float | None) -> None:
        seen.append(message)
        if message == "calibrating: sample 3/10":
            cancel.set()

    with pytest.raises(Cancelled):
        quantize_static_onnx(
            models / "convnet.onnx",
            dst,
            {"image": _images(10, seed=0)},
            cancel=cancel,
            progress=progress,
        )
    assert "calibrating: sample 4/10" not in seen  # stopped at the next sample
    assert dst.read_bytes() == b"previous result"
    assert _leftovers(dst.parent) == ["q.onnx"]


def test_cancel_before_start_writes_nothing(models: Path, tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        quantize_static_onnx(
            models / "convnet.onnx", tmp_path / "q.onnx", {"image": _images(2, 0)}, cancel=cancel
        )
    assert _leftovers(tmp_path) == []


def test_ort_failure_becomes_run_failed_and_leaves_nothing(
    models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime.quantization as quantization

    def broken(*args: object, **kwargs: object) -> None:
        Path(args[1]).write_bytes(b"half a model")  # type: ignore[arg-type]
        raise ValueError("calibrator blew up")

    monkeypatch.setattr(quantization, "quantize_static", broken)
    dst = tmp_path / "q.onnx"
    with pytest.raises(RunFailed, match=r"static quantization of convnet\.onnx failed"):
        quantize_static_onnx(models / "convnet.onnx", dst, {"image": _images(2, 0)})
    assert _leftovers(tmp_path) == []


# ----------------------------------------------------------------------------------- fp16


def test_fp16_halves_size_and_stays_close(models: Path, tmp_path: Path) -> None:
    src, dst = models / "convnet.onnx", tmp_path / "conv_fp16.onnx"
    report = convert_fp16_onnx(src, dst)
    assert report["method"] == "fp16"
    assert "x86 CPUs gain no speed from FP16" in report["note"]
    assert 1.8 < report["size_ratio"] < 2.2
    assert report["initializer_dtypes"].get("float16", 0) >= 8
    assert report["initializer_dtypes"].get("float32", 0) == 0

    model = onnx.load(str(dst))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    images = _images(4, seed=5)
    ref, got = _run(src, {"image": images}), _run(dst, {"image": images})
    assert got.dtype == np.float32
    assert _cosine(ref, got) > 0.999
    assert np.abs(ref - got).max() < 1e-2 * max(1.0, float(np.abs(ref).max()))
    assert _leftovers(tmp_path) == ["conv_fp16.onnx"]


def test_fp16_without_keep_io_types_takes_fp16_inputs(models: Path, tmp_path: Path) -> None:
    dst = tmp_path / "conv_fp16_io.onnx"
    convert_fp16_onnx(models / "convnet.onnx", dst, keep_io_types=False)
    assert onnx_input_signature(dst)[0]["dtype"] == "float16"
    out = _run(dst, {"image": _images(2, seed=1).astype(np.float16)})
    assert out.dtype == np.float16 and np.isfinite(out).all()
