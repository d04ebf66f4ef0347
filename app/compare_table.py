"""The comparison of stored runs as plain data: rows of figures, ratios to a baseline, the
best value per row, the accuracy-vs-latency Pareto frontier, and Markdown/CSV text.

Qt-free so it is unit-tested directly and the CLI can print the same table. Every value
comes from the run as stored (`RunRow`); nothing is recomputed from the samples.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from app.formatting import ms, size
from engines.floor.units import factor
from engines.pipeline.sweep import accuracy_of
from engines.report.figures import evaluation_of
from engines.store.db import RunRow

#: "lower" / "higher" is better; None: no best value (e.g. the sample count).
Better = Literal["lower", "higher"] | None
#: How a value is set against the baseline's: a speed factor, a size factor, a difference.
ChangeKind = Literal["time", "rate", "bytes", "points", "cosine", "db", "none"]


@dataclass(frozen=True)
class Cell:
    """One run's figure: `value` drives the best choice and the change; `text` shows it."""

    value: float | None
    text: str
    #: Against the baseline ("2.97x faster", "+0.2 pt"); empty for the baseline itself.
    change: str = ""
    is_best: bool = False
    #: Raw numbers for CSV, one per `Row.csv_keys` (mean and std for "mean ± std").
    raw: tuple[float | None, ...] = ()

    @property
    def display(self) -> str:
        return f"{self.text} ({self.change})" if self.change else self.text


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    tooltip: str
    better: Better
    cells: tuple[Cell, ...]
    csv_keys: tuple[str, ...]


@dataclass(frozen=True)
class _Figure:
    key: str
    label: str
    tooltip: str
    better: Better
    change: ChangeKind
    value: Callable[[RunRow], float | None]
    text: Callable[[RunRow, float], str]
    #: Extra CSV columns beside the value (key, getter).
    extra: tuple[tuple[str, Callable[[RunRow], float | None]], ...] = ()
    #: Shown only when at least one run has a value (accuracy figures need evaluation).
    optional: bool = False


PERCENTILE_NOTE = (
    "Nearest-rank percentile, sorted[floor(n*p)] with no interpolation: the rule LiteRT's "
    "benchmark_model and onnxruntime_perf_test use. Each sample times only the runtime's "
    "run call, after warm-up, in a fresh worker process."
)


def _stat(key: str) -> Callable[[RunRow], float | None]:
    def get(run: RunRow) -> float | None:
        value = (run.statistics or {}).get(key)
        return float(value) if value is not None else None

    return get


def _memory(key: str) -> Callable[[RunRow], float | None]:
    def get(run: RunRow) -> float | None:
        value = (run.memory or {}).get(key)
        return float(value) if value is not None else None

    return get


def _result(key: str) -> Callable[[RunRow], float | None]:
    def get(run: RunRow) -> float | None:
        value = (run.result or {}).get(key)
        return float(value) if value is not None else None

    return get


def _top1(run: RunRow) -> float | None:
    value = (evaluation_of(run).get("classification") or {}).get("top1")
    return float(value) if value is not None else None


def _fidelity(key: str) -> Callable[[RunRow], float | None]:
    def get(run: RunRow) -> float | None:
        value = (evaluation_of(run).get("fidelity") or {}).get(key)
        return float(value) if value is not None else None

    return get


def _ms_text(_run: RunRow, value: float) -> str:
    return f"{ms(value)} ms"


def _mean_std_text(run: RunRow, value: float) -> str:
    std = _stat("std_ms")(run)
    # The spread needs no more digits than the mean it qualifies.
    spread = "-" if std is None else f"{std:.3f}" if std < 100 else f"{std:.1f}"
    return f"{ms(value)} ± {spread} ms"


