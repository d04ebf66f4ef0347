"""Import a model into the app-owned, content-addressed artifact store and record it.

Files are copied (with ONNX external-data files, after checking each stays inside the
model's folder), hashed while copying, and written atomically under
`artifacts/<sha[:2]>/<sha>/`. Inspection runs in a worker process.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from engines import paths
from engines.errors import BadInput, TrustRequired
from engines.models import sniff as formats
from engines.store.db import ArtifactRow, Store

MAX_MODEL_BYTES = 16 << 30


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_copy(src: Path, dest: Path) -> None:
    """Copy to a temp file in the destination folder, fsync, then os.replace."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_external_data(model_path: Path, locations: list[str]) -> list[Path]:
    """Every external-data location must be a plain file inside the model's own folder."""
    folder = model_path.resolve().parent
    checked = []
    for location in locations:
        candidate = Path(location)
        unsafe = (
            candidate.is_absolute()
            or ".." in candidate.parts
            or not (folder / candidate).resolve().is_relative_to(folder)
        )
        if unsafe:
            raise BadInput(
                f"{model_path.name} points at external data outside its folder: {location!r}",
                "ONNX external data must sit beside the model; refusing to read it",
            )
        full = folder / candidate
        if full.is_symlink():
            raise BadInput(f"external data {location!r} is a symbolic link; refusing to follow it")
        if not full.is_file():
            raise BadInput(f"external data file {location!r} is missing beside {model_path.name}")
        if full.stat().st_nlink > 1:
            raise BadInput(f"external data {location!r} is a hard link; refusing to read it")
        checked.append(full)
    return checked


def _trust_message(fmt: str) -> str:
    kind = {
        formats.TORCH_PICKLE: "a full Python pickle (not a plain state_dict)",
        formats.TORCHSCRIPT: "TorchScript",
        formats.EXPORTED_PROGRAM: "a torch.export program",
    }[fmt]
    return f"This file is {kind}: it contains Python code; load it only if you trust its source"


def import_model(
    source: str | Path,
    store: Store,
    *,
    name: str | None = None,
    trust_code: bool = False,
    origin: str = "file",
    parent_id: int | None = None,
    step: str | None = None,
    step_settings: dict[str, Any] | None = None,
) -> ArtifactRow:
    """Copy, hash, inspect and record a model file; the same content is stored once."""
    src = Path(source).expanduser()
    fmt = formats.sniff(src)
    size = src.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise BadInput(f"{src.name} is {size / 2**30:.1f} GiB; the limit is 16 GiB")
    if fmt in formats.CODE_FORMATS and not trust_code:
        raise TrustRequired(
            _trust_message(fmt), "pass --trust-code if you trust where it came from"
        )
    sha = sha256_file(src)
    existing = store.artifact_by_sha(sha)
    if existing and Path(existing.path).is_file() and sha256_file(existing.path) == sha:
        return existing

    from engines.workers import run_task

    inspection = run_task("inspect", {"path": str(src), "format": fmt}, timeout_s=300)
    extra = check_external_data(src, inspection.pop("external_data", []) or [])
    folder = paths.artifacts_dir() / sha[:2] / sha
    dest = folder / src.name
    for data_file in extra:
        atomic_copy(data_file, folder / data_file.relative_to(src.resolve().parent))
    atomic_copy(src, dest)
    inspection["external_data_bytes"] = sum(f.stat().st_size for f in extra)
    return store.add_artifact(
        sha256=sha,
        name=name or src.stem,
        format=fmt,
        path=str(dest),
        size_bytes=size,
        source=origin,
        parent_id=parent_id,
        step=step,
        step_settings=step_settings,
        inspection=inspection,
    )


def verify(artifact: ArtifactRow) -> None:
    """Refuse to run a stored model whose bytes changed since import."""
    if not Path(artifact.path).is_file():
        raise BadInput(f"the stored model {artifact.name} is missing: {artifact.path}")
    if sha256_file(artifact.path) != artifact.sha256:
        raise BadInput(
            f"the stored model {artifact.name} no longer matches its hash",
            f"{artifact.path}; re-import the original file",
        )
