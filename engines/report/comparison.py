"""The comparison of stored runs as plain data: rows of figures, ratios to a baseline, the
best value per row, the accuracy-vs-latency Pareto frontier, and Markdown/CSV text.

Qt-free: the Compare page, `edgebench compare` and tests read the same rows. The figures
themselves (names, units, definitions, formats) come from the catalogue in
`engines.floor.figures`. Every value comes from the run as stored (`RunRow`); nothing is
recomputed from the samples.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engines.floor.figures import FIGURES, Better, change_text, figure, places_of, value_of
from engines.report.figures import accuracy_of, evaluation_of
from engines.store.db import RunRow


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


#: Extra CSV columns beside a figure's value.
EXTRA_CSV: dict[str, tuple[str, ...]] = {"mean_ms": ("std_ms",)}
#: What an evaluation-only run shows in a timed figure's cell.
NOT_TIMED = "not timed"


def is_timed(run: RunRow) -> bool:
    """False for an evaluation-only run (`edgebench evaluate`, the wizard's Evaluate): it
    has accuracy but no latency, and none of its times may enter a ratio."""
    return bool((run.spec or {}).get("measure", True))


def _places(run: RunRow) -> dict[str, Any]:
    return places_of(run.result, run.statistics, run.memory)


def figure_value(run: RunRow, key: str) -> float | None:
    """A stored figure of `run` by catalogue key; None for timed figures of an
    evaluation-only run."""
    return value_of(figure(key), _places(run), is_timed(run))


def _best_flags(values: Sequence[float | None], better: Better) -> list[bool]:
    present = [v for v in values if v is not None]
    # One value, or all equal: nothing stands out, so nothing is highlighted.
    if better is None or len(present) < 2 or min(present) == max(present):
        return [False] * len(values)
    best = min(present) if better == "lower" else max(present)
    return [v is not None and v == best for v in values]


def comparison_rows(runs: Sequence[RunRow], baseline_id: int | None = None) -> list[Row]:
    """One row per catalogue figure, one cell per run (in the order given); the baseline
    defaults to the first timed run. Accuracy rows appear only when some run was evaluated.
    An evaluation-only run's timed cells say so and take part in no ratio or best value."""
    if not runs:
        return []
    ids = [run.id for run in runs]
    timed = [is_timed(run) for run in runs]
    if baseline_id in ids:
        base_index = ids.index(baseline_id)
    else:
        base_index = next((i for i, t in enumerate(timed) if t), 0)
    rows: list[Row] = []
    places = [_places(run) for run in runs]  # once per run, not once per figure
    for fig in FIGURES:
        values = [value_of(fig, p, t) for p, t in zip(places, timed, strict=True)]
        if fig.optional and all(v is None for v in values):
            continue
        flags = _best_flags(values, fig.better)
        base = values[base_index]
        extra_keys = EXTRA_CSV.get(fig.key, ())
        cells = []
        for index, (run, value) in enumerate(zip(runs, values, strict=True)):
            extra = tuple(_stat(run, k) for k in extra_keys)
            if value is None:
                text = NOT_TIMED if fig.timed and not timed[index] else "-"
                cells.append(Cell(None, text, raw=(None, *extra)))
                continue
            change = ""
            if index != base_index and base is not None:
                change = change_text(fig.change, value, base)
            cells.append(
                Cell(value, fig.text(value, places[index]), change, flags[index], (value, *extra))
            )
        rows.append(
            Row(
                key=fig.key,
                label=fig.label,
                tooltip=fig.definition,
                better=fig.better,
                cells=tuple(cells),
                csv_keys=(fig.key, *extra_keys),
            )
        )
    return rows


def _stat(run: RunRow, key: str) -> float | None:
    value = (run.statistics or {}).get(key) if is_timed(run) else None
    return float(value) if isinstance(value, (int, float)) else None


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
        p50 = figure_value(run, "p50_ms")
        accuracy = figure_value(run, "top1" if what == "top1" else "cosine_mean")
        if p50 is None or accuracy is None:
            continue
        if what == "top1":
            accuracy *= 100
        points.append(TradeOffPoint(run, p50, accuracy, figure_value(run, "model_file_bytes")))
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


# ----------------------------------------------------------------------- one comparison


def default_baseline(runs: Sequence[RunRow]) -> int | None:
    """The first timed run (an evaluation-only run has no latency to divide by)."""
    if not runs:
        return None
    timed = [run for run in runs if is_timed(run)]
    return (timed or list(runs))[0].id


@dataclass(frozen=True)
class Comparison:
    """What the Compare page shows and `edgebench compare` prints: the runs in column
    order, the baseline and one row per figure."""

    runs: tuple[RunRow, ...]
    baseline_id: int | None
    rows: tuple[Row, ...]


def compare_runs(
    runs: Sequence[RunRow], baseline_id: int | None = None, grouping: str | None = None
) -> Comparison:
    """Order the runs (`grouping`; by default model-then-device when they span devices),
    pick the baseline (the asked one if present, else the first timed run) and build the
    rows."""
    grouping = grouping or ("model" if spans_devices(runs) else "added")
    ordered = order_runs(runs, grouping)
    ids = [run.id for run in ordered]
    base = baseline_id if baseline_id in ids else default_baseline(list(runs))
    return Comparison(tuple(ordered), base, tuple(comparison_rows(ordered, base)))


def to_json(comparison: Comparison) -> str:
    """Every figure of every run with its text, change and best flag, for scripts."""
    import json

    return json.dumps(
        {
            "baseline_run_id": comparison.baseline_id,
            "runs": [
                {
                    "id": run.id,
                    "model": run.model_label,
                    "runtime": run.runtime,
                    "device": device_name(run),
                    "timed": is_timed(run),
                }
                for run in comparison.runs
            ],
            "figures": [
                {
                    "key": row.key,
                    "label": row.label,
                    "better": row.better,
                    "cells": [
                        {
                            "run_id": run.id,
                            "value": cell.value,
                            "text": cell.text,
                            "change": cell.change,
                            "best": cell.is_best,
                        }
                        for run, cell in zip(comparison.runs, row.cells, strict=True)
                    ],
                }
                for row in comparison.rows
            ],
        },
        indent=2,
    )
