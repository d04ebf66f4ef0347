"""LiteRT adapter (ai_edge_litert, else tflite_runtime): XNNPACK with an explicit thread count."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np

from engines.floor.errors import BadInput
from engines.runtimes.base import Runtime, RuntimeOptions, Session, TensorInfo


def _interpreter_class() -> tuple[Any, str]:
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai_edge_litert"
    except ImportError:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite_runtime"


def _info(detail: dict[str, Any]) -> TensorInfo:
    signature = detail.get("shape_signature", detail["shape"])
    shape: list[int | str] = [int(d) if d >= 0 else "?" for d in signature]
    scale, zero_point = detail.get("quantization", (0.0, 0))
    quant = (float(scale), int(zero_point)) if scale else None
    return TensorInfo(detail["name"], shape, np.dtype(detail["dtype"]).name, quant)


def refusal(exc: Exception) -> Exception:
    """LiteRT's refusal of a model, in words, when the model needs what LiteRT lacks."""
    text = str(exc)
    custom = re.search(r"unresolved custom op: ([\w.-]+)", text)
    if custom:
        return BadInput(
            f"the model uses the custom op {custom.group(1).rstrip('.')}, which LiteRT's "
            "stock interpreter does not have",
            "run it where that op is registered (the framework the model comes from, e.g. "
            "MediaPipe), or convert it without the custom op",
        )
    if isinstance(exc, ValueError) and (
        "builtin_code out of range" in text
        or "Didn't find op for builtin opcode" in text
        or "Registration failed" in text
    ):
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        return BadInput(
            f"LiteRT cannot open this model: {first}",
            "the file uses an op or op version this LiteRT build lacks; files made for "
            "TFLite Micro or a newer TensorFlow can; convert it with a matching TensorFlow "
            "/ LiteRT version (edgebench inspect still reads it from the flatbuffer)",
        )
    return exc


class LiteRTSession(Session):
    def __init__(self, interpreter: Any, options_used: dict[str, Any]) -> None:
        self._it = interpreter
        self.options_used = options_used
        self._in = interpreter.get_input_details()
        self._out = interpreter.get_output_details()

    def inputs(self) -> list[TensorInfo]:
        return [_info(d) for d in self._in]

    def outputs(self) -> list[TensorInfo]:
        return [_info(d) for d in self._out]

    def _set_inputs(self, feeds: dict[str, np.ndarray]) -> None:
        resized = False
        for detail in self._in:
            value = feeds[detail["name"]]
            if tuple(detail["shape"]) != value.shape:
                self._it.resize_tensor_input(detail["index"], value.shape)
                resized = True
        if resized:
            self._it.allocate_tensors()
            self._in = self._it.get_input_details()
        for detail in self._in:
            self._it.set_tensor(detail["index"], feeds[detail["name"]])

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self._set_inputs(feeds)
        self._it.invoke()
        return [self._it.get_tensor(d["index"]).copy() for d in self._out]

    def timed_call(self, feeds: dict[str, np.ndarray]) -> Callable[[], object]:
        self._set_inputs(feeds)  # benchmark_model times Invoke() alone
        return cast("Callable[[], object]", self._it.invoke)


class LiteRTRuntime(Runtime):
    name = "litert"
    label = "LiteRT (TFLite)"
    formats = ("tflite",)
    modules = ("ai_edge_litert", "tflite_runtime")

    def import_library(self) -> None:
        _interpreter_class()

    def accelerators(self) -> dict[str, str]:
        return {
            "cpu": "available (XNNPACK)",
            "cuda": "unavailable: LiteRT has no CUDA path; its GPU delegate targets mobile GPUs",
        }

    def open(self, path: str, fmt: str, options: RuntimeOptions) -> Session:
        if options.accelerator != "cpu":
            raise BadInput(f"LiteRT here runs on the CPU only, not {options.accelerator!r}")
        interpreter_class, module = _interpreter_class()
        threads = options.threads
        # model_content= makes the interpreter verify the flatbuffer (SECURITY.md).
        try:
            it = interpreter_class(model_content=Path(path).read_bytes(), num_threads=threads)
            it.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise refusal(exc) from exc
        used = {"module": module, "num_threads": threads, "delegate": "XNNPACK (default)"}
        return LiteRTSession(it, used)
