"""ONNX quantization and FP16 conversion with onnxruntime.quantization, as plain functions.

Three ways to make an .onnx file smaller (and, on the right hardware, faster):

* `quantize_dynamic_onnx`: int8 weights, activations quantized at run time. For transformers
  and other MatMul/Gemm-heavy models; it makes CNNs slower on CPU.
* `quantize_static_onnx`: int8 weights and activations in QDQ form, ranges from calibration
  data. The activation/weight types follow the target: x86 -> U8S8 (uint8 activations, int8
  weights), arm -> S8S8. The result is opened in onnxruntime with every graph optimisation
  on, and the report counts the Conv/MatMul/Gemm ops that still run in float after fusion,
  so a person can see whether INT8 actually took (S8S8 QDQ on x86 left many convs in float).
* `convert_fp16_onnx`: float16 weights and compute. x86 CPUs gain no speed from it.

Every function writes its output atomically (a temp file in the destination folder, fsync,
os.replace): on an error or a cancel nothing is left at `dst`. Each returns a report of
plain, JSON-able figures. onnx and onnxruntime are imported inside the functions.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from engines.compress.base import ProgressFn
from engines.compress.onnx_source import needs_per_tensor, prepared_source
from engines.floor.errors import BadInput, Cancelled, EdgeBenchError, RunFailed

#: target_arch -> (activation type, weight type) for static QDQ quantization.
TARGET_TYPES: dict[str, tuple[str, str]] = {
    "x86": ("uint8", "int8"),  # U8S8: the fast path of ORT's x86 int8 kernels (VNNI/AMX)
    "arm": ("int8", "int8"),  # S8S8: what ARM's int8 dot-product kernels prefer
}
CALIBRATE_METHODS = ("minmax", "entropy", "percentile")
DYNAMIC_WEIGHT_TYPES = ("int8", "uint8")

#: Compute ops that run in integer arithmetic (ONNX and com.microsoft contrib ops).
QUANTIZED_COMPUTE_OPS = frozenset(
    {
        "QLinearConv",
        "QLinearMatMul",
        "QLinearConvTranspose",
        "ConvInteger",
        "MatMulInteger",
        "MatMulIntegerToFloat",
        "DynamicQuantizeMatMul",
        "QGemm",
        "QAttention",
        "DynamicQuantizeLSTM",
        "MatMulNBits",
        "QOrderedMatMul",
    }
)
#: Compute ops that run in float (including ORT's fused and NCHWc-layout forms).
FLOAT_COMPUTE_OPS = frozenset(
    {
        "Conv",
        "ConvTranspose",
        "MatMul",
        "Gemm",
        "FusedConv",
        "NhwcFusedConv",
        "FusedMatMul",
        "FusedGemm",
        "TransposeMatMul",
    }
)
#: Ops that move values between float and integer (dynamic and QDQ bookkeeping).
QUANT_BOOKKEEPING_OPS = frozenset(
    {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Cast"}
)

FP16_NOTE = "x86 CPUs gain no speed from FP16 (emulated); ARMv8.2+ and GPUs do"


# ------------------------------------------------------------------------------ helpers


def _emit(progress: ProgressFn | None, message: str, fraction: float | None) -> None:
    if progress is not None:
        progress(message, fraction)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("quantization cancelled; no output was written")


@contextmanager
def _staging(dst: Path) -> Iterator[Path]:
    """A private temp folder beside `dst`, removed afterwards whatever happens."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp"))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _working_directory(folder: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _publish(tmp: Path, dst: Path) -> None:
    """fsync the finished temp file, then move it over `dst` in one step."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dst)


def _check_source(src: Path) -> Path:
    src = Path(src)
    if not src.is_file():
        raise BadInput(f"ONNX model not found: {src}")
    return src


def _load_graph_only(path: Path) -> Any:
    """The model without its external weights (enough for signatures and op counts)."""
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise BadInput(f"{path.name} is not a readable ONNX model: {exc}") from exc


def _model_bytes(path: Path) -> int:
    """File size plus the external-data files the model points at."""
    from engines.models.inspect import _external_locations

    total = path.stat().st_size
    for location in _external_locations(_load_graph_only(path).graph):
        candidate = path.parent / location
        if candidate.is_file():
            total += candidate.stat().st_size
    return total


def _size_report(before: int, after: int) -> dict[str, Any]:
    return {
        "size_bytes_before": before,
        "size_bytes_after": after,
        #: before / after: 4.0 means the new file is a quarter of the old one.
        "size_ratio": round(before / after, 3) if after else None,
    }


def _all_nodes(graph: Any) -> Iterator[Any]:
    """Every node, including those in nested subgraphs (If/Loop/Scan bodies)."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from _all_nodes(attr.g)
            for sub in attr.graphs:
                yield from _all_nodes(sub)


def _compute_ops(model: Any) -> dict[str, Any]:
    """Conv/MatMul/Gemm-like ops in a graph, split into integer and float."""
    ops = Counter(node.op_type for node in _all_nodes(model.graph))
    quantized = {op: n for op, n in sorted(ops.items()) if op in QUANTIZED_COMPUTE_OPS}
    floating = {op: n for op, n in sorted(ops.items()) if op in FLOAT_COMPUTE_OPS}
    bookkeeping = {op: n for op, n in sorted(ops.items()) if op in QUANT_BOOKKEEPING_OPS}
    return {
        "quantized_ops": quantized,
        "float_ops": floating,
        "conversion_ops": bookkeeping,
        "quantized_total": sum(quantized.values()),
        "float_total": sum(floating.values()),
    }


def _optimized_ops(path: Path, workdir: Path) -> dict[str, Any]:
    """Open `path` in ORT (ORT_ENABLE_ALL), save the optimised graph, count its compute ops.

    This is what actually runs: QDQ pairs around a Conv only become QLinearConv when ORT's
    fusion accepts the types and layout, so counting the file alone can mislead.
    """
    import onnx
    import onnxruntime as ort

    optimized = workdir / "optimized.onnx"
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(optimized)
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    try:
        ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise RunFailed(
            f"the new model does not open in onnxruntime: {exc}", traceback.format_exc()
        ) from exc
    counts = _compute_ops(onnx.load(str(optimized), load_external_data=False))
    optimized.unlink(missing_ok=True)
    return counts


def _wrap_failure(what: str, src: Path, exc: Exception) -> RunFailed:
    return RunFailed(f"{what} of {src.name} failed: {exc}", traceback.format_exc())


# --------------------------------------------------------------------- input signature


def onnx_input_signature(path: str | Path) -> list[dict[str, Any]]:
    """The model's real inputs (initializers excluded): name, shape, numpy dtype name.

    Static dims are ints; symbolic dims are their name, unknown ones "?". A tensor whose
    rank is unknown has shape None.
    """
    import onnx

    graph = _load_graph_only(Path(path)).graph
    initializers = {i.name for i in graph.initializer}
    signature = []
    for value in graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        shape: list[int | str] | None = None
        if tensor.HasField("shape"):
            shape = [
                d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                for d in tensor.shape.dim
            ]
        try:
            dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)).name
        except Exception:
            dtype = f"onnx type {tensor.elem_type}"
        signature.append({"name": value.name, "shape": shape, "dtype": dtype})
    return signature


