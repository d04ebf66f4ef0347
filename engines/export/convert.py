"""Worker task: convert a torch artifact (ExportedProgram or zoo module) to ONNX or TFLite.

FP32 conversion with a parity check against the source on one seeded input; the output
file is written to a temp name in the destination folder and renamed when complete.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engines.errors import BadInput, RunFailed
from engines.models import sniff as formats


def load_torch_module(path: str, fmt: str) -> tuple[Any, list[dict[str, Any]]]:
    """(eval module, input signature) of a torch artifact."""
    import torch

    if fmt == formats.EXPORTED_PROGRAM:
        from engines.runtimes.torch_runtime import _exported_inputs

        program = torch.export.load(path)
        return program.module(), [i.to_dict() for i in _exported_inputs(program)]
    if fmt == formats.ZOO:
        from engines.models.zoo import build_module, read_descriptor

        desc = read_descriptor(path)
        inputs = [{"name": desc["input_name"], "shape": desc["input_shape"], "dtype": "float32"}]
        return build_module(desc), inputs
    raise BadInput(f"export from {fmt} is not supported; export from a torch model")


def _parity(reference: list[np.ndarray], exported: list[np.ndarray]) -> dict[str, float]:
    a = np.concatenate([r.ravel() for r in reference]).astype(np.float64)
    b = np.concatenate([e.ravel() for e in exported]).astype(np.float64)
    if a.shape != b.shape:
        raise RunFailed(f"exported outputs have {b.size} values; the source has {a.size}")
    cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))
    return {"max_abs_error": float(np.max(np.abs(a - b))), "cosine": cosine}


def export_model(payload: dict[str, Any], progress: Callable[..., None]) -> dict[str, Any]:
    """payload: source_path, source_format, to ("onnx" | "tflite"), out_path, opset."""
    import torch

    from engines.runtimes.base import RuntimeOptions, TensorInfo
    from engines.runtimes.feeds import synthesize

    to = payload["to"]
    out = Path(payload["out_path"])
    module, inputs = load_torch_module(payload["source_path"], payload["source_format"])
    infos = [TensorInfo(i["name"], i["shape"], i.get("dtype", "float32")) for i in inputs]
    feeds = synthesize(infos, seed=0)
    args = tuple(torch.from_numpy(feeds[i.name]) for i in infos)
    with torch.inference_mode():
        ref = module(*args)
    reference = [t.numpy() for t in (ref if isinstance(ref, (list, tuple)) else [ref])]
    tmp = out.with_name(f".{out.name}.tmp")
    progress(f"converting to {to}")
    try:
        if to == "onnx":
            program = torch.onnx.export(
                module,
                args,
                dynamo=True,
                opset_version=int(payload.get("opset", 18)),
                input_names=[i.name for i in infos],
                verbose=False,
            )
            if program is None:
                raise RunFailed("torch.onnx.export returned no program")
            program.save(str(tmp))
            from engines.runtimes.ort import OnnxRuntime

            session = OnnxRuntime().open(str(tmp), "onnx", RuntimeOptions(threads=1))
        elif to == "tflite":
            import litert_torch

            litert_torch.convert(module, args).export(str(tmp))
            from engines.runtimes.litert import LiteRTRuntime

            session = LiteRTRuntime().open(str(tmp), "tflite", RuntimeOptions(threads=1))
        else:
            raise BadInput(f"unknown export target {to!r}; choose onnx or tflite")
        progress("checking parity with the source model")
        names = [i.name for i in session.inputs()]
        exported = session.run(dict(zip(names, feeds.values(), strict=True)))
        parity = _parity(reference, exported)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return {"path": str(out), "to": to, "parity": parity, "inputs": inputs}
