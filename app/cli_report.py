"""`edgebench report RUN_ID... --out report.pdf`: a PDF of stored runs (engines/report)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engines.floor.errors import EXIT_OK, BadInput

StoreFn = Callable[[argparse.Namespace], Any]


def cmd_report(args: argparse.Namespace, open_store: StoreFn) -> int:
    from engines.report.build import ReportRequest, build_report

    if not args.run_ids:
        raise BadInput(
            "a report needs at least one run id",
            "list the stored runs with: edgebench runs list, then: edgebench report ID... "
            "--out report.pdf",
        )
    out = Path(args.out).expanduser()
    request = ReportRequest(
        run_ids=tuple(args.run_ids),
        out=out,
        baseline_id=args.baseline,
        title=args.title,
        max_accuracy_drop_pt=args.max_accuracy_drop,
        json_out=out.with_suffix(".json") if args.json else None,
        csv_out=out.with_suffix(".csv") if args.csv else None,
    )
    final: dict[str, Any] = {}
    with open_store(args) as store:
        for event in build_report(request, store):
            if event["type"] == "progress":
                print(f"  {event['message']}", file=sys.stderr, flush=True)
            elif event["type"] == "report":
                final = event
    runs = ", ".join(str(i) for i in final.get("runs", []))
    print(f"wrote {final['path']} ({final['pages']} pages; runs {runs})")
    for key in ("json", "csv"):
        if key in final["files"]:
            print(f"wrote {final['files'][key]}")
    return EXIT_OK


def add_commands(sub: Any, open_store: StoreFn) -> None:
    """Register `report` on the main parser's sub-parsers."""
    from engines.report.build import DEFAULT_TITLE
    from engines.report.summary import DEFAULT_MAX_ACCURACY_DROP_PT

    p = sub.add_parser(
        "report",
        help="write a PDF report of stored runs",
        description="A PDF of stored runs: summary, charts, per-run details, methodology "
        "and the commands that re-create each run.",
    )
    p.add_argument("run_ids", nargs="*", type=int, metavar="RUN_ID", help="runs to report")
    p.add_argument("--out", required=True, help="the PDF to write (e.g. report.pdf)")
    p.add_argument(
        "--baseline", type=int, metavar="RUN_ID", help="run to compare with (default: the first)"
    )
    p.add_argument("--title", default=DEFAULT_TITLE, help="title on the first page and headers")
    p.add_argument(
        "--max-accuracy-drop",
        type=float,
        default=DEFAULT_MAX_ACCURACY_DROP_PT,
        metavar="PT",
        help="executive summary: the fastest run per device whose accuracy is at most PT "
        "percentage points below the device's reference "
        f"(default {DEFAULT_MAX_ACCURACY_DROP_PT:g})",
    )
    p.add_argument("--json", action="store_true", help="also write the figures as JSON next to it")
    p.add_argument("--csv", action="store_true", help="also write the figures as CSV next to it")
    p.set_defaults(func=lambda args: cmd_report(args, open_store))
