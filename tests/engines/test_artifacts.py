"""The artifact store: content-addressed import, external-data checks, inspection, verify."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from support.onnx_models import external_data_model, write_weights

from engines.floor.errors import BadInput
from engines.models.artifacts import check_external_data, import_model, verify

SECRET = b"TOP-SECRET-do-not-copy-0123456789"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


# ------------------------------------------------------------------------- import


def test_import_copies_into_content_addressed_store(tiny_models, store, edgebench_home):
    source = tiny_models.onnx
    art = import_model(source, store)
    sha = _sha(source)
    assert art.sha256 == sha
    assert art.format == "onnx"
    assert art.size_bytes == source.stat().st_size
    assert art.name == "tiny"
    stored = Path(art.path)
    assert stored == edgebench_home / "artifacts" / sha[:2] / sha / "tiny.onnx"
    assert stored.read_bytes() == source.read_bytes()
    assert stored.resolve() != source.resolve()
    # atomic write: no temp file left beside it
    assert sorted(p.name for p in stored.parent.iterdir()) == ["tiny.onnx"]
    # recorded in the database
    assert store.artifact_by_sha(sha) == art
    assert store.artifact(art.id).path == art.path
    assert art.inspection["file_bytes"] == source.stat().st_size


def test_import_is_idempotent(tiny_models, store, tmp_path, monkeypatch):
    first = import_model(tiny_models.onnx, store)
    stored = Path(first.path)
    mtime = stored.stat().st_mtime_ns

    def no_worker(*args, **kwargs):
        raise AssertionError("already-imported content was inspected again")

    monkeypatch.setattr("engines.workers.run_task", no_worker)
    again = import_model(tiny_models.onnx, store)
    renamed = tmp_path / "same-bytes-other-name.onnx"
    renamed.write_bytes(tiny_models.onnx.read_bytes())
    by_content = import_model(renamed, store)
    assert again.id == first.id == by_content.id
    assert by_content.path == first.path
    assert stored.stat().st_mtime_ns == mtime
    with pytest.raises(BadInput):
        store.artifact(first.id + 1)  # no second row


def test_reimport_after_stored_file_vanished_restores_it(tiny_models, store):
    first = import_model(tiny_models.onnx, store)
    Path(first.path).unlink()
    again = import_model(tiny_models.onnx, store)
    assert again.id == first.id
    assert Path(again.path).read_bytes() == tiny_models.onnx.read_bytes()


def test_state_dict_import_counts_parameters(tiny_models, store):
    art = import_model(tiny_models.state_dict, store)
    assert art.format == "torch-state-dict"
    assert art.inspection["parameters"] == tiny_models.parameters
    assert art.inspection["macs"] is None


# ------------------------------------------------------------------------- external data


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.bin"
    path.write_bytes(SECRET)
    return path


def _assert_nothing_leaked(home: Path, store, model: Path) -> None:
    assert store.artifact_by_sha(_sha(model)) is None
    for f in _files_under(home):
        assert SECRET not in f.read_bytes(), f"secret bytes copied into {f}"


def test_external_data_escaping_the_folder_is_refused(tmp_path, secret, store, edgebench_home):
    model = external_data_model(tmp_path / "model" / "model.onnx", "../secret.bin")
    with pytest.raises(BadInput) as err:
        import_model(model, store)
    assert "../secret.bin" in err.value.message
    assert "outside" in err.value.message
    _assert_nothing_leaked(edgebench_home, store, model)


@pytest.mark.parametrize("location", ["ABSOLUTE", "sub/../../secret.bin", "../../x/secret.bin"])
def test_external_data_other_escapes_are_refused(tmp_path, secret, store, edgebench_home, location):
    location = str(secret) if location == "ABSOLUTE" else location
    model = external_data_model(tmp_path / "model" / "model.onnx", location)
    (tmp_path / "model" / "sub").mkdir()
    with pytest.raises(BadInput) as err:
        import_model(model, store)
    assert repr(location) in err.value.message
    _assert_nothing_leaked(edgebench_home, store, model)


def test_external_data_symlink_out_of_folder_is_refused(tmp_path, secret, store, edgebench_home):
    folder = tmp_path / "model"
    model = external_data_model(folder / "model.onnx", "weights.bin")
    (folder / "weights.bin").symlink_to(secret)
    with pytest.raises(BadInput, match=r"weights\.bin"):
        import_model(model, store)
    _assert_nothing_leaked(edgebench_home, store, model)


def test_external_data_symlink_and_hard_link_inside_folder_are_refused(tmp_path):
    folder = tmp_path / "model"
    model = external_data_model(folder / "model.onnx", "weights.bin")
    real = write_weights(folder / "real.bin", [1, 2, 3, 4])
    (folder / "weights.bin").symlink_to(real)
    with pytest.raises(BadInput, match="symbolic link"):
        check_external_data(model, ["weights.bin"])
    (folder / "weights.bin").unlink()
    os.link(real, folder / "weights.bin")
    with pytest.raises(BadInput, match="hard link"):
        check_external_data(model, ["weights.bin"])


def test_external_data_missing_file_is_refused(tmp_path, store):
    model = external_data_model(tmp_path / "model" / "model.onnx", "weights.bin")
    with pytest.raises(BadInput, match="missing"):
        import_model(model, store)


def test_external_data_inside_folder_is_copied(tmp_path, store):
    folder = tmp_path / "model"
    model = external_data_model(folder / "model.onnx", "weights.bin")
    write_weights(folder / "weights.bin", [1, 2, 3, 4])
    art = import_model(model, store)
    stored = Path(art.path)
    assert (stored.parent / "weights.bin").read_bytes() == (folder / "weights.bin").read_bytes()
    assert art.inspection["external_data_bytes"] == 16
    assert "external_data" not in art.inspection


def test_verify_detects_changed_external_data(tmp_path, store):
    folder = tmp_path / "model"
    model = external_data_model(folder / "model.onnx", "weights.bin")
    write_weights(folder / "weights.bin", [1, 2, 3, 4])
    art = import_model(model, store)
    write_weights(Path(art.path).parent / "weights.bin", [9, 9, 9, 9])
    try:
        verify(art)
    except BadInput:
        return
    raise AssertionError("verify() accepted a model whose external data changed")


def test_same_graph_different_external_weights_are_different_artifacts(tmp_path, store):
    a = tmp_path / "a"
    b = tmp_path / "b"
    model_a = external_data_model(a / "model.onnx", "weights.bin")
    write_weights(a / "weights.bin", [1, 2, 3, 4])
    model_b = external_data_model(b / "model.onnx", "weights.bin")
    write_weights(b / "weights.bin", [5, 6, 7, 8])
    art_a = import_model(model_a, store)
    art_b = import_model(model_b, store)
    stored_b = (Path(art_b.path).parent / "weights.bin").read_bytes()
    assert stored_b == (b / "weights.bin").read_bytes(), (
        f"artifact {art_b.id} (same id as {art_a.id}?) carries the other model's weights"
    )


# ------------------------------------------------------------------------- inspection


def test_onnx_inspection_keeps_symbolic_dim_names(tiny_models, store):
    art = import_model(tiny_models.onnx, store)
    (only,) = art.inspection["inputs"]
    assert only["name"] == "input"
    batch, *rest = only["shape"]
    assert isinstance(batch, str) and batch == "batch"
    assert rest == [3, 8, 8]
    assert art.inspection["outputs"][0]["shape"][1:] == [10]


def test_macs_agree_across_formats(tiny_models, store):
    found = {}
    by_op = {}
    for path, trust in (
        (tiny_models.onnx, False),
        (tiny_models.tflite, False),
        (tiny_models.pt2, True),
    ):
        art = import_model(path, store, trust_code=trust)
        macs = art.inspection["macs"]
        found[art.format] = macs["macs"]
        by_op[art.format] = sorted(macs["macs_by_op"].values())
        assert "1 MAC = 2 FLOPs" in macs["unit"]
    assert found == {
        "onnx": tiny_models.macs,
        "tflite": tiny_models.macs,
        "torch-exported-program": tiny_models.macs,
    }
    # conv and linear counted separately, and the same way everywhere
    assert all(v == [2560, 6912] for v in by_op.values()), by_op


def test_tflite_and_pt2_inspection_signature(tiny_models, store):
    tfl = import_model(tiny_models.tflite, store).inspection
    assert [i["shape"] for i in tfl["inputs"]] == [[1, 3, 8, 8]]
    assert [o["shape"] for o in tfl["outputs"]] == [[1, 10]]
    assert tfl["inputs"][0]["dtype"] == "float32"


def test_parameter_count_agrees_across_formats(tiny_models, store):
    found = {}
    for path, trust in (
        (tiny_models.onnx, False),
        (tiny_models.tflite, False),
        (tiny_models.pt2, True),
    ):
        art = import_model(path, store, trust_code=trust)
        found[art.format] = art.inspection["parameters"]
    assert found == dict.fromkeys(found, tiny_models.parameters), found


# ------------------------------------------------------------------------- verify


def test_verify_detects_a_modified_file(tiny_models, store):
    art = import_model(tiny_models.onnx, store)
    verify(art)  # untouched: fine
    stored = Path(art.path)
    original = stored.read_bytes()
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    stored.write_bytes(bytes(flipped))
    with pytest.raises(BadInput, match="no longer matches its hash"):
        verify(art)
    stored.write_bytes(original)
    verify(art)
    stored.unlink()
    with pytest.raises(BadInput, match="missing"):
        verify(art)


def test_external_data_in_a_constant_node_is_checked(tmp_path, secret, store, edgebench_home):
    from onnx import TensorProto, helper

    value = TensorProto()
    value.name = "C"
    value.data_type = TensorProto.FLOAT
    value.dims.extend([4])
    value.data_location = TensorProto.EXTERNAL
    for key, text in (("location", "../secret.bin"), ("offset", "0"), ("length", "16")):
        entry = value.external_data.add()
        entry.key = key
        entry.value = text
    graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["C"], value=value),
            helper.make_node("Add", ["X", "C"], ["Y"]),
        ],
        "constant-external",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [4])],
    )
    model_proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model_proto.ir_version = 8
    model = tmp_path / "model" / "model.onnx"
    model.parent.mkdir()
    model.write_bytes(model_proto.SerializeToString())
    try:
        import_model(model, store)
    except BadInput as err:
        assert "../secret.bin" in err.message
    else:
        raise AssertionError("a model whose Constant points at ../secret.bin was imported")
    _assert_nothing_leaked(edgebench_home, store, model)


def test_a_model_written_out_gets_the_users_file_mode(tiny_models, store, tmp_path):
    """`export --out` / copy_out: 0666 less the umask (0644 with the usual 022), not the
    private 0600 of a temp file."""
    import stat

    from engines.models.artifacts import copy_out

    art = import_model(tiny_models.onnx, store)
    old = os.umask(0o022)
    try:
        written = copy_out(art, tmp_path / "out" / "model.onnx")
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    assert written.read_bytes() == Path(art.path).read_bytes()
    assert sorted(p.name for p in written.parent.iterdir()) == ["model.onnx"]


@pytest.mark.slow
def test_a_replaced_demo_file_is_rebuilt_not_trusted(tiny_models, store, edgebench_home):
    """The cached demo .pt2 holds code; it is trusted by the sha256 recorded when we built
    it, not by its path. A file put in its place is thrown away and the demo rebuilt."""
    import shutil

    from engines.models.refs import resolve

    first = resolve("demo:digits-cnn", store)
    (cached,) = (edgebench_home / "cache" / "demo").glob("*.pt2")
    shutil.copy(tiny_models.pt2, cached)  # someone else's program under our name
    replaced = _sha(cached)
    again = resolve("demo:digits-cnn", store)
    assert _sha(cached) != replaced  # rebuilt by our recipe
    assert store.artifact_by_sha(replaced) is None  # the replacement was never imported
    assert again.source == first.source == "demo"


def test_a_descriptor_file_cannot_ask_for_a_download(tmp_path, store):
    """Pretrained weights come only through zoo:NAME:pretrained, never from a file."""
    import json

    from engines.runtimes.zoo import descriptor

    path = tmp_path / "mobilenet.json"
    path.write_text(json.dumps(descriptor("mobilenet_v2", "pretrained")))
    with pytest.raises(BadInput, match="would be downloaded from the internet"):
        import_model(path, store)
    path.write_text(json.dumps(descriptor("mobilenet_v2", "random")))
    assert import_model(path, store).format == "zoo"


def _external(name: str, location: str):
    from onnx import TensorProto

    value = TensorProto()
    value.name = name
    value.data_type = TensorProto.FLOAT
    value.dims.extend([4])
    value.data_location = TensorProto.EXTERNAL
    for key, text in (("location", location), ("offset", "0"), ("length", "16")):
        entry = value.external_data.add()
        entry.key = key
        entry.value = text
    return value


@pytest.mark.parametrize("where", ["sparse_initializer", "function_body"])
def test_external_data_in_sparse_tensors_and_functions_is_checked(
    tmp_path, secret, store, edgebench_home, where
):
    """Every tensor the file can reference is checked, not only initializers: a sparse
    initializer's values, and a Constant inside a local function's body."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [4])
    functions = []
    if where == "sparse_initializer":
        indices = helper.make_tensor("S_idx", TensorProto.INT64, [4], [0, 1, 2, 3])
        sparse = helper.make_sparse_tensor(_external("S", "../secret.bin"), indices, [4])
        graph = helper.make_graph(
            [helper.make_node("Add", ["X", "S"], ["Y"])], "g", [x], [y], sparse_initializer=[sparse]
        )
    else:
        body = [
            helper.make_node("Constant", [], ["C"], value=_external("C", "../secret.bin")),
            helper.make_node("Add", ["A", "C"], ["B"]),
        ]
        functions = [
            helper.make_function(
                "local", "AddSecret", ["A"], ["B"], body, [helper.make_opsetid("", 18)]
            )
        ]
        graph = helper.make_graph(
            [helper.make_node("AddSecret", ["X"], ["Y"], domain="local")], "g", [x], [y]
        )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("local", 1)],
        functions=functions,
    )
    proto.ir_version = 8
    model = tmp_path / "model" / "model.onnx"
    model.parent.mkdir()
    model.write_bytes(proto.SerializeToString())
    with pytest.raises(BadInput, match=r"\.\./secret\.bin"):
        import_model(model, store)
    _assert_nothing_leaked(edgebench_home, store, model)
