"""How images become model input: size, scale, mean/std, layout and channels, declared once.

`Preprocessing` is frozen and round-trips through JSON (`to_dict`/`from_dict`), so the host
can store it with a run and the report can say exactly what was fed. `apply` maps raw
pixels to float32: `(pixel * scale - mean) / std`, per channel, in the declared layout.

Resizing is a plain bilinear resize to `size` (height, width), no aspect-preserving crop;
to reproduce a "resize 256, centre-crop 224" ImageNet protocol, crop the images first.
numpy only at import time; PIL is imported only when an image has to be resized or
converted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

from engines.floor.errors import BadInput

Layout = Literal["NCHW", "NHWC"]
Channels = Literal[1, 3]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: `for_model` kinds; "digits-cnn" and "zoo" are accepted as aliases.
KINDS = ("digits", "imagenet", "generic")
_ALIASES = {"digits-cnn": "digits", "zoo": "imagenet"}
_FIELDS = ("size", "mean", "std", "scale", "layout", "channels")


def static_dim(dim: object) -> int | None:
    """A fixed positive dimension, or None for a dynamic one (-1, None, a symbol)."""
    if isinstance(dim, (int, np.integer)) and not isinstance(dim, bool) and int(dim) > 0:
        return int(dim)
    return None


def image_layout(input_shape: Sequence[int | str | None]) -> tuple[Layout, int | None]:
    """(layout, channels) a 4-D image input shape implies: NCHW when shape[1] is 1 or 3."""
    if len(input_shape) != 4:
        return "NCHW", None
    c_first, c_last = static_dim(input_shape[1]), static_dim(input_shape[3])
    if c_first in (1, 3):
        return "NCHW", c_first
    if c_last in (1, 3):
        return "NHWC", c_last
    return ("NCHW", None) if c_first is not None and c_last is None else ("NHWC", None)


def image_size(input_shape: Sequence[int | str | None]) -> tuple[int, int] | None:
    """(height, width) of a 4-D image input shape, or None when not both are fixed."""
    if len(input_shape) != 4:
        return None
    layout, _ = image_layout(input_shape)
    h, w = (input_shape[2], input_shape[3]) if layout == "NCHW" else input_shape[1:3]
    sh, sw = static_dim(h), static_dim(w)
    return (sh, sw) if sh is not None and sw is not None else None


def _parse_scale(value: object) -> float:
    """A number, or the strings "1/255", "pixel / 16" (as demo metadata writes it)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(?:pixel\s*/|1\s*/)\s*([0-9.]+)\s*", value)
        if match:
            try:
                return 1.0 / float(match.group(1))
            except (ValueError, ZeroDivisionError):
                pass
        try:
            return float(value)
        except ValueError:
            pass
    raise BadInput(
        f"preprocessing scale {value!r} is not a number",
        'give a number such as 0.00392156862745098, or "1/255"',
    )


