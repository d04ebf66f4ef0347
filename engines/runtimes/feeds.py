"""Synthesise seeded inputs from a model's signature, or say exactly why we cannot."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from engines.floor.errors import BadInput
from engines.floor.limits import total_memory_bytes
from engines.runtimes.base import UNKNOWN_RANK, TensorInfo

#: Names of inputs that get all ones by default (attention and padding masks).
MASK_WORDS = ("mask",)


@dataclass
class Feeds:
    """The arrays fed to the model, and in words which came from defaults."""

    arrays: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)


def _is_static(dim: Any) -> bool:
    return isinstance(dim, int) and dim >= 0


def _check_names(inputs: list[TensorInfo], asked: dict[str, str]) -> None:
    """Every name the user gave must be a model input; list the real ones otherwise."""
    names = [info.name for info in inputs]
    unknown = [f"{flag} {name!r}" for name, flag in asked.items() if name not in names]
    if unknown:
        raise BadInput(
            f"unknown input name: {', '.join(unknown)}; the model's inputs are: "
            + ", ".join(names),
            "use one of the model's input names (edgebench inspect MODEL lists them)",
        )


def _shape_of(
    info: TensorInfo, batch: int, shapes: dict[str, list[int]], dims: dict[str, int]
) -> tuple[list[int], list[tuple[int, str]]]:
    """The concrete shape, and the (axis, name) of each dim nothing fixes."""
    if info.name in shapes:
        return [int(d) for d in shapes[info.name]], []
    if list(info.shape) == UNKNOWN_RANK:
        return [], [(-1, "")]
    shape: list[int] = []
    unknown: list[tuple[int, str]] = []
    for axis, dim in enumerate(info.shape):
        if _is_static(dim):
            if axis == 0 and batch != 1 and dim != batch:
                raise BadInput(
                    f"input {info.name!r} has a fixed batch dimension of {dim}; "
                    f"--batch {batch} needs a model exported with a dynamic batch",
                    "export with a dynamic batch, or set the whole shape with --input-shape",
                )
            shape.append(int(dim))
        elif isinstance(dim, str) and dim and dim in dims:
            shape.append(int(dims[dim]))
        elif axis == 0:
            shape.append(batch)
        else:
            shape.append(1)
            unknown.append((axis, dim if isinstance(dim, str) and dim and dim != "?" else ""))
    return shape, unknown


def resolve_shape(
    info: TensorInfo,
    batch: int,
    overrides: dict[str, list[int]],
    dims: dict[str, int] | None = None,
) -> tuple[int, ...]:
    """One input's concrete shape: an override wins, named dims bind, a symbolic first dim
    is the batch; any other dim nothing fixes is a BadInput that says which flag fixes it."""
    shape, unknown = _shape_of(info, batch, overrides, dims or {})
    if unknown:
        raise _missing_dims_error([(info, axis, name) for axis, name in unknown])
    return tuple(shape)


def _missing_dims_error(missing: list[tuple[TensorInfo, int, str]]) -> BadInput:
    """One error naming every dimension nothing fixed, with the flags that fix each."""
    described = []
    named: dict[str, None] = {}
    unnamed: dict[str, TensorInfo] = {}
    for info, axis, name in missing:
        if axis < 0:
            described.append(f"'{info.name}' (its rank and shape are not recorded)")
        else:
            described.append(f"'{info.name}' axis {axis}" + (f" ({name})" if name else ""))
        if name:
            named[name] = None
        else:
            unnamed[info.name] = info
    fixes = [f"--dim {name}=N" for name in named]
    fixes += [
        f"--input-shape {name}="
        + (
            "D0,D1,..."
            if list(info.shape) == UNKNOWN_RANK
            else ",".join(str(d) if _is_static(d) else "N" for d in info.shape)
        )
        for name, info in unnamed.items()
    ]
    whole = dict.fromkeys(info.name for info, _, _ in missing)
    inputs = {info.name: info for info, _, _ in missing}
    alternatives = [
        f"--input-shape {name}="
        + ",".join(str(d) if _is_static(d) else "N" for d in inputs[name].shape)
        for name in whole
        if list(inputs[name].shape) != UNKNOWN_RANK
    ]
    return BadInput(
        f"{len(described)} input dimension(s) have no size: {'; '.join(described)}. "
        f"Give them with {' '.join(fixes)}",
        "--dim NAME=N binds a symbolic dimension wherever it appears"
        + (f"; or set whole shapes: {' '.join(alternatives)}" if alternatives else ""),
    )


def bind_inputs(
    declared: list[dict[str, Any]], shapes: dict[str, list[int]], dims: dict[str, int]
) -> list[dict[str, Any]]:
    """Declared inputs ({"name", "shape", ...}) with the user's whole shapes and named
    dims applied, for the steps that shape data before any runtime opens the model
    (calibration, parity, evaluation data); the batch axis stays as declared."""
    bound = []
    for entry in declared:
        name = entry.get("name", "")
        if name in shapes:
            shape = [int(d) for d in shapes[name]]
        else:
            shape = [
                dims[d] if isinstance(d, str) and d in dims else d for d in entry.get("shape") or []
            ]
        bound.append({**entry, "shape": shape})
    return bound


def parse_value(text: str) -> tuple[str, Any]:
    """ "ones" | "zeros" | "range:LO:HI" | a number | true/false -> (kind, argument)."""
    word = text.strip().lower()
    if word in ("ones", "zeros"):
        return word, None
    if word in ("true", "false"):
        return "constant", word == "true"
    if word.startswith("range:"):
        parts = word.split(":")
        try:
            low, high = int(parts[1]), int(parts[2])
            if len(parts) != 3 or high <= low:
                raise ValueError
        except (ValueError, IndexError):
            raise BadInput(
                f"input value {text!r}: expected range:LO:HI with integers LO < HI",
                "e.g. --input input_ids=range:0:30522 (HI is excluded)",
            ) from None
        return "range", (low, high)
    try:
        number = float(word)
    except ValueError:
        raise BadInput(
            f"input value {text!r} is not understood",
            "use a number (sr=16000), ones, zeros or range:LO:HI; real arrays go in an .npz "
            "given with --inputs FILE.npz",
        ) from None
    return "constant", int(number) if number.is_integer() and "." not in word else number


def _valued(info: TensorInfo, dtype: np.dtype, shape: list[int], text: str) -> np.ndarray:
    kind, argument = parse_value(text)
    if kind == "ones":
        return np.ones(shape, dtype=dtype)
    if kind == "zeros":
        return np.zeros(shape, dtype=dtype)
    if kind == "range":
        if dtype.kind not in "iu":
            raise BadInput(f"--input {info.name}=range:… needs an integer input; it is {dtype}")
        low, high = argument
        rng = np.random.default_rng(0)
        return rng.integers(low, high, size=shape).astype(dtype)
    return np.full(shape, argument, dtype=dtype)


def _from_data(info: TensorInfo, dtype: np.dtype, array: np.ndarray) -> np.ndarray:
    declared = list(info.shape)
    if declared and len(array.shape) != len(declared):
        raise BadInput(
            f"input {info.name!r}: the array in --inputs has shape {list(array.shape)}, "
            f"the model expects {len(declared)} dimensions {declared}"
        )
    for axis, (have, want) in enumerate(zip(array.shape, declared, strict=False)):
        if _is_static(want) and have != want:
            raise BadInput(
                f"input {info.name!r}: the array in --inputs has {have} at axis {axis}, "
                f"the model expects {want} (shape {declared})"
            )
    if array.dtype != dtype and not np.can_cast(array.dtype, dtype, casting="same_kind"):
        raise BadInput(
            f"input {info.name!r}: the array in --inputs is {array.dtype}, the model expects "
            f"{dtype}"
        )
    return np.ascontiguousarray(array, dtype=dtype)


def load_input_arrays(path: str) -> dict[str, np.ndarray]:
    """Real input arrays by name from an .npz (no pickles)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: np.asarray(data[name]) for name in data.files}
    except (OSError, ValueError) as exc:
        raise BadInput(
            f"--inputs {path}: not a readable .npz of arrays ({exc})",
            "save it with numpy.savez(path, input_name=array, ...)",
        ) from None


