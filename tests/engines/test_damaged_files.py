"""Damaged model files: `inspect` either reads them or says they are bad input, never a
raw parser exception with exit 3 (truncations, flipped bytes, overwritten blocks)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from engines.errors import BadInput, EdgeBenchError
from engines.workers import run_task


def _damaged(data: bytes, kind: int, rng: random.Random) -> bytes:
    damaged = bytearray(data)
    if kind == 0:
        return bytes(damaged[: rng.randrange(16, len(damaged))])
    if kind == 1:
        for _ in range(50):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        return bytes(damaged)
    start = rng.randrange(len(damaged))
    damaged[start : start + 64] = bytes(rng.randrange(256) for _ in range(64))
    return bytes(damaged)


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_damaged_files_are_read_or_refused_as_bad_input(tiny_models, tmp_path: Path, fmt) -> None:
    source = tiny_models.onnx if fmt == "onnx" else tiny_models.tflite
    rng = random.Random(7)
    outcomes: dict[str, int] = {}
    for index in range(9):
        path = tmp_path / f"damaged{index}.{fmt}"
        path.write_bytes(_damaged(source.read_bytes(), index % 3, rng))
        try:
            run_task("inspect", {"path": str(path), "format": fmt}, timeout_s=120)
            outcomes["read"] = outcomes.get("read", 0) + 1
        except BadInput as exc:
            assert path.name in exc.message, exc.message
            outcomes["bad input"] = outcomes.get("bad input", 0) + 1
        except EdgeBenchError as exc:  # pragma: no cover - the failure this test guards
            pytest.fail(f"{path.name}: {type(exc).__name__}: {exc.message}")
    assert outcomes.get("bad input", 0) >= 3, outcomes  # truncations at least are refused
