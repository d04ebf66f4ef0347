"""What a model is fed: named dims, values, real arrays, defaults, and errors that list it all."""

from __future__ import annotations

import numpy as np
import pytest

from engines.floor.errors import BadInput
from engines.runtimes.base import UNKNOWN_RANK, TensorInfo
from engines.runtimes.feeds import make_feeds, parse_value

GPT2_LIKE = [
    TensorInfo("input_ids", ["batch", "seq"], "int64"),
    TensorInfo("attention_mask", ["batch", "total_seq"], "int64"),
    TensorInfo("past_key", ["batch", 12, "past", 64], "float32"),
]


def test_every_missing_dimension_is_named_in_one_error_with_the_flags() -> None:
    with pytest.raises(BadInput) as caught:
        make_feeds(GPT2_LIKE)
    message = caught.value.message
    assert message.startswith("3 input dimension(s) have no size")
    for where in (
        "'input_ids' axis 1 (seq)",
        "'attention_mask' axis 1 (total_seq)",
        "'past_key' axis 2 (past)",
    ):
        assert where in message
    assert "--dim seq=N --dim total_seq=N --dim past=N" in message


def test_a_named_dim_binds_everywhere_and_masks_are_ones() -> None:
    feeds = make_feeds(GPT2_LIKE, dims={"seq": 4, "total_seq": 9, "past": 5})
    assert feeds.arrays["input_ids"].shape == (1, 4)
    assert feeds.arrays["attention_mask"].shape == (1, 9)
    assert (feeds.arrays["attention_mask"] == 1).all()
    assert feeds.arrays["past_key"].shape == (1, 12, 5, 64)
    assert feeds.arrays["past_key"].dtype == np.float32
    assert "attention_mask: all ones (the default for a mask input)" in feeds.notes
    assert any(note.startswith("input_ids: random integers 0-9") for note in feeds.notes)


def test_values_constants_ranges_and_real_arrays() -> None:
    vad = [
        TensorInfo("input", [1, 512], "float32"),
        TensorInfo("sr", [], "int64"),
        TensorInfo("ids", [1, 6], "int32"),
    ]
    real = np.linspace(-1, 1, 512, dtype=np.float32)[None, :]
    feeds = make_feeds(vad, values={"sr": "16000", "ids": "range:100:200"}, arrays={"input": real})
    assert feeds.arrays["sr"].shape == () and int(feeds.arrays["sr"]) == 16000
    assert feeds.arrays["sr"].dtype == np.int64
    ids = feeds.arrays["ids"]
    assert ids.dtype == np.int32 and ids.min() >= 100 and ids.max() < 200
    np.testing.assert_array_equal(feeds.arrays["input"], real)
    assert feeds.notes == []


def test_a_mistyped_input_name_lists_the_real_ones() -> None:
    with pytest.raises(BadInput) as caught:
        make_feeds(GPT2_LIKE, values={"atention_mask": "ones"}, dims={"seq": 1})
    assert "unknown input name: --input 'atention_mask'" in caught.value.message
    assert "input_ids, attention_mask, past_key" in caught.value.message


def test_an_array_that_does_not_fit_names_the_input_and_what_was_expected() -> None:
    info = [TensorInfo("image", [1, 3, 224, 224], "float32")]
    with pytest.raises(BadInput, match=r"'image'.*has 112 at axis 2, the model expects 224"):
        make_feeds(info, arrays={"image": np.zeros((1, 3, 112, 112), np.float32)})
    with pytest.raises(BadInput, match=r"'image'.*shape \[3, 224, 224\].*4 dimensions"):
        make_feeds(info, arrays={"image": np.zeros((3, 224, 224), np.float32)})
    with pytest.raises(BadInput, match=r"'image'.*is complex128"):
        make_feeds(info, arrays={"image": np.zeros((1, 3, 224, 224), np.complex128)})


def test_an_unrecorded_rank_asks_for_the_whole_shape() -> None:
    with pytest.raises(
        BadInput, match=r"'x' \(its rank and shape are not recorded\).*--input-shape x=D0,D1"
    ):
        make_feeds([TensorInfo("x", UNKNOWN_RANK, "float32")])
    feeds = make_feeds([TensorInfo("x", UNKNOWN_RANK, "float32")], shapes={"x": [2, 7]})
    assert feeds.arrays["x"].shape == (2, 7)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("16000", ("constant", 16000)),
        ("0.5", ("constant", 0.5)),
        ("ones", ("ones", None)),
        ("true", ("constant", True)),
        ("range:0:30522", ("range", (0, 30522))),
    ],
)
def test_value_words(text: str, parsed: tuple) -> None:
    assert parse_value(text) == parsed


@pytest.mark.parametrize("text", ["range:5:5", "range:a:b", "range:1", "lots"])
def test_bad_value_words_say_what_is_accepted(text: str) -> None:
    with pytest.raises(BadInput):
        parse_value(text)


def test_inputs_that_ask_for_too_much_memory_are_refused_before_allocating() -> None:
    """[1, 1, 80000, 80000] float32 is 23.84 GiB: refused by arithmetic, not by the OOM
    killer; a small limit refuses a 4 MiB input and names it."""
    huge = TensorInfo("image", [1, 1, 80000, 80000], "float32")
    with pytest.raises(BadInput, match=r"the inputs need 23\.84 GiB") as info:
        make_feeds([huge])
    assert "the limit is" in info.value.message and "--dim" in info.value.details
    small = TensorInfo("x", [1, 1024, 1024], "float32")
    with pytest.raises(BadInput, match=r"'x' is \[1, 1024, 1024\].*the run's memory limit"):
        make_feeds([small], max_input_bytes=1 << 20)
    assert make_feeds([small], max_input_bytes=8 << 20).arrays["x"].nbytes == 4 << 20


def test_integer_inputs_are_drawn_in_their_own_dtype() -> None:
    made = make_feeds([TensorInfo("ids", [4, 8], "int8")])
    assert made.arrays["ids"].dtype == np.int8 and made.arrays["ids"].max() < 10
