"""Give a runtime a file it can open: the artifact itself, or a cached FP32 export of it."""

from __future__ import annotations

from pathlib import Path

from engines import paths
from engines.errors import BadInput
from engines.models import sniff as formats
from engines.models.artifacts import import_model, verify
from engines.runtimes.base import Runtime
from engines.store.db import ArtifactRow, Store
from engines.workers import ProgressFn, run_task

TORCH_SOURCES = {formats.EXPORTED_PROGRAM, formats.ZOO}
EXPORT_TARGETS = ("onnx", "tflite")


def runnable_artifact(
    artifact: ArtifactRow, runtime: Runtime, store: Store, progress: ProgressFn | None = None
) -> ArtifactRow:
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
    step = f"export-{target}-fp32"
    existing = store.child_by_step(artifact.id, step)
    if existing and Path(existing.path).is_file():
        verify(existing)
        return existing
    verify(artifact)
    out_dir = paths.cache_dir() / "exports"
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = ".onnx" if target == "onnx" else ".tflite"
    out = out_dir / f"{artifact.sha256[:16]}-fp32{suffix}"
    if progress:
        progress(f"exporting {artifact.name} to {target} (FP32)", None)
    result = run_task(
        "export",
        {
            "source_path": artifact.path,
            "source_format": artifact.format,
            "to": target,
            "out_path": str(out),
        },
        progress=progress,
    )
    try:
        return import_model(
            out,
            store,
            name=f"{artifact.name} ({target} fp32)",
            origin="export",
            parent_id=artifact.id,
            step=step,
            step_settings={"precision": "fp32", "parity": result["parity"]},
        )
    finally:
        out.unlink(missing_ok=True)
