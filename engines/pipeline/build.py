"""Variants and exports through the pipeline: resolve the model -> prepare data -> build or
export -> store, as one event stream that takes the cancel event.

The wizard, `edgebench compress` and `edgebench export` call these; none of them opens a
store connection for the build or chains resolve and export itself.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from engines.compress.build import VariantRequest, build_variant
from engines.store.db import ArtifactRow, Store


def build(
    request: VariantRequest, store: Store | Path, cancel: threading.Event | None = None
) -> Iterator[dict[str, Any]]:
    """Build a variant: progress events, then {"type": "variant", "artifact_id", "reports"}.

    `store` is an open store, or the path of one: a GUI job passes the path and the build
    works on its own connection in the job's thread."""
    if isinstance(store, Store):
        yield from build_variant(request, store, cancel)
        return
    with Store(store) as own:
        yield from build_variant(request, own, cancel)


def export(
    model: str,
    target: str,
    store: Store,
    *,
    trust_code: bool = False,
    opset: int = 18,
    dynamic_batch: bool = False,
    cancel: threading.Event | None = None,
) -> Generator[dict[str, Any], None, ArtifactRow]:
    """An FP32 export of `model` to `target` ("onnx" | "tflite"), with its parity check:
    progress events, and the stored export as the stream's value (`yield from`)."""
    from engines.export.runnable import export_fp32
    from engines.models.refs import resolving

    source = yield from resolving(model, store.path, trust_code=trust_code, cancel=cancel)
    artifact: ArtifactRow = yield from export_fp32(
        source, target, store, cancel, opset=opset, dynamic_batch=dynamic_batch
    )
    return artifact