def make_feeds(
    inputs: list[TensorInfo],
    batch: int = 1,
    seed: int = 0,
    shapes: dict[str, list[int]] | None = None,
    dims: dict[str, int] | None = None,
    values: dict[str, str] | None = None,
    arrays: dict[str, np.ndarray] | None = None,
    id_limits: dict[str, int] | None = None,
    max_input_bytes: int | None = None,
) -> Feeds:
    """Feeds for every input: real arrays, then values, then seeded synthetic data.

    Before anything is allocated, the bytes the inputs need (from their shapes and dtypes)
    are checked against `max_input_bytes` (default: `default_input_limit_bytes()`).

    Synthetic data: N(0,1) floats, small non-negative ints, random bools; inputs named
    like a mask are all ones. Quantized (int8/uint8 with a scale) inputs get float data
    quantized with the model's own scale and zero point.
    """
    shapes, dims, values, arrays = shapes or {}, dims or {}, values or {}, arrays or {}
    id_limits = id_limits or {}
    asked = {name: "--input-shape" for name in shapes}
    asked.update({name: "--input" for name in values})
    asked.update({name: "--inputs array" for name in arrays})
    _check_names(inputs, asked)
    rng = np.random.default_rng(seed)
    feeds = Feeds({})
    missing: list[tuple[TensorInfo, int, str]] = []
    planned: list[tuple[TensorInfo, np.dtype, list[int]]] = []
    for info in inputs:
        dtype = np.dtype(info.dtype) if info.dtype not in ("string", "object") else None
        if dtype is None:
            raise BadInput(
                f"input {info.name!r} is a string tensor; EdgeBench synthesises numeric data only",
                "give real data with --data, or export the model with a numeric input",
            )
        if info.name in arrays:
            feeds.arrays[info.name] = _from_data(info, dtype, arrays[info.name])
            continue
        shape, unknown = _shape_of(info, batch, shapes, dims)
        missing.extend((info, axis, name) for axis, name in unknown)
        planned.append((info, dtype, shape))
    if missing:
        raise _missing_dims_error(missing)
    check_input_bytes(planned, max_input_bytes)
    for info, dtype, shape in planned:
        if info.name in values:
            feeds.arrays[info.name] = _valued(info, dtype, shape, values[info.name])
        elif any(word in info.name.lower() for word in MASK_WORDS) and dtype.kind in "iufb":
            feeds.arrays[info.name] = np.ones(shape, dtype=dtype)
            feeds.notes.append(f"{info.name}: all ones (the default for a mask input)")
        elif dtype.kind in "iu" and not info.quantization:
            high = min(10, id_limits.get(info.name) or 10)
            feeds.arrays[info.name] = rng.integers(0, high, size=shape, dtype=dtype)
            bound = (
                f", below the {id_limits[info.name]} rows of the table it indexes"
                if info.name in id_limits and id_limits[info.name] < 10
                else ""
            )
            feeds.notes.append(
                f"{info.name}: random integers 0-{high - 1}{bound} (set real ids with --input "
                f"{info.name}=range:LO:HI or --inputs FILE.npz)"
            )
        else:
            feeds.arrays[info.name] = _synthetic(info, dtype, shape, rng)
    return feeds