FIGURES: tuple[_Figure, ...] = (
    _Figure(
        "p50_ms",
        "p50 latency",
        "Median latency of the timed runs. " + PERCENTILE_NOTE,
        "lower",
        "time",
        _stat("p50_ms"),
        _ms_text,
    ),
    _Figure(
        "p90_ms",
        "p90 latency",
        "90th percentile: the MLPerf single-stream headline; a p90 claim needs at least 64 "
        "samples. " + PERCENTILE_NOTE,
        "lower",
        "time",
        _stat("p90_ms"),
        _ms_text,
    ),
    _Figure(
        "p99_ms",
        "p99 latency",
        "99th percentile (the tail); a p99 claim needs at least 662 samples (MLPerf early "
        "stopping). " + PERCENTILE_NOTE,
        "lower",
        "time",
        _stat("p99_ms"),
        _ms_text,
    ),
    _Figure(
        "mean_ms",
        "mean ± std",
        "Arithmetic mean of the timed runs ± the population standard deviation. The change "
        "and the best value compare the means.",
        "lower",
        "time",
        _stat("mean_ms"),
        _mean_std_text,
        extra=(("std_ms", _stat("std_ms")),),
    ),
    _Figure(
        "cv",
        "CV",
        "Coefficient of variation = population std / mean. Above 10% the machine was noisy "
        "or the model warms up slowly: compare medians, not means. Change in percentage "
        "points.",
        "lower",
        "points",
        _stat("cv"),
        lambda _run, value: f"{value:.1%}",
    ),
    _Figure(
        "min_ms",
        "min latency",
        "Fastest timed run.",
        "lower",
        "time",
        _stat("min_ms"),
        _ms_text,
    ),
    _Figure(
        "max_ms",
        "max latency",
        "Slowest timed run (one sample: noisy by nature; read p99 for the tail).",
        "lower",
        "time",
        _stat("max_ms"),
        _ms_text,
    ),
    _Figure(
        "throughput_per_s",
        "throughput",
        "Inferences per second = batch / mean latency (one stream, one call at a time).",
        "higher",
        "rate",
        _stat("throughput_per_s"),
        lambda _run, value: f"{value:.1f} inf/s",
    ),
    _Figure(
        "load_ms",
        "load time",
        "load_ms: session or interpreter creation, delegate included, in a fresh worker "
        "process; reported separately from the timed runs.",
        "lower",
        "time",
        _result("load_ms"),
        _ms_text,
    ),
    _Figure(
        "first_ms",
        "first inference",
        "first_ms: the first inference, cold (before warm-up); not part of the statistics.",
        "lower",
        "time",
        _result("first_ms"),
        _ms_text,
    ),
    _Figure(
        "peak_rss_delta_bytes",
        "peak memory (delta)",
        "peak_rss_delta = peak - before load: the highest of all resident-memory readings "
        "(sampled RSS and the kernel's high-water marks) minus the RSS before the model "
        "was loaded.",
        "lower",
        "bytes",
        _memory("peak_rss_delta_bytes"),
        lambda _run, value: size(value),
    ),
    _Figure(
        "model_file_bytes",
        "model size",
        "model_file_bytes: the size of the model file that was loaded.",
        "lower",
        "bytes",
        _memory("model_file_bytes"),
        lambda _run, value: size(value),
    ),
    _Figure(
        "count",
        "samples",
        "Timed runs after warm-up. Timing goes on until both min_runs (default 50) and min_s "
        "(2 s) are met; p90 needs 64 samples and p99 662 to be claimed.",
        None,
        "none",
        _stat("count"),
        lambda _run, value: f"{value:.0f}",
    ),
    _Figure(
        "top1",
        "top-1 accuracy",
        "Labelled top-1 accuracy on the evaluation data, on this runtime. Change in "
        "percentage points.",
        "higher",
        "points",
        _top1,
        lambda _run, value: f"{value:.1%}",
        optional=True,
    ),
    _Figure(
        "cosine_mean",
        "fidelity (cosine mean)",
        "Fidelity to the reference, the FP32 source model on the same inputs: mean cosine "
        "similarity of the outputs (1 = identical).",
        "higher",
        "cosine",
        _fidelity("cosine_mean"),
        lambda _run, value: f"{value:.4f}",
        optional=True,
    ),
    _Figure(
        "sqnr_db",
        "SQNR",
        "Signal-to-quantization-noise ratio of the outputs against the FP32 reference, "
        "10*log10(signal / noise), in dB: higher is closer to the reference.",
        "higher",
        "db",
        _fidelity("sqnr_db"),
        lambda _run, value: f"{value:.1f} dB",
        optional=True,
    ),
)


def _factor(value: float, base: float, smaller: str, larger: str) -> str:
    """'2.97x faster': the factor is always >= 1 and the word says which way."""
    return factor(value, base, smaller, larger) if value > 0 and base > 0 else ""


def change_text(kind: ChangeKind, value: float, base: float) -> str:
    """How `value` compares with the baseline's `base`, in the row's own terms."""
    if kind == "time":
        return _factor(value, base, "faster", "slower")
    if kind == "rate":
        return _factor(value, base, "lower", "higher")
    if kind == "bytes":
        return _factor(value, base, "smaller", "larger")
    if kind == "points":
        return f"{(value - base) * 100:+.1f} pt"
    if kind == "cosine":
        return f"{value - base:+.4f}"
    if kind == "db":
        return f"{value - base:+.1f} dB"
    return ""


def _best_flags(values: Sequence[float | None], better: Better) -> list[bool]:
    present = [v for v in values if v is not None]
    # One value, or all equal: nothing stands out, so nothing is highlighted.
    if better is None or len(present) < 2 or min(present) == max(present):
        return [False] * len(values)
    best = min(present) if better == "lower" else max(present)
    return [v is not None and v == best for v in values]


