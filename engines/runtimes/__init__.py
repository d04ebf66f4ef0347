"""Runtime adapters (onnxruntime, LiteRT, torch) behind one registry.

Importing this package imports no runtime: each adapter imports its library inside the
methods that need it, so `edgebench --help` and the agent stay light.
"""

from engines.runtimes.base import Availability, Runtime, RuntimeOptions, Session, TensorInfo
from engines.runtimes.registry import all_runtimes, get_runtime, register

__all__ = [
    "Availability",
    "Runtime",
    "RuntimeOptions",
    "Session",
    "TensorInfo",
    "all_runtimes",
    "get_runtime",
    "register",
]
