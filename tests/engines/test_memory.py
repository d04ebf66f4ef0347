"""Memory figures: a child's peak must be its own, not the parent's (execve keeps ru_maxrss)."""

from __future__ import annotations

import resource

from engines.bench.spec import BenchSpec, ModelRef, RunPolicy
from engines.devices.local import LocalDevice


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
