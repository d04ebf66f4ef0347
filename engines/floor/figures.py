"""The figure catalogue: every number EdgeBench shows about a run, once.

Each figure has its name in words, its unit, its definition, which way is better, how it
is set against a baseline, where the agent's result stores it and how it is printed. The
CLI tables, the Compare page, the Profile panel and the PDF report all read this table,
so a figure has one name, one definition and one format everywhere. Stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from engines.floor.units import factor, ms, size

#: "lower" / "higher" is better; None: no best value (e.g. the sample count).
Better = Literal["lower", "higher"] | None
#: How a value is set against the baseline's: a speed factor, a size factor, a difference.
ChangeKind = Literal["time", "rate", "bytes", "points", "cosine", "db", "none"]
#: Where a stored run keeps the value: the result's statistics, its memory block, the
#: result itself, the evaluation's classification or its fidelity block.
Place = Literal["statistics", "memory", "result", "classification", "fidelity"]

PERCENTILE_NOTE = (
    "Nearest-rank percentile, sorted[floor(n*p)] with no interpolation: the rule LiteRT's "
    "benchmark_model and onnxruntime_perf_test use. Each sample times only the runtime's "
    "run call, after warm-up, in a fresh worker process."
)


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    definition: str
    better: Better
    change: ChangeKind
    place: Place
    field: str
    #: True for figures of a timed run: an evaluation-only run has none of them, and they
    #: are never divided by (or into) an evaluation-only run's numbers.
    timed: bool = True
    #: Shown only when at least one run has a value (accuracy figures need evaluation).
    optional: bool = False

    def text(self, value: float, places: Mapping[str, Mapping[str, Any]] | None = None) -> str:
        """The value as printed everywhere ("4.301 ms", "160.2 KiB", "97.2%")."""
        if self.key == "mean_ms":
            std = number((places or {}).get("statistics", {}).get("std_ms"))
            # The spread needs no more digits than the mean it qualifies.
            spread = "-" if std is None else f"{std:.3f}" if std < 100 else f"{std:.1f}"
            return f"{ms(value)} ± {spread} ms"
        if self.unit == "ms":
            return f"{ms(value)} ms"
        if self.unit == "bytes":
            return size(value)
        if self.unit == "%":
            return f"{value:.1%}"
        if self.unit == "inf/s":
            return f"{value:.1f} inf/s"
        if self.unit == "dB":
            return f"{value:.1f} dB"
        if self.unit == "cosine":
            return f"{value:.4f}"
        return f"{value:.0f}"


FIGURES: tuple[Figure, ...] = (
    Figure(
        "p50_ms", "p50 latency", "ms",
        "Median latency of the timed runs. " + PERCENTILE_NOTE,
        "lower", "time", "statistics", "p50_ms",
    ),
    Figure(
        "p90_ms", "p90 latency", "ms",
        "90th percentile: the MLPerf single-stream headline; a p90 claim needs at least 64 "
        "samples. " + PERCENTILE_NOTE,
        "lower", "time", "statistics", "p90_ms",
    ),
    Figure(
        "p99_ms", "p99 latency", "ms",
        "99th percentile (the tail); a p99 claim needs at least 662 samples (MLPerf early "
        "stopping). " + PERCENTILE_NOTE,
        "lower", "time", "statistics", "p99_ms",
    ),
    Figure(
        "mean_ms", "mean ± std", "ms",
        "Arithmetic mean of the timed runs ± the population standard deviation. The change "
        "and the best value compare the means.",
        "lower", "time", "statistics", "mean_ms",
    ),
    Figure(
        "cv", "CV", "%",
        "Coefficient of variation = population std / mean. Above 10% the machine was noisy "
        "or the model warms up slowly: compare medians, not means. Change in percentage "
        "points.",
        "lower", "points", "statistics", "cv",
    ),
    Figure(
        "min_ms", "min latency", "ms", "Fastest timed run.",
        "lower", "time", "statistics", "min_ms",
    ),
    Figure(
        "max_ms", "max latency", "ms",
        "Slowest timed run (one sample: noisy by nature; read p99 for the tail).",
        "lower", "time", "statistics", "max_ms",
    ),
    Figure(
        "throughput_per_s", "throughput", "inf/s",
        "Inferences per second = batch / mean latency (one stream, one call at a time).",
        "higher", "rate", "statistics", "throughput_per_s",
    ),
    Figure(
        "load_ms", "load time", "ms",
        "Session or interpreter creation, delegate included, in a fresh worker process; "
        "reported separately from the timed runs.",
        "lower", "time", "result", "load_ms",
    ),
    Figure(
        "first_ms", "first inference", "ms",
        "The first inference, cold (before warm-up); not part of the statistics.",
        "lower", "time", "result", "first_ms",
    ),
    Figure(
        "peak_rss_delta_bytes", "peak memory (delta)", "bytes",
        "Peak minus the resident memory before the model was loaded; the peak is the "
        "highest of all resident-memory readings (sampled RSS and the kernel's high-water "
        "marks).",
        "lower", "bytes", "memory", "peak_rss_delta_bytes",
    ),
    Figure(
        "model_file_bytes", "model size", "bytes",
        "The size of the model file that was loaded, external weights included.",
        "lower", "bytes", "memory", "model_file_bytes", timed=False,
    ),
    Figure(
        "count", "samples", "",
        "Timed runs after warm-up. Timing goes on until both min_runs (default 50) and min_s "
        "(2 s) are met; p90 needs 64 samples and p99 662 to be claimed.",
        None, "none", "statistics", "count",
    ),
    Figure(
        "top1", "top-1 accuracy", "%",
        "Labelled top-1 accuracy on the evaluation data, on this runtime. Change in "
        "percentage points.",
        "higher", "points", "classification", "top1", timed=False, optional=True,
    ),
    Figure(
        "top5", "top-5 accuracy", "%",
        "Labelled top-5 accuracy on the evaluation data, on this runtime.",
        "higher", "points", "classification", "top5", timed=False, optional=True,
    ),
    Figure(
        "cosine_mean", "fidelity (cosine mean)", "cosine",
        "Fidelity to the reference, the FP32 source model on the same inputs: mean cosine "
        "similarity of the outputs (1 = identical).",
        "higher", "cosine", "fidelity", "cosine_mean", timed=False, optional=True,
    ),
    Figure(
        "sqnr_db", "SQNR", "dB",
        "Signal-to-quantization-noise ratio of the outputs against the FP32 reference, "
        "10*log10(signal / noise), in dB: higher is closer to the reference.",
        "higher", "db", "fidelity", "sqnr_db", timed=False, optional=True,
    ),
    Figure(
        "top1_agreement", "top-1 agreement", "%",
        "Share of inputs on which the variant's top class is the FP32 reference's.",
        "higher", "points", "fidelity", "top1_agreement", timed=False, optional=True,
    ),
)  # fmt: skip

BY_KEY: dict[str, Figure] = {f.key: f for f in FIGURES}


def figure(key: str) -> Figure:
    return BY_KEY[key]


def number(value: Any) -> float | None:
    """A stored number as float; None for missing values, booleans and text."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def places_of(
    result: Mapping[str, Any] | None,
    statistics: Mapping[str, Any] | None = None,
    memory: Mapping[str, Any] | None = None,
) -> dict[str, Mapping[str, Any]]:
    """Where each figure lives in an agent's `result` event; the store keeps statistics
    and memory beside the result, so a stored run passes them in."""
    result = result or {}
    evaluation = result.get("evaluation") or {}
    return {
        "statistics": statistics or result.get("statistics") or {},
        "memory": memory or result.get("memory") or {},
        "result": result,
        "classification": evaluation.get("classification") or {},
        "fidelity": evaluation.get("fidelity") or {},
    }