def comparison_rows(runs: Sequence[RunRow], baseline_id: int | None = None) -> list[Row]:
    """One row per figure, one cell per run (in the order given); the baseline defaults to
    the first run. Accuracy rows appear only when some run was evaluated."""
    if not runs:
        return []
    ids = [run.id for run in runs]
    base_index = ids.index(baseline_id) if baseline_id in ids else 0
    rows: list[Row] = []
    for figure in FIGURES:
        values = [figure.value(run) for run in runs]
        if figure.optional and all(v is None for v in values):
            continue
        flags = _best_flags(values, figure.better)
        base = values[base_index]
        cells = []
        for index, (run, value) in enumerate(zip(runs, values, strict=True)):
            extra = tuple(get(run) for _key, get in figure.extra)
            if value is None:
                cells.append(Cell(None, "-", raw=(None, *extra)))
                continue
            change = ""
            if index != base_index and base is not None:
                change = change_text(figure.change, value, base)
            cells.append(
                Cell(value, figure.text(run, value), change, flags[index], raw=(value, *extra))
            )
        rows.append(
            Row(
                key=figure.key,
                label=figure.label,
                tooltip=figure.tooltip,
                better=figure.better,
                cells=tuple(cells),
                csv_keys=(figure.key, *(key for key, _get in figure.extra)),
            )
        )
    return rows


def run_header(run: RunRow, separator: str = "\n") -> str:
    """Column title: model label, runtime and device, run id."""
    return separator.join([run.model_label, f"{run.runtime} · {run.device}", f"run {run.id}"])


# ----------------------------------------------------------------------- devices

#: How the columns are ordered: key -> words for the menu.
GROUPINGS = {
    "added": "as added",
    "model": "model, then device",
    "device": "device, then model",
}


def device_name(run: RunRow) -> str:
    """The device a run is from; runs stored before device profiles say "local"."""
    return "local-cpu" if run.device in ("", "local") else run.device


def order_runs(runs: Sequence[RunRow], grouping: str = "added") -> list[RunRow]:
    """The runs in column order. "model": the same model and runtime on every device side
    by side (set the baseline to one device's run to read the others as its slowdown);
    "device": each device's runs together. Groups keep the order they first appear in."""
    runs = list(runs)
    if grouping not in ("model", "device"):
        return runs

    def first_seen(values: Sequence[str]) -> dict[str, int]:
        return {v: i for i, v in enumerate(dict.fromkeys(values))}

    models = first_seen([run.model_label for run in runs])
    runtimes = first_seen([run.runtime for run in runs])
    devices = first_seen([device_name(run) for run in runs])
    added = {run.id: i for i, run in enumerate(runs)}

    def key(run: RunRow) -> tuple[int, ...]:
        model, runtime = models[run.model_label], runtimes[run.runtime]
        device = devices[device_name(run)]
        if grouping == "model":
            return (model, runtime, device, added[run.id])
        return (device, model, runtime, added[run.id])

    return sorted(runs, key=key)


def spans_devices(runs: Sequence[RunRow]) -> bool:
    return len({device_name(run) for run in runs}) > 1


# ----------------------------------------------------------------------- accuracy vs latency


@dataclass(frozen=True)
class TradeOffPoint:
    run: RunRow
    p50_ms: float
    accuracy: float
    model_file_bytes: float | None


def accuracy_metric(runs: Sequence[RunRow]) -> tuple[str, str]:
    """(what, axis label) shared by all runs: top-1 when every evaluated run has labels,
    else the fidelity cosine (which every compressed variant has)."""
    kinds = {accuracy_of(evaluation_of(run))[0] for run in runs} - {""}
    if kinds == {"top1"}:
        return "top1", "top-1 accuracy (%)"
    if kinds:
        return "cosine", "fidelity: cosine mean to FP32"
    return "", ""


def trade_off_points(runs: Sequence[RunRow]) -> tuple[str, list[TradeOffPoint]]:
    """The axis label and the runs that have both a p50 and the shared accuracy figure
    (top-1 as a percentage, so the axis reads in %)."""
    what, label = accuracy_metric(runs)
    points = []
    for run in runs:
        p50 = _stat("p50_ms")(run)
        accuracy = _top1(run) if what == "top1" else _fidelity("cosine_mean")(run)
        if p50 is None or accuracy is None:
            continue
        if what == "top1":
            accuracy *= 100
        points.append(TradeOffPoint(run, p50, accuracy, _memory("model_file_bytes")(run)))
    return label, points


# ----------------------------------------------------------------------- export


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def to_markdown(runs: Sequence[RunRow], rows: Sequence[Row]) -> str:
    """A GitHub-flavoured table; the best value per row in bold."""
    header = ["figure", *(run_header(run, " · ") for run in runs)]
    lines = [
        "| " + " | ".join(_markdown_cell(h) for h in header) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    for row in rows:
        cells = [
            f"**{_markdown_cell(c.display)}**" if c.is_best else _markdown_cell(c.display)
            for c in row.cells
        ]
        lines.append("| " + " | ".join([row.label, *cells]) + " |")
    return "\n".join(lines) + "\n"


def to_csv(runs: Sequence[RunRow], rows: Sequence[Row]) -> str:
    """Raw stored numbers (units in the figure names), one column per run: for spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["figure", *(run_header(run, " · ") for run in runs)])
    for row in rows:
        for position, key in enumerate(row.csv_keys):
            values = [c.raw[position] if position < len(c.raw) else None for c in row.cells]
            writer.writerow([key, *(_csv_number(v) for v in values)])
    return out.getvalue()


def _csv_number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(value)
