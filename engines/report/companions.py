"""The report's figures as JSON and CSV, for the reader who wants the numbers and not the
PDF: the same values the summary table prints, unrounded, keys carrying their units."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Sequence
from typing import Any

from engines.report.collect import ReportRun
from engines.report.figures import NUMBER_SOURCES, accuracy, change_vs, numbers
from engines.report.repro import commands
from engines.report.summary import DeviceChoice


def figures(
    items: Sequence[ReportRun],
    baseline: ReportRun,
    kind: str,
    choices: Sequence[DeviceChoice],
    meta: dict[str, Any],
) -> dict[str, Any]:
    runs = []
    for position, item in enumerate(items):
        acc = accuracy(item.run, kind)
        runs.append(
            {
                "position": position + 1,
                "run_id": item.run.id,
                "model": item.run.model_label,
                "runtime": item.run.runtime,
                "device": item.run.device,
                "baseline": item is baseline,
                **numbers(item.run),
                "accuracy_kind": acc.kind if acc else None,
                "accuracy": acc.value if acc else None,
                "vs_baseline": dataclasses.asdict(change_vs(item.run, baseline.run, kind)),
                "warnings": list((item.run.statistics or {}).get("warnings") or []),
                "commands": commands(item),
            }
        )
    summary = [
        {
            "device": c.device,
            "chosen_run_id": c.best.run.id,
            "reference_run_id": c.reference.run.id,
            "speedup": c.speedup,
            "size_ratio": c.size_ratio,
            "accuracy_delta_pt": c.accuracy_delta_pt,
            "excluded": [{"run_id": i.run.id, "why": why} for i, why in c.excluded],
            "note": c.note,
        }
        for c in choices
    ]
    return {**meta, "baseline_run_id": baseline.run.id, "summary": summary, "runs": runs}


def to_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, indent=2, sort_keys=False) + "\n"


CSV_KEYS = (
    "run_id",
    "model",
    "runtime",
    "device",
    "baseline",
    *(key for key, _where, _name in NUMBER_SOURCES),
    "accuracy_kind",
    "accuracy",
)


def to_csv(payload: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_KEYS)
    for run in payload["runs"]:
        writer.writerow(["" if run[k] is None else run[k] for k in CSV_KEYS])
    return out.getvalue()
