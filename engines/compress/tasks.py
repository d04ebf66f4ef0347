"""Worker tasks for compression: torch steps, ONNX precision steps, and data preparation.

Each runs in a host worker process (engines/worker_main.py) and returns plain JSON; model
files are written into the work folder the host gave and imported by the host afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engines.compress.base import StepContext, parse_settings
from engines.compress.catalogue import step_class
from engines.floor.errors import BadInput
from engines.models import sniff as formats

Progress = Callable[..., None]


def example_shape(info: dict[str, Any]) -> list[int]:
    """A concrete shape for one sample: batch 1, other symbolic dims refused by name."""
    shape = []
    for axis, dim in enumerate(info["shape"]):
        if isinstance(dim, int) and dim >= 0:
            shape.append(1 if axis == 0 else dim)
        elif axis == 0:
            shape.append(1)
        else:
            raise BadInput(
                f"input {info['name']!r} has a symbolic dimension {dim!r} at axis {axis}; "
                "data cannot be shaped for it",
                "export the model with static shapes except the batch",
            )
    return shape


def load_editable_module(artifact: dict[str, Any]) -> Any:
    """The artifact as an eval-mode nn.Module, as editable as its format allows.

    Zoo models are rebuilt from torchvision; the demo model from its own class with the
    stored weights. Other .pt2 programs give their graph module: fine for distillation and
    magnitude pruning, refused by the structural steps with a message that says why.
    """
    import torch

    if artifact["format"] == formats.ZOO:
        from engines.runtimes.zoo import build_module, read_descriptor

        return build_module(read_descriptor(artifact["path"]))
    if artifact["format"] != formats.EXPORTED_PROGRAM:
        raise BadInput(f"torch steps need a PyTorch model, not {artifact['format']}")
    program = torch.export.load(artifact["path"])
    if artifact.get("origin") == "demo" and artifact.get("name") == "digits-cnn":
        from engines.models.demo import digits_cnn

        module = digits_cnn()
        try:
            module.load_state_dict(program.state_dict)
            return module.eval()
        except RuntimeError:
            pass  # a changed structure: fall back to the graph
    return program.module()


def _load_npz(path: str | None) -> tuple[Any, Any]:
    """(x, y) of a data file; for a multi-input calibration file, ({name: array}, None)."""
    if not path:
        return None, None
    from engines.evaluate.npz import INPUT_ARRAY, load_eval_npz

    with np.load(path, allow_pickle=False) as data:
        if any(name.startswith(INPUT_ARRAY) for name in data.files):
            return {
                name.removeprefix(INPUT_ARRAY): np.asarray(data[name])
                for name in data.files
                if name.startswith(INPUT_ARRAY)
            }, None

    x, y, _ = load_eval_npz(path)
    return x, y


def compress_torch(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: start, reference (artifact dicts), steps [{step, settings}], data_path, workdir."""
    import torch

    start = payload["start"]
    inputs = start["inputs"] or payload["reference"]["inputs"]
    if len(inputs) != 1:
        raise BadInput("torch compression steps support single-input models")
    example = (torch.zeros(example_shape(inputs[0])),)
    module = load_editable_module(start)
    calibration, labels = _load_npz(payload.get("data_path"))
    steps = payload["steps"]
    reference = None
    if any(s["step"] == "distill" for s in steps):
        reference = load_editable_module(payload["reference"])
    ctx = StepContext(
        progress=progress,
        calibration=calibration,
        labels=labels,
        reference=reference,
        example_inputs=example,
        input_names=tuple(i["name"] for i in inputs),
        workdir=payload["workdir"],
    )
    outputs = []
    for index, raw in enumerate(steps):
        cls = step_class(raw["step"])
        settings = parse_settings(cls, raw.get("settings", {}))
        progress(f"step {index + 1}/{len(steps)}: {cls.label}", index / len(steps))
        module, report = cls().run(module, settings, ctx)
        path = Path(payload["workdir"]) / f"step{index}-{cls.name}.pt2"
        progress(f"saving {cls.name} result as a torch.export program", None)
        with torch.no_grad():
            program = torch.export.export(module, example)
        torch.export.save(program, str(path))
        outputs.append({"path": str(path), "report": report, "settings": settings.model_dump()})
    progress("torch steps done", 1.0)
    return {"outputs": outputs}