def value_of(
    fig: Figure, places: Mapping[str, Mapping[str, Any]], timed: bool = True
) -> float | None:
    """The stored value of `fig`; None where the run has none, or where it was not timed
    (an evaluation-only run's load and first-inference times are not latency figures)."""
    if fig.timed and not timed:
        return None
    return number(places.get(fig.place, {}).get(fig.field))


def figure_values(result: Mapping[str, Any] | None, timed: bool = True) -> dict[str, float | None]:
    """Every catalogue figure of one result, keyed by figure key."""
    places = places_of(result)
    return {f.key: value_of(f, places, timed) for f in FIGURES}


def change_text(kind: ChangeKind, value: float, base: float) -> str:
    """How `value` compares with the baseline's `base`, in the figure's own terms."""
    if kind in ("time", "rate", "bytes"):
        if value <= 0 or base <= 0:
            return ""
        words = {"time": ("faster", "slower"), "rate": ("lower", "higher")}
        return factor(value, base, *words.get(kind, ("smaller", "larger")))
    if kind == "points":
        return f"{(value - base) * 100:+.1f} pt"
    if kind == "cosine":
        return f"{value - base:+.4f}"
    if kind == "db":
        return f"{value - base:+.1f} dB"
    return ""


@dataclass(frozen=True)
class SummaryLine:
    """One line of a run's summary: the figure's label, its value in words, its definition."""

    label: str
    text: str
    definition: str


#: The figures a single run's summary shows (the Profile panel, `edgebench profile`).
SUMMARY_KEYS = (
    "p50_ms", "p90_ms", "p99_ms", "mean_ms", "cv", "throughput_per_s", "load_ms", "first_ms",
    "peak_rss_delta_bytes", "model_file_bytes", "top1", "top5", "cosine_mean", "sqnr_db",
    "top1_agreement",
)  # fmt: skip


def run_summary(
    result: Mapping[str, Any] | None, timed: bool = True, file_bytes: float | None = None
) -> list[SummaryLine]:
    """A run's figures in catalogue words: the median with its 95% CI, p99 with its sample
    count; figures the run does not have are left out."""
    places = places_of(result)
    statistics = places["statistics"]
    lines: list[SummaryLine] = []
    for key in SUMMARY_KEYS:
        fig = BY_KEY[key]
        value = value_of(fig, places, timed)
        if value is None and key == "model_file_bytes":
            value = file_bytes
        if value is None:
            continue
        text = fig.text(value, places)
        if key == "p50_ms":
            ci = statistics.get("median_ci95_ms") or []
            if len(ci) == 2 and ci[0] is not None and ci[0] != ci[1]:
                text += f"  (95% CI {ms(ci[0])} to {ms(ci[1])} ms)"
        elif key == "p99_ms" and number(statistics.get("count")) is not None:
            text += f"  ({int(statistics['count']):,} samples)"
        lines.append(SummaryLine(fig.label, text, fig.definition))
    return lines
