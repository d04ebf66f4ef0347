"""Entry point of a host worker process: one task, JSON in on stdin, JSON lines out.

Native parsers and converters (onnx, LiteRT, torch.export, litert-torch) run here, never
in the process that owns the store or the window. Output lines:
  {"type": "progress", "message", "fraction"} ... then {"type": "done", "result": {...}}
  or {"type": "error", "error_type", "message", "details"}
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import traceback
from typing import Any

#: Task name -> "module:function". The function takes (payload, progress) and returns JSON.
TASKS = {
    "inspect": "engines.models.inspect:inspect_file",
    "build_demo": "engines.models.demo:build_demo",
    "export": "engines.export.convert:export_model",
    "compress_torch": "engines.compress.tasks:compress_torch",
    "compress_onnx": "engines.compress.tasks:compress_onnx",
    "prepare_data": "engines.compress.tasks:prepare_data",
    "reference_outputs_multi": "engines.compress.tasks:reference_outputs_multi",
}


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, default=str) + "\n")
    sys.stdout.flush()


def progress(message: str, fraction: float | None = None) -> None:
    _emit({"type": "progress", "message": message, "fraction": fraction})


def _exit_when_parent_goes() -> None:
    """EOF on the control pipe means the parent is gone: stop at once."""
    sys.stdin.read()
    os._exit(130)


def main() -> int:
    # Converters print freely; keep our stdout for protocol lines only.
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(protocol_fd, "w", buffering=1)
    request = json.loads(sys.stdin.readline())
    threading.Thread(target=_exit_when_parent_goes, daemon=True).start()
    from engines.floor.limits import apply_memory_limit, default_memory_limit_bytes

    # The same cap as the agent: a converter that would take the desktop with it gets a
    # MemoryError instead (reported as "ran out of memory").
    limit = apply_memory_limit(default_memory_limit_bytes())
    task = request["task"]
    try:
        module_name, _, function_name = TASKS[task].partition(":")
        function = getattr(importlib.import_module(module_name), function_name)
        result = function(request.get("payload", {}), progress)
        _emit({"type": "done", "result": result})
    except MemoryError:
        from engines.floor.limits import HOW_TO_SET, gib

        said = f" (limit {gib(limit)}; {HOW_TO_SET})" if limit else ""
        _emit(
            {
                "type": "error",
                "error_type": "out_of_memory",
                "message": f"{task} ran out of memory{said}",
                "details": traceback.format_exc(),
            }
        )
        return 1
    except Exception as exc:
        from engines.floor.errors import BadInput, Cancelled

        kind = "failed"
        if isinstance(exc, BadInput):
            kind = "bad_input"
        elif isinstance(exc, Cancelled):
            kind = "cancelled"
        _emit(
            {
                "type": "error",
                "error_type": kind,
                "message": getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}",
                "details": (getattr(exc, "details", "") or "") + "\n" + traceback.format_exc(),
            }
        )
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
