"""The `edgebench` command line, driven through app.cli.main with captured output."""

from __future__ import annotations

import json
import pickle

import pytest
from support.onnx_models import relu_model, tokens_model

from app.cli import main
from engines.floor.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_RUN_FAILED

FAST = ["--runs", "20", "--min-seconds", "0.1", "--warmup-seconds", "0.05", "--warmup", "2"]


def _json(capsys) -> object:
    out = capsys.readouterr().out
    return json.loads(out)


def _profile_json(capsys, model: str, runtime: str, *extra: str) -> dict:
    code = main(["profile", model, "--runtime", runtime, *FAST, "--threads", "1", "--json", *extra])
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    return json.loads(captured.out)


def test_runtimes_json(capsys):
    assert main(["runtimes", "--json"]) == EXIT_OK
    payload = _json(capsys)
    by_name = {r["name"]: r for r in payload}
    assert set(by_name) == {"onnxruntime", "litert", "torch"}
    for runtime in by_name.values():
        assert runtime["available"] is True
        assert runtime["version"]
        assert runtime["accelerators"]["cpu"].startswith("available")
    assert by_name["onnxruntime"]["formats"] == ["onnx"]
    assert by_name["litert"]["formats"] == ["tflite"]
    assert "torch-exported-program" in by_name["torch"]["formats"]


