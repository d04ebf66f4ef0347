"""Prepared data files as the benchmark agent reads them: x, y and reference outputs, or one
array per input. numpy and the standard library only, never pickles, so the agent (which
may import only the floor, the runtimes and the metrics) can load them on a device."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from engines.floor.atomic import write_atomically
from engines.floor.errors import BadInput


def check_labels(y: np.ndarray, count: int, where: str) -> np.ndarray:
    if y.dtype.kind not in "iu":
        raise BadInput(
            f"labels in {where} are not integers (dtype {y.dtype})",
            "store y as integer class indices (e.g. int64)",
        )
    if y.ndim != 1:
        raise BadInput(
            f"labels in {where} have shape {list(y.shape)}; expected one label per sample",
            "store y as a 1-D array of class indices",
        )
    if y.shape[0] != count:
        raise BadInput(
            f"labels length mismatch in {where}: {y.shape[0]} labels for {count} samples",
            "y must have exactly one label per sample of x",
        )
    if count and int(y.min()) < 0:
        raise BadInput(
            f"labels in {where} include a negative value ({int(y.min())})",
            "labels are class indices 0..C-1",
        )
    return y.astype(np.int64)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise BadInput(
            f"cannot read {path} as .npz: {exc}",
            "save it with numpy.savez(path, x=..., y=...), without object arrays",
        ) from exc


def load_eval_npz(
    path: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray] | None]:
    """(x, y or None, [ref_0, ref_1, ...] or None) from a `save_npz` file; numpy only.

    Never unpickles. Reference outputs are read as ref_0, ref_1 ... up to the first gap.
    """
    file = Path(path)
    if not file.is_file():
        raise BadInput(f"evaluation data {file}: no such file", "prepare it with save_npz")
    arrays = read_npz(file)
    if "x" not in arrays:
        raise BadInput(
            f"{file} has no array named x (it has: {', '.join(sorted(arrays)) or 'none'})",
            "prepare the evaluation data with save_npz",
        )
    x = arrays["x"]
    if x.ndim == 0:
        raise BadInput(f"x in {file} is a scalar", "x needs a sample axis first")
    n = int(x.shape[0])
    y = check_labels(arrays["y"], n, str(file)) if "y" in arrays else None
    refs: list[np.ndarray] = []
    while f"ref_{len(refs)}" in arrays:
        ref = arrays[f"ref_{len(refs)}"]
        if ref.ndim == 0 or ref.shape[0] != n:
            raise BadInput(
                f"ref_{len(refs)} in {file} has shape {list(ref.shape)}; expected {n} rows",
                "prepare the evaluation data with save_npz",
            )
        refs.append(ref)
    return x, y, refs or None


#: Prefix of each input's array in a multi-input data file (samples on axis 0).
INPUT_ARRAY = "input:"


def load_multi_input_npz(
    path: str | os.PathLike[str],
) -> tuple[dict[str, np.ndarray], list[np.ndarray] | None] | None:
    """({input name: samples}, [ref_0, ...] or None) from a multi-input data file, or None
    when the file is the single-input x/y kind."""
    arrays = read_npz(Path(path))
    inputs = {
        name.removeprefix(INPUT_ARRAY): a
        for name, a in arrays.items()
        if name.startswith(INPUT_ARRAY)
    }
    if not inputs:
        return None
    refs: list[np.ndarray] = []
    while f"ref_{len(refs)}" in arrays:
        refs.append(arrays[f"ref_{len(refs)}"])
    return inputs, refs or None


def sample_feed(
    arrays: dict[str, np.ndarray], index: int, ranks: dict[str, int]
) -> dict[str, np.ndarray]:
    """Sample `index` of every input, shaped as the model takes it: a slice that keeps the
    batch axis, or one element for a scalar (rank 0) input."""
    return {
        name: (a[index] if ranks.get(name, a.ndim) == 0 else a[index : index + 1])
        for name, a in arrays.items()
    }


def write_npz(path: str | os.PathLike[str], arrays: dict[str, np.ndarray]) -> Path:
    """Save arrays as an .npz atomically (the floor's writer), whatever the file's name."""
    out = Path(path)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:  # a handle: numpy adds no .npz suffix to it
            np.savez(handle, **arrays)  # type: ignore[arg-type]

    write_atomically(out, write)
    return out
