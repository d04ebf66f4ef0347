"""The definitions the report's methodology section quotes, verbatim from the design page
MEASUREMENT.md ("How EdgeBench measures"), shipped with the package because the design
folder is not installed on a user's machine. Keep this in step with that page.
"""

from __future__ import annotations

SOURCE = 'MEASUREMENT.md, "How EdgeBench measures"'

#: The "Our definitions" section, as written there (Markdown bullets).
DEFINITIONS = """\
- Fresh worker process per measured configuration (`ru_maxrss` only rises; the process
  peak is usually set at session creation).
- Phases reported separately: `load_ms` (session/interpreter creation incl. delegate),
  `first_ms` (first inference, cold), warm-up, measured runs.
- Run policy: warm-up until both `warmup_runs` (default 5) and `warmup_min_s` (0.5) are
  met; measure until both `min_runs` (default 50) and `min_s` (2) are met, capped by
  `max_s`; each sample times only the runtime's run call (inputs prepared before the loop),
  with `time.perf_counter_ns`.
- Statistics on the measured samples: count, mean, population std, CV, min, p5, p50, p90,
  p95, p99, max (nearest-rank `sorted[floor(n*p)]`, the same as the C++ tools; say so),
  a 95% confidence interval of the median, throughput = batch / mean. Warn when CV > 10%
  or the p99 claim has fewer than 662 samples.
- Memory, each named for what it counts: `rss_before_load`, `rss_after_load`,
  `peak_rss` (high-water mark, `ru_maxrss` plus a sampling thread), `peak_rss_delta`
  (= peak minus before-load), `model_file_bytes`, and on CUDA the allocator's peak.
- Accuracy: labelled top-1/top-5 where labels exist; fidelity to a reference (the FP32
  source model on the same inputs): cosine similarity (mean and min), SQNR in dB, max
  absolute error, top-1 agreement. A compressed variant always shows its fidelity next to
  its speed.
- Environment stored with every run: CPU model, cores, threads used, ISA flags that change
  results (avx2, avx512_vnni, amx, neon, dotprod), OS, Python and runtime versions,
  runtime options (providers, delegates, graph optimisation level), CPU governor and
  temperature where readable, tool version, model sha256.
"""

#: The "MACs and the roofline" section.
MACS = """\
Count MACs from the ONNX graph's static shapes (conv/matmul/gemm separately from
element-wise work), cross-check torch models with an independent counter, and state the
unit (1 MAC = 2 FLOPs). The speed limit of a run is max(FLOPs / peak FLOP/s,
bytes / bandwidth), both measured on the device; showing achieved GFLOP/s as a share of
the measured peak tells a user how much headroom is left.
"""
