"""Build a compressed variant of a model for a target format, as a generator of events.

Torch steps run together in one worker (structural steps need the live nn.Module); the
precision step runs on the FP32 ONNX export (ONNX) or inside the conversion (TFLite).
Every intermediate is an artifact with its parent and the step that made it, so a second
build with the same settings and data reuses them. Nothing is stored until a worker has
finished: a cancelled or failed build leaves no artifact and no row behind.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.compress.catalogue import step_class
from engines.compress.recipe import Recipe, RecipeStep
from engines.evaluate.npz import INPUT_ARRAY, write_npz
from engines.floor import paths
from engines.floor.atomic import write_atomically
from engines.floor.errors import BadInput
from engines.floor.spec import InputSpec
from engines.models import sniff as formats
from engines.models.artifacts import import_model, verify
from engines.store.db import ArtifactRow, Store
from engines.workers import iter_task

TORCH_SOURCES = (formats.EXPORTED_PROGRAM, formats.ZOO)
TARGETS = ("onnx", "tflite", "torch")


def host_arch() -> str:
    machine = platform.machine().lower()
    return "arm" if machine.startswith(("arm", "aarch")) else "x86"


def model_kind(fmt: str) -> str | None:
    if fmt in TORCH_SOURCES:
        return "torch"
    if fmt == formats.ONNX:
        return "onnx"
    if fmt == formats.TFLITE:
        return "tflite"
    return None


def default_data(source: ArtifactRow, purpose: str) -> str | None:
    """The data a model comes with: digits for the demo, seeded noise for zoo models.

    Other models get seeded noise for evaluation (fidelity only, no labels) and no
    default calibration data: static INT8 must be calibrated on the user's own data.
    """
    if source.source == "demo":
        return "digits-train" if purpose == "calibration" else "digits"
    if source.format == formats.ZOO:
        return "synthetic:64" if purpose == "calibration" else "synthetic:32"
    return None if purpose == "calibration" else "synthetic:32"


def data_identity(data: str, limit: int | None = None) -> str:
    """What a data source *is*, for cache keys: a file's hash, a folder's listing.

    Named sources (digits, synthetic:N) are their own identity; a path is resolved and
    fingerprinted, so a changed file or folder never reuses an old variant or result.
    """
    import hashlib

    path = Path(data).expanduser()
    if data.split(":")[0] in ("digits", "digits-train", "synthetic") and not path.exists():
        return f"{data}|{limit}"
    if path.is_file():
        from engines.models.artifacts import sha256_file

        return f"file:{path.resolve()}:{sha256_file(path)}|{limit}"
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = item.stat()
            digest.update(f"{item.relative_to(path)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        return f"dir:{path.resolve()}:{digest.hexdigest()}|{limit}"
    return f"{data}|{limit}"  # missing: the loader says so by name


def root_of(artifact: ArtifactRow, store: Store) -> ArtifactRow:
    """The source model at the top of a variant's lineage (the FP32 reference)."""
    current = artifact
    for _ in range(64):
        if current.parent_id is None:
            return current
        current = store.artifact(current.parent_id)
    return current


@dataclass(frozen=True)
class VariantRequest:
    model: str
    recipe: Recipe
    target: str = "onnx"
    calibration: str | None = None
    calibration_limit: int = 512
    trust_code: bool = False
    target_arch: str = ""
    #: Shapes and named dims for a model with symbolic dims (calibration and parity data).
    inputs: InputSpec = field(default_factory=InputSpec)


def _progress(message: str, fraction: float | None = None) -> dict[str, Any]:
    return {"type": "progress", "message": message, "fraction": fraction}


def _cached_child(store: Store, parent: ArtifactRow, step: str, key: str) -> ArtifactRow | None:
    for child in reversed(store.children(parent.id)):
        settings = child.step_settings or {}
        if child.step == step and settings.get("key") == key and Path(child.path).is_file():
            try:
                verify(child)
            except BadInput:
                continue
            return child
    return None


