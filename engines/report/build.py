"""Build a PDF report of stored runs: a generator of progress events (each `yield` is a
place to stop), ending with a `report` event naming the files written. The PDF and its
optional JSON/CSV companions are written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from engines.floor.errors import BadInput, Cancelled
from engines.report.summary import DEFAULT_MAX_ACCURACY_DROP_PT
from engines.store.db import Store

DEFAULT_TITLE = "EdgeBench benchmark report"


@dataclass(frozen=True)
class ReportRequest:
    run_ids: tuple[int, ...]
    out: Path
    #: The run every other is set against (default: the first); added when not listed.
    baseline_id: int | None = None
    title: str = DEFAULT_TITLE
    #: The executive summary's constraint: accuracy at most this many points below the
    #: device's reference run.
    max_accuracy_drop_pt: float = DEFAULT_MAX_ACCURACY_DROP_PT
    json_out: Path | None = None
    csv_out: Path | None = None


def _progress(fraction: float, message: str) -> dict[str, Any]:
    return {"type": "progress", "phase": "report", "fraction": fraction, "message": message}


def _check(request: ReportRequest) -> None:
    if request.max_accuracy_drop_pt < 0:
        raise BadInput("the accuracy drop allowed must be >= 0 percentage points")
    if request.out.suffix.lower() != ".pdf":
        raise BadInput(f"{request.out}: the report is a PDF; give a path ending in .pdf")
    for companion in (request.json_out, request.csv_out):
        if companion is not None and companion.resolve() == request.out.resolve():
            raise BadInput(f"{companion}: the companion file would overwrite the PDF")


def _text_writer(content: str) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        tmp.write_text(content, encoding="utf-8")

    return write


def build_report(
    request: ReportRequest, store: Store, cancel: threading.Event | None = None
) -> Iterator[dict[str, Any]]:
    from engines import __version__
    from engines.floor.atomic import write_atomically
    from engines.report import companions
    from engines.report.collect import load_runs
    from engines.report.document import render
    from engines.report.figures import shared_accuracy_kind
    from engines.report.summary import choose

    def check_cancel() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")

    _check(request)
    ids = list(request.run_ids)
    if request.baseline_id is not None and request.baseline_id not in ids:
        ids.insert(0, request.baseline_id)
    yield _progress(0.05, f"reading {len(ids)} run{'s' if len(ids) != 1 else ''}")
    items = load_runs(store, ids if request.run_ids else [])
    baseline = next((i for i in items if i.run.id == request.baseline_id), items[0])
    kind = shared_accuracy_kind([i.run for i in items])
    choices = choose(items, kind, baseline.run.id, request.max_accuracy_drop_pt)
    check_cancel()
    now = datetime.now(timezone.utc)
    meta = {
        "title": request.title,
        "generated_utc": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool_version": __version__,
        "accuracy_kind": kind or None,
        "max_accuracy_drop_pt": request.max_accuracy_drop_pt,
    }
    yield _progress(0.2, "laying out tables and charts")
    pages: dict[str, int] = {}

    def write_pdf(tmp: Path) -> None:
        pages["count"] = render(
            tmp,
            request.title,
            now,
            __version__,
            items,
            baseline,
            choices,
            kind,
            request.max_accuracy_drop_pt,
        )

    write_atomically(request.out, write_pdf)
    check_cancel()
    written = {"pdf": str(request.out)}
    payload = companions.figures(items, baseline, kind, choices, meta)
    for key, path, make in (
        ("json", request.json_out, companions.to_json),
        ("csv", request.csv_out, companions.to_csv),
    ):
        if path is None:
            continue
        yield _progress(0.9, f"writing {path.name}")
        write_atomically(path, _text_writer(make(payload)))
        written[key] = str(path)
    yield _progress(1.0, f"wrote {request.out}")
    yield {
        "type": "report",
        "path": str(request.out),
        "pages": pages.get("count", 0),
        "runs": [i.run.id for i in items],
        "files": written,
    }


def write_report(request: ReportRequest, store: Store) -> dict[str, Any]:
    """Build the report without listening to progress; returns the `report` event."""
    final: dict[str, Any] = {}
    for event in build_report(request, store):
        if event["type"] == "report":
            final = event
    return final
