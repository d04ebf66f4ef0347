"""Latency statistics against hand-computed values and as properties (the README's definitions)."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.floor.stats import (
    MIN_SAMPLES_P90,
    MIN_SAMPLES_P99,
    median_ci95,
    nearest_rank,
    summarize,
)

PCT_KEYS = ["p5_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms"]
#: The percentile levels as exact decimals, to check floor(n * p) without float error.
EXACT_P = {
    "p5_ms": Fraction(5, 100),
    "p50_ms": Fraction(1, 2),
    "p90_ms": Fraction(9, 10),
    "p95_ms": Fraction(95, 100),
    "p99_ms": Fraction(99, 100),
}


def test_one_to_ten_hand_computed():
    values = [float(v) for v in range(1, 11)]
    random.Random(3).shuffle(values)  # summarize must sort
    s = summarize(values)
    assert s["count"] == 10
    assert s["min_ms"] == 1.0 and s["max_ms"] == 10.0
    assert s["mean_ms"] == pytest.approx(5.5)
    # population std: sqrt(sum((v - 5.5)^2) / 10) = sqrt(82.5 / 10) = sqrt(8.25)
    assert s["std_ms"] == pytest.approx(math.sqrt(8.25))
    assert s["std_ms"] != pytest.approx(math.sqrt(82.5 / 9))  # not the sample std
    assert s["cv"] == pytest.approx(math.sqrt(8.25) / 5.5)
    # nearest rank sorted[floor(n*p)]: p5 -> [0]=1, p50 -> [5]=6, p90 -> [9]=10,
    # p95 -> [floor(9.5)=9]=10, p99 -> [9]=10 (no interpolation: p50 is 6, not 5.5)
    assert s["p5_ms"] == 1.0
    assert s["p50_ms"] == 6.0
    assert s["p90_ms"] == 10.0
    assert s["p95_ms"] == 10.0
    assert s["p99_ms"] == 10.0
    # throughput = batch / mean
    assert s["throughput_per_s"] == pytest.approx(1000.0 / 5.5)
    assert s["batch"] == 1
    assert "nearest-rank" in s["percentile_method"]
    assert s["std_method"] == "population"


def test_one_to_hundred_percentiles_and_ci():
    s = summarize(list(range(1, 101)))
    # sorted[floor(100 p)]: p5 -> [5]=6, p50 -> [50]=51, p90 -> [90]=91, p95 -> 96, p99 -> 100
    assert [s[k] for k in PCT_KEYS] == [6.0, 51.0, 91.0, 96.0, 100.0]
    # Median CI, n=100: ranks floor(50 - 0.98*10)=40 and ceil(1 + 50 + 9.8)=61 (1-based),
    # the classic distribution-free interval for n=100.
    assert s["median_ci95_ms"] == [40.0, 61.0]


def test_batch_scales_throughput():
    s = summarize([2.0, 2.0, 2.0, 2.0], batch=8)
    assert s["throughput_per_s"] == pytest.approx(8 * 1000.0 / 2.0)
    assert s["batch"] == 8
    assert s["std_ms"] == 0.0 and s["cv"] == 0.0


def test_single_sample():
    s = summarize([3.5])
    assert s["count"] == 1
    assert all(s[k] == 3.5 for k in PCT_KEYS)
    assert s["median_ci95_ms"] == [3.5, 3.5]
    assert s["std_ms"] == 0.0


def test_empty_is_an_error():
    with pytest.raises(ValueError):
        summarize([])
    with pytest.raises(ValueError):
        nearest_rank([], 0.5)
    with pytest.raises(ValueError):
        median_ci95([])


def test_median_ci_small_n_degrades_to_min_max():
    assert median_ci95([1.0, 2.0, 3.0, 4.0, 5.0]) == (1.0, 5.0)
    assert median_ci95([float(v) for v in range(1, 11)]) == (1.0, 10.0)


def test_median_ci_n_1000():
    values = [float(v) for v in range(1, 1001)]
    # half width 1.96 * sqrt(1000) / 2 = 30.99; ranks floor(500 - 30.99)=469, ceil(531.99)=532
    assert median_ci95(values) == (469.0, 532.0)


def test_warnings_few_samples_and_noise():
    noisy = summarize([1.0, 1.0, 1.0, 10.0])  # CV well above 10%
    text = " ".join(noisy["warnings"])
    assert "CV" in text
    assert str(MIN_SAMPLES_P99) in text
    assert str(MIN_SAMPLES_P90) in text


def test_warnings_quiet_for_enough_steady_samples():
    rng = random.Random(0)
    values = [10.0 + rng.uniform(-0.1, 0.1) for _ in range(MIN_SAMPLES_P99)]
    assert summarize(values)["warnings"] == []


def test_warnings_boundaries():
    steady = [5.0] * (MIN_SAMPLES_P99 - 1)
    notes = summarize(steady)["warnings"]
    assert len(notes) == 1 and "p99" in notes[0]
    notes = summarize([5.0] * (MIN_SAMPLES_P90 - 1))["warnings"]
    assert len(notes) == 2 and any("p90" in n for n in notes)
    notes = summarize([5.0] * MIN_SAMPLES_P90)["warnings"]
    assert len(notes) == 1 and "p99" in notes[0]


def test_cv_warning_threshold():
    # Binary-exact values: mean 1, population std 0.0625 (CV 6.25%) vs 0.125 (CV 12.5%).
    calm = summarize([0.9375, 1.0625] * MIN_SAMPLES_P99)
    assert calm["cv"] == 0.0625
    assert not any("CV" in w for w in calm["warnings"])
    noisy = summarize([0.875, 1.125] * MIN_SAMPLES_P99)
    assert noisy["cv"] == 0.125
    assert any("CV" in w for w in noisy["warnings"])


# ------------------------------------------------------------------------- properties

latencies = st.lists(
    st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=300,
)


@given(latencies)
def test_percentiles_ordered_and_within_range(values):
    s = summarize(values)
    ordered = [s["min_ms"], *(s[k] for k in PCT_KEYS), s["max_ms"]]
    assert ordered == sorted(ordered)
    assert s["min_ms"] <= s["p50_ms"] <= s["max_ms"]
    lo, hi = s["median_ci95_ms"]
    assert lo <= s["p50_ms"] <= hi
    assert s["count"] == len(values)
    assert s["std_ms"] >= 0.0


@given(latencies)
def test_percentiles_are_exact_nearest_rank(values):
    """Every percentile is a sample, at index floor(n*p) computed in exact arithmetic."""
    s = summarize(values)
    ordered = sorted(values)
    n = len(ordered)
    for key, p in EXACT_P.items():
        index = min(n - 1, math.floor(n * p))
        assert s[key] == ordered[index], (key, n)


@given(latencies, st.randoms(use_true_random=False))
def test_order_of_samples_does_not_matter(values, rnd):
    shuffled = list(values)
    rnd.shuffle(shuffled)
    a, b = summarize(values), summarize(shuffled)
    for key in [*PCT_KEYS, "min_ms", "max_ms", "median_ci95_ms", "count"]:
        assert a[key] == b[key]
    assert a["mean_ms"] == pytest.approx(b["mean_ms"])


@given(
    st.lists(st.floats(min_value=0.001, max_value=1e4, allow_nan=False), min_size=2, max_size=200)
)
def test_mean_and_population_std_match_definition(values):
    s = summarize(values)
    n = len(values)
    mean = sum(Fraction(v) for v in values) / n
    var = sum((Fraction(v) - mean) ** 2 for v in values) / n
    assert s["mean_ms"] == pytest.approx(float(mean), rel=1e-9)
    assert s["std_ms"] == pytest.approx(math.sqrt(float(var)), rel=1e-6, abs=1e-9)
    assert s["min_ms"] * (1 - 1e-12) <= s["mean_ms"] <= s["max_ms"] * (1 + 1e-12)