def _check_applicable(recipe: Recipe, kind: str | None, target: str, source: ArtifactRow) -> None:
    if kind is None:
        raise BadInput(
            f"{source.name} is a {source.format} model; compression starts from a PyTorch "
            "(.pt2, demo:, zoo:) or ONNX model"
        )
    if target not in TARGETS:
        raise BadInput(f"unknown target {target!r}; choose one of: {', '.join(TARGETS)}")
    for recipe_step in recipe.steps:
        cls = step_class(recipe_step.step)
        reason = cls.applies_to(kind) if recipe_step.step not in _precision() else None
        if reason:
            raise BadInput(
                reason,
                "import the PyTorch model (.pt2) or use demo:/zoo: models for torch steps",
            )
    precision = recipe.precision_step
    if kind == "onnx" and target != "onnx":
        raise BadInput(f"{source.name} is an ONNX model: it can be compressed to ONNX only")
    if kind == "tflite":
        raise BadInput(f"no compression step applies to TFLite models ({source.name})")
    if precision and target == "torch":
        raise BadInput(
            f"step {precision.step!r} makes an ONNX or TFLite model; choose --to onnx or tflite"
        )


def _precision() -> tuple[str, ...]:
    from engines.compress.catalogue import PRECISION_STEPS

    return PRECISION_STEPS


def source_inputs(source: ArtifactRow, asked: InputSpec | None = None) -> list[dict[str, Any]]:
    """The model's declared inputs with the user's shapes and named dims applied."""
    from engines.runtimes.feeds import bind_inputs

    declared = (source.inspection or {}).get("inputs") or []
    if asked is None or (not asked.shapes and not asked.dims):
        return list(declared)
    return bind_inputs(declared, asked.shapes, asked.dims)


