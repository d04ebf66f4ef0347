"""Synthesise seeded inputs from a model's signature, or say exactly why we cannot."""

from __future__ import annotations

import numpy as np

from engines.errors import BadInput
from engines.runtimes.base import TensorInfo


def resolve_shape(info: TensorInfo, batch: int, overrides: dict[str, list[int]]) -> tuple[int, ...]:
    """Concrete shape: an override wins; a symbolic or -1 first dim becomes the batch."""
    if info.name in overrides:
        return tuple(int(d) for d in overrides[info.name])
    shape: list[int] = []
    for axis, dim in enumerate(info.shape):
        if isinstance(dim, int) and dim >= 0:
            if axis == 0 and batch != 1 and dim != batch:
                raise BadInput(
                    f"input {info.name!r} has a fixed batch dimension of {dim}; "
                    f"--batch {batch} needs a model exported with a dynamic batch",
                    "export with a dynamic batch, or set the whole shape with --input-shape",
                )
            shape.append(dim)
        elif axis == 0:
            shape.append(batch)
        else:
            raise BadInput(
                f"input {info.name!r} has a symbolic dimension {dim!r} at axis {axis} "
                f"(shape {info.shape}); EdgeBench cannot guess it",
                f"give the shape explicitly, e.g. --input-shape {info.name}="
                + ",".join(str(d if isinstance(d, int) and d >= 0 else 1) for d in info.shape),
            )
    return tuple(shape)


def synthesize(
    inputs: list[TensorInfo],
    batch: int = 1,
    seed: int = 0,
    overrides: dict[str, list[int]] | None = None,
) -> dict[str, np.ndarray]:
    """Seeded random feeds: N(0,1) floats, small non-negative ints, random bools.

    Quantized (int8/uint8 with a scale) inputs get float data quantized with the model's
    own scale and zero point, so they look like what a float pipeline would feed.
    """
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for info in inputs:
        shape = resolve_shape(info, batch, overrides or {})
        dtype = np.dtype(info.dtype) if info.dtype not in ("string", "object") else None
        if dtype is None:
            raise BadInput(
                f"input {info.name!r} is a string tensor; EdgeBench synthesises numeric data only",
                "give real data with --data, or export the model with a numeric input",
            )
        if info.quantization and dtype.kind in "iu" and info.quantization[0] > 0:
            scale, zero_point = info.quantization
            real = rng.standard_normal(shape).astype(np.float32)
            limits = np.iinfo(dtype)
            quantized = np.round(real / scale) + zero_point
            feeds[info.name] = np.clip(quantized, limits.min, limits.max).astype(dtype)
        elif dtype.kind == "f":
            feeds[info.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind in "iu":
            feeds[info.name] = rng.integers(0, 10, size=shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[info.name] = rng.integers(0, 2, size=shape).astype(bool)
        else:
            raise BadInput(
                f"input {info.name!r} has dtype {info.dtype}, which we cannot synthesise"
            )
    return feeds


def quantize_feed(info: TensorInfo, real: np.ndarray) -> np.ndarray:
    """Float data for an input: cast, or quantized with the input's own scale/zero point."""
    dtype = np.dtype(info.dtype)
    if info.quantization and dtype.kind in "iu" and info.quantization[0] > 0:
        scale, zero_point = info.quantization
        limits = np.iinfo(dtype)
        quantized = np.round(real / scale) + zero_point
        return np.clip(quantized, limits.min, limits.max).astype(dtype)
    return np.ascontiguousarray(real, dtype=dtype)


def dequantize_output(info: TensorInfo, value: np.ndarray) -> np.ndarray:
    """A quantized output as the real numbers it stands for; other outputs as float32."""
    if info.quantization and value.dtype.kind in "iu" and info.quantization[0] > 0:
        scale, zero_point = info.quantization
        return ((value.astype(np.float32) - zero_point) * scale).astype(np.float32)
    return value.astype(np.float32)
