"""Worker task "export": a torch artifact (ExportedProgram or zoo module) to ONNX or TFLite.

`export_model(payload, progress)` loads the torch module, exports it (onnx_export /
tflite_export), then checks parity: the exported file is opened with the project's own
runtime adapters and run on the SAME inputs as the source (seeded N(0,1) inputs, or
samples from the calibration file), and `parity.check_parity_samples` judges the outputs
with the tolerance of the precision. Full-INT8 TFLite models with int8 inputs get their
float inputs quantized with the model's scale / zero point, and their int8 outputs
dequantized, before the comparison. The file appears at out_path only once it passed
(or failed parity with keep_on_parity_failure set); on any failure nothing is left there.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np

from engines.floor.errors import BadInput, RunFailed
from engines.models import sniff as formats

TARGETS = ("onnx", "tflite")
MODES = ("fp32", "dynamic-int8", "int8", "fp16")
#: Synthetic calibration set size for full INT8 when no calibration file is given.
SYNTHETIC_CALIBRATION = 32


def load_torch_module(path: str, fmt: str) -> tuple[Any, list[dict[str, Any]]]:
    """(eval module, input signature) of a torch artifact."""
    import torch

    if fmt == formats.EXPORTED_PROGRAM:
        from engines.runtimes.torch_runtime import _exported_inputs

        program = torch.export.load(path)
        module = program.module()
        # The graph is already traced (eval behaviour baked in) and .eval() is refused on
        # unlifted modules; clear the flag so exporters do not warn about training mode.
        for sub in module.modules():
            sub.training = False
        return module, [i.to_dict() for i in _exported_inputs(program)]
    if fmt == formats.ZOO:
        from engines.runtimes.zoo import build_module, read_descriptor

        desc = read_descriptor(path)
        inputs = [{"name": desc["input_name"], "shape": desc["input_shape"], "dtype": "float32"}]
        return build_module(desc), inputs
    raise BadInput(f"export from {fmt} is not supported; export from a torch model")


# -- inputs -------------------------------------------------------------------------------


def _read_npz(path: str) -> dict[str, np.ndarray]:
    file = Path(path)
    if not file.is_file():
        raise BadInput(f"calibration data {file}: no such file")
    try:
        with np.load(file, allow_pickle=False) as data:
            return {k: np.asarray(data[k]) for k in data.files}
    except Exception as exc:
        raise BadInput(
            f"cannot read {file} as .npz: {exc}",
            "save it with numpy.savez(path, <input name>=array), first axis = samples",
        ) from exc


def _npz_samples(path: str, infos: list[Any]) -> list[dict[str, np.ndarray]]:
    """One feed per sample of the file; arrays keyed by input name (or `x`, one input)."""
    from engines.runtimes.feeds import resolve_shape

    arrays = _read_npz(path)
    columns: dict[str, np.ndarray] = {}
    for info in infos:
        if info.name in arrays:
            columns[info.name] = arrays[info.name]
        elif len(infos) == 1 and "x" in arrays:
            columns[info.name] = arrays["x"]
        else:
            raise BadInput(
                f"calibration data {path} has no array for input {info.name!r} "
                f"(it has: {', '.join(sorted(arrays)) or 'none'})",
                "key the arrays by input name, first axis = samples",
            )
    counts = {name: int(a.shape[0]) if a.ndim else 0 for name, a in columns.items()}
    n = min(counts.values())
    if n == 0 or len(set(counts.values())) != 1:
        raise BadInput(
            f"calibration data {path}: every input needs the same number (> 0) of samples "
            f"along axis 0; found {counts}"
        )
    samples: list[dict[str, np.ndarray]] = [{} for _ in range(n)]
    for info in infos:
        column = columns[info.name]
        shape = resolve_shape(info, 1, {})
        if column.ndim == len(shape) + 1:
            rows = [column[i] for i in range(n)]
        elif column.ndim == len(shape):
            rows = [column[i : i + 1] for i in range(n)]
        else:
            raise BadInput(
                f"calibration array for {info.name!r} has shape {list(column.shape)}; "
                f"the input is {info.shape} (samples first: N x {list(shape[1:])} "
                f"or N x {list(shape)})"
            )
        for i, row in enumerate(rows):
            fits = all(
                not isinstance(want, int) or want < 0 or axis == 0 or want == got
                for axis, (want, got) in enumerate(zip(info.shape, row.shape, strict=True))
            )
            if not fits:
                raise BadInput(
                    f"calibration sample for {info.name!r} has shape {list(row.shape)}; "
                    f"the model takes {info.shape}"
                )
            samples[i][info.name] = np.ascontiguousarray(row, dtype=np.dtype(info.dtype))
    return samples


def _quantize(value: np.ndarray, info: Any) -> np.ndarray:
    """Float data -> the int dtype of a quantized model input (feeds.synthesize formula)."""
    dtype = np.dtype(info.dtype)
    if not (info.quantization and dtype.kind in "iu" and info.quantization[0] > 0):
        return np.ascontiguousarray(value, dtype=dtype)
    if np.asarray(value).dtype.kind in "iu":
        return np.ascontiguousarray(value, dtype=dtype)
    scale, zero_point = info.quantization
    limits = np.iinfo(dtype)
    quantized = np.round(np.asarray(value, dtype=np.float32) / scale) + zero_point
    return cast(np.ndarray, np.clip(quantized, limits.min, limits.max).astype(dtype))


def _dequantize(value: np.ndarray, info: Any) -> np.ndarray:
    if info.quantization and value.dtype.kind in "iu" and info.quantization[0] > 0:
        scale, zero_point = info.quantization
        return (value.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
    return value


_INDEX = re.compile(r"(?:args|output)_(\d+)(?:_output)?$")


def _positional(names: list[str]) -> list[int]:
    """Order of LiteRT tensors by the argument / output index in their names, if any."""
    matches = [_INDEX.search(n) for n in names]
    indices = [int(m.group(1)) for m in matches if m]
    if len(indices) == len(names) and len(set(indices)) == len(names):
        return sorted(range(len(names)), key=indices.__getitem__)
    return list(range(len(names)))


def _flat_outputs(value: Any) -> list[np.ndarray]:
    import torch
    from torch.utils._pytree import tree_leaves

    leaves = tree_leaves(value)
    return [leaf.detach().cpu().numpy() for leaf in leaves if isinstance(leaf, torch.Tensor)]


# -- the task -----------------------------------------------------------------------------


def _session_runner(path: Path, to: str) -> tuple[Any, Callable[[dict[str, np.ndarray]], Any]]:
    """(session, run(feeds by source input order) -> outputs in source output order)."""
    from engines.runtimes.base import RuntimeOptions

    options = RuntimeOptions(threads=1)
    session: Any
    if to == "onnx":
        from engines.runtimes.ort import OnnxRuntime

        session = OnnxRuntime().open(str(path), "onnx", options)
    else:
        from engines.runtimes.litert import LiteRTRuntime

        session = LiteRTRuntime().open(str(path), "tflite", options)
    ins, outs = session.inputs(), session.outputs()
    in_order = _positional([i.name for i in ins]) if to == "tflite" else list(range(len(ins)))
    out_order = _positional([o.name for o in outs]) if to == "tflite" else list(range(len(outs)))

    def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        values = list(feeds.values())
        if len(values) != len(ins):
            raise RunFailed(f"the exported model takes {len(ins)} inputs; the source {len(values)}")
        mapped: dict[str, np.ndarray] = {}
        for position, index in enumerate(in_order):
            info = ins[index]  # ONNX keeps the source's input names; LiteRT goes by position
            value = feeds.get(info.name, values[position])
            mapped[info.name] = _quantize(value, info)
        raw = session.run(mapped)
        return [_dequantize(raw[i], outs[i]) for i in out_order]

    return session, run


def _output_names(session: Any, to: str, count: int) -> list[str]:
    outs = [o.name for o in session.outputs()]
    order = _positional(outs) if to == "tflite" else list(range(len(outs)))
    names = [outs[i] for i in order]
    return names if len(names) == count else [f"output_{i}" for i in range(count)]


def export_model(payload: dict[str, Any], progress: Callable[..., None]) -> dict[str, Any]:
    """payload: source_path, source_format, to ("onnx" | "tflite"), out_path; optional
    opset (18), dynamic_batch (False), mode ("fp32" | "dynamic-int8" | "int8" | "fp16"),
    calibration_npz (arrays keyed by input name, axis 0 = samples; a single-input model
    also takes an array named x), parity_samples (8), keep_on_parity_failure (False: a
    parity failure raises and leaves no file; True: the file is kept and
    parity["passed"] is False).

    Returns {path, to, mode, opset, parity, inputs, export, size_bytes}.
    """
    to = str(payload.get("to", ""))
    mode = str(payload.get("mode") or "fp32")
    if to not in TARGETS:
        raise BadInput(f"unknown export target {to!r}; choose onnx or tflite")
    if mode not in MODES:
        raise BadInput(f"unknown export precision {mode!r}; choose one of {', '.join(MODES)}")
    if to == "onnx" and mode != "fp32":
        raise BadInput(
            f"ONNX export here is FP32 only, not {mode}",
            "quantize the ONNX model with a compression step, or export to TFLite",
        )
    opset = int(payload.get("opset") or 18)
    dynamic_batch = bool(payload.get("dynamic_batch", False))
    parity_samples = max(1, int(payload.get("parity_samples") or 8))
    calibration_npz = payload.get("calibration_npz") or None
    keep_failed = bool(payload.get("keep_on_parity_failure", False))
    out = Path(payload["out_path"])
    if dynamic_batch and to != "onnx":
        raise BadInput(
            "dynamic batch is supported for ONNX export only",
            "export TFLite with the batch the model will run at",
        )

    import torch

    from engines.export.parity import ParityError, check_parity_samples, tolerance_for
    from engines.runtimes.base import TensorInfo
    from engines.runtimes.feeds import synthesize

    progress("loading the source model")
    module, inputs = load_torch_module(payload["source_path"], payload["source_format"])
    infos = [TensorInfo(i["name"], i["shape"], i.get("dtype", "float32")) for i in inputs]
    names = [i.name for i in infos]

    if calibration_npz:
        all_samples = _npz_samples(str(calibration_npz), infos)
        source = f"calibration file ({len(all_samples)} samples)"
    else:
        count = max(parity_samples, SYNTHETIC_CALIBRATION if mode == "int8" else 0)
        all_samples = [synthesize(infos, seed=seed) for seed in range(count)]
        source = "seeded N(0,1) inputs"
    parity_feeds = all_samples[:parity_samples]

    def as_args(feeds: dict[str, np.ndarray]) -> tuple[Any, ...]:
        return tuple(torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in names)

    example = as_args(parity_feeds[0])
    with torch.inference_mode():
        references = [_flat_outputs(module(*as_args(f))) for f in parity_feeds]

    staging = out.with_name(f".{out.stem}.{os.getpid()}.staged{out.suffix}")
    progress(f"converting to {to} ({mode})")
    try:
        if to == "onnx":
            from engines.export.onnx_export import export_onnx

            report = export_onnx(
                module,
                example,
                staging,
                opset=opset,
                dynamic_batch=dynamic_batch,
                input_names=names,
            )
        else:
            from engines.export.tflite_export import export_tflite

            calibration = [as_args(f) for f in all_samples] if mode == "int8" else None
            report = export_tflite(module, example, staging, mode=mode, calibration=calibration)
            if calibration is not None:
                report["calibration_source"] = source
        report["path"] = str(out)

        progress("checking parity with the source model")
        session, run = _session_runner(staging, to)
        try:
            candidates = [run(f) for f in parity_feeds]
            output_names = _output_names(session, to, len(references[0]))
            try:
                parity = check_parity_samples(
                    references, candidates, output_names, tolerance_for(mode)
                )
                parity["inputs"] = source
                if dynamic_batch and len(parity_feeds) > 1:
                    parity["batched"] = _batched_check(
                        references, run, parity_feeds, names, output_names
                    )
            except ParityError as exc:
                exc.report["inputs"] = source
                if not keep_failed:
                    exc.details = "parity report: " + json.dumps(exc.report)
                    raise
                parity = {**exc.report, "message": exc.message}
        finally:
            session.close()
        os.replace(staging, out)
    finally:
        staging.unlink(missing_ok=True)
    return {
        "path": str(out),
        "to": to,
        "mode": mode,
        "opset": opset if to == "onnx" else None,
        "parity": parity,
        "inputs": inputs,
        "export": report,
        "size_bytes": out.stat().st_size,
    }


def _batched_check(
    references: list[list[np.ndarray]],
    run: Callable[[dict[str, np.ndarray]], list[np.ndarray]],
    feeds: list[dict[str, np.ndarray]],
    names: list[str],
    output_names: list[str],
) -> dict[str, Any]:
    """Dynamic batch: the parity samples stacked into one batch must give the per-sample
    outputs stacked (the source itself may be fixed to batch 1, as a static .pt2 is)."""
    from engines.export.parity import ShapeMismatch, check_parity, tolerance_for

    batch = {n: np.concatenate([f[n] for f in feeds], axis=0) for n in names}
    size = int(next(iter(batch.values())).shape[0])
    reference = [np.concatenate(outs, axis=0) for outs in zip(*references, strict=True)]
    try:
        report = check_parity(reference, run(batch), output_names, tolerance_for("fp32"))
    except ShapeMismatch as exc:
        return {"batch": size, "skipped": exc.message}
    return {"batch": size, "cosine": report["cosine"], "max_abs_error": report["max_abs_error"]}