def multi_input_data(
    source: ArtifactRow,
    inputs: list[dict[str, Any]],
    data: str,
    limit: int | None,
    values: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Calibration samples for every input of a multi-input model, as one .npz in the
    cache (`input:NAME` arrays, samples on axis 0): seeded synthetic feeds (the profile's
    rules: named dims bound, masks ones, ids below their table) or an .npz keyed by name."""
    import hashlib

    import numpy as np

    from engines.runtimes.feeds import declared_feeds

    names = [str(i["name"]) for i in inputs]
    key = hashlib.sha256(
        json.dumps(
            [
                source.sha256,
                data_identity(data, limit),
                names,
                [i.get("shape") for i in inputs],
                sorted((values or {}).items()),
            ]
        ).encode()
    ).hexdigest()[:20]
    folder = paths.cache_dir() / "data"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{key}.multi.npz"
    meta = out.with_suffix(".json")
    if out.is_file() and meta.is_file():  # made before for the same model, data and inputs
        try:
            return dict(json.loads(meta.read_text()))
        except json.JSONDecodeError:
            pass  # a damaged cache entry is made again
    if data.startswith("synthetic"):
        _, _, count_text = data.partition(":")
        count = min(int(count_text or 32), limit or 10**9)
        feeds = declared_feeds(inputs, count, values)
        arrays = {
            name: np.concatenate([f[name][None] if f[name].ndim == 0 else f[name] for f in feeds])
            for name in names
        }
        description = "synthetic (seeded, every input)"
    elif data.endswith(".npz") and Path(data).is_file():
        with np.load(data, allow_pickle=False) as given:
            missing = [n for n in names if n not in given.files]
            if missing:
                raise BadInput(
                    f"{data} has no array for input(s) {', '.join(missing)} "
                    f"(it has: {', '.join(given.files) or 'none'})",
                    "key the arrays by input name, samples on axis 0",
                )
            arrays = {n: np.asarray(given[n])[: limit or None] for n in names}
        counts = {n: int(a.shape[0]) if a.ndim else 0 for n, a in arrays.items()}
        if len(set(counts.values())) != 1 or 0 in counts.values():
            raise BadInput(f"{data}: every input needs the same number (> 0) of samples: {counts}")
        description = f"{Path(data).name} (arrays by input name)"
    else:
        raise BadInput(
            f"{source.name} has {len(inputs)} inputs; its calibration data must be "
            f"synthetic[:N] or an .npz keyed by input name, not {data!r}",
        )
    columns = {INPUT_ARRAY + n: a for n, a in arrays.items()}
    write_npz(out, columns)
    count = int(next(iter(arrays.values())).shape[0])
    made = {"path": str(out), "count": count, "labelled": False, "description": description}
    write_atomically(meta, lambda tmp: tmp.write_text(json.dumps(made)))
    return made


def _json_writer(value: Any) -> Any:
    """A `write_atomically` writer of `value` as JSON."""
    text = json.dumps(value)
    return lambda tmp: tmp.write_text(text)


def prepare_data(
    source: ArtifactRow,
    data: str,
    limit: int | None,
    cancel: threading.Event | None,
    with_reference: bool = False,
    asked: InputSpec | None = None,
) -> Iterator[dict[str, Any]]:
    """Load a data source for a model into an .npz in the cache; yields progress, then `data`."""
    import hashlib

    inputs = source_inputs(source, asked)
    if not inputs:
        raise BadInput(f"{source.name} declares no inputs; data cannot be prepared for it")
    if len(inputs) > 1:
        made = multi_input_data(source, inputs, data, limit, asked.values if asked else None)
        with_refs = made["path"].replace(".multi.npz", ".multi-ref.npz")
        if with_reference and Path(with_refs).is_file():  # the source's outputs, made before
            made = {**made, "path": with_refs}
        elif with_reference:
            payload = {
                "data_path": made["path"],
                "out_path": with_refs,
                "reference": {"path": source.path, "format": source.format, "inputs": inputs},
            }
            for event in iter_task("reference_outputs_multi", payload, cancel=cancel):
                if event["type"] == "done":
                    made = {**made, **event["result"]}
                else:
                    yield event
        yield {"type": "data", **made}
        return
    verify(source)
    shapes = [i.get("shape") for i in inputs]
    key_text = json.dumps([source.sha256, data_identity(data, limit), with_reference, 3, shapes])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:20]
    folder = paths.cache_dir() / "data"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{key}.npz"
    meta = out.with_suffix(".json")
    if out.is_file() and meta.is_file():
        try:
            yield {"type": "data", **json.loads(meta.read_text())}
            return
        except json.JSONDecodeError:
            pass  # a damaged cache entry is made again
    payload = {
        "source": data,
        "input": inputs[0],
        "preprocessing_kind": "digits"
        if source.source == "demo"
        else ("imagenet" if source.format == formats.ZOO else "generic"),
        "limit": limit,
        "out_path": str(out),
        "reference": {"path": source.path, "format": source.format, "inputs": inputs}
        if with_reference
        else None,
    }
    for event in iter_task("prepare_data", payload, cancel=cancel):
        if event["type"] == "done":
            result = event["result"]
            write_atomically(meta, _json_writer(result))
            yield {"type": "data", **result}
        else:
            yield event


def build_variant(
    request: VariantRequest, store: Store, cancel: threading.Event | None = None
) -> Iterator[dict[str, Any]]:
    """Yield progress events, then {"type": "variant", "artifact_id", "reports"}."""
    from engines.models.refs import resolving

    yield _progress(f"resolving {request.model}")
    source = yield from resolving(
        request.model, store.path, trust_code=request.trust_code, cancel=cancel
    )
    kind = model_kind(source.format)
    recipe = request.recipe
    _check_applicable(recipe, kind, request.target, source)
    arch = request.target_arch or host_arch()
    needs_data = recipe.needs_data or any(step_class(s.step).needs_data for s in recipe.steps)
    calibration = request.calibration or default_data(source, "calibration")
    data: dict[str, Any] | None = None
    if needs_data:
        if calibration is None:
            raise BadInput(
                f"recipe {recipe.name!r} needs calibration data for {source.name}",
                "pass --calib with an .npz (x, optional y), an image folder, or synthetic[:N]",
            )
        for event in prepare_data(
            source, calibration, request.calibration_limit, cancel, asked=request.inputs
        ):
            if event["type"] == "data":
                data = event
            else:
                yield event
    data_key = (
        data_identity(calibration, request.calibration_limit) if needs_data and calibration else ""
    )
    asked = request.inputs
    if asked.shapes or asked.dims or asked.values:
        data_key += (
            f"|inputs {sorted(asked.shapes.items())} {sorted(asked.dims.items())} "
            f"{sorted(asked.values.items())}"
        )
    verify(source)
    reports: list[dict[str, Any]] = []
    current = source
    torch_steps = list(recipe.torch_steps)
    cached_chain = _cached_torch_chain(store, source, torch_steps, data_key)
    if len(cached_chain) == len(torch_steps) or not _needs_live_module(
        torch_steps[len(cached_chain) :]
    ):
        for cached in cached_chain:
            current = cached
            reports.append({"step": cached.step, "cached": True, **(cached.step_settings or {})})
        torch_steps = torch_steps[len(cached_chain) :]
    if torch_steps:
        for event in _run_torch_steps(source, current, torch_steps, data, data_key, store, cancel):
            if event["type"] == "artifact":
                current = store.artifact(event["artifact_id"])
                reports.append(event["report"])
            else:
                yield event
    target = request.target
    precision = recipe.precision_step
    if target == "torch":
        if current.id == source.id:
            raise BadInput(f"recipe {recipe.name!r} made no change to {source.name}")
    elif target == "onnx":
        if current.format != formats.ONNX:
            current = yield from _export_fp32(current, "onnx", store, cancel)
        if precision:
            current, report = yield from _onnx_precision(
                current, precision, data, data_key, arch, store, cancel, request.inputs
            )
            reports.append(report)
    else:
        if precision:
            current, report = yield from _tflite_precision(
                current, precision, data, data_key, store, cancel
            )
            reports.append(report)
        else:
            current = yield from _export_fp32(current, "tflite", store, cancel)
    yield {
        "type": "variant",
        "artifact_id": current.id,
        "source_id": source.id,
        "recipe": recipe.name,
        "target": target,
        "reports": reports,
    }


def _worker(
    task: str, payload: dict[str, Any], cancel: threading.Event | None
) -> Generator[dict[str, Any], None, dict[str, Any]]:
    """Forward a worker task's progress events; return its result."""
    result: dict[str, Any] = {}
    for event in iter_task(task, payload, timeout_s=3600, cancel=cancel):
        if event["type"] == "done":
            result = event["result"]
        else:
            yield event
    return result


def _cached_torch_chain(
    store: Store, source: ArtifactRow, steps: list[RecipeStep], data_key: str
) -> list[ArtifactRow]:
    """The stored artifacts for the longest prefix of `steps` already built from `source`."""
    chain: list[ArtifactRow] = []
    current = source
    for recipe_step in steps:
        cached = _cached_child(store, current, recipe_step.step, recipe_step.key(data_key))
        if cached is None:
            break
        chain.append(cached)
        current = cached
    return chain


def _needs_live_module(steps: list[RecipeStep]) -> bool:
    """Structural steps and distillation need the nn.Module, not a stored graph of it."""
    return any(step_class(s.step).structural or s.step == "distill" for s in steps)


def _workdir() -> Path:
    folder = paths.cache_dir() / "work"
    folder.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=folder))


