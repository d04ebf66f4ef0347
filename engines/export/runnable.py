"""Give a runtime a file it can open: the artifact itself, or a cached FP32 export of it."""

from __future__ import annotations

import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any, cast

from engines.floor import paths
from engines.floor.errors import BadInput
from engines.models import sniff as formats
from engines.models.artifacts import import_model, verify
from engines.runtimes.base import Runtime
from engines.store.db import ArtifactRow, Store
from engines.workers import ProgressFn, iter_task

TORCH_SOURCES = {formats.EXPORTED_PROGRAM, formats.ZOO}
EXPORT_TARGETS = ("onnx", "tflite")


def export_fp32(
    artifact: ArtifactRow,
    target: str,
    store: Store,
    cancel: threading.Event | None = None,
    *,
    opset: int = 18,
    dynamic_batch: bool = False,
) -> Generator[dict[str, Any], None, ArtifactRow]:
    """Yield export progress; return the cached or new FP32 export of a torch artifact."""
    if artifact.format not in TORCH_SOURCES:
        raise BadInput(f"{artifact.name} is a {artifact.format} model; export starts from torch")
    if target not in EXPORT_TARGETS:
        raise BadInput(f"unknown export target {target!r}; choose onnx or tflite")
    options = ""
    if target == "onnx" and (opset != 18 or dynamic_batch):
        options = f"-opset{opset}" + ("-dynbatch" if dynamic_batch else "")
    step = f"export-{target}-fp32{options}"
    existing = store.child_by_step(artifact.id, step)
    if existing and Path(existing.path).is_file():
        try:
            verify(existing)
            return existing
        except BadInput:
            pass  # a damaged cached export is made again
    verify(artifact)
    out_dir = paths.cache_dir() / "exports"
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = ".onnx" if target == "onnx" else ".tflite"
    out = out_dir / f"{artifact.sha256[:16]}-fp32{options}{suffix}"
    yield {"type": "progress", "message": f"exporting {artifact.name} to {target} (FP32)"}
    result: dict[str, Any] = {}
    for event in iter_task(
        "export",
        {
            "source_path": artifact.path,
            "source_format": artifact.format,
            "to": target,
            "out_path": str(out),
            "opset": opset,
            "dynamic_batch": dynamic_batch,
        },
        cancel=cancel,
    ):
        if event["type"] == "done":
            result = event["result"]
        else:
            yield event
    try:
        return import_model(
            out,
            store,
            name=f"{artifact.name} ({target} fp32)",
            origin="export",
            parent_id=artifact.id,
            step=step,
            step_settings={
                "precision": "fp32",
                "opset": opset if target == "onnx" else None,
                "dynamic_batch": dynamic_batch,
                "parity": result.get("parity"),
            },
        )
    finally:
        out.unlink(missing_ok=True)


def runnable_events(
    artifact: ArtifactRow, runtime: Runtime, store: Store, cancel: Any = None
) -> Generator[dict[str, Any], None, ArtifactRow]:
    """The artifact itself when the runtime opens its format, else its cached FP32 export,
    with the export's progress events as they happen (`yield from` gets the artifact)."""
    if artifact.format in runtime.formats:
        verify(artifact)
        return artifact
    target = next((f for f in runtime.formats if f in EXPORT_TARGETS), None)
    if target is None or artifact.format not in TORCH_SOURCES:
        raise BadInput(
            f"{runtime.name} cannot open {artifact.format} models "
            f"(it opens: {', '.join(runtime.formats)})",
            "export the model to a format this runtime opens, or pick another runtime",
        )
    return (yield from export_fp32(artifact, target, store, cancel))


def runnable_artifact(
    artifact: ArtifactRow, runtime: Runtime, store: Store, progress: ProgressFn | None = None
) -> ArtifactRow:
    """`runnable_events` for callers that take progress as a callback."""
    events = runnable_events(artifact, runtime, store)
    while True:
        try:
            event = next(events)
        except StopIteration as done:
            return cast(ArtifactRow, done.value)
        if progress:
            progress(str(event.get("message", "")), event.get("fraction"))
