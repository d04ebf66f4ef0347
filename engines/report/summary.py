"""The executive summary: per device, the fastest variant whose accuracy stays within the
allowed drop of that device's reference run, with its speed-up and size ratio.

The reference on a device is the baseline run when the baseline ran there, else the run
of a source model (no compression step in its lineage) with the best accuracy, else the
first run on that device. Accuracy is top-1 where every evaluated run has labels, else
fidelity cosine to FP32; either way on a percent scale, so the drop reads in points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engines.report.collect import ReportRun
from engines.report.figures import accuracy, numbers

DEFAULT_MAX_ACCURACY_DROP_PT = 1.0


@dataclass(frozen=True)
class DeviceChoice:
    device: str
    reference: ReportRun
    best: ReportRun
    #: reference p50 / best p50 (> 1: the choice is faster).
    speedup: float | None
    #: reference model size / best model size (> 1: the choice is smaller).
    size_ratio: float | None
    #: best accuracy minus reference accuracy, in points (None: not evaluated).
    accuracy_delta_pt: float | None
    #: Runs left out because they lost too much accuracy or were not evaluated.
    excluded: tuple[tuple[ReportRun, str], ...]
    #: Why the constraint could not be applied, when it could not ("" otherwise).
    note: str = ""


def is_variant(item: ReportRun) -> bool:
    """A compressed model (not the source model or a plain FP32 export of it)."""
    return any(a.source == "compress" for a in item.lineage)


def _reference(items: Sequence[ReportRun], baseline_id: int | None, kind: str) -> ReportRun:
    for item in items:
        if item.run.id == baseline_id:
            return item
    sources = [i for i in items if not is_variant(i)]
    if sources:
        scored = [(accuracy(i.run, kind), n, i) for n, i in enumerate(sources)]
        with_accuracy = [(a.percent, -n, i) for a, n, i in scored if a]
        if with_accuracy:
            return max(with_accuracy, key=lambda t: (t[0], t[1]))[2]
        return sources[0]
    return items[0]


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def choose(
    items: Sequence[ReportRun],
    kind: str,
    baseline_id: int | None = None,
    max_drop_pt: float = DEFAULT_MAX_ACCURACY_DROP_PT,
) -> list[DeviceChoice]:
    """One choice per device, devices in the order they first appear."""
    devices = list(dict.fromkeys(i.run.device for i in items))
    choices = []
    for device in devices:
        on_device = [i for i in items if i.run.device == device]
        reference = _reference(on_device, baseline_id, kind)
        ref_accuracy = accuracy(reference.run, kind) if kind else None
        eligible: list[ReportRun] = []
        excluded: list[tuple[ReportRun, str]] = []
        note = ""
        if ref_accuracy is None:
            eligible = list(on_device)
            note = (
                "no accuracy was measured for the reference run on this device, so the "
                "accuracy constraint could not be applied: the choice is by latency alone"
            )
        else:
            for item in on_device:
                mine = accuracy(item.run, kind)
                if mine is None:
                    excluded.append((item, "not evaluated"))
                elif ref_accuracy.percent - mine.percent > max_drop_pt + 1e-9:
                    drop = ref_accuracy.percent - mine.percent
                    excluded.append((item, f"accuracy drop {drop:.2f} pt > {max_drop_pt:g} pt"))
                else:
                    eligible.append(item)
        with_p50 = [i for i in eligible if numbers(i.run)["p50_ms"] is not None]
        best = (
            min(with_p50, key=lambda i: numbers(i.run)["p50_ms"] or 0.0) if with_p50 else reference
        )
        ref_n, best_n = numbers(reference.run), numbers(best.run)
        best_accuracy = accuracy(best.run, kind) if kind else None
        choices.append(
            DeviceChoice(
                device=device,
                reference=reference,
                best=best,
                speedup=_ratio(ref_n["p50_ms"], best_n["p50_ms"]),
                size_ratio=_ratio(ref_n["model_file_bytes"], best_n["model_file_bytes"]),
                accuracy_delta_pt=(
                    best_accuracy.percent - ref_accuracy.percent
                    if best_accuracy and ref_accuracy
                    else None
                ),
                excluded=tuple(excluded),
                note=note,
            )
        )
    return choices
