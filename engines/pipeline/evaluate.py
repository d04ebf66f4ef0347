"""Accuracy of a variant beside its source: both evaluated on the same data, on the
runtime of each one's format, as evaluation-only runs (stored, marked as not timed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from engines.store.db import Store

#: The runtime that opens each stored format (torch for the rest).
RUNTIME_FOR_FORMAT = {"onnx": "onnxruntime", "tflite": "litert"}


def evaluate_variant(
    source_id: int,
    variant_id: int,
    store: Store,
    data: str | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[dict[str, Any]]:
    """Accuracy (labelled data) or fidelity (any data) of the source, then of the variant:
    a `progress` event before each, then an `evaluation` event with its figures and run."""
    from engines.compress.build import default_data, root_of
    from engines.floor.errors import RunFailed
    from engines.pipeline.profile import ProfileRequest, profile

    variant = store.artifact(variant_id)
    data = data or default_data(root_of(variant, store), "evaluation") or "synthetic:32"
    for which, artifact_id in (("source", source_id), ("variant", variant_id)):
        artifact = store.artifact(artifact_id)
        yield {"type": "progress", "message": f"evaluating the {which} on {data}"}
        request = ProfileRequest(
            model=f"artifact:{artifact_id}",
            runtime=RUNTIME_FOR_FORMAT.get(artifact.format, "torch"),
            measure=False,
            evaluate_data=data,
        )
        outcome: dict[str, Any] = {}
        for event in profile(request, store, cancel=cancel):
            if event["type"] == "error":
                raise RunFailed(
                    f"evaluating the {which} failed: {event.get('message')}",
                    str(event.get("details") or ""),
                )
            if event["type"] in ("result", "stored"):
                outcome[event["type"]] = event
        yield {
            "type": "evaluation",
            "which": which,
            "data": data,
            "evaluation": (outcome.get("result") or {}).get("evaluation") or {},
            "run_id": (outcome.get("stored") or {}).get("run_id"),
        }
