"""The figures of one stored run, read as stored (nothing is recomputed from samples), and
how a run compares with a baseline. Qt-free: the PDF, its JSON/CSV companions and tests
all read the same values.

The Compare page has an app-side twin of this table (app/compare_table.py); the headless
half lives here so a report can be built without the app.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engines.floor.figures import BY_KEY, number
from engines.floor.units import factor
from engines.store.db import ArtifactRow, RunRow, Store

#: The catalogue keys the report's summary table and its JSON/CSV companions print.
REPORT_KEYS = (
    "p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "cv", "count", "throughput_per_s",
    "load_ms", "first_ms", "peak_rss_delta_bytes", "model_file_bytes",
)  # fmt: skip
#: (key, where it is stored, field) for every number the summary table prints: from the
#: figure catalogue (engines.floor.figures); std_ms is the mean's companion.
NUMBER_SOURCES: tuple[tuple[str, str, str], ...] = tuple(
    (key, "statistics", "std_ms")
    if key == "std_ms"
    else (key, BY_KEY[key].place, BY_KEY[key].field)
    for key in REPORT_KEYS
)


def accuracy_of(evaluation: dict[str, Any] | None) -> tuple[str, float | None]:
    """(what, value): labelled top-1 when there are labels, else fidelity cosine mean."""
    if not evaluation:
        return "", None
    classification = evaluation.get("classification")
    if classification and classification.get("top1") is not None:
        return "top1", float(classification["top1"])
    fidelity = evaluation.get("fidelity")
    if fidelity and fidelity.get("cosine_mean") is not None:
        return "cosine", float(fidelity["cosine_mean"])
    return "", None


def evaluation_of(run: RunRow) -> dict[str, Any]:
    return (run.result or {}).get("evaluation") or {}


@dataclass(frozen=True)
class Accuracy:
    """The run's accuracy figure: labelled top-1, else fidelity cosine to the FP32 model.

    `percent` puts both on one scale (top-1 in %, cosine x 100) so a drop reads in
    percentage points either way.
    """

    kind: str  # "top1" | "cosine"
    value: float

    @property
    def percent(self) -> float:
        return self.value * 100

    @property
    def text(self) -> str:
        if self.kind == "top1":
            return f"top-1 {self.value * 100:.2f}%"
        return f"cos {self.value:.4f}"


def accuracy(run: RunRow, kind: str | None = None) -> Accuracy | None:
    """The run's accuracy of `kind` (or the best it has: top-1 before cosine)."""
    evaluation = evaluation_of(run)
    top1 = number((evaluation.get("classification") or {}).get("top1"))
    cosine = number((evaluation.get("fidelity") or {}).get("cosine_mean"))
    if kind in (None, "top1") and top1 is not None:
        return Accuracy("top1", top1)
    if kind in (None, "cosine") and cosine is not None:
        return Accuracy("cosine", cosine)
    return None


def shared_accuracy_kind(runs: Sequence[RunRow]) -> str:
    """top-1 when every evaluated run has labels, else cosine (which every variant has)."""
    kinds = {a.kind for a in (accuracy(r) for r in runs) if a}
    if kinds == {"top1"}:
        return "top1"
    return "cosine" if kinds else ""


def numbers(run: RunRow) -> dict[str, float | None]:
    """Every stored number of the summary table, keyed with its unit; an evaluation-only
    run has no timed ones (its load and first-inference times are not latency figures)."""
    places = {
        "statistics": run.statistics or {},
        "memory": run.memory or {},
        "result": run.result or {},
    }
    timed = bool((run.spec or {}).get("measure", True))
    return {
        key: number(places[where].get(name))
        if timed or not (key == "std_ms" or BY_KEY[key].timed)
        else None
        for key, where, name in NUMBER_SOURCES
    }


@dataclass(frozen=True)
class Change:
    """A run against the baseline, in words (the baseline itself: all '-')."""

    p50: str
    p99: str
    mean: str
    throughput: str
    peak_memory: str
    model_size: str
    accuracy: str


def change_vs(run: RunRow, baseline: RunRow, accuracy_kind: str) -> Change:
    mine, base = numbers(run), numbers(baseline)
    acc, base_acc = accuracy(run, accuracy_kind), accuracy(baseline, accuracy_kind)
    if acc and base_acc:
        delta = acc.percent - base_acc.percent
        accuracy_text = f"{delta:+.2f} pt" if acc.kind == "top1" else f"{delta / 100:+.4f}"
    else:
        accuracy_text = "-"
    return Change(
        p50=factor(mine["p50_ms"], base["p50_ms"], "faster", "slower"),
        p99=factor(mine["p99_ms"], base["p99_ms"], "faster", "slower"),
        mean=factor(mine["mean_ms"], base["mean_ms"], "faster", "slower"),
        throughput=factor(mine["throughput_per_s"], base["throughput_per_s"], "lower", "higher"),
        peak_memory=factor(
            mine["peak_rss_delta_bytes"], base["peak_rss_delta_bytes"], "smaller", "larger"
        ),
        model_size=factor(mine["model_file_bytes"], base["model_file_bytes"], "smaller", "larger"),
        accuracy=accuracy_text,
    )


def pareto_frontier(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated (latency, accuracy) points, by increasing latency.

    Lower latency and higher accuracy are better; a point is dominated when another is at
    least as good on both and strictly better on one. Equal points are all kept.
    """
    frontier = [
        i
        for i, (x, y) in enumerate(points)
        if not any(
            (ox <= x and oy >= y) and (ox < x or oy > y)
            for j, (ox, oy) in enumerate(points)
            if j != i
        )
    ]
    return sorted(frontier, key=lambda i: (points[i][0], -points[i][1]))


# ----------------------------------------------------------------------- a variant's size


def _file_bytes(artifact: ArtifactRow) -> int:
    """The model file with its external-data files: what a deployment ships."""
    return int(artifact.size_bytes) + sum(int(f.get("bytes") or 0) for f in artifact.data_files)


@dataclass(frozen=True)
class SizeChange:
    """A variant's file against the source model it was made from (the top of its
    lineage, as loaded): the one size figure the wizard and the Models page show."""

    before_bytes: int
    after_bytes: int
    source_name: str

    @property
    def ratio(self) -> float | None:
        """before / after: 4.0 means the variant is a quarter of its source's size."""
        return self.before_bytes / self.after_bytes if self.after_bytes else None

    @property
    def text(self) -> str:
        from engines.floor.units import size

        change = factor(self.after_bytes, self.before_bytes, "smaller", "larger")
        return f"{size(self.before_bytes)} → {size(self.after_bytes)} ({change})"


def size_change(variant: ArtifactRow, store: Store) -> SizeChange | None:
    """None for a model that is not a variant."""
    if variant.parent_id is None:
        return None
    root = variant
    for _ in range(64):
        if root.parent_id is None:
            break
        root = store.artifact(root.parent_id)
    return SizeChange(_file_bytes(root), _file_bytes(variant), root.name)
