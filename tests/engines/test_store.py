"""The results store: round trips, raw samples, migrations, newer schemas, crash safety."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engines.floor.errors import BadInput
from engines.store.db import NewerSchema, Store
from engines.store.migrations import LATEST, MIGRATIONS

ROOT = Path(__file__).resolve().parents[2]

RESULT = {
    "type": "result",
    "load_ms": 1.5,
    "first_ms": 0.7,
    "statistics": {"count": 3, "p50_ms": 2.0, "warnings": ["few samples"]},
    "memory": {"peak_rss_bytes": 123456, "rss_before_load_bytes": 100000},
    "environment": {"cpu_model": "Test CPU", "threads": 2},
    "runtime_options": {"providers": ["CPUExecutionProvider"]},
}


def _artifact(store: Store, sha: str = "ab" * 32, **extra):
    fields = dict(
        sha256=sha, name="tiny", format="onnx", path="/x/tiny.onnx", size_bytes=10, source="file"
    )
    fields.update(extra)
    return store.add_artifact(**fields)


def test_fresh_database_is_at_latest_schema(tmp_path):
    with Store(tmp_path / "new.sqlite") as store:
        assert store.schema_version == LATEST == len(MIGRATIONS)
        assert store.integrity_ok()
        mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_artifact_round_trip_and_dedup(store):
    art = _artifact(
        store,
        inspection={"inputs": [{"name": "x", "shape": ["batch", 3]}]},
        step_settings={"precision": "fp32"},
    )
    assert art.id > 0
    assert art.inspection == {"inputs": [{"name": "x", "shape": ["batch", 3]}]}
    assert art.step_settings == {"precision": "fp32"}
    assert store.artifact(art.id) == art
    assert store.artifact_by_sha("ab" * 32) == art
    assert store.artifact_by_sha("cd" * 32) is None
    again = _artifact(store, name="other name")
    assert again.id == art.id and again.name == "tiny"
    with pytest.raises(BadInput):
        store.artifact(art.id + 100)


def test_artifact_lineage(store):
    parent = _artifact(store)
    child = _artifact(store, sha="ef" * 32, parent_id=parent.id, step="export-onnx-fp32")
    assert store.children(parent.id) == [child]
    assert store.child_by_step(parent.id, "export-onnx-fp32") == child
    assert store.child_by_step(parent.id, "quantize") is None


def test_run_round_trip(store):
    art = _artifact(store)
    spec = {"runtime": "onnxruntime", "policy": {"min_runs": 3}}
    samples = [3.25, 1.0, 2.5, 0.125, 9.0]  # insertion order, deliberately unsorted
    trace = [(0.0, 1000), (0.1, 2000), (0.2, 1500)]
    run_id = store.add_run(
        artifact_id=art.id,
        model_label="tiny",
        runtime="onnxruntime",
        device="local",
        spec=spec,
        result=RESULT,
        samples_ms=samples,
        memory_trace=trace,
    )
    run = store.run(run_id)
    assert run.status == "ok"
    assert run.artifact_id == art.id
    assert run.spec == spec
    assert run.statistics == RESULT["statistics"]
    assert run.memory == RESULT["memory"]
    assert run.environment == RESULT["environment"]
    assert run.result["load_ms"] == 1.5 and run.result["first_ms"] == 0.7
    assert "statistics" not in run.result and "memory" not in run.result
    assert run.error is None
    assert store.samples(run_id) == samples
    assert store.memory_trace(run_id) == trace
    assert run.created_at.endswith("Z")


def test_failed_and_cancelled_runs(store):
    error = {"type": "error", "error_type": "crashed", "phase": "load", "signal": "SIGSEGV"}
    failed = store.add_run(
        artifact_id=None, model_label="m", runtime="litert", device="local", spec={}, error=error
    )
    cancelled = store.add_run(
        artifact_id=None,
        model_label="m",
        runtime="litert",
        device="local",
        spec={},
        error={"error_type": "cancelled"},
        status="cancelled",
    )
    assert store.run(failed).status == "failed"
    assert store.run(failed).error == error
    assert store.run(failed).statistics is None
    assert store.run(cancelled).status == "cancelled"
    with pytest.raises(sqlite3.IntegrityError):
        store.add_run(
            artifact_id=None, model_label="m", runtime="x", device="local", spec={}, status="bogus"
        )


def test_runs_listing_filters_and_order(store):
    ids = [
        store.add_run(
            artifact_id=None,
            model_label=label,
            runtime=rt,
            device="local",
            spec={},
            result=RESULT,
            samples_ms=[1.0],
        )
        for label, rt in [
            ("resnet18", "onnxruntime"),
            ("resnet18", "litert"),
            ("digits", "onnxruntime"),
        ]
    ]
    assert [r.id for r in store.runs()] == ids[::-1]
    assert [r.id for r in store.runs(runtime="onnxruntime")] == [ids[2], ids[0]]
    assert [r.id for r in store.runs(model="resnet")] == [ids[1], ids[0]]
    assert [r.id for r in store.runs(limit=1)] == [ids[2]]


def test_many_samples_kept_in_order(store):
    samples = [((i * 7919) % 1000) / 10.0 for i in range(5000)]
    run_id = store.add_run(
        artifact_id=None,
        model_label="m",
        runtime="onnxruntime",
        device="local",
        spec={},
        result=RESULT,
        samples_ms=samples,
    )
    assert store.samples(run_id) == samples


def test_delete_run_cascades(store):
    run_id = store.add_run(
        artifact_id=None,
        model_label="m",
        runtime="onnxruntime",
        device="local",
        spec={},
        result=RESULT,
        samples_ms=[1.0, 2.0],
        memory_trace=[(0.0, 1)],
    )
    store.delete_run(run_id)
    with pytest.raises(BadInput):
        store.run(run_id)
    assert store.samples(run_id) == []
    assert store.memory_trace(run_id) == []


def _run(store) -> int:
    return store.add_run(
        artifact_id=None,
        model_label="m",
        runtime="onnxruntime",
        device="local",
        spec={},
        result=RESULT,
    )


def test_a_deleted_runs_id_is_never_given_out_again(store, tmp_path):
    """An old report's "run 2" must never name a new measurement."""
    first, second = _run(store), _run(store)
    store.delete_run(second)
    third = _run(store)
    assert third == second + 1
    store.delete_run(third)
    store.delete_run(first)  # the table is empty now
    assert _run(store) == third + 1
    # the high-water mark survives reopening the store
    with Store(store.path) as again:
        assert _run(again) == third + 2