def compress_onnx(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: step, settings, src (FP32 .onnx), inputs, data_path, workdir, target_arch."""
    from engines.export.parity import ToleranceExceeded, check_parity, tolerance_for
    from engines.runtimes.base import RuntimeOptions
    from engines.runtimes.feeds import declared_feeds, quantize_feed
    from engines.runtimes.ort import OnnxRuntime

    cls = step_class(payload["step"])
    settings = parse_settings(cls, payload.get("settings", {}))
    calibration, _ = _load_npz(payload.get("data_path"))
    inputs = payload["inputs"]
    ctx = StepContext(
        progress=progress,
        calibration=calibration,
        input_names=tuple(i["name"] for i in inputs),
        workdir=payload["workdir"],
        target_arch=payload.get("target_arch", "x86"),
    )
    dst, report = cls().run(payload["src"], settings, ctx)
    progress("checking the variant against the FP32 model", None)
    name = inputs[0]["name"]
    if isinstance(calibration, dict):
        count = min(8, len(next(iter(calibration.values()))))
        samples = [{k: v[i : i + 1] for k, v in calibration.items()} for i in range(count)]
    elif calibration is not None and len(inputs) == 1:
        samples = [{name: calibration[i : i + 1]} for i in range(min(8, len(calibration)))]
    else:
        samples = declared_feeds(inputs, 4, payload.get("input_values") or {})
    runtime = OnnxRuntime()
    fp32 = runtime.open(payload["src"], "onnx", RuntimeOptions(threads=1))
    variant = runtime.open(str(dst), "onnx", RuntimeOptions(threads=1))

    def outputs_of(session: Any) -> list[np.ndarray]:
        # Each model in its own input dtypes: an FP16 source takes float16, its INT8
        # variant (made from an FP32 copy) float32.
        infos = {i.name: i for i in session.inputs()}
        runs = [
            session.run({k: quantize_feed(infos[k], v) for k, v in sample.items()})
            for sample in samples
        ]
        return [np.concatenate(o).astype(np.float32) for o in zip(*runs, strict=True)]

    reference = outputs_of(fp32)
    candidate = outputs_of(variant)
    names = [o.name for o in fp32.outputs()]
    precision = {"quantize-static": "int8", "quantize-dynamic": "dynamic-int8", "fp16": "fp16"}
    try:
        parity = check_parity(
            reference, candidate, names, tolerance_for(precision.get(cls.name, "int8"))
        )
    except ToleranceExceeded as exc:
        checked_on = (
            f"{len(samples)} samples of the calibration data"
            if calibration is not None
            else f"{len(samples)} seeded synthetic inputs (N(0,1) floats)"
        )
        advice = {
            "fp16": "float16 overflows or loses precision somewhere in this model (detection "
            "heads and large activations often do): keep it FP32, or try int8-static",
            "quantize-static": "calibrate and check on data like the real inputs: "
            "--calib with an image folder or an .npz",
        }.get(cls.name, "check on data like the real inputs: --calib with an .npz or a folder")
        raise ToleranceExceeded(
            exc.message,
            exc.report,
            f"checked on {checked_on}; the variant is not kept. {advice}",
        ) from None
    return {
        "path": str(dst),
        "report": {**report, "parity": parity},
        "settings": settings.model_dump(),
    }


def prepare_data(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: source, input {name, shape}, preprocessing_kind, limit, out_path, reference."""
    from engines.evaluate.datasets import load_dataset, save_npz
    from engines.evaluate.preprocess import for_model

    info = payload["input"]
    shape = example_shape(info)
    progress(f"loading data: {payload['source']}", None)
    preprocessing = for_model(payload.get("preprocessing_kind", "generic"), shape)
    data = load_dataset(payload["source"], shape, preprocessing, limit=payload.get("limit"))
    refs = None
    reference = payload.get("reference")
    if reference:
        refs = reference_outputs(reference, info["name"], data.x, progress)
    save_npz(data, payload["out_path"], refs)
    return {
        "path": payload["out_path"],
        "count": len(data.x),
        "labelled": data.y is not None,
        "description": data.description,
        "source": payload["source"],
        "with_reference": refs is not None,
    }


def _reference_session(artifact: dict[str, Any]) -> Any:
    """The FP32 reference model opened in the first runtime that reads its format."""
    from engines.bench.environment import host_threads
    from engines.runtimes.base import RuntimeOptions
    from engines.runtimes.registry import runtimes_for_format

    runtimes = runtimes_for_format(artifact["format"])
    if not runtimes:
        raise BadInput(f"no runtime opens {artifact['format']} models for reference outputs")
    return runtimes[0].open(
        artifact["path"],
        artifact["format"],
        RuntimeOptions(threads=host_threads(), declared_inputs=list(artifact.get("inputs") or [])),
    )


def reference_outputs_multi(payload: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """payload: data_path (a multi-input .npz), out_path, reference (artifact dict): the
    same file with the FP32 reference model's outputs added as ref_0, ref_1, ..."""
    from engines.evaluate.npz import INPUT_ARRAY, load_multi_input_npz, sample_feed
    from engines.runtimes.feeds import quantize_feed

    loaded = load_multi_input_npz(payload["data_path"])
    if loaded is None:
        raise BadInput(f"{payload['data_path']} holds no input:NAME arrays")
    arrays, _ = loaded
    session = _reference_session(payload["reference"])
    infos = {i.name: i for i in session.inputs()}
    ranks = {name: len(info.shape) for name, info in infos.items()}
    count = len(next(iter(arrays.values())))
    progress(f"computing reference outputs on {count} samples", None)
    outputs = []
    for index in range(count):
        feed = sample_feed(arrays, index, ranks)
        outputs.append(session.run({k: quantize_feed(infos[k], v) for k, v in feed.items()}))
    session.close()
    refs = [np.concatenate(parts).astype(np.float32) for parts in zip(*outputs, strict=True)]
    out = Path(payload["out_path"])
    from engines.evaluate.npz import write_npz

    columns: dict[str, Any] = {INPUT_ARRAY + k: v for k, v in arrays.items()}
    columns.update({f"ref_{i}": r for i, r in enumerate(refs)})
    write_npz(out, columns)
    return {"path": str(out), "count": count}


def reference_outputs(
    artifact: dict[str, Any], input_name: str, x: np.ndarray, progress: Progress
) -> list[np.ndarray]:
    """Outputs of the FP32 reference model on every sample, one sample at a time."""
    session = _reference_session(artifact)
    names = [i.name for i in session.inputs()]
    feed_name = names[0] if names else input_name
    progress(f"computing reference outputs on {len(x)} samples", None)
    outputs = [session.run({feed_name: x[i : i + 1]}) for i in range(len(x))]
    session.close()
    return [np.concatenate(parts).astype(np.float32) for parts in zip(*outputs, strict=True)]
