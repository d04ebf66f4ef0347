"""`edgebench report RUN_ID... --out report.pdf` (a PDF of stored runs) and `edgebench
compare RUN_ID...` (the Compare page's table in the terminal), both from engines/report."""

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


def cmd_compare(args: argparse.Namespace, open_store: StoreFn) -> int:
    """Print what the Compare page shows for these runs: every figure against the
    baseline, the best value marked, evaluation-only runs never in a ratio."""
    from app.formatting import table
    from engines.report.comparison import compare_runs, run_header, to_csv, to_json, to_markdown

    if not args.run_ids:
        raise BadInput(
            "compare needs at least one run id", "list the stored runs with: edgebench runs list"
        )
    with open_store(args) as store:
        runs = [store.run(run_id) for run_id in dict.fromkeys(args.run_ids)]
    comparison = compare_runs(runs, args.baseline, args.group)
    if args.baseline is not None and comparison.baseline_id != args.baseline:
        raise BadInput(f"--baseline {args.baseline} is not one of the compared runs")
    if args.json:
        print(to_json(comparison))
        return EXIT_OK
    if args.markdown:
        print(to_markdown(comparison.runs, comparison.rows), end="")
        return EXIT_OK
    if args.csv:
        print(to_csv(comparison.runs, comparison.rows), end="")
        return EXIT_OK
    headers = ["figure", *(run_header(run, " · ") for run in comparison.runs)]
    rows = [
        [row.label, *(("*" if c.is_best else "") + c.display for c in row.cells)]
        for row in comparison.rows
    ]
    print(f"baseline: run {comparison.baseline_id}; * best value")
    print(table(headers, rows))
    return EXIT_OK


def add_commands(sub: Any, open_store: StoreFn) -> None:
    """Register `report` and `compare` on the main parser's sub-parsers."""
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
    p.set_defaults(func=lambda args: cmd_report(args, open_store), read_only=True)

    p = sub.add_parser(
        "compare",
        help="stored runs side by side, as the Compare page shows them",
        description="Every figure of the runs against a baseline (default: the first timed "
        "run), with the best value marked; evaluation-only runs show their accuracy and no "
        "latency.",
    )
    p.add_argument("run_ids", nargs="*", type=int, metavar="RUN_ID", help="runs to compare")
    p.add_argument("--baseline", type=int, metavar="RUN_ID", help="the run to compare with")
    p.add_argument(
        "--group",
        choices=["added", "model", "device"],
        help="column order (default: model then device when the runs span devices)",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--markdown", action="store_true", help="a GitHub-flavoured table")
    out.add_argument("--csv", action="store_true", help="the raw stored numbers")
    out.add_argument("--json", action="store_true", help="every cell with its text and change")
    p.set_defaults(func=lambda args: cmd_compare(args, open_store), read_only=True)
