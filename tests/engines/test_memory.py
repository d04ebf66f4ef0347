"""Memory figures: a child's peak must be its own, not the parent's (execve keeps ru_maxrss)."""

from __future__ import annotations

import resource

from engines.devices.local import LocalDevice
from engines.floor.spec import BenchSpec, ModelRef, RunPolicy


def test_peak_rss_is_not_inherited_from_a_large_parent(tiny_models):
    hog = b"\x01" * (700 << 20)  # touched pages: the parent's high-water mark rises
    parent_peak_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert parent_peak_bytes > len(hog)
    spec = BenchSpec(
        ModelRef(str(tiny_models.onnx), "onnx"),
        "onnxruntime",
        threads=1,
        policy=RunPolicy(warmup_runs=1, warmup_min_s=0.0, min_runs=5, min_s=0.0),
    )
    result = list(LocalDevice().run(spec))[-1]
    del hog
    assert result["type"] == "result", result
    memory = result["memory"]
    # The agent running a 15 KiB model stays far below the parent's 700 MiB peak.
    assert memory["peak_rss_bytes"] < parent_peak_bytes / 2, memory
    assert memory["peak_rss_bytes"] >= memory["rss_after_load_bytes"]


def _model_whose_load_allocates_and_frees(path, buffer_bytes: int):
    """An ONNX model with a large initializer no node uses: ONNX Runtime reads it while the
    session is created and frees it before the session is ready, between two samples."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    unused = numpy_helper.from_array(np.ones(buffer_bytes // 4, np.float32), "unused")
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "load-spike",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        initializer=[unused],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_peak_catches_a_load_spike_that_no_sample_sees(tmp_path):
    """The sampler is set to one reading a minute, so it never fires inside the load; the
    peak must still hold the spike and never fall below any other reading of the run."""
    buffer_bytes = 64 << 20
    model = _model_whose_load_allocates_and_frees(tmp_path / "spike.onnx", buffer_bytes)
    hog = b"\x01" * (700 << 20)  # an inherited ru_maxrss far above the child's own figures
    spec = BenchSpec(
        ModelRef(str(model), "onnx"),
        "onnxruntime",
        threads=1,
        policy=RunPolicy(warmup_runs=1, warmup_min_s=0.0, min_runs=5, min_s=0.0),
        memory_interval_ms=60_000,
    )
    result = list(LocalDevice().run(spec))[-1]
    del hog
    assert result["type"] == "result", result
    memory = result["memory"]
    assert memory["peak_rss_bytes"] >= memory["rss_after_load_bytes"], memory
    assert memory["peak_rss_bytes"] >= memory["rss_before_load_bytes"], memory
    # The file's bytes were resident at once during load, then freed.
    assert memory["peak_rss_delta_bytes"] >= 0.75 * buffer_bytes, memory
    assert memory["rss_after_load_bytes"] < memory["peak_rss_bytes"] - buffer_bytes / 2, memory
    assert "highest of all readings" in memory["method"]


def test_peak_rss_is_the_highest_reading(monkeypatch):
    """PeakRss keeps the maximum of what it is shown; kernel marks count only once they rise
    inside the window (an inherited ru_maxrss never does)."""
    from engines.bench import memory as mem

    values = {"rss": 100, "hwm": 500, "maxrss": 900}
    monkeypatch.setattr(mem, "current_rss_bytes", lambda: values["rss"])
    monkeypatch.setattr(mem, "high_water_mark_bytes", lambda: values["hwm"])
    monkeypatch.setattr(mem, "maxrss_bytes", lambda: values["maxrss"])
    monkeypatch.setattr(mem, "reset_high_water_mark", lambda: False)
    peak = mem.PeakRss()
    assert peak.open_window() == 100
    assert peak.bytes == 100  # marks at their window-start values do not count
    peak.observe(300)
    values["rss"] = 200
    peak.read()
    assert peak.bytes == 300
    values["hwm"] = 700  # rose inside the window: a spike no sample saw
    peak.read()
    assert peak.bytes == 700
    values["maxrss"] = 950
    peak.read()
    assert peak.bytes == 950
    peak.observe(None)
    assert peak.bytes == 950
