"""Real tiny models through the agent on every runtime, and input synthesis."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from onnx import TensorProto
from support.onnx_models import relu_model

from engines.devices.local import LocalDevice
from engines.floor.errors import BadInput
from engines.floor.spec import BenchSpec, InputSpec, ModelRef, RunPolicy
from engines.floor.stats import summarize
from engines.pipeline.profile import ProfileRequest, profile
from engines.runtimes.base import TensorInfo
from engines.runtimes.feeds import resolve_shape, synthesize

POLICY = RunPolicy(warmup_runs=2, warmup_min_s=0.05, min_runs=20, min_s=0.1, max_s=30)

CASES = {
    "onnxruntime": ("onnx", "onnx", "onnxruntime"),
    "litert": ("tflite", "tflite", "ai_edge_litert"),
    "torch": ("pt2", "torch-exported-program", "torch"),
}


def _events(spec: BenchSpec) -> list[dict]:
    return list(LocalDevice().run(spec))


@pytest.mark.parametrize("runtime", list(CASES))
def test_profile_on_runtime(tiny_models, runtime):
    attr, fmt, module = CASES[runtime]
    path = getattr(tiny_models, attr)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    spec = BenchSpec(ModelRef(str(path), fmt, sha), runtime, threads=1, policy=POLICY)
    events = _events(spec)
    result = events[-1]
    assert result["type"] == "result", result

    # phases in order
    phases = [e["phase"] for e in events if e["type"] == "phase"]
    assert phases == ["verify", "load", "first", "warmup", "measure", "finish"]

    st = result["statistics"]
    assert st["count"] >= 20
    assert 0 < st["min_ms"] <= st["p50_ms"] <= st["p90_ms"] <= st["p99_ms"] <= st["max_ms"]
    assert result["load_ms"] > 0 and result["first_ms"] > 0
    assert result["warmup"]["runs"] >= 2

    # every timed sample was streamed, in order, and the statistics are exactly theirs
    samples_events = [e for e in events if e["type"] == "sample"]
    streamed: list[float] = []
    for e in samples_events:
        assert e["start"] == len(streamed)
        streamed.extend(e["ms"])
    assert len(streamed) == st["count"]
    recomputed = summarize(streamed)
    for key in ("p50_ms", "p90_ms", "p99_ms", "min_ms", "max_ms", "count"):
        assert recomputed[key] == st[key]

    mem = result["memory"]
    for key in (
        "rss_before_load_bytes",
        "peak_rss_bytes",
        "peak_rss_delta_bytes",
        "model_file_bytes",
    ):
        assert isinstance(mem[key], int), key
    assert mem["model_file_bytes"] == path.stat().st_size
    assert mem["peak_rss_bytes"] >= mem["rss_after_load_bytes"] >= 0
    assert mem["peak_rss_bytes"] >= mem["rss_before_load_bytes"] > 0
    assert mem["peak_rss_delta_bytes"] == mem["peak_rss_bytes"] - mem["rss_before_load_bytes"]
    assert any(e["type"] == "memory" for e in events)

    env = result["environment"]
    assert isinstance(env["cpu_model"], str) and env["cpu_model"]
    assert env["threads"] == 1
    assert env["runtime"] == runtime
    assert module in env["runtime_versions"] and env["runtime_versions"][module]
    assert env["model_sha256"] == sha
    assert env["logical_cores"] >= 1

    assert result["input_shapes"] and all(
        s == [1, 3, 8, 8] for s in result["input_shapes"].values()
    )
    assert result["output_shapes"] == [[1, 10]]


def test_symbolic_batch_dimension_takes_the_batch(tiny_models):
    spec = BenchSpec(
        ModelRef(str(tiny_models.onnx), "onnx"), "onnxruntime", threads=1, batch=4, policy=POLICY
    )
    result = _events(spec)[-1]
    assert result["type"] == "result", result
    assert result["input_shapes"] == {"input": [4, 3, 8, 8]}
    assert result["output_shapes"] == [[4, 10]]
    st = result["statistics"]
    assert st["batch"] == 4
    assert st["throughput_per_s"] == pytest.approx(4 * 1000.0 / st["mean_ms"])
    assert result["inputs"][0]["shape"][0] == "batch"


def test_litert_threads_are_recorded(tiny_models):
    spec = BenchSpec(
        ModelRef(str(tiny_models.tflite), "tflite"), "litert", threads=2, policy=POLICY
    )
    result = _events(spec)[-1]
    assert result["type"] == "result", result
    assert result["runtime_options"]["num_threads"] == 2
    assert result["environment"]["threads"] == 2


def test_full_profile_pipeline_on_pt2_stores_the_run(tiny_models, store):
    request = ProfileRequest(
        model=str(tiny_models.pt2), runtime="torch", threads=1, policy=POLICY, trust_code=True
    )
    events = list(profile(request, store))
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "stored"
    result = next(e for e in events if e["type"] == "result")
    stored = events[-1]
    assert stored["status"] == "ok"
    run = store.run(stored["run_id"])
    assert run.runtime == "torch" and run.status == "ok"
    assert run.statistics == result["statistics"]
    assert len(store.samples(run.id)) == result["statistics"]["count"]
    assert run.spec["model"]["format"] == "torch-exported-program"


def test_agent_reports_non_batch_symbolic_dim_as_bad_input(tmp_path):
    model = relu_model(tmp_path / "seq.onnx", ["N", "seq_len"], name="tokens")
    spec = BenchSpec(ModelRef(str(model), "onnx"), "onnxruntime", threads=1, policy=POLICY)
    error = _events(spec)[-1]
    assert error["type"] == "error"
    assert error["error_type"] == "bad_input"
    assert "'tokens'" in error["message"] and "seq_len" in error["message"]
    # and with the shape given explicitly, it runs
    spec = BenchSpec(
        ModelRef(str(model), "onnx"),
        "onnxruntime",
        threads=1,
        policy=POLICY,
        inputs=InputSpec(shapes={"tokens": [2, 5]}),
    )
    result = _events(spec)[-1]
    assert result["type"] == "result", result
    assert result["input_shapes"] == {"tokens": [2, 5]}


# ------------------------------------------------------------------------- feeds (unit)


def test_symbolic_non_batch_dim_names_the_input():
    info = TensorInfo("attention_mask", ["batch", "sequence"], "int64")
    with pytest.raises(BadInput) as err:
        synthesize([info])
    assert "'attention_mask'" in err.value.message
    assert "sequence" in err.value.message
    assert "--input-shape attention_mask=" in err.value.details


def test_resolve_shape_rules():
    assert resolve_shape(TensorInfo("x", ["batch", 3, 8, 8], "float32"), 4, {}) == (4, 3, 8, 8)
    assert resolve_shape(TensorInfo("x", ["?", 3], "float32"), 2, {}) == (2, 3)
    assert resolve_shape(TensorInfo("x", ["b", "s"], "float32"), 1, {"x": [1, 7]}) == (1, 7)
    assert resolve_shape(TensorInfo("x", [1, 3], "float32"), 1, {}) == (1, 3)
    with pytest.raises(BadInput, match="fixed batch dimension of 1"):
        resolve_shape(TensorInfo("x", [1, 3], "float32"), 8, {})


def test_feeds_are_seeded_and_typed():
    infos = [
        TensorInfo("img", ["batch", 3, 4, 4], "float32"),
        TensorInfo("ids", [1, 6], "int64"),
        TensorInfo("mask", [1, 6], "bool"),
    ]
    a = synthesize(infos, batch=1, seed=7)
    b = synthesize(infos, batch=1, seed=7)
    c = synthesize(infos, batch=1, seed=8)
    for name in a:
        assert np.array_equal(a[name], b[name])
    assert not np.array_equal(a["img"], c["img"])
    assert a["img"].dtype == np.float32 and a["img"].shape == (1, 3, 4, 4)
    assert a["ids"].dtype == np.int64 and a["ids"].min() >= 0
    assert a["mask"].dtype == np.bool_


def test_string_input_cannot_be_synthesised():
    with pytest.raises(BadInput, match="'text'"):
        synthesize([TensorInfo("text", [1], "string")])


@pytest.mark.parametrize(
    ("dtype", "scale", "zero_point"),
    [("int8", 0.05, -3), ("uint8", 0.02, 128), ("int8", 1 / 64, 0)],
)
def test_quantized_input_uses_scale_and_zero_point(dtype, scale, zero_point):
    info = TensorInfo("q", [1, 20000], dtype, quantization=(scale, zero_point))
    feed = synthesize([info], seed=3)["q"]
    assert feed.dtype == np.dtype(dtype)
    assert feed.shape == (1, 20000)
    # Independent expectation: the same seeded N(0,1) data, quantized by hand.
    real = np.random.default_rng(3).standard_normal((1, 20000), dtype=np.float32)
    limits = np.iinfo(dtype)
    expected = np.clip(np.round(real / scale) + zero_point, limits.min, limits.max)
    assert np.array_equal(feed.astype(np.int64), expected.astype(np.int64))
    # Semantics: dequantised values look like N(0, 1) around the zero point, which plain
    # integer synthesis (0..9) would never produce.
    dequantised = (feed.astype(np.float64) - zero_point) * scale
    assert abs(dequantised.mean()) < 0.05
    assert 0.9 < dequantised.std() < 1.1
    assert np.median(feed.astype(np.int64)) == pytest.approx(zero_point, abs=1)


def test_int_input_without_quantization_is_not_rescaled():
    feed = synthesize([TensorInfo("ids", [1, 1000], "int8")], seed=0)["ids"]
    assert feed.min() >= 0 and feed.max() <= 9


def test_litert_tensor_info_carries_quantization():
    """LiteRT input details of an INT8 input become a TensorInfo synthesis can quantize for."""
    from engines.runtimes.litert import _info

    detail = {
        "name": "in",
        "shape": np.array([1, 4]),
        "shape_signature": np.array([-1, 4]),
        "dtype": np.int8,
        "quantization": (0.5, -2),
    }
    info = _info(detail)
    assert info.quantization == (0.5, -2)
    assert info.shape == ["?", 4]
    feed = synthesize([info], batch=3, seed=1)["in"]
    assert feed.shape == (3, 4) and feed.dtype == np.int8


def test_unquantized_tflite_detail_has_no_quantization():
    from engines.runtimes.litert import _info

    detail = {"name": "x", "shape": np.array([1, 3]), "dtype": np.float32, "quantization": (0.0, 0)}
    assert _info(detail).quantization is None


def test_onnx_int_input_end_to_end(tmp_path):
    model = relu_model(tmp_path / "ids.onnx", ["batch", 6], dtype=TensorProto.INT64, name="ids")
    spec = BenchSpec(ModelRef(str(model), "onnx"), "onnxruntime", threads=1, batch=2, policy=POLICY)
    result = _events(spec)[-1]
    assert result["type"] == "result", result
    assert result["input_shapes"] == {"ids": [2, 6]}
    assert result["inputs"][0]["dtype"] == "int64"
