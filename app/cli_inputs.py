"""The input flags every measuring command shares: shapes, named dims, values, real arrays.

--input-shape NAME=D0,D1,...   one input's whole shape
--dim NAME=N                   a symbolic dimension, wherever it appears (seq_len=8)
--input NAME=VALUE             a constant (sr=16000), ones, zeros, range:LO:HI
--inputs FILE.npz              real arrays by input name
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engines.floor.errors import BadInput
from engines.floor.spec import InputSpec
from engines.runtimes.feeds import parse_value


def add_input_flags(p: argparse.ArgumentParser, values: bool = True, data: bool = True) -> None:
    """The input flags. `values=False` for evaluate (its data gives every value);
    `data=False` where the data comes from --calib / --data instead of --inputs."""
    group = p.add_argument_group("model inputs (synthetic by default)")
    group.add_argument(
        "--input-shape",
        action="append",
        metavar="NAME=D0,D1,...",
        help="one input's whole shape (repeatable)",
    )
    group.add_argument(
        "--dim",
        action="append",
        metavar="NAME=N",
        help="size of a symbolic dimension wherever it appears, e.g. seq_len=8 (repeatable)",
    )
    if not values:
        return
    group.add_argument(
        "--input",
        action="append",
        metavar="NAME=VALUE",
        help="an input's value: a number (sr=16000), ones, zeros, or range:LO:HI for "
        "integer ids (repeatable)",
    )
    if data:
        group.add_argument(
            "--inputs",
            metavar="FILE.npz",
            help="real input arrays by input name (numpy.savez(path, name=array, ...))",
        )


def _pairs(items: list[str] | None, flag: str, example: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise BadInput(f"{flag} {item!r}: expected {example}")
        pairs[name.strip()] = value.strip()
    return pairs


def input_spec(args: argparse.Namespace) -> InputSpec:
    """The InputSpec the flags describe; malformed flags are BadInput naming the flag."""
    return spec_from(
        getattr(args, "input_shape", None),
        getattr(args, "dim", None),
        getattr(args, "input", None),
        getattr(args, "inputs", None),
    )


def spec_from(
    shape_items: list[str] | None,
    dim_items: list[str] | None,
    value_items: list[str] | None,
    data_path: str | None,
) -> InputSpec:
    """An InputSpec from NAME=... words (the CLI's flags, the Profile page's inputs table)."""
    shapes: dict[str, list[int]] = {}
    for name, dims in _pairs(shape_items, "--input-shape", "NAME=1,3,224,224").items():
        try:
            shapes[name] = [int(d) for d in dims.split(",")]
        except ValueError:
            raise BadInput(f"--input-shape {name}={dims}: expected NAME=1,3,224,224") from None
    sizes: dict[str, int] = {}
    for name, size in _pairs(dim_items, "--dim", "NAME=N").items():
        if not size.isdigit() or int(size) < 1:
            raise BadInput(f"--dim {name}={size}: the size must be a positive integer")
        sizes[name] = int(size)
    values = _pairs(value_items, "--input", "NAME=VALUE")
    for value in values.values():
        parse_value(value)  # a bad value fails here, before anything starts
    if data_path:
        path = Path(data_path).expanduser()
        if not path.is_file():
            raise BadInput(f"--inputs {data_path}: no such file")
        data_path = str(path.resolve())
    return InputSpec(shapes=shapes, dims=sizes, values=values, data_path=data_path or None)
