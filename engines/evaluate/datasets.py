"""Evaluation data: where it comes from, checked against the model's input, in one shape.

`load_dataset(source, input_shape, ...)` understands:

- "digits": scikit-learn's bundled 8x8 digits, the TEST split exactly as the demo model's
  `digits_split()` makes it (450 images, pixel / 16, labels 0-9);
- "digits-train": the train split (1,347 images), for calibration or distillation;
- "synthetic" or "synthetic:N": N (default 64) seeded standard-normal samples, no labels;
- a folder with one sub-folder per class (class index = sorted sub-folder name; names
  starting with "." are skipped): .png/.jpg/.jpeg/.bmp files directly inside each class
  folder, loaded with PIL, converted to grey or RGB and resized per the preprocessing;
- a .npz file with `x` (model-ready, N samples each matching the input shape without its
  batch axis, or N x 1 x ...), optional integer `y` and optional `classes` (strings).

The named sources win over a folder of the same name (write ./digits for the folder).
`limit` keeps the first N samples in the source's own order (for a folder: class, then
file name), so the same call always gives the same data. An input shape's batch axis is
ignored; -1, None and symbolic dimensions match anything.

`save_npz` here and `load_eval_npz` in `engines.evaluate.npz` are how the host hands a
prepared data set (and the reference model's outputs) to the benchmark agent: plain
arrays, never pickles.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engines.evaluate.npz import INPUT_ARRAY as INPUT_ARRAY
from engines.evaluate.npz import check_labels as _check_labels
from engines.evaluate.npz import load_eval_npz as load_eval_npz
from engines.evaluate.npz import load_multi_input_npz as load_multi_input_npz
from engines.evaluate.npz import read_npz as _read_npz
from engines.evaluate.npz import sample_feed as sample_feed
from engines.evaluate.npz import write_npz
from engines.evaluate.preprocess import Preprocessing, for_model, static_dim
from engines.floor.errors import BadInput

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
SYNTHETIC_DEFAULT = 64
SOURCES_HELP = (
    'use "digits", "digits-train", "synthetic[:N]", a folder with one sub-folder per class, '
    "or a .npz file with arrays x and optional y"
)

Shape = Sequence[int | str | None]


@dataclass
class EvalData:
    """Samples ready to feed (`x`, axis 0 = sample), their labels if any, and what they are."""

    x: np.ndarray
    y: np.ndarray | None
    description: str
    source: str
    classes: list[str] | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])


def _fmt(shape: Sequence[Any]) -> str:
    return "x".join(str(d) if static_dim(d) is not None else "?" for d in shape) or "scalar"


def _matches(sample_shape: Sequence[int], expected: Shape) -> bool:
    if len(sample_shape) != len(expected):
        return False
    pairs = zip(sample_shape, expected, strict=True)
    return all(static_dim(e) is None or int(s) == static_dim(e) for s, e in pairs)


def _check_input_shape(input_shape: Shape) -> None:
    if len(input_shape) < 1:
        raise BadInput(
            "the model input shape is empty; it needs at least a batch axis",
            "give the input shape with its batch axis first, e.g. [1, 3, 224, 224]",
        )


def _apply_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or int(limit) < 1):
        raise BadInput(f"limit {limit} must be at least 1", "give a positive sample count")


def load_dataset(
    source: str,
    input_shape: list[int],
    preprocessing: Preprocessing | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> EvalData:
    """Load `source` (see the module docstring) as samples matching `input_shape[1:]`.

    `preprocessing` is used for image folders only (default: `for_model("generic", ...)`);
    digits, npz and synthetic data are taken as they are. `seed` drives "synthetic" only.
    Anything that does not fit raises BadInput saying what and what to do.
    """
    _check_input_shape(input_shape)
    _apply_limit(limit)
    if source in ("digits", "digits-train"):
        return _digits(source, input_shape, limit)
    if source == "synthetic" or source.startswith("synthetic:"):
        return _synthetic(source, input_shape, limit, seed)
    if not source:
        raise BadInput("no data source given", SOURCES_HELP)
    path = Path(source).expanduser()
    if not path.exists():
        raise BadInput(f"data source {source!r}: no such file or folder", SOURCES_HELP)
    if path.is_dir():
        return _folder(path, input_shape, preprocessing, limit)
    if path.suffix.lower() == ".npz":
        return _npz(path, input_shape, limit)
    raise BadInput(f"data source {source!r} is neither a folder nor a .npz file", SOURCES_HELP)


def _digits(source: str, input_shape: Shape, limit: int | None) -> EvalData:
    from engines.models.demo import digits_split

    x_train, x_test, y_train, y_test = digits_split()
    train = source == "digits-train"
    x, y = (x_train, y_train) if train else (x_test, y_test)
    expected = list(input_shape[1:])
    if _matches(x.shape[1:], expected):
        pass
    elif _matches((8, 8, 1), expected):
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    else:
        raise BadInput(
            f"the digits data are 1x8x8 grey images but the model expects {_fmt(expected)} "
            "per sample (shape mismatch)",
            "digits suit the digits-cnn demo (input 1x1x8x8); for other models give a "
            "folder, a .npz or synthetic data",
        )
    if limit is not None:
        x, y = x[:limit], y[:limit]
    split = "train" if train else "test"
    return EvalData(
        x=np.ascontiguousarray(x, dtype=np.float32),
        y=np.asarray(y, dtype=np.int64),
        description=f"scikit-learn digits, {split} split: {len(x)} labelled 8x8 images "
        "(pixel / 16), classes 0-9",
        source=source,
        classes=[str(i) for i in range(10)],
    )


def _synthetic(source: str, input_shape: Shape, limit: int | None, seed: int) -> EvalData:
    count = SYNTHETIC_DEFAULT
    if source != "synthetic":
        text = source.split(":", 1)[1]
        try:
            count = int(text)
        except ValueError:
            raise BadInput(
                f"{source!r}: {text!r} is not a sample count",
                'write "synthetic:N" with a whole number N, e.g. synthetic:64',
            ) from None
        if count < 1:
            raise BadInput(f"{source!r}: the sample count must be at least 1", "e.g. synthetic:64")
    if limit is not None:
        count = min(count, limit)
    dims = [static_dim(d) for d in input_shape[1:]]
    if any(d is None for d in dims):
        raise BadInput(
            f"synthetic data need a fixed input shape; {_fmt(input_shape)} has dynamic axes",
            "give the input shape explicitly",
        )
    shape = (count, *(int(d) for d in dims if d is not None))
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return EvalData(
        x=x,
        y=None,
        description=f"{count} synthetic samples (seeded standard normal, seed {seed}), "
        "no labels: fidelity only",
        source=source,
        classes=None,
    )


def _folder(
    root: Path, input_shape: Shape, preprocessing: Preprocessing | None, limit: int | None
) -> EvalData:
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    if not entries:
        raise BadInput(
            f"image folder {root} is empty",
            "put the images in one sub-folder per class (e.g. cat/, dog/)",
        )
    class_dirs = sorted((p for p in entries if p.is_dir()), key=lambda p: p.name)
    if not class_dirs:
        raise BadInput(
            f"image folder {root} has no class sub-folders",
            "put the images in one sub-folder per class (e.g. cat/, dog/); the class index "
            "is the position of the sub-folder name in sorted order",
        )
    files: list[tuple[Path, int]] = []
    for index, folder in enumerate(class_dirs):
        for path in sorted(folder.iterdir(), key=lambda p: p.name):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                files.append((path, index))
    if not files:
        raise BadInput(
            f"image folder {root} has class sub-folders but no images in them",
            f"supported image files: {', '.join(IMAGE_SUFFIXES)}",
        )
    if limit is not None:
        files = files[:limit]
    pre = preprocessing or for_model("generic", input_shape)
    expected = list(input_shape[1:])
    sample = pre.sample_shape()
    if sample is None:
        raise BadInput(
            f"the model input {_fmt(input_shape)} is not a fixed-size image input and the "
            "preprocessing gives no size",
            "set the preprocessing size (height, width) for this model",
        )
    if not _matches(sample, expected):
        raise BadInput(
            f"the preprocessing makes {_fmt(sample)} images ({pre.layout}, {pre.channels} "
            f"channel(s)) but the model expects {_fmt(expected)} per sample (shape mismatch)",
            "set the preprocessing size, channels and layout to the model's input",
        )
    x = np.empty((len(files), *sample), dtype=np.float32)
    for i, (path, _) in enumerate(files):
        x[i] = pre.apply(_read_image(path, pre))
    classes = [p.name for p in class_dirs]
    counted = len({index for _, index in files})
    return EvalData(
        x=x,
        y=np.array([index for _, index in files], dtype=np.int64),
        description=f"{len(files)} labelled images from {root} ({counted} of {len(classes)} "
        f"classes), resized to {sample[1:] if pre.layout == 'NCHW' else sample[:2]}",
        source=str(root),
        classes=classes,
    )


def _read_image(path: Path, pre: Preprocessing) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            converted = image.convert("L" if pre.channels == 1 else "RGB")
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise BadInput(
            f"cannot read image {path}: {exc}",
            "remove or replace the unreadable image file",
        ) from exc
    if pre.size is not None and (converted.height, converted.width) != pre.size:
        converted = converted.resize((pre.size[1], pre.size[0]), Image.Resampling.BILINEAR)
    return np.asarray(converted, dtype=np.uint8)


def _npz(path: Path, input_shape: Shape, limit: int | None) -> EvalData:
    arrays = _read_npz(path)
    if "x" not in arrays:
        raise BadInput(
            f"{path} has no array named x (it has: {', '.join(sorted(arrays)) or 'none'})",
            "save the inputs as x (and the labels as y): numpy.savez(path, x=..., y=...)",
        )
    x = arrays["x"]
    expected = list(input_shape[1:])
    if x.ndim >= 1 and _matches(x.shape[1:], expected):
        pass
    elif x.ndim >= 2 and x.shape[1] == 1 and _matches(x.shape[2:], expected):
        x = x.reshape(x.shape[0], *x.shape[2:])
    else:
        raise BadInput(
            f"x in {path} has shape {_fmt(x.shape)}; the model expects N x {_fmt(expected)} "
            f"(or N x 1 x {_fmt(expected)}) (shape mismatch)",
            "store the samples the model's way: the input shape without its batch axis, "
            "stacked along a new first axis",
        )
    y = _check_labels(arrays["y"], x.shape[0], str(path)) if "y" in arrays else None
    classes = _classes(arrays, path)
    if limit is not None:
        x = x[:limit]
        y = y[:limit] if y is not None else None
    if x.dtype.kind == "f":
        x = x.astype(np.float32)
    return EvalData(
        x=np.ascontiguousarray(x),
        y=y,
        description=f"{x.shape[0]} {'labelled ' if y is not None else ''}samples from {path}"
        + ("" if y is not None else ", no labels: fidelity only"),
        source=str(path),
        classes=classes,
    )


def _classes(arrays: dict[str, np.ndarray], path: Path) -> list[str] | None:
    if "classes" not in arrays:
        return None
    names = arrays["classes"]
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise BadInput(
            f"classes in {path} must be a 1-D array of strings, got {names.dtype} "
            f"{list(names.shape)}",
            "save classes=numpy.array(['cat', 'dog'])",
        )
    return [str(n) for n in names.tolist()]


def save_npz(
    data: EvalData, path: str | os.PathLike[str], reference_outputs: list[np.ndarray] | None = None
) -> Path:
    """Write x, y (if any), classes (if any) and ref_0, ref_1 ... atomically; returns the path.

    Each reference output must have one row per sample (axis 0 = sample). The file is
    written with the floor's atomic writer (a temp file beside it, fsync, rename).
    """
    out = Path(path)
    n = int(data.x.shape[0])
    arrays: dict[str, np.ndarray] = {"x": np.ascontiguousarray(data.x)}
    if data.y is not None:
        arrays["y"] = np.asarray(data.y, dtype=np.int64)
    if data.classes is not None:
        arrays["classes"] = np.array([str(c) for c in data.classes], dtype=np.str_)
    for i, ref in enumerate(reference_outputs or []):
        ref = np.asarray(ref)
        if ref.ndim == 0 or ref.shape[0] != n:
            raise BadInput(
                f"reference output {i} has shape {list(ref.shape)}; expected {n} rows, "
                "one per sample",
                "pass the reference model's outputs for all samples, batch axis first",
            )
        if ref.dtype == object:
            raise BadInput(f"reference output {i} is an object array", "pass numeric arrays")
        arrays[f"ref_{i}"] = ref
    write_npz(out, arrays)
    return out