def _run_torch_steps(
    source: ArtifactRow,
    start: ArtifactRow,
    steps: list[RecipeStep],
    data: dict[str, Any] | None,
    data_key: str,
    store: Store,
    cancel: threading.Event | None,
) -> Iterator[dict[str, Any]]:
    verify(start)
    workdir = _workdir()
    try:
        payload = {
            "start": _artifact_payload(start),
            "reference": _artifact_payload(source),
            "steps": [{"step": s.step, "settings": s.settings} for s in steps],
            "data_path": (data or {}).get("path"),
            "workdir": str(workdir),
        }
        result = yield from _worker("compress_torch", payload, cancel)
        parent = start
        for recipe_step, made in zip(steps, result["outputs"], strict=True):
            settings = {
                "settings": made["settings"],
                "key": recipe_step.key(data_key),
                "data": data_key or None,
                "report": made["report"],
            }
            artifact = import_model(
                made["path"],
                store,
                name=f"{source.name} · {recipe_step.step}",
                trust_code=True,  # written by our own worker from a model already trusted
                origin="compress",
                parent_id=parent.id,
                step=recipe_step.step,
                step_settings=settings,
            )
            parent = artifact
            yield {
                "type": "artifact",
                "artifact_id": artifact.id,
                "report": {"step": recipe_step.step, **settings},
            }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _artifact_payload(artifact: ArtifactRow) -> dict[str, Any]:
    return {
        "path": artifact.path,
        "format": artifact.format,
        "origin": artifact.source,
        "name": artifact.name,
        "inputs": (artifact.inspection or {}).get("inputs") or [],
    }


