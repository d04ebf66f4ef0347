"""The definitions the report's methodology section states: how EdgeBench measures.

The same definitions are in the README ("What the numbers mean"); keep the two in step.
"""

from __future__ import annotations

SOURCE = 'the README, "What the numbers mean"'

#: How every figure is measured (Markdown bullets).
DEFINITIONS = """\
- Fresh agent process per measured configuration, so the memory figures are that
  configuration's own (the process peak is usually set at session creation).
- Phases reported separately: `load_ms` (session/interpreter creation incl. delegate),
  `first_ms` (first inference, cold), warm-up, measured runs.
- Run policy: warm-up until both `warmup_runs` (default 5) and `warmup_min_s` (0.5) are
  met; measure until both `min_runs` (default 50) and `min_s` (2) are met, capped by
  `max_s`; each sample times only the runtime's run call (inputs prepared before the loop),
  with `time.perf_counter_ns`.
- Statistics on the measured samples: count, mean, population std, CV, min, p5, p50, p90,
  p95, p99, max (nearest-rank `sorted[floor(n*p)]`, the same rule as LiteRT's
  `benchmark_model` and `onnxruntime_perf_test`), a distribution-free 95% confidence
  interval of the median, throughput = batch / mean. A warning when CV > 10% or the p99
  claim rests on fewer than 662 samples.
- Memory, each named for what it counts: `rss_before_load`, `rss_after_load`,
  `peak_rss` (the highest of all readings from just before load to the end of the timed
  runs: RSS before and after load, at each phase boundary and from a sampling thread, and
  the kernel's high-water marks `VmHWM` and `ru_maxrss` once they rise inside that window,
  so it is never below another figure of the run), `peak_rss_delta` (= peak minus
  before-load), `model_file_bytes`, and on CUDA the allocator's peak.
- Accuracy: labelled top-1/top-5 where labels exist; fidelity to a reference (the FP32
  source model on the same inputs): cosine similarity (mean and min), SQNR in dB, max
  absolute error, top-1 agreement. A compressed variant always shows its fidelity next to
  its speed.
- Environment stored with every run: CPU model, cores, threads used, ISA flags that change
  results (avx2, avx512_vnni, amx, neon, dotprod), OS, Python and runtime versions,
  runtime options (providers, delegates, graph optimisation level), CPU governor and
  temperature where readable, tool version, model sha256.
"""

#: How MACs are counted.
MACS = """\
MACs are counted from static shapes: the ONNX graph (conv/matmul/gemm apart from
element-wise work), LiteRT's op details, or `torch.utils.flop_counter` for torch models.
Symbolic dimensions count as 1. Unit: 1 MAC = one multiply-accumulate = 2 FLOPs.
"""
