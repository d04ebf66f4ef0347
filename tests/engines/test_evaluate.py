"""Accuracy evaluation: metrics against hand-computed values, data sets, preprocessing."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from engines.evaluate.datasets import EvalData, load_dataset, load_eval_npz, save_npz
from engines.evaluate.metrics import (
    SQNR_CAP_DB,
    EvalAccumulator,
    classification_metrics,
    fidelity_metrics,
)
from engines.evaluate.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, for_model
from engines.floor.errors import BadInput

# --- labelled accuracy --------------------------------------------------------------------

#: 4 samples x 6 classes, worked out by hand:
#: row 0: label 3 holds the largest logit           -> rank 0: top-1 hit, top-5 hit
#: row 1: label 0 (2.0) is beaten by 3.0, 4.0, 5.0  -> rank 3: top-1 miss, top-5 hit
#: row 2: label 5 holds the smallest logit          -> rank 5: top-1 miss, top-5 miss
#: row 3: labels 0 and 1 tie; ties go to the lower index (argmax) -> rank 1: miss, hit
LOGITS = np.array(
    [
        [0.1, 0.5, 0.2, 0.9, 0.0, 0.3],
        [2.0, 1.0, 3.0, 0.5, 4.0, 5.0],
        [0.6, 0.5, 0.4, 0.3, 0.2, 0.1],
        [1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
    ],
    dtype=np.float32,
)
LABELS = np.array([3, 0, 5, 1], dtype=np.int64)


def test_top1_top5_hand_computed():
    m = classification_metrics(LOGITS, LABELS)
    assert m == {"count": 4, "classes": 6, "top1": 0.25, "top5": 0.75}


def test_classifier_output_with_singleton_axes_is_flattened():
    assert classification_metrics(LOGITS[:, None, :], LABELS) == classification_metrics(
        LOGITS, LABELS
    )
    assert classification_metrics(LOGITS[:, :, None, None], LABELS)["top1"] == 0.25


def test_top5_is_none_below_five_classes():
    m = classification_metrics(np.array([[0.0, 2.0, 1.0], [3.0, 1.0, 0.0]]), np.array([1, 2]))
    assert m["top1"] == 0.5 and m["top5"] is None and m["classes"] == 3


def test_nan_logit_ranks_last():
    logits = np.array([[np.nan, 0.0, -1.0, -2.0, -3.0, -4.0]])
    # label 0 is NaN -> -inf -> rank 5 -> misses top-5; label 1 -> rank 0
    assert classification_metrics(logits, np.array([0]))["top5"] == 0.0
    assert classification_metrics(logits, np.array([1]))["top1"] == 1.0


@pytest.mark.parametrize(
    ("logits", "labels", "words"),
    [
        (LOGITS, LABELS[:3], "3 labels for 4 outputs"),
        (LOGITS, LABELS.astype(np.float32), "integers"),
        (LOGITS, np.array([0, 1, 2, 6]), "6 classes"),
        (np.zeros((4, 6, 5)), LABELS, "not a classifier output"),
    ],
)
def test_classification_bad_input(logits, labels, words):
    with pytest.raises(BadInput, match=words):
        classification_metrics(logits, labels)


# --- fidelity ------------------------------------------------------------------------------


def test_fidelity_one_sample_hand_computed():
    m = fidelity_metrics([np.array([[1.0, 0.0]])], [np.array([[1.0, 1.0]])])
    assert m["cosine_mean"] == pytest.approx(1 / math.sqrt(2))
    assert m["cosine_min"] == pytest.approx(1 / math.sqrt(2))
    assert m["sqnr_db"] == pytest.approx(0.0)  # signal 1, noise 1
    assert m["max_abs_error"] == 1.0
    assert m["top1_agreement"] == 1.0  # [1, 1] ties -> argmax 0, like the reference
    assert m["count"] == 1 and m["nonfinite_samples"] == 0


def test_fidelity_two_samples_hand_computed():
    ref = [np.array([[3.0, 4.0], [1.0, 0.0]])]
    cand = [np.array([[3.0, 4.0], [0.0, 2.0]])]
    m = fidelity_metrics(ref, cand)
    # cosines 1 and 0 (orthogonal); signal 25 + 1 = 26, noise 0 + (1 + 4) = 5
    assert m["cosine_mean"] == pytest.approx(0.5)
    assert m["cosine_min"] == pytest.approx(0.0)
    assert m["sqnr_db"] == pytest.approx(10 * math.log10(26 / 5))
    assert m["max_abs_error"] == 2.0
    assert m["top1_agreement"] == 0.5  # argmax 1 == 1, then 0 != 1


def test_fidelity_opposite_zero_and_multi_output():
    m = fidelity_metrics([np.array([[1.0, 2.0]])], [np.array([[-1.0, -2.0]])])
    assert m["cosine_mean"] == pytest.approx(-1.0)
    assert m["sqnr_db"] == pytest.approx(10 * math.log10(5 / 20))  # noise (2^2 + 4^2)
    both_zero = fidelity_metrics([np.zeros((1, 3))], [np.zeros((1, 3))])
    assert both_zero["cosine_mean"] == 1.0 and both_zero["sqnr_db"] == SQNR_CAP_DB
    one_zero = fidelity_metrics([np.zeros((1, 3))], [np.ones((1, 3))])
    assert one_zero["cosine_mean"] == 0.0 and one_zero["sqnr_db"] == -SQNR_CAP_DB
    # two outputs joined per sample: ref [1, 0 | 0], cand [1, 0 | 1] -> cosine 1/sqrt(2)
    two = fidelity_metrics(
        [np.array([[1.0, 0.0]]), np.array([[0.0]])], [np.array([[1.0, 0.0]]), np.array([[1.0]])]
    )
    assert two["cosine_mean"] == pytest.approx(1 / math.sqrt(2))
    assert two["max_abs_error"] == 1.0


def test_identical_outputs_are_capped_and_json_serialisable():
    out = [np.random.default_rng(0).standard_normal((5, 10)).astype(np.float32)]
    m = fidelity_metrics(out, [o.copy() for o in out])
    assert m["sqnr_db"] == SQNR_CAP_DB and math.isfinite(m["sqnr_db"])
    assert m["cosine_mean"] == pytest.approx(1.0) and m["cosine_min"] == pytest.approx(1.0)
    assert m["max_abs_error"] == 0.0 and m["top1_agreement"] == 1.0
    json.dumps(m, allow_nan=False)


def test_nonfinite_candidate_gives_none_not_nan():
    ref = [np.array([[1.0, 2.0], [3.0, 4.0]])]
    cand = [np.array([[1.0, 2.0], [np.nan, 4.0]])]
    m = fidelity_metrics(ref, cand)
    assert m["nonfinite_samples"] == 1
    assert m["cosine_mean"] is None and m["sqnr_db"] is None and m["max_abs_error"] is None
    assert m["top1_agreement"] == 1.0  # NaN ranks last: argmax 1 in both
    json.dumps(m, allow_nan=False)


def test_non_classifier_outputs_have_no_top1_agreement():
    ref = [np.ones((2, 4, 4))]
    assert fidelity_metrics(ref, [np.ones((2, 4, 4))])["top1_agreement"] is None


@pytest.mark.parametrize(
    ("ref", "cand", "words"),
    [
        ([np.ones((2, 3))], [np.ones((3, 3))], "2 samples and the candidate 3"),
        ([np.ones((2, 3))], [np.ones((2, 3)), np.ones((2, 1))], "1 outputs and the candidate 2"),
        ([np.ones((2, 3, 4))], [np.ones((2, 4, 3))], "per-sample shape"),
    ],
)
def test_fidelity_bad_input(ref, cand, words):
    with pytest.raises(BadInput, match=words):
        fidelity_metrics(ref, cand)


def test_accumulator_over_three_batches_equals_one_shot():
    rng = np.random.default_rng(7)
    ref = rng.standard_normal((10, 12)).astype(np.float32)
    cand = (ref + 0.05 * rng.standard_normal((10, 12))).astype(np.float32)
    labels = rng.integers(0, 12, size=10)
    acc = EvalAccumulator()
    for lo, hi in ((0, 3), (3, 7), (7, 10)):
        acc.add([cand[lo:hi]], labels[lo:hi], [ref[lo:hi]])
    result = acc.result()
    assert acc.count == 10 and result["count"] == 10
    assert result["classification"] == classification_metrics(cand, labels)
    assert result["fidelity"] == fidelity_metrics([ref], [cand])  # exact, not approx
    assert 0 < result["fidelity"]["top1_agreement"] <= 1
    json.dumps(result, allow_nan=False)


def test_accumulator_without_labels_or_reference_and_mixing_refused():
    acc = EvalAccumulator()
    acc.add([np.ones((2, 3))])
    assert acc.result() == {"count": 2, "classification": None, "fidelity": None}
    with pytest.raises(BadInput, match="batch 2 has labels unlike") as info:
        acc.add([np.ones((2, 3))], labels=np.array([0, 1]))
    assert "labels for every batch or for none" in info.value.details
    with pytest.raises(BadInput, match="batch 2 has reference outputs unlike") as info:
        acc.add([np.ones((2, 3))], reference=[np.ones((2, 3))])
    assert "for every batch or for none" in info.value.details
    assert EvalAccumulator().result() == {"count": 0, "classification": None, "fidelity": None}


# --- preprocessing -------------------------------------------------------------------------


def test_for_model_defaults():
    digits = for_model("digits", [1, 1, 8, 8])
    assert digits == Preprocessing(size=(8, 8), scale=1 / 16, layout="NCHW", channels=1)
    assert digits.mean is None and digits.std is None
    zoo = for_model("imagenet", [1, 3, 299, 299])
    assert zoo.size == (299, 299) and zoo.mean == IMAGENET_MEAN and zoo.std == IMAGENET_STD
    assert zoo.scale == pytest.approx(1 / 255) and zoo.layout == "NCHW" and zoo.channels == 3
    assert for_model("zoo", [1, 3, -1, -1]).size == (224, 224)
    nhwc = for_model("generic", [1, 32, 48, 1])
    assert (nhwc.layout, nhwc.channels, nhwc.size, nhwc.mean) == ("NHWC", 1, (32, 48), None)
    nchw = for_model("generic", [1, 3, 16, 16])
    assert (nchw.layout, nchw.channels, nchw.size) == ("NCHW", 3, (16, 16))
    with pytest.raises(BadInput, match="unknown preprocessing kind"):
        for_model("resnet", [1, 3, 224, 224])


def test_preprocessing_round_trip_frozen_and_validated():
    pre = for_model("imagenet", [1, 3, 224, 224])
    assert Preprocessing.from_dict(json.loads(json.dumps(pre.to_dict()))) == pre
    with pytest.raises(dataclasses.FrozenInstanceError):
        pre.scale = 1.0  # type: ignore[misc]
    demo_meta = {"layout": "NCHW", "size": [8, 8], "scale": "pixel / 16"}
    assert Preprocessing.from_dict(demo_meta).scale == 1 / 16
    with pytest.raises(BadInput, match="unknown preprocessing key"):
        Preprocessing.from_dict({"sizes": [8, 8]})
    with pytest.raises(BadInput, match=r"mean has 1 values for 3 channel\(s\)"):
        Preprocessing(mean=(0.5,), std=(0.5,), channels=3)
    with pytest.raises(BadInput, match="NCHW or NHWC"):
        Preprocessing(layout="CHW")  # type: ignore[arg-type]


def test_apply_scales_normalises_and_lays_out():
    pre = Preprocessing(size=(2, 2), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    image = np.zeros((2, 2, 3), dtype=np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 255, 51, 0
    one = pre.apply(image)
    assert one.shape == (3, 2, 2) and one.dtype == np.float32
    # (255/255 - 0.5)/0.25 = 2.0; (51/255 - 0.5)/0.25 = (0.2 - 0.5)/0.25 = -1.2; 0 -> -2.0
    assert one[:, 0, 0] == pytest.approx([2.0, -1.2, -2.0])
    batch = dataclasses.replace(pre, layout="NHWC").apply(np.stack([image, image]))
    assert batch.shape == (2, 2, 2, 3) and batch[1, 1, 1] == pytest.approx([2.0, -1.2, -2.0])
    resized = pre.apply(np.full((6, 4, 3), 255, dtype=np.uint8))  # bilinear of a constant
    assert resized.shape == (3, 2, 2) and np.allclose(resized, 2.0)


# --- data sets -----------------------------------------------------------------------------


def test_digits_test_split_matches_demo():
    from engines.models.demo import digits_split

    _, x_test, _, y_test = digits_split()
    data = load_dataset("digits", [1, 1, 8, 8])
    assert len(data) == 450 and data.x.shape == (450, 1, 8, 8) and data.x.dtype == np.float32
    assert np.array_equal(data.x, x_test) and np.array_equal(data.y, y_test)
    assert data.y is not None and data.y.dtype == np.int64
    assert data.classes == [str(i) for i in range(10)] and "test split" in data.description
    assert float(data.x.max()) == 1.0  # pixel 16 / 16


def test_digits_train_split_limit_and_nhwc():
    train = load_dataset("digits-train", [1, 1, 8, 8])
    assert train.x.shape == (1347, 1, 8, 8) and train.source == "digits-train"
    first = load_dataset("digits", [-1, 1, 8, 8], limit=5)
    nhwc = load_dataset("digits", [1, 8, 8, 1], limit=5)
    assert nhwc.x.shape == (5, 8, 8, 1)
    assert np.array_equal(nhwc.x[..., 0], first.x[:, 0])
    with pytest.raises(BadInput, match="shape mismatch"):
        load_dataset("digits", [1, 3, 224, 224])


def test_synthetic_is_seeded():
    a = load_dataset("synthetic:10", [1, 3, 4, 4], seed=1)
    b = load_dataset("synthetic:10", [1, 3, 4, 4], seed=1)
    assert a.x.shape == (10, 3, 4, 4) and a.y is None and np.array_equal(a.x, b.x)
    assert not np.array_equal(a.x, load_dataset("synthetic:10", [1, 3, 4, 4], seed=2).x)
    assert len(load_dataset("synthetic", [1, 5])) == 64
    assert len(load_dataset("synthetic", [1, 5], limit=3)) == 3
    with pytest.raises(BadInput, match="not a sample count"):
        load_dataset("synthetic:many", [1, 5])
    with pytest.raises(BadInput, match="at least 1"):
        load_dataset("synthetic:0", [1, 5])


def _png(path: Path, rgb: tuple[int, int, int], size: int = 4) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), rgb).save(path)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    _png(root / "cat" / "a.png", (255, 51, 0))
    _png(root / "dog" / "b.png", (0, 102, 255))
    _png(root / "dog" / "c.png", (100, 150, 200), size=8)  # resized to 4x4
    (root / "dog" / "notes.txt").write_text("not an image")
    _png(root / ".hidden" / "skip.png", (1, 2, 3))
    return root


def test_image_folder_labels_shape_and_normalisation(image_folder: Path):
    pre = Preprocessing(size=(4, 4), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    data = load_dataset(str(image_folder), [1, 3, 4, 4], pre)
    assert data.classes == ["cat", "dog"]
    assert data.y is not None and data.y.tolist() == [0, 1, 1]
    assert data.x.shape == (3, 3, 4, 4) and data.x.dtype == np.float32
    # cat pixel (255, 51, 0): (255/255 - .5)/.25 = 2.0, (51/255 - .5)/.25 = -1.2, -2.0
    assert data.x[0, :, 0, 0] == pytest.approx([2.0, -1.2, -2.0])
    assert data.x[1, 2, 3, 3] == pytest.approx(2.0)  # dog's blue 255
    assert data.x[2, 0, 1, 2] == pytest.approx((100 / 255 - 0.5) / 0.25)  # constant survives
    assert len(load_dataset(str(image_folder), [1, 3, 4, 4], pre, limit=2)) == 2


def test_image_folder_grey_nhwc_default_preprocessing(image_folder: Path):
    data = load_dataset(str(image_folder), [1, 4, 4, 1])  # generic: NHWC, 1 channel, 1/255
    assert data.x.shape == (3, 4, 4, 1)
    # PIL's L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 = (9224200 + 32768) >> 16 = 141
    assert data.x[2, 0, 0, 0] == pytest.approx(141 / 255)


def _npz(path: Path, **arrays: np.ndarray) -> str:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return str(path)


def test_npz_with_and_without_labels(tmp_path: Path):
    x = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(2, 3, 2, 2)
    labelled = load_dataset(_npz(tmp_path / "a.npz", x=x, y=np.array([1, 0])), [1, 3, 2, 2])
    assert labelled.x.dtype == np.float32 and np.array_equal(labelled.x, x)
    assert labelled.y is not None and labelled.y.tolist() == [1, 0]
    unlabelled = load_dataset(_npz(tmp_path / "b.npz", x=x[:, None]), [1, 3, 2, 2])
    assert unlabelled.y is None and unlabelled.x.shape == (2, 3, 2, 2)
    named = load_dataset(_npz(tmp_path / "c.npz", x=x, classes=np.array(["a", "b"])), [1, 3, 2, 2])
    assert named.classes == ["a", "b"]


def _bad_folder(tmp_path: Path, case: str) -> str:
    root = tmp_path / case
    root.mkdir()
    if case == "flat":
        _png(root / "a.png", (0, 0, 0))
    elif case == "noimages":
        (root / "cat").mkdir()
        (root / "cat" / "readme.txt").write_text("x")
    elif case == "broken":
        _png(root / "cat" / "good.png", (0, 0, 0))
        (root / "cat" / "broken.png").write_bytes(b"not a png at all")
    return str(root)


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("empty", "is empty"),
        ("flat", "no class sub-folders"),
        ("noimages", "no images"),
        ("broken", "cannot read image .*broken.png"),
    ],
)
def test_bad_folders(tmp_path: Path, case: str, words: str):
    with pytest.raises(BadInput, match=words):
        load_dataset(_bad_folder(tmp_path, case), [1, 3, 4, 4])


def test_bad_npz_and_other_bad_input(tmp_path: Path, image_folder: Path):
    x = np.zeros((3, 1, 8, 8), dtype=np.float32)
    shape = [1, 1, 8, 8]
    with pytest.raises(BadInput, match="no such file or folder"):
        load_dataset(str(tmp_path / "missing.npz"), shape)
    with pytest.raises(BadInput, match="no array named x"):
        load_dataset(_npz(tmp_path / "nox.npz", inputs=x), shape)
    with pytest.raises(BadInput, match=r"labels length mismatch.*2 labels for 3 samples"):
        load_dataset(_npz(tmp_path / "len.npz", x=x, y=np.array([0, 1])), shape)
    with pytest.raises(BadInput, match="not integers"):
        load_dataset(_npz(tmp_path / "float.npz", x=x, y=np.array([0.0, 1.0, 2.0])), shape)
    with pytest.raises(BadInput, match=r"shape 3x1x8x8.*expects N x 3x8x8.*shape mismatch"):
        load_dataset(str(tmp_path / "len.npz"), [1, 3, 8, 8])
    with pytest.raises(BadInput, match="limit 0 must be at least 1"):
        load_dataset("digits", shape, limit=0)
    with pytest.raises(BadInput, match=r"neither a folder nor a \.npz"):
        (tmp_path / "data.csv").write_text("1,2")
        load_dataset(str(tmp_path / "data.csv"), shape)
    with pytest.raises(BadInput, match="shape mismatch"):
        load_dataset(str(image_folder), [1, 3, 8, 8], Preprocessing(size=(4, 4)))
    with pytest.raises(BadInput, match="not a fixed-size image input"):
        load_dataset(str(image_folder), [1, 10])
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(BadInput, match="cannot read"):
        load_dataset(str(pickled), [1])


def test_save_and_load_npz_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data = load_dataset("digits", [1, 1, 8, 8], limit=6)
    refs = [np.arange(60, dtype=np.float32).reshape(6, 10), np.ones((6, 2, 2), np.float16)]
    out = tmp_path / "sub" / "eval.npz"
    assert save_npz(data, out, refs) == out
    assert sorted(p.name for p in out.parent.iterdir()) == ["eval.npz"]  # no temp file left

    real_load = np.load

    def strict_load(*args: object, **kwargs: object):
        assert kwargs.get("allow_pickle") is False
        return real_load(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(np, "load", strict_load)
    x, y, loaded = load_eval_npz(out)
    assert np.array_equal(x, data.x) and x.dtype == np.float32
    assert y is not None and np.array_equal(y, data.y)
    assert loaded is not None and len(loaded) == 2
    for got, want in zip(loaded, refs, strict=True):
        assert np.array_equal(got, want) and got.dtype == want.dtype
    again = load_dataset(str(out), [1, 1, 8, 8])
    assert again.classes == data.classes

    bare = EvalData(x=np.zeros((2, 3), np.float32), y=None, description="d", source="s")
    save_npz(bare, out)  # replaces the file in place
    x, y, loaded = load_eval_npz(out)
    assert x.shape == (2, 3) and y is None and loaded is None
    with pytest.raises(BadInput, match="expected 2 rows"):
        save_npz(bare, out, [np.zeros((3, 1))])
