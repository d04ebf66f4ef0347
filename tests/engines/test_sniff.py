"""Format sniffing from bytes: every format, bad files, malicious pickles, fuzzing."""

from __future__ import annotations

import builtins
import io
import json
import pickle
import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.floor.errors import BadInput, EdgeBenchError, TrustRequired
from engines.models import sniff as formats
from engines.models.artifacts import import_model
from engines.models.sniff import sniff

try:  # Python 3.11+; hypothesis reports several distinct failures as a group
    _GROUP = builtins.BaseExceptionGroup  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover - Python 3.10
    pass

ALL_FORMATS = {
    formats.ONNX,
    formats.TFLITE,
    formats.TORCHSCRIPT,
    formats.EXPORTED_PROGRAM,
    formats.STATE_DICT,
    formats.TORCH_PICKLE,
    formats.ZOO,
}


class MakesMarker:
    """Unpickling this calls open(marker, "w"): the file appears iff the pickle ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


# ------------------------------------------------------------------------- each format


@pytest.mark.parametrize(
    ("attr", "expected"),
    [
        ("onnx", formats.ONNX),
        ("tflite", formats.TFLITE),
        ("pt2", formats.EXPORTED_PROGRAM),
        ("torchscript", formats.TORCHSCRIPT),
        ("state_dict", formats.STATE_DICT),
    ],
)
def test_each_real_format(tiny_models, attr, expected, tmp_path):
    path = getattr(tiny_models, attr)
    assert sniff(path) == expected
    # from bytes, not from the name
    renamed = tmp_path / "model.bin"
    renamed.write_bytes(path.read_bytes())
    assert sniff(renamed) == expected


def test_zoo_descriptor(tmp_path):
    path = tmp_path / "resnet18.json"
    path.write_text(json.dumps({"zoo": "resnet18", "weights": "random"}))
    assert sniff(path) == formats.ZOO


def test_json_that_is_not_a_zoo_descriptor(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(BadInput):
        sniff(path)


def test_legacy_torch_save_needs_trust(tmp_path):
    """Legacy (non-zip) files are a chain of pickles we do not walk: treated as code."""
    import torch

    path = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=False)
    assert sniff(path) == formats.TORCH_PICKLE


# ------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    with pytest.raises(BadInput, match="no such model file"):
        sniff(tmp_path / "nope.onnx")


def test_directory_is_not_a_model(tmp_path):
    with pytest.raises(BadInput):
        sniff(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(BadInput, match="empty"):
        sniff(path)


@pytest.mark.parametrize(
    "content",
    [
        b"hello world, not a model\n",
        b"\x7fELF\x02\x01\x01" + b"\x00" * 64,
        b"\x00" * 100,
        b"GIF89a" + b"\x01" * 40,
    ],
)
def test_unknown_content(tmp_path, content):
    path = tmp_path / "model.onnx"  # the extension must not fool it
    path.write_bytes(content)
    with pytest.raises(BadInput, match="not a model EdgeBench recognises"):
        sniff(path)


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.99])
def test_truncated_onnx(tiny_models, tmp_path, fraction):
    data = tiny_models.onnx.read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(BadInput, match="truncated"):
        sniff(path)


def test_truncated_zip(tiny_models, tmp_path):
    data = tiny_models.pt2.read_bytes()
    path = tmp_path / "cut.pt2"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput):
        sniff(path)


def test_zip_that_is_not_pytorch(tmp_path):
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.txt", "hello")
    with pytest.raises(BadInput, match="not a PyTorch file"):
        sniff(path)


def _tiny_torch_like_zip() -> bytearray:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({}, protocol=2))
        z.writestr("archive/version", b"3\n")
    return bytearray(buf.getvalue())


def test_zip_with_unknown_compression_is_bad_input(tmp_path):
    data = _tiny_torch_like_zip()
    for sig, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = 0
        while (start := data.find(sig, start)) != -1:
            struct.pack_into("<H", data, start + offset, 99)  # compression method 99 (AES)
            start += 4
    path = tmp_path / "weird.pt"
    path.write_bytes(bytes(data))
    with pytest.raises(BadInput):
        sniff(path)


def test_zip_with_invalid_utf8_name_is_bad_input(tmp_path):
    data = _tiny_torch_like_zip()
    central = data.find(b"PK\x01\x02")
    flags = struct.unpack_from("<H", data, central + 8)[0]
    struct.pack_into("<H", data, central + 8, flags | 0x800)  # names are UTF-8
    data[central + 46] = 0xFF  # first byte of the name: never valid UTF-8
    path = tmp_path / "weird.pt"
    path.write_bytes(bytes(data))
    with pytest.raises(BadInput):
        sniff(path)


def test_deeply_nested_json_is_bad_input(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"a":' * 10000 + "1" + "}" * 10000)  # < 64 KiB: the JSON branch
    with pytest.raises(BadInput):
        sniff(path)


# ------------------------------------------------------------------------- malicious pickles


def _malicious_files(folder: Path, marker: Path) -> dict[str, Path]:
    import torch

    files = {}
    for protocol in (2, 4, 5):
        path = folder / f"evil_p{protocol}.pkl"
        with path.open("wb") as f:
            pickle.dump(MakesMarker(str(marker)), f, protocol=protocol)
        files[f"pickle-protocol-{protocol}"] = path
    path = folder / "evil.pt"
    torch.save(MakesMarker(str(marker)), path)
    files["torch.save"] = path
    path = folder / "evil_state.pt"
    torch.save({"weights": torch.ones(3), "hook": MakesMarker(str(marker))}, path)
    files["torch.save-mixed-dict"] = path
    return files


def test_malicious_pickles_sniff_as_torch_pickle_and_need_trust(tmp_path, store):
    marker = tmp_path / "PWNED"
    files = _malicious_files(tmp_path, marker)
    for label, path in files.items():
        assert sniff(path) == formats.TORCH_PICKLE, label
        with pytest.raises(TrustRequired, match="Python code"):
            import_model(path, store)
    assert not marker.exists(), "a pickle was executed"
    # nothing was copied into the artifact store
    from engines.floor import paths

    assert not any(p.is_file() for p in paths.artifacts_dir().rglob("*"))


def test_code_formats_need_trust(tiny_models, store):
    for path in (tiny_models.pt2, tiny_models.torchscript):
        with pytest.raises(TrustRequired):
            import_model(path, store)


def test_legacy_torch_save_malicious_sniffs_as_pickle(tmp_path):
    import torch

    path = tmp_path / "evil_legacy.pt"
    torch.save(MakesMarker(str(tmp_path / "PWNED")), path, _use_new_zipfile_serialization=False)
    assert sniff(path) == formats.TORCH_PICKLE


def _memo_bypass_pickle(marker: str) -> bytes:
    """A protocol-4 pickle whose STACK_GLOBAL reads its names from the memo.

    The last two string literals are 'collections' / 'OrderedDict' (allowed), but the
    global actually resolved is builtins.open (pushed first, memoized, popped, re-fetched).
    """

    def s(text: str) -> bytes:
        raw = text.encode()
        return b"\x8c" + bytes([len(raw)]) + raw + b"\x94"  # SHORT_BINUNICODE + MEMOIZE

    return (
        b"\x80\x04"
        + s("builtins")
        + s("open")
        + b"00"  # memo 0, 1; POP POP
        + s("collections")
        + s("OrderedDict")
        + b"00"  # memo 2, 3; POP POP
        + b"h\x00h\x01\x93"  # BINGET 0, BINGET 1, STACK_GLOBAL
        + s(marker)
        + s("w")
        + b"\x86R"  # args (marker, "w"); REDUCE
        + b"."
    )


def test_memo_bypass_pickle_really_runs_code(tmp_path):
    """Sanity check of the crafted pickle itself: a full unpickler does call open()."""
    marker = tmp_path / "PWNED"
    pickle.loads(_memo_bypass_pickle(str(marker))).close()
    assert marker.exists()


def test_memo_bypass_pickle_sniffs_as_pickle(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(_memo_bypass_pickle(str(tmp_path / "PWNED")))
    assert sniff(path) == formats.TORCH_PICKLE


def test_load_from_bytes_global_is_not_weights_only(tmp_path):
    import torch

    class Nested:
        def __reduce__(self):
            return (torch.storage._load_from_bytes, (b"payload",))

    path = tmp_path / "nested.pkl"
    path.write_bytes(pickle.dumps(Nested(), protocol=2))
    assert sniff(path) == formats.TORCH_PICKLE


def test_misclassified_pickles_still_execute_nothing_on_import(tmp_path, store):
    """Defence in depth: whatever sniff says, importing never unpickles with code."""
    import torch

    marker = tmp_path / "PWNED"
    legacy = tmp_path / "evil_legacy.pt"
    torch.save(MakesMarker(str(marker)), legacy, _use_new_zipfile_serialization=False)
    memo = tmp_path / "evil_memo.pkl"
    memo.write_bytes(_memo_bypass_pickle(str(marker)))
    for path in (legacy, memo):
        with pytest.raises(EdgeBenchError):
            import_model(path, store)
    assert not marker.exists(), "a pickle was executed during import"


# ------------------------------------------------------------------------- fuzzing


def _check_sniff(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        result = sniff(path)
    except BadInput:
        return
    assert result in ALL_FORMATS


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzzed.bin"


@given(st.binary(min_size=1, max_size=4096))
def test_fuzz_random_bytes(fuzz_file, data):
    _check_sniff(fuzz_file, data)


@given(
    st.sampled_from(
        [
            b"PK\x03\x04",
            b"\x80\x02",
            b"\x80\x04",
            b"\x80\x05",
            b"{",
            b"\x00\x00\x00\x00TFL3",
            b"\x08\x07\x12",
            b"\x3a",
        ]
    ),
    st.binary(max_size=2048),
)
def test_fuzz_random_bytes_behind_each_magic(fuzz_file, magic, tail):
    _check_sniff(fuzz_file, magic + tail)


def _mutate(data: bytes, draw) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        if not out:
            break
        kind = draw(st.sampled_from(["flip", "cut", "delete", "insert"]))
        at = draw(st.integers(0, len(out) - 1))
        if kind == "flip":
            out[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del out[at:]
        elif kind == "delete":
            del out[at : at + draw(st.integers(1, 64))]
        else:
            out[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(out) or b"\x00"


@given(st.data())
def test_fuzz_mutated_onnx(tiny_models, fuzz_file, data):
    _check_sniff(fuzz_file, _mutate(tiny_models.onnx.read_bytes(), data.draw))


@given(st.data())
def test_fuzz_mutated_tflite(tiny_models, fuzz_file, data):
    _check_sniff(fuzz_file, _mutate(tiny_models.tflite.read_bytes(), data.draw))


@given(st.data())
def test_fuzz_mutated_torch_zip(tiny_models, fuzz_file, data):
    _check_sniff(fuzz_file, _mutate(tiny_models.state_dict.read_bytes(), data.draw))


def _bomb(path: Path, inflated_bytes: int) -> Path:
    """A state_dict-shaped zip whose one tensor file is zeros, deflated ~1000x."""
    chunk = bytes(16 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({}, protocol=2))
        with archive.open("archive/data/0", "w", force_zip64=True) as member:
            for _ in range(inflated_bytes // len(chunk)):
                member.write(chunk)
    return path


def test_a_zip_bomb_is_refused_from_its_directory_alone(tmp_path):
    """320 MiB of zeros in a 0.3 MiB file: refused without unpacking, by its ratio; and an
    archive declaring more than the limit is refused by its total."""
    from engines.models.sniff import check_zip_sizes

    bomb = _bomb(tmp_path / "weights.pt", 320 << 20)
    assert bomb.stat().st_size < 2 << 20
    with pytest.raises(BadInput, match="zip bomb"):
        sniff(bomb)
    with zipfile.ZipFile(bomb) as archive, pytest.raises(BadInput, match=r"unpacks to 0\.31 GiB"):
        check_zip_sizes(bomb, archive, limit_bytes=100 << 20)


@pytest.mark.parametrize(
    "payload",
    [
        b"(S'echo pwned'\nios\nsystem\n.",  # INST: names its class inline, calls it at once
        b"(cbuiltins\nprint\np0\n0(g0\nS'x'\no.",  # OBJ on a class fetched from the memo
    ],
    ids=["INST", "OBJ"],
)
def test_protocol_0_class_calls_are_not_weights_only(tmp_path, payload):
    """The scan lists every global the pickle would load, INST and OBJ included; a
    state_dict-shaped zip holding such a pickle needs --trust-code."""
    path = tmp_path / "weights.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
    assert sniff(path) == formats.TORCH_PICKLE
