"""What a device has, printed as one JSON object (stdlib only: runs before numpy is known).

Run on the device from the agent bundle (`python3 agent.zip probe`); `engines.devices`
turns the answer into `Device.info()` and the setup check.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from engines import __version__
from engines.bench.environment import ISA_FLAGS, _cpuinfo, _read, cpu_temperature_c, physical_cores
from engines.runtimes.versions import module_version

#: Modules whose presence decides what the agent can do on the device.
MODULES = ("numpy", "onnxruntime", "ai_edge_litert", "tflite_runtime", "torch", "psutil")


def _ram_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _os_name() -> str:
    text = _read("/etc/os-release") or ""
    for line in text.splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip().strip('"')
    return platform.platform()


def _installed(module: str) -> str | None:
    import importlib.util

    try:
        if importlib.util.find_spec(module) is None:
            return None
    except (ImportError, ValueError):
        return None
    return module_version(module) or "installed"


def probe() -> dict[str, Any]:
    cpu = _cpuinfo()
    flags = set((cpu.get("flags") or cpu.get("features") or "").split())
    model = _read("/proc/device-tree/model") or _read("/sys/firmware/devicetree/base/model")
    return {
        "agent_version": __version__,
        "hostname": socket.gethostname(),
        "board": (model or "").strip("\x00") or None,
        "machine": platform.machine(),
        "cpu_model": cpu.get("model name") or cpu.get("hardware") or platform.processor(),
        "logical_cores": os.cpu_count(),
        "physical_cores": physical_cores(),
        "ram_bytes": _ram_bytes(),
        "os": _os_name(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "isa_flags": sorted(flags.intersection(ISA_FLAGS)),
        "cpu_governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "cpu_temperature_c": cpu_temperature_c(),
        "modules": {name: _installed(name) for name in MODULES},
        "tools": {name: bool(shutil.which(name)) for name in ("timeout", "setsid")},
    }


def main() -> int:
    sys.stdout.write(json.dumps(probe(), sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
