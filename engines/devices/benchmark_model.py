"""LiteRT's `benchmark_model` binary: its flags from our run policy, its output as our result.

What the tool prints (tensorflow/lite/tools/benchmark/benchmark_model.cc and
tensorflow/core/util/stats_calculator.h), in microseconds unless said:

  Initialized session in 17.187ms.
  Running benchmark for at least 1 iterations and at least 0.5 seconds ...   (warm-up)
  count=1 curr=3512391                                   (all runs equal: no first/min/...)
  Running benchmark for at least 50 iterations and at least 1 seconds ...    (measured)
  count=50 first=2990275 curr=2913402 min=2727568 max=3189954 avg=2.95034e+06 std=109798
      [newer versions add: p5=... median=... p95=...]
  Inference timings in us: Init: 17187, First inference: 3512391, Warmup (avg): ...,
      Inference (avg): ...
  Memory footprint delta from the start of the tool (MB): init=4.21094 overall=46.0859
      [older versions: "Peak memory footprint (MB): init=... overall=..."]
  Overall peak memory footprint (MB) via periodic monitoring: 93.2383
      [only with --report_peak_memory_footprint=true]

Lines may carry a log prefix ("INFO: "); averages are printed with six significant
digits. The tool prints no raw samples, so nothing here can be re-analysed: the result
says so. Its std is the population one and its percentiles are nearest-rank
(`sorted[floor(n*p)]`), the same definitions as ours.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from engines.floor.spec import BenchSpec
from engines.floor.stats import warnings_for

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_PREFIX = re.compile(r"^(?:(?:INFO|VERBOSE|WARNING|WARN|ERROR|DEBUG): |[VDIWEF] tflite\s*: )")
_STAT_KEYS = ("count", "first", "curr", "min", "max", "avg", "std", "p5", "median", "p95")
_STAT_TOKEN = re.compile(rf"(?<!\S)({'|'.join(_STAT_KEYS)})=({_NUMBER})(\(all same\))?")
_RUNNING = re.compile(r"^Running benchmark for at least (\d+) iterations")
_SESSION = re.compile(rf"^Initialized session in ({_NUMBER}) ?ms\.?")
_SUMMARY = re.compile(
    rf"^Inference timings in us: Init: ({_NUMBER}), First inference: ({_NUMBER}), "
    rf"Warmup \(avg\): ({_NUMBER}), Inference \(avg\): ({_NUMBER})"
)
_MEMORY = re.compile(
    r"^(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): "
    rf"init=({_NUMBER}) overall=({_NUMBER})"
)
_PEAK = re.compile(rf"^Overall peak memory footprint \(MB\) via periodic monitoring: ({_NUMBER})")
_MODEL_SIZE = re.compile(rf"^The input model file size \(MB\): ({_NUMBER})")

#: Device output is untrusted: read at most this much (op-profiling tables are the bulk).
MAX_OUTPUT_CHARS = 8 << 20
SAMPLES_NOTE = "not reported by benchmark_model (it prints aggregate statistics only)"
MEMORY_METHOD = (
    "benchmark_model's own figures, which it calls APPROXIMATE: ru_maxrss deltas from the "
    "start of the tool (its own code and buffers included), after init "
    "(load_peak_rss_delta_bytes) and at the end (peak_rss_delta_bytes); peak_rss_bytes "
    "only when it monitored the footprint periodically (--report_peak_memory_footprint)"
)


class OutputError(ValueError):
    """benchmark_model's output does not hold the figures we need."""


@dataclass
class RunStats:
    """One `count=...` line, values as printed (microseconds)."""

    count: int
    values: dict[str, float] = field(default_factory=dict)
    all_same: bool = False

    def get(self, key: str) -> float | None:
        if key in self.values:
            return self.values[key]
        if self.all_same and key in ("first", "min", "max", "avg", "p5", "median", "p95"):
            return self.values.get("curr")
        if self.all_same and key == "std":
            return 0.0
        return None


@dataclass
class BenchmarkOutput:
    """What one benchmark_model run printed, parsed; times in microseconds, memory in MB."""

    warmup: RunStats | None = None
    measured: RunStats | None = None
    init_us: float | None = None
    first_us: float | None = None
    warmup_avg_us: float | None = None
    inference_avg_us: float | None = None
    session_ms: float | None = None
    memory_init_mb: float | None = None
    memory_overall_mb: float | None = None
    peak_memory_mb: float | None = None
    model_size_mb: float | None = None
    errors: list[str] = field(default_factory=list)
    #: Iteration goals from the "Running benchmark for at least N iterations" headers.
    goals: list[int] = field(default_factory=list)

    @property
    def has_percentiles(self) -> bool:
        return self.measured is not None and "p5" in self.measured.values


