"""The environment record stored with every run (stdlib only: captured by the agent)."""

from __future__ import annotations

import os
import platform
import socket
import sys
from pathlib import Path
from typing import Any

from engines import __version__
from engines.runtimes.versions import module_version

#: ISA features that change results; absent ones are simply not listed.
ISA_FLAGS = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "fma",
    "f16c",
    "neon",
    "asimd",
    "asimddp",
    "dotprod",
    "i8mm",
    "fphp",
    "sve",
)


def _cpuinfo() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return info
    for line in text.splitlines():
        if ":" in line:
            key, _, value = line.partition(":")
            info.setdefault(key.strip().lower(), value.strip())
    return info


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def cpu_temperature_c() -> float | None:
    """Highest readable thermal zone, in degrees Celsius (Raspberry Pi, Jetson, laptops)."""
    temps = []
    for zone in Path("/sys/class/thermal").glob("thermal_zone*/temp"):
        raw = _read(str(zone))
        if raw and raw.lstrip("-").isdigit():
            temps.append(int(raw) / 1000.0)
    return max(temps) if temps else None


def physical_cores() -> int | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    pairs = set()
    phys = core = None
    for line in text.splitlines():
        if line.startswith("physical id"):
            phys = line.split(":")[1].strip()
        elif line.startswith("core id"):
            core = line.split(":")[1].strip()
            pairs.add((phys, core))
    return len(pairs) or None


def host_threads() -> int:
    """This machine's default thread count: its physical cores, else its logical ones."""
    return physical_cores() or os.cpu_count() or 1


def capture(runtime: str, runtime_modules: tuple[str, ...] = ()) -> dict[str, Any]:
    cpu = _cpuinfo()
    flags = set((cpu.get("flags") or cpu.get("features") or "").split())
    return {
        "tool": "edgebench",
        "tool_version": __version__,
        "hostname": socket.gethostname(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu.get("model name") or cpu.get("hardware") or platform.processor(),
        "logical_cores": os.cpu_count(),
        "physical_cores": physical_cores(),
        "isa_flags": sorted(flags.intersection(ISA_FLAGS)),
        "cpu_governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "cpu_temperature_c": cpu_temperature_c(),
        "python": sys.version.split()[0],
        "numpy": module_version("numpy"),
        "runtime": runtime,
        "runtime_versions": {m: module_version(m) for m in runtime_modules if module_version(m)},
    }
