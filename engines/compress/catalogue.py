"""The one catalogue of compression steps: name -> class, loaded on first use.

Step modules import their heavy libraries inside `run`, so loading a class is cheap; the
catalogue still names them as strings so listing steps imports nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import cast

from engines.compress.base import Step
from engines.floor.errors import BadInput

STEPS: dict[str, str] = {
    "prune-magnitude": "engines.compress.prune:MagnitudePrune",
    "prune-structured": "engines.compress.prune:StructuredPrune",
    "lowrank": "engines.compress.lowrank:LowRank",
    "distill": "engines.compress.distill:Distill",
    "quantize-dynamic": "engines.compress.quantize:QuantizeDynamic",
    "quantize-static": "engines.compress.quantize:QuantizeStatic",
    "fp16": "engines.compress.quantize:Float16",
}

#: Steps that change number formats; at most one per recipe, and last.
PRECISION_STEPS = ("quantize-dynamic", "quantize-static", "fp16")


def step_class(name: str) -> type[Step]:
    try:
        module_name, _, class_name = STEPS[name].partition(":")
    except KeyError:
        raise BadInput(
            f"unknown compression step {name!r}", f"known steps: {', '.join(STEPS)}"
        ) from None
    cls = getattr(importlib.import_module(module_name), class_name)
    if cls.name != name:
        raise RuntimeError(f"catalogue entry {name!r} points at step {cls.name!r}")
    return cast("type[Step]", cls)