def strip_prefix(line: str) -> str:
    return _PREFIX.sub("", line.strip(), count=1)


def parse_stats_line(line: str) -> RunStats | None:
    """`count=50 first=... std=...` (the tool's Stat::OutputToStream); None if not one."""
    text = strip_prefix(line)
    if not text.startswith("count="):
        return None
    values: dict[str, float] = {}
    all_same = "(all same)" in text
    for key, number, _ in _STAT_TOKEN.findall(text):
        values[key] = float(number)
    count = values.pop("count", None)
    if count is None or not math.isfinite(count) or count < 0:
        return None
    all_same = all_same or (count >= 1 and "first" not in values and "curr" in values)
    return RunStats(int(count), values, all_same)


def parse_output(text: str) -> BenchmarkOutput:
    """Parse everything we use from benchmark_model's combined stdout and stderr."""
    text = text[:MAX_OUTPUT_CHARS]
    out = BenchmarkOutput()
    blocks: list[RunStats] = []
    for raw in text.replace("\r", "").splitlines():
        raw_stripped = raw.strip()
        line = strip_prefix(raw_stripped)
        if not line:
            continue
        if raw_stripped.startswith("ERROR:") or line.startswith("Benchmarking failed"):
            out.errors.append(line)
            continue
        if match := _RUNNING.match(line):
            out.goals.append(int(match[1]))
            continue
        stats = parse_stats_line(line)
        if stats is not None:
            blocks.append(stats)
            continue
        if match := _SUMMARY.match(line):
            out.init_us, out.first_us, out.warmup_avg_us, out.inference_avg_us = (
                float(g) for g in match.groups()
            )
        elif match := _MEMORY.match(line):
            out.memory_init_mb, out.memory_overall_mb = float(match[1]), float(match[2])
        elif match := _PEAK.match(line):
            out.peak_memory_mb = float(match[1])
        elif match := _SESSION.match(line):
            out.session_ms = float(match[1])
        elif match := _MODEL_SIZE.match(line):
            out.model_size_mb = float(match[1])
    # The measured block is the last `count=` line; the warm-up block, when printed,
    # is the one before it. (Op-profiling tables print "Timings (microseconds): count=",
    # which does not start with count= and is not taken.)
    if blocks:
        out.measured = blocks[-1]
        if len(blocks) >= 2:
            out.warmup = blocks[-2]
    return out


def mb_to_bytes(mb: float | None) -> int | None:
    """The tool prints KB/1024 with six digits: round back to whole KiB, then to bytes."""
    return None if mb is None else round(mb * 1024) * 1024


def flags(spec: BenchSpec, graph: str, threads: int | None) -> list[str]:
    """benchmark_model flags for our run policy (checked against benchmark_model.cc)."""
    policy = spec.policy
    argv = [f"--graph={graph}"]
    if threads:
        argv.append(f"--num_threads={threads}")
    argv += [
        f"--num_runs={policy.min_runs}",
        f"--min_secs={policy.min_s:g}",
        f"--max_secs={policy.max_s:g}",
        f"--warmup_runs={max(policy.warmup_runs, 1)}",
        f"--warmup_min_secs={policy.warmup_min_s:g}",
    ]
    return argv


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000.0


def statistics(out: BenchmarkOutput, batch: int = 1) -> dict[str, Any]:
    """Our statistics keys from the measured line; what the tool does not print is None."""
    measured = out.measured
    if measured is None or measured.count < 1:
        raise OutputError("benchmark_model printed no measured-run statistics")
    mean_ms = _ms(measured.get("avg"))
    if mean_ms is None:
        raise OutputError("benchmark_model's measured-run line has no average")
    std_ms = _ms(measured.get("std")) or 0.0
    percentiles = out.has_percentiles or measured.all_same
    stats: dict[str, Any] = {
        "count": measured.count,
        "mean_ms": mean_ms,
        "std_ms": std_ms,
        "cv": std_ms / mean_ms if mean_ms > 0 else 0.0,
        "min_ms": _ms(measured.get("min")),
        "max_ms": _ms(measured.get("max")),
        "p5_ms": _ms(measured.get("p5")),
        "p50_ms": _ms(measured.get("median")),
        "p90_ms": None,
        "p95_ms": _ms(measured.get("p95")),
        "p99_ms": None,
        "median_ci95_ms": None,
        "first_measured_ms": _ms(measured.get("first")),
        "last_measured_ms": _ms(measured.get("curr")),
        "throughput_per_s": batch * 1000.0 / mean_ms if mean_ms > 0 else 0.0,
        "batch": batch,
        "percentile_method": (
            "benchmark_model's own p5/median/p95 (nearest-rank sorted[floor(n*p)]); "
            "p90/p99 and the median's confidence interval are not reported by it"
            if percentiles
            else "not reported by this benchmark_model version (it prints no "
            "percentiles): p5/p50/p90/p95/p99 are absent"
        ),
        "std_method": "population (benchmark_model's)",
        "source": "benchmark_model",
    }
    notes = [w for w in warnings_for(stats) if not w.startswith(("p90", "p99"))]
    notes.append(
        "figures are benchmark_model's aggregates (no raw samples): no distribution plot, "
        "p90/p99 or re-analysis is possible"
    )
    stats["warnings"] = notes
    return stats


