"""The one registry of runtimes; names are what users type after `--runtime`."""

from __future__ import annotations

from engines.floor.errors import BadInput
from engines.runtimes.base import Runtime

_RUNTIMES: dict[str, Runtime] = {}


def register(runtime: Runtime) -> Runtime:
    if runtime.name in _RUNTIMES:
        raise ValueError(f"runtime {runtime.name!r} is already registered")
    _RUNTIMES[runtime.name] = runtime
    return runtime


def _ensure_builtins() -> None:
    if _RUNTIMES:
        return
    from engines.runtimes.litert import LiteRTRuntime
    from engines.runtimes.ort import OnnxRuntime
    from engines.runtimes.torch_runtime import TorchRuntime

    for runtime in (OnnxRuntime(), LiteRTRuntime(), TorchRuntime()):
        register(runtime)


def all_runtimes() -> list[Runtime]:
    _ensure_builtins()
    return list(_RUNTIMES.values())


def get_runtime(name: str) -> Runtime:
    _ensure_builtins()
    try:
        return _RUNTIMES[name]
    except KeyError:
        choices = ", ".join(sorted(_RUNTIMES))
        raise BadInput(f"unknown runtime {name!r}; choose one of: {choices}") from None


def runtimes_for_format(fmt: str) -> list[Runtime]:
    return [rt for rt in all_runtimes() if fmt in rt.formats]
