"""`edgebench-gui`: the desktop app. Opens on the demo model (trained on first use)."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgebench-gui", description=__doc__)
    parser.add_argument(
        "model",
        nargs="?",
        default="demo:digits-cnn",
        help="model to open (default: demo:digits-cnn)",
    )
    parser.add_argument("--db", help="results database (default: $EDGEBENCH_DB or user data dir)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="only check that a window can open here (display, Qt's system libraries); "
        "exit 0 if so, 2 with what to install if not",
    )
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="start Qt without checking the display and system libraries first",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.no_check:
        from app.qt_check import check

        verdict = check()
        if args.check or not verdict.ok:
            print(verdict.message(), file=sys.stdout if verdict.ok else sys.stderr)
            return 0 if verdict.ok else 2
    from PySide6.QtWidgets import QApplication

    from app.window import MainWindow
    from app.workspace import Workspace
    from engines.floor import paths

    if args.db:
        os.environ["EDGEBENCH_DB"] = args.db
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("EdgeBench")
    app.setOrganizationName("EdgeBench")
    app.setStyle("Fusion")  # follows the system's light or dark scheme (Qt 6.5+)
    refused = _store_refused(paths.db_path())
    if refused is not None:
        return refused
    window = MainWindow(Workspace(paths.db_path()))
    window.show()
    if args.model:
        window.load_model(args.model)
    code = int(app.exec())
    # Tear the widgets down while Qt is alive, not in the interpreter's final collection.
    window.deleteLater()
    app.processEvents()
    del window
    gc.collect()
    return code


def _store_refused(db_path: Path) -> int | None:
    """Open the results store once before the window: a damaged, newer, locked or
    unwritable store is a dialog that says what is wrong and what to do (and the exit
    code of the CLI), never a traceback. None when it opened."""
    from PySide6.QtWidgets import QMessageBox

    from engines.store.db import Store
    from engines.store.errors import StoreError

    try:
        with Store(db_path):
            return None
    except StoreError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.details:
            print(f"  {exc.details}", file=sys.stderr)
        box = QMessageBox(QMessageBox.Icon.Critical, "EdgeBench: results store", exc.message)
        box.setInformativeText(exc.details)
        if os.environ.get("QT_QPA_PLATFORM") != "offscreen":
            box.exec()
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