def result_event(
    out: BenchmarkOutput,
    spec: BenchSpec,
    *,
    environment: dict[str, Any],
    runtime_options: dict[str, Any],
    model_file_bytes: int | None,
) -> dict[str, Any]:
    """The `result` event (the agent's shape) for one parsed benchmark_model run."""
    if out.init_us is None and out.session_ms is None:
        raise OutputError("benchmark_model printed no initialisation time")
    batch = 1  # benchmark_model runs the model's own input shapes
    stats = statistics(out, batch)
    if spec.batch != 1:
        stats["warnings"].append(
            f"batch {spec.batch} was not applied: benchmark_model runs the model's own input shapes"
        )
    warm = out.warmup
    warm_mean = _ms(out.warmup_avg_us) if out.warmup_avg_us is not None else None
    if warm_mean is None and warm is not None:
        warm_mean = _ms(warm.get("avg"))
    load_ms = _ms(out.init_us) if out.init_us is not None else out.session_ms
    first_ms = _ms(out.first_us)
    if first_ms is None and warm is not None:
        first_ms = _ms(warm.get("first"))
    memory = {
        "rss_before_load_bytes": None,
        "rss_after_load_bytes": None,
        "peak_rss_bytes": mb_to_bytes(out.peak_memory_mb),
        "peak_rss_delta_bytes": mb_to_bytes(out.memory_overall_mb),
        "load_peak_rss_delta_bytes": mb_to_bytes(out.memory_init_mb),
        "model_file_bytes": model_file_bytes,
        "accelerator_peak_bytes": None,
        "method": MEMORY_METHOD,
    }
    return {
        "type": "result",
        "load_ms": load_ms,
        "first_ms": first_ms,
        "warmup": {"runs": warm.count if warm else None, "mean_ms": warm_mean},
        "statistics": stats,
        "samples": SAMPLES_NOTE,
        "memory": memory,
        "runtime_options": runtime_options,
        "inputs": [],
        "input_shapes": {},
        "output_shapes": [],
        "evaluation": None,
        "environment": environment,
        "benchmark_model": {
            "unit": "us",
            "warmup": _raw(warm),
            "measured": _raw(out.measured),
            "init_us": out.init_us,
            "first_inference_us": out.first_us,
            "warmup_avg_us": out.warmup_avg_us,
            "inference_avg_us": out.inference_avg_us,
            "memory_mb": {
                "init": out.memory_init_mb,
                "overall": out.memory_overall_mb,
                "peak": out.peak_memory_mb,
            },
            "model_size_mb": out.model_size_mb,
        },
    }


def _raw(stats: RunStats | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return {"count": stats.count, **stats.values, "all_same": stats.all_same}


def failure_message(out: BenchmarkOutput, returncode: int | None) -> str:
    """One sentence for a failed run: the tool's own last error line when it printed one."""
    reason = next((e for e in reversed(out.errors) if not e.startswith("Benchmarking failed")), "")
    code = f" (exit code {returncode})" if returncode not in (None, 0) else ""
    if reason:
        return f"benchmark_model failed{code}: {reason[:300]}"
    return f"benchmark_model failed{code} without saying why"


__all__ = [
    "MEMORY_METHOD",
    "SAMPLES_NOTE",
    "BenchmarkOutput",
    "OutputError",
    "RunStats",
    "failure_message",
    "flags",
    "mb_to_bytes",
    "parse_output",
    "parse_stats_line",
    "result_event",
    "statistics",
]
