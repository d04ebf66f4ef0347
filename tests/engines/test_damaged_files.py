"""Damaged model files: `inspect` either reads them or says they are bad input, never a
raw parser exception with exit 3 (truncations, flipped bytes, overwritten blocks)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from engines.floor.errors import BadInput, EdgeBenchError
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


SOURCES = {
    "onnx": "onnx",
    "tflite": "tflite",
    "torchscript": "torchscript",
    "torch-state-dict": "state_dict",
    "torch-exported-program": "pt2",
}


#: The torch formats load in a fresh worker per damaged file (seconds each): slow.
TORCH_SOURCES = ("torchscript", "torch-state-dict", "torch-exported-program")


@pytest.mark.parametrize(
    "fmt",
    [pytest.param(f, marks=pytest.mark.slow) if f in TORCH_SOURCES else f for f in SOURCES],
)
def test_damaged_files_are_read_or_refused_as_bad_input(tiny_models, tmp_path: Path, fmt) -> None:
    source = getattr(tiny_models, SOURCES[fmt])
    rng = random.Random(7)
    outcomes: dict[str, int] = {}
    for index in range(9):
        path = tmp_path / f"damaged{index}{source.suffix}"
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


def test_a_tflite_file_litert_refuses_is_inspected_from_its_flatbuffer(
    tiny_models, tmp_path, capsys
):
    """An operator code from a newer schema: LiteRT will not open the file, the flatbuffer
    still gives its signature, parameters and ops, with the refusal in the note."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    from engines.models.inspect import inspect_tflite

    reference = inspect_tflite(str(tiny_models.tflite))
    model = schema.ModelT.InitFromPackedBuf(tiny_models.tflite.read_bytes(), 0)
    model.operatorCodes[0].builtinCode = 5000
    model.operatorCodes[0].deprecatedBuiltinCode = 127
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    newer = tmp_path / "newer.tflite"
    newer.write_bytes(bytes(builder.Output()))

    info = inspect_tflite(str(newer))
    assert "LiteRT refused to open it: Op builtin_code out of range: 5000" in info["note"]
    assert info["parameters"] == reference["parameters"] == tiny_models.parameters
    assert [i["shape"] for i in info["inputs"]] == [i["shape"] for i in reference["inputs"]]
    assert "op 5000" in info["op_histogram"]
    assert sum(info["op_histogram"].values()) == sum(reference["op_histogram"].values())

    # profiling it is a refusal that says why (exit 2), not a runtime failure
    from app.cli import main

    code = main(["profile", str(newer), "--runtime", "litert", "--runs", "5", "--json"])
    assert code == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["message"].startswith("LiteRT cannot open this model: Op builtin_code out")
