"""Latency statistics exactly as the README defines them (stdlib only: runs in the agent).

Percentiles are nearest-rank, `sorted[floor(n * p)]`, the rule LiteRT's benchmark_model and
onnxruntime_perf_test use, so our p50/p90/p99 can be compared with theirs. The standard
deviation is the population one. The median's 95% confidence interval is the
distribution-free one from binomial order statistics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

PERCENTILES = {"p5": 0.05, "p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
CV_WARN = 0.10
MIN_SAMPLES_P99 = 662  # MLPerf early stopping: fewest queries for a p99 claim
MIN_SAMPLES_P90 = 64


def nearest_rank(sorted_values: Sequence[float], p: float) -> float:
    """`sorted[floor(n * p)]`, clamped to the last element."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("no samples")
    return sorted_values[min(n - 1, math.floor(n * p))]


def median_ci95(sorted_values: Sequence[float]) -> tuple[float, float]:
    """Order-statistic interval that holds the true median with >= 95% probability.

    Ranks n/2 -+ 1.96*sqrt(n)/2 (normal approximation of Binomial(n, 1/2)), 1-based,
    clamped to the sample; for tiny n this degrades to (min, max).
    """
    n = len(sorted_values)
    if n == 0:
        raise ValueError("no samples")
    half_width = 1.96 * math.sqrt(n) / 2
    lo_rank = max(1, math.floor(n / 2 - half_width))
    hi_rank = min(n, math.ceil(1 + n / 2 + half_width))
    return sorted_values[lo_rank - 1], sorted_values[hi_rank - 1]


class LatencyStatistics(TypedDict):
    """A run's latency figures, as stored and sent (`statistics` of a result event).
    Keys carry their unit; a run with no timed samples has None instead."""

    count: int
    mean_ms: float
    std_ms: float
    cv: float
    min_ms: float
    max_ms: float
    median_ci95_ms: list[float]
    throughput_per_s: float
    batch: int
    percentile_method: str
    std_method: str
    p5_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    warnings: list[str]


def summarize(latencies_ms: Sequence[float], batch: int = 1) -> LatencyStatistics:
    """All figures for one measured run. Keys carry their unit."""
    values = sorted(float(v) for v in latencies_ms)
    n = len(values)
    if n == 0:
        raise ValueError("no samples")
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / n)
    ci_lo, ci_hi = median_ci95(values)
    at = {key: nearest_rank(values, p) for key, p in PERCENTILES.items()}
    stats: LatencyStatistics = {
        "count": n,
        "mean_ms": mean,
        "std_ms": std,
        "cv": std / mean if mean > 0 else 0.0,
        "min_ms": values[0],
        "max_ms": values[-1],
        "median_ci95_ms": [ci_lo, ci_hi],
        "throughput_per_s": batch * 1000.0 / mean if mean > 0 else 0.0,
        "batch": batch,
        "percentile_method": "nearest-rank sorted[floor(n*p)]",
        "std_method": "population",
        "p5_ms": at["p5"],
        "p50_ms": at["p50"],
        "p90_ms": at["p90"],
        "p95_ms": at["p95"],
        "p99_ms": at["p99"],
        "warnings": [],
    }
    stats["warnings"] = warnings_for(stats)
    return stats


def warnings_for(stats: Mapping[str, Any]) -> list[str]:
    """What a reader must know before trusting the figures."""
    notes = []
    if stats["cv"] > CV_WARN:
        notes.append(
            f"CV is {stats['cv']:.0%} (> {CV_WARN:.0%}): the machine was noisy or the model "
            "warms up slowly; compare medians, not means"
        )
    if stats["count"] < MIN_SAMPLES_P99:
        notes.append(
            f"p99 rests on {stats['count']} samples; {MIN_SAMPLES_P99} are needed for a p99 "
            "claim (MLPerf early stopping)"
        )
    if stats["count"] < MIN_SAMPLES_P90:
        notes.append(f"p90 rests on {stats['count']} samples; {MIN_SAMPLES_P90} are needed")
    return notes
