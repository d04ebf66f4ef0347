"""onnxruntime adapter: CPU execution provider, CUDA when the installed build has it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engines.floor.errors import BadInput
from engines.runtimes.base import Runtime, RuntimeOptions, Session, TensorInfo

_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
    "tensor(string)": "string",
}


def _info(arg: Any) -> TensorInfo:
    shape = [d if isinstance(d, int) else (d or "?") for d in arg.shape]
    return TensorInfo(arg.name, shape, _ORT_TYPES.get(arg.type, arg.type))


def as_tensor(value: Any) -> Any:
    """A ZipMap output (scikit-learn classifiers via skl2onnx: a list of {class: score}
    maps, one per sample) as a float32 array [samples, classes], classes in key order, so
    parity and fidelity compare it like any tensor; other outputs unchanged."""
    if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
        keys = sorted(value[0])
        return np.array([[row[k] for k in keys] for row in value], dtype=np.float32)
    return value


class OrtSession(Session):
    def __init__(self, session: Any, options_used: dict[str, Any]) -> None:
        self._session = session
        self.options_used = options_used
        self._output_names = [o.name for o in session.get_outputs()]

    def inputs(self) -> list[TensorInfo]:
        return [_info(i) for i in self._session.get_inputs()]

    def outputs(self) -> list[TensorInfo]:
        return [_info(o) for o in self._session.get_outputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [as_tensor(o) for o in self._session.run(self._output_names, feeds)]

    def timed_call(self, feeds: dict[str, np.ndarray]) -> Callable[[], object]:
        run = self._session.run
        names = self._output_names
        return lambda: run(names, feeds)


class OnnxRuntime(Runtime):
    name = "onnxruntime"
    label = "ONNX Runtime"
    formats = ("onnx",)
    modules = ("onnxruntime",)

    def accelerators(self) -> dict[str, str]:
        import onnxruntime as ort

        providers = ort.get_available_providers()
        cuda = (
            "available"
            if "CUDAExecutionProvider" in providers
            else "unavailable: this onnxruntime build has no CUDAExecutionProvider "
            "(install onnxruntime-gpu on a machine with CUDA)"
        )
        return {"cpu": "available", "cuda": cuda}

    def open(self, path: str, fmt: str, options: RuntimeOptions) -> Session:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = options.threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        if options.accelerator == "cuda":
            status = self.accelerators()["cuda"]
            if status != "available":
                raise BadInput(f"CUDA requested for onnxruntime, but it is {status}")
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        elif options.accelerator != "cpu":
            raise BadInput(f"onnxruntime here supports cpu and cuda, not {options.accelerator!r}")
        session = ort.InferenceSession(path, sess_options=so, providers=providers)
        used = {
            "providers": session.get_providers(),
            "intra_op_num_threads": options.threads,
            "graph_optimization_level": "ORT_ENABLE_ALL",
            "execution_mode": "sequential",
        }
        return OrtSession(session, used)