#: Synthetic inputs may take at most this fraction of the machine's memory by default.
INPUT_MEMORY_FRACTION = 0.5


def default_input_limit_bytes() -> int | None:
    total = total_memory_bytes()
    return int(total * INPUT_MEMORY_FRACTION) if total else None


def _gib(count: float) -> str:
    return f"{count / 2**30:.2f} GiB"


def check_input_bytes(
    planned: list[tuple[TensorInfo, np.dtype, list[int]]], limit: int | None
) -> None:
    """Refuse inputs whose shapes ask for more memory than the limit, in pure arithmetic
    (nothing is allocated): "needs N GiB; the limit is M GiB"."""
    where = "the run's memory limit"
    if limit is None:
        limit, where = (
            default_input_limit_bytes(),
            (f"{INPUT_MEMORY_FRACTION:.0%} of the memory this machine gives it"),
        )
    if not limit:
        return
    sizes = {info.name: math.prod(shape) * dtype.itemsize for info, dtype, shape in planned}
    total = sum(sizes.values())
    if total > limit:
        largest = max(sizes, key=lambda name: sizes[name])
        shape = next(shape for info, _, shape in planned if info.name == largest)
        raise BadInput(
            f"the inputs need {_gib(total)} ({largest!r} is {shape}, {_gib(sizes[largest])}); "
            f"the limit is {_gib(limit)} ({where})",
            "give smaller shapes with --dim / --input-shape, or the run's memory limit",
        )


def id_limits_of(declared: list[Any]) -> dict[str, int]:
    """{input name: rows of the table it indexes} from declared inputs (the inspection)."""
    return {
        str(d["name"]): int(d["id_limit"])
        for d in declared
        if isinstance(d, dict) and d.get("id_limit")
    }


def declared_feeds(
    declared: list[dict[str, Any]], count: int, values: dict[str, str] | None = None
) -> list[dict[str, np.ndarray]]:
    """`count` seeded feeds (seeds 0..count-1) for declared inputs whose shapes are bound,
    by the profile's rules: the user's values, masks ones, ids below their table."""
    infos = [
        TensorInfo(d["name"], list(d.get("shape") or []), d.get("dtype", "float32"))
        for d in declared
    ]
    limits = id_limits_of(declared)
    return [
        make_feeds(infos, seed=seed, values=values, id_limits=limits).arrays
        for seed in range(count)
    ]


def _synthetic(
    info: TensorInfo, dtype: np.dtype, shape: list[int], rng: np.random.Generator
) -> np.ndarray:
    if info.quantization and dtype.kind in "iu" and info.quantization[0] > 0:
        scale, zero_point = info.quantization
        real = rng.standard_normal(shape, dtype=np.float32)
        limits = np.iinfo(dtype)
        quantized = np.round(real / scale) + zero_point
        return cast(np.ndarray, np.clip(quantized, limits.min, limits.max).astype(dtype))
    if dtype.kind == "f":
        return rng.standard_normal(shape, dtype=np.float32).astype(dtype, copy=False)
    if dtype.kind in "iu":
        return rng.integers(0, 10, size=shape, dtype=dtype)  # drawn in its own dtype
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape, dtype=np.uint8).astype(bool)
    raise BadInput(f"input {info.name!r} has dtype {info.dtype}, which we cannot synthesise")


def synthesize(
    inputs: list[TensorInfo],
    batch: int = 1,
    seed: int = 0,
    overrides: dict[str, list[int]] | None = None,
) -> dict[str, np.ndarray]:
    """Seeded synthetic feeds with optional whole-shape overrides (see `make_feeds`)."""
    return make_feeds(inputs, batch, seed, shapes=overrides).arrays


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