# ------------------------------------------------------------------ calibration checks


def _shape_text(shape: list[int | str] | tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _check_calibration(
    calibration: Mapping[str, Any], signature: list[dict[str, Any]]
) -> tuple[dict[str, tuple[np.ndarray, int]], int]:
    """Check `calibration` against the inputs; return {name: (array, rows per feed)}, samples.

    The first axis of each array is the sample axis. A feed keeps the model's own batch
    dim: 1 row (x[i:i+1]) when that dim is symbolic, b rows when it is a static b. A
    scalar input takes x[i] (rows per feed 0).
    """
    if not isinstance(calibration, Mapping):
        raise BadInput(
            f"calibration must map input names to arrays, got {type(calibration).__name__}"
        )
    names = [s["name"] for s in signature]
    unknown = sorted(set(calibration) - set(names))
    if unknown:
        raise BadInput(
            f"calibration has data for {unknown[0]!r}, which is not an input of the model",
            f"model inputs: {', '.join(names)}",
        )
    feeds: dict[str, tuple[np.ndarray, int]] = {}
    counts: dict[str, int] = {}
    for spec in signature:
        name, shape, dtype = spec["name"], spec["shape"], spec["dtype"]
        if shape is None:
            expected = f"N samples along the first axis, {dtype}"
        elif shape:
            expected = f"{_shape_text(['N', *shape[1:]])} {dtype}"
        else:
            expected = f"(N,) {dtype} (one scalar per sample)"
        model_text = f"the model input is {_shape_text(shape) if shape is not None else '?'}"
        if name not in calibration:
            raise BadInput(
                f"calibration has no data for model input {name!r}: expected {expected}",
                f"calibration gives: {', '.join(map(repr, calibration)) or 'nothing'}; "
                f"{model_text}",
            )
        value = calibration[name]
        if not isinstance(value, np.ndarray):
            raise BadInput(
                f"calibration for input {name!r} is a {type(value).__name__}, "
                f"expected a numpy array {expected}"
            )
        given = f"{_shape_text(value.shape)} {value.dtype}"
        if value.dtype.name != dtype:
            raise BadInput(
                f"calibration for input {name!r} is {value.dtype}, expected {dtype}: "
                f"got {given}, expected {expected}",
                model_text,
            )
        rank_needed = max(len(shape), 1) if shape is not None else None
        if rank_needed is not None and value.ndim != rank_needed:
            raise BadInput(
                f"calibration for input {name!r} has shape {_shape_text(value.shape)}, "
                f"expected {expected} (rank {rank_needed}, first axis = samples)",
                model_text,
            )
        rows = 1
        if shape:
            for axis, dim in enumerate(shape[1:], start=1):
                if isinstance(dim, int) and dim > 0 and value.shape[axis] != dim:
                    raise BadInput(
                        f"calibration for input {name!r} has shape {_shape_text(value.shape)}, "
                        f"expected {expected}: axis {axis} must be {dim}",
                        model_text,
                    )
            first = shape[0]
            rows = first if isinstance(first, int) and first > 0 else 1
        elif shape is not None:
            rows = 0
        samples = value.shape[0] // max(rows, 1)
        if samples == 0:
            raise BadInput(
                f"calibration for input {name!r} has no samples: got {given}, "
                f"expected {expected} with N >= {max(rows, 1)}",
                model_text,
            )
        feeds[name] = (value, rows)
        counts[name] = samples
    distinct = sorted(set(counts.values()))
    if len(distinct) > 1:
        detail = ", ".join(f"{n!r}: {c}" for n, c in counts.items())
        raise BadInput(
            "calibration inputs hold different numbers of samples; every input needs one "
            f"entry per sample ({detail})"
        )
    if not distinct:
        raise BadInput("the model has no inputs to calibrate")
    return feeds, distinct[0]


class _CalibrationReader:
    """onnxruntime CalibrationDataReader: one sample per get_next, cancel and progress aware."""

    def __init__(
        self,
        feeds: dict[str, tuple[np.ndarray, int]],
        samples: int,
        cancel: threading.Event | None,
        progress: ProgressFn | None,
        span: tuple[float, float],
    ) -> None:
        self._feeds = feeds
        self._samples = samples
        self._cancel = cancel
        self._progress = progress
        self._span = span
        self.index = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        _check_cancel(self._cancel)
        if self.index >= self._samples:
            return None
        i = self.index
        feed = {}
        for name, (array, rows) in self._feeds.items():
            part = array[i] if rows == 0 else array[i * rows : (i + 1) * rows]
            feed[name] = np.ascontiguousarray(part)
        self.index += 1
        start, end = self._span
        _emit(
            self._progress,
            f"calibrating: sample {self.index}/{self._samples}",
            start + (end - start) * self.index / self._samples,
        )
        return feed

    def __len__(self) -> int:
        return self._samples


def _quantized_weight_dtypes(model: Any) -> dict[str, int]:
    """dtypes of the initializers that feed a DequantizeLinear (the stored weights)."""
    import onnx

    inits = {i.name: i for i in model.graph.initializer}
    seen: set[str] = set()
    dtypes: Counter[str] = Counter()
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or not node.input:
            continue
        name = node.input[0]
        if name in inits and name not in seen:
            seen.add(name)
            dtypes[np.dtype(onnx.helper.tensor_dtype_to_np_dtype(inits[name].data_type)).name] += 1
    return dict(sorted(dtypes.items()))


# -------------------------------------------------------------------------- dynamic


def quantize_dynamic_onnx(
    src: Path,
    dst: Path,
    *,
    weight_type: str = "int8",
    per_channel: bool = False,
    op_types: list[str] | None = None,
) -> dict[str, Any]:
    """Dynamic INT8: weights stored as integers, activations quantized per run (uint8).

    Report: method, weight_type, activation_type, per_channel, op_types (None = ORT's
    default set), graph (integer vs float compute ops in the written file), optimized (the
    same after ORT's fusion), sizes and size_ratio (before / after), notes.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = _check_source(Path(src)), Path(dst)
    if weight_type not in DYNAMIC_WEIGHT_TYPES:
        raise BadInput(
            f"weight_type {weight_type!r} is not one of: {', '.join(DYNAMIC_WEIGHT_TYPES)}"
        )
    source_ops = _compute_ops(_load_graph_only(src))
    before = _model_bytes(src)
    qtype = QuantType.QInt8 if weight_type == "int8" else QuantType.QUInt8
    with _staging(dst) as work:
        tmp = work / "quantized.onnx"
        prepared = prepared_source(src, work, "int8-dynamic")
        try:
            quantize_dynamic(
                str(prepared.path),
                str(tmp),
                op_types_to_quantize=list(op_types) if op_types else None,
                per_channel=per_channel,
                weight_type=qtype,
                # Fused com.microsoft ops (SkipLayerNormalization, BiasGelu, Attention)
                # have no ONNX shape inference: the tensors they produce are float32 here.
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        except EdgeBenchError:
            raise
        except Exception as exc:
            raise _wrap_failure("dynamic quantization", src, exc) from exc
        graph_ops = _compute_ops(_load_graph_only(tmp))
        optimized = _optimized_ops(tmp, work)
        after = tmp.stat().st_size
        _publish(tmp, dst)
    notes = []
    if source_ops["float_ops"].get("Conv"):
        notes.append(
            "dynamic INT8 usually makes CNNs slower on CPU; use static INT8 for convolutions"
        )
    if graph_ops["quantized_total"] == 0:
        notes.append("no op was quantized: the file only got bigger or stayed the same")
    notes = prepared.notes + notes
    return {
        "method": "dynamic",
        "weight_type": weight_type,
        "activation_type": "uint8",
        "per_channel": per_channel,
        "op_types": list(op_types) if op_types else None,
        "graph": graph_ops,
        "optimized": optimized,
        **_size_report(before, after),
        "notes": notes,
    }


# --------------------------------------------------------------------------- static


def quantize_static_onnx(
    src: Path,
    dst: Path,
    calibration: dict[str, np.ndarray],
    *,
    target_arch: str = "x86",
    per_channel: bool = True,
    calibrate_method: str = "minmax",
    preprocess: bool = True,
    max_calibration_samples: int = 256,
    cancel: threading.Event | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Static INT8 in QDQ format, ranges from `calibration`, types chosen for `target_arch`.

    `calibration` maps every model input name to an array whose first axis is the sample
    axis; samples are fed one at a time with the model's batch dim kept (x[i:i+1]). At most
    `max_calibration_samples` are used (the first ones).

    Report: method, format, target_arch, activation_type, weight_type, per_channel,
    reduce_range, calibrate_method, calibration_samples (used), calibration_samples_given,
    preprocess_applied, preprocess_note, quantized_weight_dtypes, graph (ops in the file),
    optimized (ops after ORT's fusion: quantized_ops, float_ops, quantized_total,
    float_total), int8_took, sizes, size_ratio (before / after), notes.

    Raises BadInput for bad arguments or calibration data, Cancelled when `cancel` is set
    (checked between calibration samples and between stages), RunFailed when ORT fails.
    """
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src, dst = _check_source(Path(src)), Path(dst)
    if target_arch not in TARGET_TYPES:
        raise BadInput(
            f"target_arch {target_arch!r} is not one of: {', '.join(TARGET_TYPES)}",
            "x86 uses uint8 activations with int8 weights (U8S8); arm uses int8 for both",
        )
    if calibrate_method not in CALIBRATE_METHODS:
        raise BadInput(
            f"calibrate_method {calibrate_method!r} is not one of: {', '.join(CALIBRATE_METHODS)}"
        )
    if max_calibration_samples < 1:
        raise BadInput(f"max_calibration_samples must be at least 1, got {max_calibration_samples}")
    _check_cancel(cancel)
    _emit(progress, "checking calibration data", 0.0)
    activation_type, weight_type = TARGET_TYPES[target_arch]
    qtypes = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    before = _model_bytes(src)
    with _staging(dst) as work:
        prepared = prepared_source(src, work, "int8-static")
        if needs_per_tensor(prepared):
            per_channel = False
        feeds, given = _check_calibration(calibration, onnx_input_signature(prepared.path))
        samples = min(given, max_calibration_samples)
        model_in = prepared.path
        preprocess_applied = False
        preprocess_note = "not requested"
        if preprocess:
            _emit(progress, "pre-processing: shape inference and graph optimisation", 0.02)
            pre = work / "preprocessed.onnx"
            try:
                # ORT's symbolic shape inference drops "sym_shape_infer_temp.onnx" into the
                # working directory when it cannot finish: keep it in our own temp folder.
                with _working_directory(work):
                    quant_pre_process(str(prepared.path), str(pre))
                model_in, preprocess_applied = pre, True
                preprocess_note = "applied (symbolic shape inference, ORT basic optimisation)"
            except Exception as exc:
                pre.unlink(missing_ok=True)
                first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                preprocess_note = (
                    f"failed, quantized the raw model instead: {type(exc).__name__}: "
                    f"{first_line[:300]}"
                )
            _check_cancel(cancel)
        reader = _CalibrationReader(feeds, samples, cancel, progress, (0.1, 0.8))
        tmp = work / "quantized.onnx"
        _emit(progress, f"calibrating on {samples} samples", 0.1)
        try:
            quantize_static(
                str(model_in),
                str(tmp),
                reader,
                quant_format=QuantFormat.QDQ,
                per_channel=per_channel,
                reduce_range=False,
                activation_type=qtypes[activation_type],
                weight_type=qtypes[weight_type],
                calibrate_method=methods[calibrate_method],
            )
        except EdgeBenchError:
            raise
        except Exception as exc:
            raise _wrap_failure("static quantization", src, exc) from exc
        _check_cancel(cancel)
        _emit(progress, "checking the optimised graph in onnxruntime", 0.9)
        written = _load_graph_only(tmp)
        graph_ops = _compute_ops(written)
        weight_dtypes = _quantized_weight_dtypes(written)
        del written
        optimized = _optimized_ops(tmp, work)
        after = tmp.stat().st_size
        _check_cancel(cancel)
        _publish(tmp, dst)
    _emit(progress, "done", 1.0)
    notes = list(prepared.notes)
    if optimized["quantized_total"] == 0:
        notes.append(
            "INT8 did not take: no Conv/MatMul/Gemm runs quantized after onnxruntime's fusion"
        )
    elif optimized["float_total"]:
        notes.append(
            f"{optimized['float_total']} Conv/MatMul/Gemm op(s) still run in float after "
            f"fusion ({optimized['quantized_total']} run quantized)"
        )
    if target_arch == "x86":
        notes.append(
            "U8S8 assumes VNNI/AMX (reduce_range off); on older x86 CPUs without VNNI, "
            "8-bit products can saturate"
        )
    return {
        "method": "static",
        "format": "QDQ",
        "target_arch": target_arch,
        "activation_type": activation_type,
        "weight_type": weight_type,
        "per_channel": per_channel,
        "reduce_range": False,
        "calibrate_method": calibrate_method,
        "calibration_samples": samples,
        "calibration_samples_given": given,
        "preprocess_applied": preprocess_applied,
        "preprocess_note": preprocess_note,
        "quantized_weight_dtypes": weight_dtypes,
        "graph": graph_ops,
        "optimized": optimized,
        "int8_took": optimized["quantized_total"] > 0,
        **_size_report(before, after),
        "notes": notes,
    }


# ----------------------------------------------------------------------------- fp16


def _fp16_converter() -> tuple[Callable[..., Any], str]:
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16

        return convert_float_to_float16, "onnxruntime.transformers.float16"
    except ImportError:
        pass
    try:
        from onnxconverter_common.float16 import (  # type: ignore[import-not-found,unused-ignore]
            convert_float_to_float16 as converter,
        )
    except ImportError as exc:
        raise RunFailed(
            "no FP16 converter is installed: this onnxruntime has no "
            "onnxruntime.transformers.float16 and onnxconverter-common is missing",
            "pip install onnxconverter-common",
        ) from exc
    return converter, "onnxconverter-common"


def convert_fp16_onnx(src: Path, dst: Path, *, keep_io_types: bool = True) -> dict[str, Any]:
    """Float16 weights and compute; inputs/outputs stay float32 when keep_io_types.

    Report: method, converter, keep_io_types, initializer_dtypes (count per dtype after
    conversion), sizes, size_ratio (before / after), note.
    """
    import onnx

    src, dst = _check_source(Path(src)), Path(dst)
    converter, converter_name = _fp16_converter()
    before = _model_bytes(src)
    with _staging(dst) as work:
        tmp = work / "fp16.onnx"
        prepared = prepared_source(src, work, "fp16")
        try:
            model = onnx.load(str(prepared.path))
            # A ModelProto, not a path: given a path the converter writes a temp file
            # beside the source model.
            converted = converter(model, keep_io_types=keep_io_types)
            del model
            tmp.write_bytes(converted.SerializeToString())
        except EdgeBenchError:
            raise
        except Exception as exc:
            raise _wrap_failure("FP16 conversion", src, exc) from exc
        dtypes: Counter[str] = Counter(
            np.dtype(onnx.helper.tensor_dtype_to_np_dtype(i.data_type)).name
            for i in converted.graph.initializer
        )
        del converted
        _optimized_ops(tmp, work)  # it must still open in onnxruntime
        after = tmp.stat().st_size
        _publish(tmp, dst)
    return {
        "method": "fp16",
        "converter": converter_name,
        "keep_io_types": keep_io_types,
        "initializer_dtypes": dict(sorted(dtypes.items())),
        **_size_report(before, after),
        "note": FP16_NOTE,
        "notes": prepared.notes,
    }
