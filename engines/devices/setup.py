"""The setup check: from a device's probe, what works there and exactly what to install."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: runtime -> (modules that provide it, what to install)
RUNTIME_PACKAGES = {
    "onnxruntime": (("onnxruntime",), "python3 -m pip install onnxruntime"),
    "litert": (
        ("ai_edge_litert", "tflite_runtime"),
        "python3 -m pip install ai-edge-litert (or tflite-runtime on older boards)",
    ),
    "torch": (("torch",), "python3 -m pip install torch (CPU build; large)"),
}
MIN_PYTHON = (3, 9)


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool
    detail: str
    #: The command or step that fixes it; empty when ok.
    fix: str = ""
    #: False for things that are nice to have (temperature, a runtime not asked for).
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "ok": self.ok,
            "detail": self.detail,
            "fix": self.fix,
            "required": self.required,
        }


def setup_checks(probe: dict[str, Any], wanted: tuple[str, ...] = ()) -> list[Check]:
    """Checks in the order a person fixes them; `wanted` runtimes are required."""
    modules = probe.get("modules") or {}
    tools = probe.get("tools") or {}
    python = str(probe.get("python", "0"))
    version = tuple(int(p) for p in python.split(".")[:2] if p.isdigit())
    checks = [
        Check(
            "python",
            version >= MIN_PYTHON,
            f"Python {python} at {probe.get('python_executable', '?')}",
            ""
            if version >= MIN_PYTHON
            else "install Python 3.9 or newer (sudo apt install python3)",
        ),
        Check(
            "numpy",
            bool(modules.get("numpy")),
            f"numpy {modules.get('numpy')}" if modules.get("numpy") else "numpy is not installed",
            ""
            if modules.get("numpy")
            else "python3 -m pip install numpy (or sudo apt install python3-numpy)",
        ),
        Check(
            "timeout",
            bool(tools.get("timeout")),
            "coreutils timeout found" if tools.get("timeout") else "no `timeout` command",
            ""
            if tools.get("timeout")
            else "install coreutils (runs still stop with the "
            "connection, but not on a device-side time limit)",
            required=False,
        ),
    ]
    for runtime, (module_names, install) in RUNTIME_PACKAGES.items():
        found = next((m for m in module_names if modules.get(m)), None)
        checks.append(
            Check(
                runtime,
                found is not None,
                f"{found} {modules[found]}" if found else f"{runtime} is not installed",
                "" if found else install,
                required=runtime in wanted,
            )
        )
    return checks


def ready(checks: list[Check]) -> bool:
    """Required checks pass and at least one runtime works."""
    runtimes = [c for c in checks if c.what in RUNTIME_PACKAGES]
    return all(c.ok for c in checks if c.required) and any(c.ok for c in runtimes)