def test_failed_write_rolls_back(store):
    # the second insert breaks the status CHECK: the first must be rolled back with it
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as db:
        db.execute(
            "INSERT INTO runs (model_label, runtime, device, status, spec_json)"
            " VALUES ('m', 'r', 'local', 'ok', '{}')"
        )
        db.execute(
            "INSERT INTO runs (model_label, runtime, device, status, spec_json)"
            " VALUES ('m', 'r', 'local', 'nope', '{}')"
        )
    assert store.runs() == []


def test_reopen_keeps_data(tmp_path):
    path = tmp_path / "keep.sqlite"
    with Store(path) as store:
        run_id = store.add_run(
            artifact_id=None,
            model_label="m",
            runtime="litert",
            device="local",
            spec={"a": 1},
            result=RESULT,
            samples_ms=[4.0, 2.0],
        )
    with Store(path) as store:
        assert store.run(run_id).spec == {"a": 1}
        assert store.samples(run_id) == [4.0, 2.0]


# ------------------------------------------------------------------------- migrations


def _version_1_database(path: Path) -> int:
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO artifacts (sha256, name, format, path, size_bytes, source)"
        " VALUES ('aa', 'old', 'onnx', '/old.onnx', 5, 'file')"
    )
    cur = db.execute(
        "INSERT INTO runs (artifact_id, model_label, runtime, device, status, spec_json,"
        " statistics_json) VALUES (1, 'old', 'onnxruntime', 'local', 'ok', ?, ?)",
        (json.dumps({"runtime": "onnxruntime"}), json.dumps({"count": 2, "p50_ms": 1.5})),
    )
    run_id = cur.lastrowid
    db.executemany(
        "INSERT INTO samples (run_id, idx, latency_ms) VALUES (?,?,?)",
        [(run_id, 0, 1.5), (run_id, 1, 1.25)],
    )
    db.commit()
    db.close()
    return run_id


