"""A device's facts (from `Device.info()`) as rows a person reads: the Devices page and
`edgebench devices info` show the same sheet. Qt-free."""

from __future__ import annotations

from typing import Any

from app.formatting import size

#: Modules of the probe, as the runtimes they give.
RUNTIME_MODULES = (
    ("onnxruntime", "onnxruntime"),
    ("ai_edge_litert", "litert (ai-edge-litert)"),
    ("tflite_runtime", "litert (tflite-runtime)"),
    ("torch", "torch"),
    ("numpy", "numpy"),
)


def info_rows(info: dict[str, Any]) -> list[tuple[str, str]]:
    """(fact, value) of a device's info, for people: arch, CPU, cores, RAM, OS, Python,
    runtimes with their versions, temperature."""

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    rows: list[tuple[str, str]] = [("Device", text(info.get("device")))]
    rows.append(("Address", text(info.get("address") or info.get("serial"))))
    model = " ".join(text(info.get(k)) for k in ("manufacturer", "model") if info.get(k)) or text(
        info.get("board")
    )
    if model:
        rows.append(("Board", model))
    arch = text(info.get("machine"))
    if info.get("abi"):
        arch = f"{arch} ({info['abi']})" if arch else text(info["abi"])
    rows.append(("Architecture", arch))
    rows.append(("CPU", text(info.get("cpu_model"))))
    physical, logical = info.get("physical_cores"), info.get("logical_cores")
    cores = f"{physical} physical, {logical} logical" if physical else text(logical)
    rows.append(("Cores", cores))
    rows.append(("RAM", size(info["ram_bytes"]) if info.get("ram_bytes") else ""))
    system = text(info.get("os"))
    if info.get("kernel"):
        system += f" (kernel {info['kernel']})"
    rows.append(("OS", system))
    if info.get("python") or info.get("python_executable"):
        python = text(info.get("python"))
        if info.get("python_executable"):
            python += f" at {info['python_executable']}"
        rows.append(("Python", python.strip()))
    modules = info.get("modules") or {}
    found = [f"{label} {modules[m]}" for m, label in RUNTIME_MODULES if modules.get(m)]
    if modules or "modules" in info:
        rows.append(("Runtimes", ", ".join(found) or "none installed"))
    if info.get("benchmark_model"):
        rows.append(("benchmark_model", text(info["benchmark_model"])))
    temperature = info.get("cpu_temperature_c")
    rows.append(("Temperature", f"{float(temperature):.1f} °C" if temperature is not None else "-"))
    if info.get("cpu_governor"):
        rows.append(("CPU governor", text(info["cpu_governor"])))
    for warning in info.get("warnings") or []:
        rows.append(("Warning", text(warning)))
    return rows
