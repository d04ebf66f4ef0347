"""Resolve a model reference for a CLI command, showing what it does on stderr meanwhile.

The first `demo:digits-cnn` trains the model (30 epochs, a few seconds); a file is inspected
in a worker. On a terminal the latest step overwrites one line; in a log (CI) each step is
its own line. Ctrl-C stops the worker.
"""

from __future__ import annotations

import sys
from typing import Any

from engines.models.refs import resolving


class StepLine:
    """One status line on stderr: rewritten on a terminal, appended in a log."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.width = 0

    def show(self, message: str) -> None:
        if self.tty:
            pad = " " * max(0, self.width - len(message))
            print(f"\r{message}{pad}", end="", file=sys.stderr, flush=True)
            self.width = len(message)
        else:
            print(message, file=sys.stderr, flush=True)

    def end(self) -> None:
        if self.tty and self.width:
            print("\r" + " " * self.width + "\r", end="", file=sys.stderr, flush=True)
            self.width = 0


def resolve_shown(ref: str, store: Any, *, trust_code: bool = False) -> Any:
    """The stored artifact for `ref`; long steps (demo training, inspection) are shown."""
    if ref.startswith("artifact:"):
        from engines.models.refs import resolve

        return resolve(ref, store)
    line = StepLine()
    stream = resolving(ref, store.path, trust_code=trust_code)
    try:
        while True:
            try:
                event = next(stream)
            except StopIteration as done:
                return done.value
            line.show(str(event.get("message", "")))
    finally:
        stream.close()
        line.end()
