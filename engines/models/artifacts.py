"""Import a model into the app-owned, content-addressed artifact store and record it.

Files are copied (with ONNX external-data files, after checking each stays inside the
model's folder), hashed while copying, and written atomically under
`artifacts/<sha[:2]>/<sha>/`. Inspection runs in a worker process.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engines.floor import paths
from engines.floor.errors import BadInput, TrustRequired
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
    """Copy through the one atomic writer (a temp file beside `dest`, fsync, rename). The
    copy gets the mode a new file of the user's gets (0666 less the umask, so 0644
    usually), not the temp file's private 0600."""
    from engines.floor.atomic import write_atomically

    def copy(tmp: Path) -> None:
        with open(tmp, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)

    write_atomically(dest, copy)


def check_external_data(model_path: Path, locations: list[str]) -> list[Path]:
    """Every external-data location must be a plain file inside the model's own folder."""
    folder = model_path.resolve().parent
    checked = []
    for location in locations:
        candidate = Path(location)
        full = folder / candidate
        if full.is_symlink():  # lstat: the link itself, before anything follows it
            raise BadInput(f"external data {location!r} is a symbolic link; refusing to follow it")
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


def _refuse_downloading_descriptor(src: Path) -> None:
    """A zoo descriptor file from a path never downloads anything: pretrained weights come
    only through the explicit reference (zoo:NAME:pretrained), never from a file's word."""
    from engines.runtimes.zoo import PRETRAINED, read_descriptor

    if read_descriptor(src).get("weights") == PRETRAINED:
        name = read_descriptor(src).get("zoo")
        raise BadInput(
            f"{src.name} asks for pretrained weights, which would be downloaded from the "
            "internet; a descriptor file may not do that",
            f"ask for them explicitly with zoo:{name}:pretrained, or use zoo:{name}",
        )


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
    progress: Callable[[str, float | None], None] | None = None,
    cancel: threading.Event | None = None,
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
    if fmt == formats.ZOO and origin != "zoo":
        _refuse_downloading_descriptor(src)
    file_sha = sha256_file(src)
    already = _stored_copy_of(src, file_sha, store)
    if already:
        return already

    from engines.workers import run_task

    if progress is not None:
        progress(f"inspecting {src.name}", None)
    inspection = run_task(
        "inspect", {"path": str(src), "format": fmt}, timeout_s=300, cancel=cancel
    )
    extra = check_external_data(src, inspection.pop("external_data", []) or [])
    data_files = [
        {
            "path": data_file.relative_to(src.resolve().parent).as_posix(),
            "sha256": sha256_file(data_file),
            "bytes": data_file.stat().st_size,
        }
        for data_file in extra
    ]
    sha = content_sha256(file_sha, data_files)
    existing = store.artifact_by_sha(sha)
    if existing and _intact(existing):
        return existing
    folder = paths.artifacts_dir() / sha[:2] / sha
    dest = folder / src.name
    for data_file in extra:
        atomic_copy(data_file, folder / data_file.relative_to(src.resolve().parent))
    atomic_copy(src, dest)
    inspection["external_data_bytes"] = sum(f["bytes"] for f in data_files)
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
        file_sha256=file_sha,
        data_files=data_files,
    )


def content_sha256(file_sha: str, data_files: list[dict[str, Any]]) -> str:
    """An artifact's identity: the model file's hash, or a hash over it and its data files."""
    if not data_files:
        return file_sha
    manifest = "\n".join(
        [f"model {file_sha}"] + [f"data {f['sha256']} {f['path']}" for f in data_files]
    )
    return hashlib.sha256(manifest.encode()).hexdigest()


def _stored_copy_of(src: Path, file_sha: str, store: Store) -> ArtifactRow | None:
    """An intact stored artifact with the same model file and the same data files beside it.

    The same model bytes name the same external-data paths, so comparing those files'
    hashes is enough; no parser runs for a model already imported.
    """
    folder = src.resolve().parent
    for candidate in store.artifacts_by_file_sha(file_sha):
        external = (candidate.inspection or {}).get("external_data_bytes") or 0
        if external and not candidate.data_files:
            continue  # recorded before data files were listed: cannot be compared
        if not _intact(candidate):
            continue
        beside = [folder / f["path"] for f in candidate.data_files]
        if all(
            p.is_file() and sha256_file(p) == f["sha256"]
            for p, f in zip(beside, candidate.data_files, strict=True)
        ):
            return candidate
    return None


def _intact(artifact: ArtifactRow) -> bool:
    try:
        verify(artifact)
    except BadInput:
        return False
    return True


def verify(artifact: ArtifactRow) -> None:
    """Refuse to run a stored model whose bytes (or external data) changed since import."""
    model = Path(artifact.path)
    if not model.is_file():
        raise BadInput(f"the stored model {artifact.name} is missing: {artifact.path}")
    if sha256_file(model) != (artifact.file_sha256 or artifact.sha256):
        raise BadInput(
            f"the stored model {artifact.name} no longer matches its hash",
            f"{artifact.path}; re-import the original file",
        )
    for data in artifact.data_files:
        data_path = model.parent / data["path"]
        if not data_path.is_file() or sha256_file(data_path) != data["sha256"]:
            raise BadInput(
                f"the external data {data['path']!r} of {artifact.name} is missing or no "
                "longer matches its hash",
                f"{data_path}; re-import the original model and its data files",
            )


def copy_out(artifact: ArtifactRow, destination: str | Path) -> Path:
    """Write a stored model (and its external data) to a user's path, atomically.

    A folder as destination keeps the stored file name. Returns the model's new path.
    """
    dest = Path(destination).expanduser()
    if dest.is_dir():
        dest = dest / Path(artifact.path).name
    atomic_copy(Path(artifact.path), dest)
    for data in artifact.data_files:
        atomic_copy(Path(artifact.path).parent / data["path"], dest.parent / data["path"])
    return dest