def _export_fp32(
    artifact: ArtifactRow, target: str, store: Store, cancel: threading.Event | None
) -> Generator[dict[str, Any], None, ArtifactRow]:
    """The cached FP32 ONNX/TFLite export of a torch artifact (generator returning it)."""
    from engines.export.runnable import export_fp32

    return (yield from export_fp32(artifact, target, store, cancel))


def _onnx_precision(
    onnx_fp32: ArtifactRow,
    precision: RecipeStep,
    data: dict[str, Any] | None,
    data_key: str,
    arch: str,
    store: Store,
    cancel: threading.Event | None,
    asked: InputSpec | None = None,
) -> Generator[dict[str, Any], None, tuple[ArtifactRow, dict[str, Any]]]:
    key = precision.key(f"{data_key}|{arch}")
    cached = _cached_child(store, onnx_fp32, precision.step, key)
    if cached:
        return cached, {"step": precision.step, "cached": True, **(cached.step_settings or {})}
    verify(onnx_fp32)
    workdir = _workdir()
    try:
        payload = {
            "step": precision.step,
            "settings": precision.settings,
            "src": onnx_fp32.path,
            "inputs": source_inputs(onnx_fp32, asked),
            "input_values": dict(asked.values) if asked else {},
            "data_path": (data or {}).get("path"),
            "workdir": str(workdir),
            "target_arch": arch,
        }
        result = yield from _worker("compress_onnx", payload, cancel)
        settings = {
            "settings": result["settings"],
            "key": key,
            "data": data_key or None,
            "target_arch": arch,
            "report": result["report"],
        }
        artifact = import_model(
            result["path"],
            store,
            name=f"{onnx_fp32.name} · {precision.step}",
            origin="compress",
            parent_id=onnx_fp32.id,
            step=precision.step,
            step_settings=settings,
        )
        return artifact, {"step": precision.step, **settings}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _tflite_precision(
    torch_artifact: ArtifactRow,
    precision: RecipeStep,
    data: dict[str, Any] | None,
    data_key: str,
    store: Store,
    cancel: threading.Event | None,
) -> Generator[dict[str, Any], None, tuple[ArtifactRow, dict[str, Any]]]:
    from engines.compress.base import parse_settings

    cls = step_class(precision.step)
    settings = parse_settings(cls, precision.settings)
    key = precision.key(data_key)
    step_name = f"{precision.step}-tflite"
    cached = _cached_child(store, torch_artifact, step_name, key)
    if cached:
        return cached, {"step": step_name, "cached": True, **(cached.step_settings or {})}
    verify(torch_artifact)
    workdir = _workdir()
    try:
        out = workdir / f"{torch_artifact.sha256[:16]}-{precision.step}.tflite"
        options = cls().tflite_options(settings)  # type: ignore[attr-defined]
        payload = {
            "source_path": torch_artifact.path,
            "source_format": torch_artifact.format,
            "to": "tflite",
            "out_path": str(out),
            "calibration_npz": (data or {}).get("path"),
            **options,
        }
        result = yield from _worker("export", payload, cancel)
        report = {k: v for k, v in result.items() if k not in ("path", "inputs")}
        step_settings = {
            "settings": precision.settings,
            "key": key,
            "data": data_key or None,
            "report": report,
        }
        artifact = import_model(
            out,
            store,
            name=f"{torch_artifact.name} · {precision.step} (tflite)",
            origin="compress",
            parent_id=torch_artifact.id,
            step=step_name,
            step_settings=step_settings,
        )
        return artifact, {"step": step_name, **step_settings}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