@dataclass(frozen=True)
class Preprocessing:
    """Declared input preprocessing. `size` is (height, width); None keeps the image size."""

    size: tuple[int, int] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    scale: float = 1 / 255
    layout: Layout = "NCHW"
    channels: Channels = 3

    def __post_init__(self) -> None:
        if self.layout not in ("NCHW", "NHWC"):
            raise BadInput(
                f"preprocessing layout {self.layout!r} is not NCHW or NHWC",
                "use NCHW (PyTorch/ONNX) or NHWC (TFLite)",
            )
        if self.channels not in (1, 3):
            raise BadInput(
                f"preprocessing channels {self.channels!r} must be 1 (grey) or 3 (RGB)",
                "image preprocessing supports grey and RGB inputs",
            )
        if self.size is not None:
            size = tuple(self.size)
            if len(size) != 2 or not all(static_dim(d) for d in size):
                raise BadInput(
                    f"preprocessing size {list(self.size)} must be two positive integers",
                    "give [height, width], e.g. [224, 224]",
                )
            object.__setattr__(self, "size", (int(size[0]), int(size[1])))
        for name in ("mean", "std"):
            value = getattr(self, name)
            if value is None:
                continue
            values = tuple(float(v) for v in value)
            if len(values) != self.channels:
                raise BadInput(
                    f"preprocessing {name} has {len(values)} values for {self.channels} channel(s)",
                    f"give one {name} value per channel",
                )
            object.__setattr__(self, name, values)
        if (self.mean is None) != (self.std is None):
            raise BadInput(
                "preprocessing needs both mean and std, or neither",
                "give both (e.g. the ImageNet ones) or leave both out",
            )
        if self.std is not None and any(s == 0 for s in self.std):
            raise BadInput("preprocessing std contains 0", "std values must be non-zero")
        scale = _parse_scale(self.scale)
        if not np.isfinite(scale) or scale <= 0:
            raise BadInput(f"preprocessing scale {scale} must be positive", "e.g. 1/255")
        object.__setattr__(self, "scale", scale)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: lists for the tuples."""
        return {
            "size": list(self.size) if self.size else None,
            "mean": list(self.mean) if self.mean else None,
            "std": list(self.std) if self.std else None,
            "scale": self.scale,
            "layout": self.layout,
            "channels": self.channels,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preprocessing:
        """Inverse of `to_dict`; missing keys take the defaults, unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise BadInput(
                f"preprocessing must be a JSON object, got {type(data).__name__}",
                f"give an object with keys {', '.join(_FIELDS)}",
            )
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise BadInput(
                f"unknown preprocessing key(s): {', '.join(map(str, unknown))}",
                f"known keys: {', '.join(_FIELDS)}",
            )
        size = data.get("size")
        mean = data.get("mean")
        std = data.get("std")
        try:
            return cls(
                size=(int(size[0]), int(size[1])) if size is not None else None,
                mean=tuple(float(v) for v in mean) if mean is not None else None,
                std=tuple(float(v) for v in std) if std is not None else None,
                scale=_parse_scale(data.get("scale", 1 / 255)),
                layout=cast(Layout, data.get("layout", "NCHW")),
                channels=cast(Channels, int(data.get("channels", 3))),
            )
        except (TypeError, ValueError, IndexError) as exc:
            raise BadInput(f"preprocessing {dict(data)!r} is malformed: {exc}") from exc

    def sample_shape(self) -> tuple[int, ...] | None:
        """Shape of one preprocessed image (no batch axis), or None without a size."""
        if self.size is None:
            return None
        h, w = self.size
        return (self.channels, h, w) if self.layout == "NCHW" else (h, w, self.channels)

    def apply(self, images: np.ndarray) -> np.ndarray:
        """Raw pixels (H x W, H x W x C or N x H x W x C) -> float32 in the declared layout.

        A batch in gives a batch out (N x C x H x W or N x H x W x C); one image in gives
        one image out (C x H x W or H x W x C). uint8 images are resized (bilinear) and
        converted between grey and RGB with PIL when they differ from the declaration
        (RGBA loses its alpha); other dtypes must already have the right size and channels.
        """
        a = np.asarray(images)
        single = a.ndim in (2, 3)
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim == 3:
            a = a[None]
        if a.ndim != 4:
            raise BadInput(
                f"images of shape {list(np.shape(images))} are not H x W x C or N x H x W x C",
                "give images height-first, channels last",
            )
        if a.shape[-1] == 4:
            a = a[..., :3]
        needs_resize = self.size is not None and tuple(a.shape[1:3]) != self.size
        if a.shape[-1] not in (1, 3):
            raise BadInput(
                f"images have {a.shape[-1]} channels; expected 1 (grey) or 3 (RGB)",
                "convert the images to grey or RGB",
            )
        if needs_resize or a.shape[-1] != self.channels:
            a = self._convert(a)
        if a.dtype.kind not in "uif":
            raise BadInput(
                f"images of dtype {a.dtype} are not pixel values",
                "give uint8 (or other numeric) pixel arrays",
            )
        out: np.ndarray = a.astype(np.float32) * np.float32(self.scale)
        if self.mean is not None and self.std is not None:
            out = (out - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        if self.layout == "NCHW":
            out = out.transpose(0, 3, 1, 2)
        out = np.ascontiguousarray(out, dtype=np.float32)
        return out[0] if single else out

    def _convert(self, batch: np.ndarray) -> np.ndarray:
        if batch.dtype != np.uint8:
            raise BadInput(
                f"images of shape {list(batch.shape[1:])} and dtype {batch.dtype} need "
                f"resizing to {self.size} or converting to {self.channels} channel(s)",
                "give uint8 images, or images already at the declared size and channels",
            )
        from PIL import Image

        mode = "L" if self.channels == 1 else "RGB"
        converted = []
        for image in batch:
            pil = Image.fromarray(image[:, :, 0] if image.shape[-1] == 1 else image)
            pil = pil.convert(mode)
            if self.size is not None and (pil.height, pil.width) != self.size:
                pil = pil.resize((self.size[1], self.size[0]), Image.Resampling.BILINEAR)
            arr = np.asarray(pil, dtype=np.uint8)
            converted.append(arr[:, :, None] if arr.ndim == 2 else arr)
        return np.stack(converted)


def for_model(kind: str, input_shape: Sequence[int | str | None]) -> Preprocessing:
    """The declared default preprocessing for a kind of model with this input shape.

    - "digits" (alias "digits-cnn"): the demo model: 8x8, 1 channel, scale 1/16 (sklearn
      digits pixels run 0..16; an 8-bit image of a digit would need 1/255), no mean/std.
    - "imagenet" (alias "zoo"): torchvision classifiers: the input shape's size (224 when
      it is not fixed), ImageNet mean/std, scale 1/255, RGB.
    - "generic": size and channels from the input shape, scale 1/255, no mean/std.

    The layout always follows the shape: NCHW when shape[1] is 1 or 3 (and by default),
    NHWC when only the last axis is; for a generic non-image shape channels fall back to 3
    and size to None.
    """
    name = _ALIASES.get(kind, kind)
    layout, channels = image_layout(input_shape)
    size = image_size(input_shape)
    if name == "digits":
        return Preprocessing(size=(8, 8), scale=1 / 16, layout=layout, channels=1)
    if name == "imagenet":
        return Preprocessing(
            size=size or (224, 224),
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            scale=1 / 255,
            layout=layout,
            channels=3,
        )
    if name == "generic":
        return Preprocessing(
            size=size,
            scale=1 / 255,
            layout=layout,
            channels=cast(Channels, channels if channels in (1, 3) else 3),
        )
    raise BadInput(
        f"unknown preprocessing kind {kind!r}",
        f"known kinds: {', '.join(KINDS)} (aliases: {', '.join(_ALIASES)})",
    )