def test_migration_from_version_1_keeps_runs(tmp_path):
    path = tmp_path / "v1.sqlite"
    run_id = _version_1_database(path)
    with Store(path) as store:
        assert store.schema_version == LATEST
        run = store.run(run_id)
        assert run.model_label == "old"
        assert run.statistics == {"count": 2, "p50_ms": 1.5}
        assert store.samples(run_id) == [1.5, 1.25]
        assert store.artifact(1).name == "old"
        # version 3: an old artifact's model-file hash is its identity, with no data files
        assert store.artifact(1).file_sha256 == "aa"
        assert store.artifact(1).data_files == ()
        assert [a.id for a in store.artifacts_by_file_sha("aa")] == [1]
        # the version-2 table exists and works on the migrated database
        assert store.memory_trace(run_id) == []
        new_id = store.add_run(
            artifact_id=1,
            model_label="new",
            runtime="litert",
            device="local",
            spec={},
            result=RESULT,
            memory_trace=[(0.0, 42)],
        )
        assert store.memory_trace(new_id) == [(0.0, 42)]
        assert new_id == run_id + 1  # version 4 starts its id high-water mark at the old max
        assert store.integrity_ok()
        indexes = {
            r[0] for r in store._db.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }
        assert {"memory_samples_run", "runs_created", "runs_artifact"} <= indexes


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE future (x)")
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(NewerSchema) as err:
        Store(path)
    assert isinstance(err.value, BadInput)
    assert "99" in err.value.message and str(LATEST) in err.value.message
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 99  # untouched
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "runs" not in tables
    finally:
        db.close()


# ------------------------------------------------------------------------- crash safety

WRITER = textwrap.dedent(
    """
    import sys
    from engines.store.db import Store

    store = Store(sys.argv[1])
    i = 0
    while True:
        samples = [float(i * 1000 + k) for k in range(200)]
        run_id = store.add_run(artifact_id=None, model_label=f"run-{i}", runtime="onnxruntime",
                               device="local", spec={"i": i},
                               result={"statistics": {"count": 200}, "memory": {},
                                       "environment": {}},
                               samples_ms=samples, memory_trace=[(0.0, i)])
        print(run_id, i, flush=True)
        i += 1
    """
)


def test_kill_9_mid_write_loses_no_committed_run(tmp_path):
    path = tmp_path / "crash.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    committed: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while len(committed) < 40 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            run_id, i = map(int, line.split())
            committed[run_id] = i
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert len(committed) >= 40, "the writer did not get going"
    with Store(path) as store:
        assert store.integrity_ok()
        for run_id, i in committed.items():
            run = store.run(run_id)
            assert run.model_label == f"run-{i}" and run.spec == {"i": i}
            assert store.samples(run_id) == [float(i * 1000 + k) for k in range(200)]
        # whatever else got in is complete too: no run without its 200 samples
        for run in store.runs(limit=10_000):
            assert len(store.samples(run.id)) == 200


def test_newer_database_is_left_untouched(tmp_path):
    """Refusing a newer schema must not switch it to WAL or leave files behind."""
    import sqlite3

    from engines.store.db import NewerSchema, Store

    path = tmp_path / "newer.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(NewerSchema):
        Store(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    db.close()
    assert not (tmp_path / "newer.sqlite-wal").exists()