def test_runtimes_table(capsys):
    assert main(["runtimes"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "onnxruntime" in out and "litert" in out and "torch" in out


def test_profile_then_list_then_show(tiny_models, capsys, edgebench_home):
    payload = _profile_json(capsys, str(tiny_models.onnx), "onnxruntime")
    assert payload["ok"] is True
    st = payload["statistics"]
    for key in ("p50_ms", "p90_ms", "p99_ms"):
        assert isinstance(st[key], float) and st[key] > 0
    assert st["count"] >= 20
    for key in (
        "rss_before_load_bytes",
        "peak_rss_bytes",
        "peak_rss_delta_bytes",
        "model_file_bytes",
    ):
        assert key in payload["memory"]
    assert payload["memory"]["model_file_bytes"] == tiny_models.onnx.stat().st_size
    assert payload["environment"]["cpu_model"]
    assert payload["environment"]["threads"] == 1
    run_id = payload["run_id"]
    assert isinstance(run_id, int)
    # the default database lives in EDGEBENCH_HOME
    assert (edgebench_home / "results.sqlite").is_file()

    assert main(["runs", "list", "--json"]) == EXIT_OK
    runs = _json(capsys)
    mine = [r for r in runs if r["id"] == run_id]
    assert len(mine) == 1
    assert mine[0]["runtime"] == "onnxruntime" and mine[0]["status"] == "ok"
    assert mine[0]["statistics"]["p50_ms"] == st["p50_ms"]

    assert main(["runs", "show", str(run_id), "--json"]) == EXIT_OK
    shown = _json(capsys)
    assert shown["id"] == run_id
    assert len(shown["samples_ms"]) == st["count"]
    assert sorted(shown["samples_ms"])[st["count"] // 2] == st["p50_ms"]
    assert shown["statistics"] == st
    assert shown["memory_trace"], "the memory trace was not stored"

    assert main(["runs", "show", str(run_id)]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"run {run_id}" in out and "p99 latency" in out

    assert main(["runs", "list"]) == EXIT_OK
    assert "onnxruntime" in capsys.readouterr().out


def test_profile_table_output_and_no_store(tiny_models, capsys):
    code = main(["profile", str(tiny_models.tflite), "--runtime", "litert", *FAST, "--no-store"])
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    assert "p50 latency" in captured.out and "peak memory (delta)" in captured.out
    assert "stored as run" not in captured.out
    assert main(["runs", "list", "--json"]) == EXIT_OK
    assert _json(capsys) == []


def test_db_flag_puts_the_database_there(tiny_models, capsys, tmp_path, edgebench_home):
    db = tmp_path / "elsewhere" / "my-results.sqlite"
    payload = _profile_json(capsys, str(tiny_models.onnx), "onnxruntime")
    assert main(["--db", str(db), "runs", "list", "--json"]) == EXIT_OK
    assert _json(capsys) == []  # a different database, not made by a command that reads
    assert not db.exists()
    code = main(
        [
            "--db",
            str(db),
            "profile",
            str(tiny_models.onnx),
            "--runtime",
            "onnxruntime",
            *FAST,
            "--json",
        ]
    )
    assert code == EXIT_OK
    in_db = _json(capsys)["run_id"]
    assert main(["--db", str(db), "runs", "show", str(in_db), "--json"]) == EXIT_OK
    assert _json(capsys)["id"] == in_db
    from engines.store.db import Store

    with Store(db) as store:
        assert [r.id for r in store.runs()] == [in_db]
    with Store(edgebench_home / "results.sqlite") as store:
        assert [r.id for r in store.runs()] == [payload["run_id"]]


def test_edgebench_db_env(tmp_path, monkeypatch, capsys):
    db = tmp_path / "env.sqlite"
    monkeypatch.setenv("EDGEBENCH_DB", str(db))
    assert main(["runs", "list", "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out) == [] and not db.exists()
    assert main(["store", "check"]) == EXIT_BAD_INPUT
    assert str(db) in capsys.readouterr().err


# ------------------------------------------------------------------------- bad input


def test_missing_file_is_bad_input(capsys, tmp_path):
    code = main(["profile", str(tmp_path / "nope.onnx"), "--runtime", "onnxruntime", *FAST])
    assert code == EXIT_BAD_INPUT
    assert "no such model file" in capsys.readouterr().err


def test_unknown_runtime_is_bad_input(tiny_models, capsys):
    code = main(["profile", str(tiny_models.onnx), "--runtime", "tensorrt", *FAST])
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "tensorrt" in err and "onnxruntime" in err


@pytest.mark.parametrize(
    ("attr", "runtime"), [("onnx", "litert"), ("tflite", "onnxruntime"), ("onnx", "torch")]
)
def test_runtime_that_cannot_open_the_format(tiny_models, capsys, attr, runtime):
    code = main(["profile", str(getattr(tiny_models, attr)), "--runtime", runtime, *FAST])
    assert code == EXIT_BAD_INPUT
    assert f"{runtime} cannot open" in capsys.readouterr().err


def test_pickle_without_trust_is_bad_input(capsys, tmp_path):
    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps(Evil(), protocol=4))
    code = main(["profile", str(path), "--runtime", "torch", *FAST])
    assert code == EXIT_BAD_INPUT
    assert "Python code" in capsys.readouterr().err
    assert not marker.exists()


def test_pt2_without_trust_is_bad_input(tiny_models, capsys):
    code = main(["profile", str(tiny_models.pt2), "--runtime", "torch", *FAST])
    assert code == EXIT_BAD_INPUT
    assert "--trust-code" in capsys.readouterr().err


def test_bad_policy_and_unknown_run(capsys):
    assert main(["profile", "x.onnx", "--runtime", "onnxruntime", "--runs", "0"]) == EXIT_BAD_INPUT
    assert "run policy" in capsys.readouterr().err
    assert main(["runs", "show", "12345"]) == EXIT_BAD_INPUT
    assert "nothing is stored yet" in capsys.readouterr().err  # and nothing was made
    assert main(["inspect", "demo:digits-cnn"]) == EXIT_OK  # now a store exists
    capsys.readouterr()
    assert main(["runs", "show", "12345"]) == EXIT_BAD_INPUT
    assert "no run with id 12345" in capsys.readouterr().err
    assert main(["runs", "show"]) == EXIT_BAD_INPUT


def test_input_shape_flag_is_validated(tiny_models, capsys):
    code = main(
        [
            "profile",
            str(tiny_models.onnx),
            "--runtime",
            "onnxruntime",
            *FAST,
            "--input-shape",
            "input=1,3,x",
        ]
    )
    assert code == EXIT_BAD_INPUT
    assert "--input-shape" in capsys.readouterr().err


def test_input_shape_flag_is_used(tmp_path, capsys):
    model = relu_model(tmp_path / "seq.onnx", ["N", "seq_len"], name="tokens")
    payload = _profile_json(capsys, str(model), "onnxruntime", "--input-shape", "tokens=3,7")
    assert payload["input_shapes"] == {"tokens": [3, 7]}


def test_symbolic_dim_without_input_shape_exits_bad_input(tmp_path, capsys):
    model = relu_model(tmp_path / "seq.onnx", ["N", "seq_len"], name="tokens")
    code = main(["profile", str(model), "--runtime", "onnxruntime", *FAST, "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False
    assert payload["error"]["error_type"] == "bad_input"
    assert "'tokens'" in payload["error"]["message"]
    assert code == EXIT_BAD_INPUT, code


def test_crashing_agent_exits_run_failed_and_is_stored(tiny_models, capsys, monkeypatch):
    monkeypatch.setenv("EDGEBENCH_ALLOW_FAULTS", "1")
    monkeypatch.setenv("EDGEBENCH_TEST_FAULT", "segfault")
    code = main(["profile", str(tiny_models.onnx), "--runtime", "onnxruntime", *FAST, "--json"])
    captured = capsys.readouterr()
    assert code == EXIT_RUN_FAILED
    payload = json.loads(captured.out)
    assert payload["ok"] is False
    assert payload["error"]["signal"] == "SIGSEGV"
    assert "SIGSEGV" in captured.err
    assert main(["runs", "show", str(payload["run_id"]), "--json"]) == EXIT_OK
    shown = _json(capsys)
    assert shown["status"] == "failed"
    assert shown["error"]["error_type"] == "crashed"
    assert shown["samples_ms"] == []


# ------------------------------------------------------------------------- inspect, demo


def test_inspect_json_shows_symbolic_batch(tiny_models, capsys):
    assert main(["inspect", str(tiny_models.onnx), "--json"]) == EXIT_OK
    info = _json(capsys)
    assert info["format"] == "onnx"
    assert info["inputs"][0]["shape"] == ["batch", 3, 8, 8]
    assert info["macs"]["macs"] == tiny_models.macs
    assert main(["inspect", str(tiny_models.onnx)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "'batch'" in out and "MACs" in out


@pytest.mark.slow
def test_profile_demo_model_on_litert(capsys, edgebench_home):
    payload = _profile_json(capsys, "demo:digits-cnn", "litert")
    assert payload["ok"] is True
    assert payload["model"] == "digits-cnn"
    assert payload["statistics"]["count"] >= 20
    assert payload["input_shapes"] and next(iter(payload["input_shapes"].values()))[-2:] == [8, 8]
    assert payload["output_shapes"] == [[1, 10]]
    from engines.store.db import Store

    with Store(edgebench_home / "results.sqlite") as store:
        run = store.run(payload["run_id"])
        artifact = store.artifact(run.artifact_id)
        assert artifact.format == "tflite"
        assert artifact.step == "export-tflite-fp32"
        parent = store.artifact(artifact.parent_id)
        assert parent.format == "torch-exported-program" and parent.source == "demo"
        parity = artifact.step_settings["parity"]
        assert parity["cosine"] > 0.999
    # the cached demo and its export are reused: a second run trains and exports nothing
    demo_files = sorted(p.name for p in (edgebench_home / "cache" / "demo").iterdir())
    assert any(name.endswith(".pt2") for name in demo_files)
    payload2 = _profile_json(capsys, "demo:digits-cnn", "litert")
    with Store(edgebench_home / "results.sqlite") as store:
        assert store.run(payload2["run_id"]).artifact_id == run.artifact_id


@pytest.mark.slow
@pytest.mark.fresh_demo
def test_inspect_demo_shows_each_training_epoch_as_it_trains(capsys):
    """A fresh store: the demo trains first and says so, epoch by epoch, on stderr."""
    assert main(["inspect", "demo:digits-cnn"]) == EXIT_OK
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    epochs = [line for line in lines if line.startswith("training the demo model: epoch ")]
    assert epochs == [f"training the demo model: epoch {n} of 30" for n in range(1, 31)]
    assert lines.index("starting PyTorch") < lines.index(epochs[0])
    assert lines.index("saving the demo model") > lines.index(epochs[-1])
    assert captured.out.startswith("digits-cnn  [torch-exported-program]")
    # Cached now: the second inspect trains nothing.
    assert main(["inspect", "demo:digits-cnn"]) == EXIT_OK
    assert "training" not in capsys.readouterr().err


def test_input_flags_bind_dims_and_values_and_are_reported(tmp_path, capsys):
    model = tokens_model(tmp_path / "tokens.onnx")
    payload = _profile_json(
        capsys,
        str(model),
        "onnxruntime",
        "--dim",
        "seq=6",
        "--input",
        "scale=0.5",
        "--input",
        "input_ids=range:100:200",
    )
    assert payload["input_shapes"] == {"input_ids": [1, 6], "attention_mask": [1, 6], "scale": []}
    assert payload["input_notes"] == ["attention_mask: all ones (the default for a mask input)"]
    from engines.floor import paths
    from engines.report.repro import input_flags
    from engines.store.db import Store

    with Store(paths.db_path()) as store:
        run = store.run(payload["run_id"])
    assert input_flags(run.spec) == [
        "--dim",
        "seq=6",
        "--input",
        "input_ids=range:100:200",
        "--input",
        "scale=0.5",
    ]


def test_missing_dims_and_unknown_names_are_one_clear_error_each(tmp_path, capsys):
    model = tokens_model(tmp_path / "tokens.onnx")
    code = main(["profile", str(model), "--runtime", "onnxruntime", *FAST, "--json"])
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == EXIT_BAD_INPUT
    assert "2 input dimension(s) have no size" in error["message"]
    assert "--dim seq=N" in error["message"]
    code = main(
        [
            "profile",
            str(model),
            "--runtime",
            "onnxruntime",
            *FAST,
            "--dim",
            "seq=2",
            "--input",
            "sclae=1",
            "--json",
        ]
    )
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == EXIT_BAD_INPUT
    assert "unknown input name: --input 'sclae'" in error["message"]
    assert "input_ids, attention_mask, scale" in error["message"]


def test_an_abbreviated_option_is_refused_not_guessed(tmp_path, capsys):
    model = tokens_model(tmp_path / "tokens.onnx")
    with pytest.raises(SystemExit) as caught:
        main(["profile", str(model), "--runtime", "onnxruntime", "--input-sh", "x=1"])
    assert caught.value.code == 2
    assert "unrecognized arguments: --input-sh" in capsys.readouterr().err


@pytest.mark.slow
def test_a_torchscript_model_with_an_int_argument_profiles_with_flags_alone(tmp_path, capsys):
    import torch

    class Vad(torch.nn.Module):
        def forward(self, x: torch.Tensor, sr: int) -> torch.Tensor:
            print("a model that talks on stdout")
            if sr != 16000 and sr != 8000:
                raise ValueError("sr must be 8000 or 16000")
            return torch.sigmoid(x.mean(dim=-1, keepdim=True)) * (sr / 16000)

    path = tmp_path / "vad.pt"
    torch.jit.script(Vad()).save(str(path))
    assert main(["inspect", str(path), "--trust-code", "--json"]) == EXIT_OK
    info = json.loads(capsys.readouterr().out)
    assert info["forward_schema"] == "forward(x: Tensor, sr: int) -> Tensor"
    assert [(i["name"], i.get("kind", "tensor")) for i in info["inputs"]] == [
        ("x", "tensor"),
        ("sr", "scalar"),
    ]
    payload = _profile_json(
        capsys,
        str(path),
        "torch",
        "--trust-code",
        "--input-shape",
        "x=1,512",
        "--input",
        "sr=16000",
    )
    assert payload["input_shapes"] == {"x": [1, 512], "sr": []}
    assert payload["statistics"]["count"] >= 20
    # Without sr the model's own check fails: exit 3 with the model's message, one line.
    code = main(
        [
            "profile",
            str(path),
            "--runtime",
            "torch",
            *FAST,
            "--trust-code",
            "--input-shape",
            "x=1,512",
            "--json",
        ]
    )
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == EXIT_RUN_FAILED
    assert "sr must be 8000 or 16000" in error["message"]
    # In text mode: one line and a pointer; the trace only with --verbose.
    words = [
        "profile",
        str(path),
        "--runtime",
        "torch",
        *FAST,
        "--trust-code",
        "--input-shape",
        "x=1,512",
    ]
    assert main(words) == EXIT_RUN_FAILED
    quiet = capsys.readouterr().err
    assert "sr must be 8000 or 16000" in quiet and "Traceback" not in quiet
    assert "(the full trace: rerun with --verbose)" in quiet
    assert main(["--verbose", *words]) == EXIT_RUN_FAILED
    assert "Traceback" in capsys.readouterr().err


def test_a_reader_that_goes_away_is_not_a_traceback(tmp_path):
    """`edgebench presets | head -1`: the pipe closes first; exit 0, no BrokenPipeError."""
    import os
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "presets"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "EDGEBENCH_HOME": str(tmp_path)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == EXIT_OK, err
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_a_torchscript_module_that_keeps_state_is_named(tmp_path, capsys):
    import torch

    class Recurrent(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("steps", torch.zeros(1))
            self.h = torch.zeros(1, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.steps += 1
            self.h = torch.tanh(x + self.h)
            return self.h

    path = tmp_path / "recurrent.pt"
    torch.jit.script(Recurrent()).save(str(path))
    assert main(["inspect", str(path), "--trust-code", "--json"]) == EXIT_OK
    info = json.loads(capsys.readouterr().out)
    assert info["keeps_state"] == ["steps", "h"]
    assert "forward changes steps, h on every call" in info["note"]
    payload = _profile_json(capsys, str(path), "torch", "--trust-code", "--input-shape", "x=1,4")
    assert payload["runtime_options"]["keeps_state_between_calls"] == ["steps", "h"]


def test_runs_rerun_replays_the_stored_spec(tiny_models, capsys):
    """`runs rerun ID` runs the stored spec again (threads, policy, inputs, evaluation data)
    as a new run, whatever the defaults are."""
    from engines.floor import paths
    from engines.store.db import Store

    first = _profile_json(capsys, str(tiny_models.onnx), "onnxruntime", "--evaluate", "synthetic:8")
    assert main(["runs", "rerun", str(first["run_id"]), "--json"]) == EXIT_OK
    again = _json(capsys)
    assert again["run_id"] != first["run_id"]
    with Store(paths.db_path()) as store:
        old, new = store.run(first["run_id"]), store.run(again["run_id"])
    for key in ("threads", "policy", "inputs", "runtime", "batch", "measure"):
        assert new.spec[key] == old.spec[key], key
    assert new.spec["threads"] == 1 and new.spec["evaluate"]["source"] == "synthetic:8"
    assert again["evaluation"]["fidelity"]["cosine_mean"] > 0.99


@pytest.mark.slow
def test_a_profile_evaluates_on_what_the_model_knows_unless_told_not_to(capsys):
    """The demo profiles with its own test digits: latency and accuracy in one run."""
    run = _profile_json(capsys, "demo:digits-cnn", "onnxruntime")
    assert run["evaluation"]["classification"]["top1"] > 0.8
    assert run["statistics"]["p50_ms"] > 0
    bare = _profile_json(capsys, "demo:digits-cnn", "onnxruntime", "--no-evaluate")
    assert bare["evaluation"] is None


@pytest.mark.slow
def test_rerun_of_an_exported_torch_model_keeps_its_label_and_its_export(capsys):
    """A demo run on ONNX Runtime ran the cached FP32 export; running it again names the
    demo (same label on History and Compare) and reuses the same export."""
    from engines.floor import paths
    from engines.store.db import Store

    first = _profile_json(capsys, "demo:digits-cnn", "onnxruntime", "--no-evaluate")
    assert main(["runs", "rerun", str(first["run_id"]), "--json"]) == EXIT_OK
    again = _json(capsys)
    with Store(paths.db_path()) as store:
        old, new = store.run(first["run_id"]), store.run(again["run_id"])
    assert new.model_label == old.model_label == "digits-cnn"
    assert new.artifact_id == old.artifact_id  # the same cached export, not a new one


def test_threads_beyond_the_device_are_a_warning_and_absurd_counts_refused(tiny_models, capsys):
    onnx = str(tiny_models.onnx)
    base = ["profile", onnx, "--runtime", "onnxruntime", "--runs", "5", "--min-seconds", "0"]
    assert main([*base, "--threads", "100000", "--no-evaluate"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "100000 threads on local-cpu" in err and "at most" in err
    assert main([*base, "--threads", "8", "--no-evaluate"]) == EXIT_OK
    assert "threads beyond its cores contend" in capsys.readouterr().err


def test_an_input_too_large_for_memory_is_exit_2_before_the_run(tmp_path, capsys):
    """An ONNX input declared [1, 1, 80000, 80000]: the agent refuses it by arithmetic
    (23.84 GiB) instead of growing until the kernel's OOM killer ends it."""
    from support.onnx_models import relu_model

    model = relu_model(tmp_path / "huge.onnx", [1, 1, 80000, 80000], name="image")
    code = main(["profile", str(model), "--runtime", "onnxruntime", "--no-evaluate", *FAST])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT, err
    assert "the inputs need 23.84 GiB" in err and "Traceback" not in err


def test_a_hang_at_load_is_found_within_the_phase_timeout_given(tiny_models, capsys, monkeypatch):
    """`--phase-timeout load=2`: a model that hangs while loading ends the run after ~2 s
    (the default is 60 s plus 120 s per GiB), as a timeout naming the phase."""
    import time

    monkeypatch.setenv("EDGEBENCH_ALLOW_FAULTS", "1")
    monkeypatch.setenv("EDGEBENCH_TEST_FAULT", "hang@load")
    started = time.monotonic()
    code = main(
        ["profile", str(tiny_models.onnx), "--runtime", "onnxruntime", "--no-evaluate",
         "--phase-timeout", "load=2", *FAST]
    )  # fmt: skip
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == EXIT_RUN_FAILED, err
    assert "during load (budget 2 s)" in err, err
    assert elapsed < 45  # the default load budget alone is 60 s
    assert main(["profile", "x.onnx", "--runtime", "onnxruntime", "--phase-timeout", "lod=2"]) == 2
    assert "unknown phase 'lod'" in capsys.readouterr().err


def test_the_agent_runs_under_a_memory_cap_by_default(tiny_models, capsys, monkeypatch):
    """No flag: the agent still has a cap (here EDGEBENCH_MEMORY_LIMIT_GIB=1.5; without it,
    80% of the machine's memory). A model that allocates without end gets a MemoryError,
    said as "ran out of memory … (limit …)", not the kernel's OOM killer."""
    monkeypatch.setenv("EDGEBENCH_MEMORY_LIMIT_GIB", "1.5")
    monkeypatch.setenv("EDGEBENCH_ALLOW_FAULTS", "1")
    monkeypatch.setenv("EDGEBENCH_TEST_FAULT", "oom@load")
    base = ["profile", str(tiny_models.onnx), "--runtime", "onnxruntime", "--no-evaluate", *FAST]
    assert main(base) == EXIT_RUN_FAILED
    err = capsys.readouterr().err
    assert "ran out of memory during load (limit 1.50 GiB; set it with --memory-limit" in err
    assert main([*base, "--memory-limit", "1"]) == EXIT_RUN_FAILED  # the flag wins
    assert "(limit 1.00 GiB;" in capsys.readouterr().err
