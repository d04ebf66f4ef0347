"""Installed versions of runtime packages (stdlib only: the device probe uses it too)."""

from __future__ import annotations

import importlib.metadata

#: Import name -> the distributions that provide it, in preference order.
DISTRIBUTIONS = {
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "ai_edge_litert": ("ai-edge-litert",),
    "tflite_runtime": ("tflite-runtime",),
    "torch": ("torch",),
    "torchvision": ("torchvision",),
}


def module_version(module: str) -> str | None:
    for dist in DISTRIBUTIONS.get(module, (module,)):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None
