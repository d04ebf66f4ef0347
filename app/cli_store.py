"""`edgebench store check|backup PATH|recover`: look after the results database."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from engines.floor.errors import EXIT_BAD_INPUT, EXIT_OK


def _path(args: argparse.Namespace) -> Path:
    from engines.floor import paths

    if args.db:
        os.environ["EDGEBENCH_DB"] = args.db
    return paths.db_path()


def cmd_store(args: argparse.Namespace) -> int:
    from engines.store import repair

    path = _path(args)
    if args.action == "check":
        health = repair.check(path)
        if args.json:
            print(
                json.dumps(
                    {
                        "path": str(path),
                        "ok": health.ok,
                        "findings": health.findings,
                        "schema_version": health.schema_version,
                        "rows": health.rows,
                        "pending_runs": health.pending_runs,
                    },
                    indent=2,
                )
            )
        else:
            print(f"{path}: {'healthy' if health.ok else 'DAMAGED'}")
            print(f"  schema version {health.schema_version}")
            for table, count in health.rows.items():
                print(f"  {table}: {'unreadable' if count is None else count}")
            if health.pending_runs:
                print(f"  {health.pending_runs} measured run(s) waiting to be stored")
            if not health.ok:
                for finding in health.findings[:10]:
                    print(f"  problem: {finding}")
                print("  save what can be read: edgebench store recover")
        return EXIT_OK if health.ok else EXIT_BAD_INPUT
    if args.action == "backup":
        if not args.out:
            from engines.floor.errors import BadInput

            raise BadInput("store backup needs a file to write: edgebench store backup PATH")
        out = repair.backup(path, Path(args.out))
        print(f"backed up {path} to {out}")
        return EXIT_OK
    recovery = repair.recover(path)
    print(f"recovered into {recovery.store}; the damaged file is kept as {recovery.damaged_copy}")
    for table, count in recovery.recovered.items():
        lost = recovery.lost[table]
        print(f"  {table}: {count} rows" + (f", {lost} unreadable" if lost else ""))
    return EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "store", help="the results database: check it, back it up, recover a damaged one"
    )
    p.add_argument("action", choices=["check", "backup", "recover"])
    p.add_argument("out", nargs="?", help="backup: the file to write")
    p.add_argument("--json", action="store_true", help="check: as JSON")
    p.set_defaults(func=cmd_store)
