"""Building variants: lineage, reuse, cancellation, bad input (real workers, real models)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from engines.compress.build import VariantRequest, build_variant
from engines.compress.recipe import single_step
from engines.floor import paths
from engines.floor.errors import BadInput, Cancelled
from profiles.presets import get_preset


def _build(store, request, cancel=None):
    events = list(build_variant(request, store, cancel))
    assert events[-1]["type"] == "variant"
    return events


def _artifact_count(store) -> int:
    return len(store.artifacts())


@pytest.mark.slow
def test_int8_static_onnx_variant_has_lineage_and_is_reused(store, monkeypatch):
    request = VariantRequest("demo:digits-cnn", get_preset("int8-static"), target="onnx")
    events = _build(store, request)
    progress = [e for e in events if e["type"] == "progress"]
    assert any("calibrating" in e["message"] for e in progress)
    variant = store.artifact(events[-1]["artifact_id"])
    fp32 = store.artifact(variant.parent_id)
    demo = store.artifact(fp32.parent_id)
    assert (variant.step, fp32.step, demo.parent_id) == (
        "quantize-static",
        "export-onnx-fp32",
        None,
    )
    report = variant.step_settings["report"]
    assert report["activation_type"] == "uint8" and report["weight_type"] == "int8"
    assert report["optimized"]["quantized_total"] > 0
    assert report["parity"]["passed"] is True
    assert fp32.size_bytes / variant.size_bytes > 2.5
    assert variant.step_settings["data"].startswith("digits-train|")

    # the same recipe again: every step comes from the store, no worker starts
    def no_worker(*args, **kwargs):
        raise AssertionError("a cached variant started a worker")

    monkeypatch.setattr("engines.compress.build.iter_task", no_worker)
    monkeypatch.setattr("engines.export.runnable.iter_task", no_worker)
    again = _build(store, request)
    assert again[-1]["artifact_id"] == variant.id
    assert again[-1]["reports"][0]["cached"] is True


@pytest.mark.slow
def test_cancelled_build_leaves_no_artifact_and_no_files(store):
    # build the demo and its FP32 export first, so the cancel lands in calibration
    _build(store, VariantRequest("demo:digits-cnn", get_preset("fp16"), target="onnx"))
    before = _artifact_count(store)
    cancel = threading.Event()
    request = VariantRequest(
        "demo:digits-cnn",
        single_step("quantize-static", {"max_calibration_samples": 100_000}),
        target="onnx",
        calibration="digits-train",
        calibration_limit=5000,
    )
    seen = []
    with pytest.raises(Cancelled):
        for event in build_variant(request, store, cancel):
            seen.append(event)
            if "calibrating" in str(event.get("message", "")):
                cancel.set()
    assert any("calibrating" in str(e.get("message", "")) for e in seen)
    assert _artifact_count(store) == before
    work = paths.cache_dir() / "work"
    assert not work.exists() or not any(work.iterdir())
    leftovers = [p for p in paths.artifacts_dir().rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_a_torch_step_on_an_onnx_model_says_which_step_and_why(tiny_models, store):
    request = VariantRequest(str(tiny_models.onnx), get_preset("prune-structured-30"))
    with pytest.raises(BadInput) as err:
        list(build_variant(request, store))
    assert "prune-structured" in err.value.message and "onnx" in err.value.message


def test_onnx_model_cannot_become_tflite(tiny_models, store):
    request = VariantRequest(str(tiny_models.onnx), get_preset("fp16"), target="tflite")
    with pytest.raises(BadInput, match="ONNX only"):
        list(build_variant(request, store))


def test_precision_step_needs_an_onnx_or_tflite_target(store):
    request = VariantRequest("zoo:squeezenet1_1", get_preset("int8-dynamic"), target="torch")
    with pytest.raises(BadInput, match="choose --to onnx or tflite"):
        list(build_variant(request, store))


def test_calibration_data_of_the_wrong_shape_names_the_input(tiny_models, store, tmp_path):
    bad = tmp_path / "calib.npz"
    np.savez(bad, x=np.zeros((4, 3, 5, 5), np.float32))
    request = VariantRequest(str(tiny_models.onnx), get_preset("int8-static"), calibration=str(bad))
    before = _artifact_count(store)
    with pytest.raises(BadInput) as err:
        list(build_variant(request, store))
    text = err.value.message + err.value.details
    assert "5" in text and "8" in text, text
    assert _artifact_count(store) == before + 1  # the imported model only, no variant


def test_static_int8_without_data_for_a_user_model_asks_for_calib(tiny_models, store):
    request = VariantRequest(str(tiny_models.onnx), get_preset("int8-static"))
    with pytest.raises(BadInput) as err:
        list(build_variant(request, store))
    assert "--calib" in err.value.details


@pytest.mark.slow
def test_onnx_user_model_gets_int8_static_with_synthetic_calibration(tiny_models, store):
    request = VariantRequest(
        str(tiny_models.onnx), get_preset("int8-static"), calibration="synthetic:16"
    )
    events = _build(store, request)
    variant = store.artifact(events[-1]["artifact_id"])
    assert variant.format == "onnx" and variant.parent_id is not None
    assert Path(variant.path).is_file()
    assert variant.step_settings["report"]["calibration_samples"] == 16


def test_data_identity_follows_file_and_folder_contents(tmp_path):
    from engines.compress.build import data_identity

    npz = tmp_path / "calib.npz"
    np.savez(npz, x=np.zeros((2, 3), np.float32))
    first = data_identity(str(npz), 10)
    assert first == data_identity(str(npz), 10)
    assert first != data_identity(str(npz), 20)
    np.savez(npz, x=np.ones((2, 3), np.float32))
    assert data_identity(str(npz), 10) != first

    folder = tmp_path / "images"
    (folder / "cat").mkdir(parents=True)
    (folder / "cat" / "a.png").write_bytes(b"a")
    before = data_identity(str(folder))
    (folder / "cat" / "b.png").write_bytes(b"bb")
    assert data_identity(str(folder)) != before
    assert data_identity("digits") == "digits|None"
