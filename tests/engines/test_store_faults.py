"""A store that fails safe, with real files: damaged bytes, an empty file, a read-only
file (as an unprivileged user), a full disk (a file-size limit), and eight processes
opening a fresh store at once. Each case is a clear error with an exit code and no
traceback, the damaged file is never written to, and nothing measured is lost."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engines.store.db import Store
from engines.store.errors import StoreCorrupt, StoreMissing, StoreReadOnly
from engines.store.migrations import LATEST

ROOT = Path(__file__).resolve().parents[2]
RESULT = {
    "type": "result",
    "statistics": {"count": 3, "p50_ms": 2.0},
    "memory": {"peak_rss_bytes": 1},
    "environment": {"cpu_model": "Test CPU"},
}
FAST = ["--runs", "20", "--min-seconds", "0.1", "--threads", "1", "--no-evaluate"]


def _filled(path: Path, runs: int = 30) -> Path:
    with Store(path) as store:
        artifact = store.add_artifact(
            sha256="ab" * 32, name="tiny", format="onnx", path="/x", size_bytes=1, source="file"
        )
        for i in range(runs):
            store.add_run(
                artifact_id=artifact.id,
                model_label=f"tiny-{i}",
                runtime="onnxruntime",
                device="local-cpu",
                spec={"i": i, "pad": "x" * 3000},  # a few pages per run
                result=RESULT,
                samples_ms=[1.0 + i] * 50,
            )
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(*args: str, home: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDGEBENCH_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    env.pop("EDGEBENCH_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,  # type: ignore[arg-type]
    )


def _damage(path: Path, pages: range = range(20, 22)) -> None:
    """Overwrite whole pages past the schema (the header stays: SQLite opens the file)."""
    data = bytearray(path.read_bytes())
    page = 4096
    for number in pages:
        start = number * page
        data[start : start + page] = os.urandom(page)
    path.write_bytes(bytes(data))


def test_a_damaged_database_is_refused_and_never_written_to(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db = _filled(home / "results.sqlite")
    _damage(db)
    before = _sha(db)
    with pytest.raises(StoreCorrupt, match="is damaged"):
        Store(db)
    profile = ["profile", "demo:digits-cnn", "--runtime", "onnxruntime", *FAST]
    for command in (["runs", "list"], profile):
        done = _cli(*command, home=home)
        assert done.returncode == 2, (command, done.stderr)
        assert "is damaged" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert _sha(db) == before and not (home / "results.sqlite-wal").exists()

    check = _cli("store", "check", home=home)
    assert check.returncode == 2 and "DAMAGED" in check.stdout, check.stdout
    backup = _cli("store", "backup", str(tmp_path / "copy.sqlite"), home=home)
    assert backup.returncode == 0 and (tmp_path / "copy.sqlite").is_file(), backup.stderr
    recover = _cli("store", "recover", home=home)
    assert recover.returncode == 0, recover.stderr
    (damaged,) = [p for p in home.glob("results.sqlite.damaged-*") if p.name[-4:].isdigit()]
    assert _sha(damaged) == before
    with Store(db) as store:  # healthy again, with what could be read
        kept = store.runs(limit=100)
        assert 0 < len(kept) < 30  # what the damaged pages held is gone, the rest is back
        assert store.check() == ["ok"]
        assert all(len(store.samples(run.id)) == 50 for run in kept)
    assert f"runs: {len(kept)} rows, {30 - len(kept)} unreadable" in recover.stdout
    assert _cli("runs", "list", home=home).returncode == 0


def test_an_empty_file_is_not_silently_replaced(tmp_path: Path) -> None:
    db = tmp_path / "results.sqlite"
    db.write_bytes(b"")
    with pytest.raises(StoreCorrupt, match="empty"):
        Store(db)
    assert db.stat().st_size == 0
    done = _cli("runs", "list", home=tmp_path)
    assert done.returncode == 2 and "is empty (0 bytes)" in done.stderr, done.stderr


def test_commands_that_only_read_create_nothing(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    done = _cli("runs", "list", home=home)
    assert done.returncode == 0 and "no runs yet" in done.stdout, done.stderr
    assert not home.exists()
    shown = _cli("runs", "show", "1", home=home)
    assert shown.returncode == 2 and "nothing is stored yet" in shown.stderr
    assert not home.exists()
    with pytest.raises(StoreMissing):
        Store(home / "results.sqlite", create=False)


def _as_nobody() -> list[str]:
    """argv prefix that runs a command as an unprivileged user (root ignores file modes)."""
    if os.getuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only file cannot be made")
    prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import app.cli"], cwd=ROOT, capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip("an unprivileged user cannot run this checkout's Python here")
    return prefix


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary folder an unprivileged user can reach (pytest's is root's own, 0700)."""
    path = Path(tempfile.mkdtemp(prefix="edgebench-ro-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    for folder in (path, *path.rglob("*")):
        if folder.is_dir():
            folder.chmod(0o755)
    shutil.rmtree(path)


def test_a_read_only_store_is_read_and_refuses_writes_before_measuring(
    open_tmp: Path, tiny_models: object
) -> None:
    tmp_path = open_tmp
    home = tmp_path / "home"
    home.mkdir()
    db = _filled(home / "results.sqlite", runs=3)
    model = tmp_path / "tiny.onnx"
    shutil.copy(tiny_models.onnx, model)  # type: ignore[attr-defined]
    db.chmod(0o444)
    home.chmod(0o555)
    before = _sha(db)
    env = {
        **os.environ,
        "EDGEBENCH_HOME": str(home),
        "HOME": str(tmp_path),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("EDGEBENCH_DB", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_as_nobody(), sys.executable, "-m", "app.cli", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    try:
        listed = run("runs", "list")
        assert listed.returncode == 0, listed.stderr
        assert "tiny-2" in listed.stdout
        profiled = run("profile", str(model), "--runtime", "onnxruntime", *FAST)
        assert profiled.returncode == 2, profiled.stderr
        assert "read-only" in profiled.stderr and "Traceback" not in profiled.stderr
        assert "measure" not in profiled.stderr  # refused before anything ran
    finally:
        home.chmod(0o755)
        db.chmod(0o644)
    assert _sha(db) == before
    with Store(db) as store:
        assert store.writable and len(store.runs()) == 3  # nothing added, nothing lost


def test_a_full_disk_keeps_the_measured_run_and_stores_it_next_time(
    tmp_path: Path, tiny_models: object
) -> None:
    """RLIMIT_FSIZE stands in for a full disk: SQLite gets EFBIG (SQLITE_FULL) when the
    run is written. The run is kept in the pending folder and stored on the next open."""
    home = tmp_path / "home"
    model = tmp_path / "tiny.onnx"
    shutil.copy(tiny_models.onnx, model)  # type: ignore[attr-defined]
    imported = _cli("inspect", str(model), home=home)  # the model is in the store already
    assert imported.returncode == 0, imported.stderr
    db = home / "results.sqlite"
    with Store(db) as store:
        runs_before = len(store.runs())
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    limit = db.stat().st_size  # the database may not grow, nor may its WAL beyond this

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = _cli(
        "profile",
        str(model),
        "--runtime",
        "onnxruntime",
        *FAST,
        home=home,
        preexec_fn=small_disk,
    )
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "full" in done.stderr and "Traceback" not in done.stderr, done.stderr
    pending = list((home / "results.sqlite.pending").glob("run-*.json.gz"))
    assert len(pending) == 1 and "kept in" in done.stderr
    kept = json.loads(gzip.decompress(pending[0].read_bytes()))
    assert kept["status"] == "ok" and len(kept["samples_ms"]) >= 20

    listed = _cli("runs", "list", "--json", home=home)  # the next start stores it
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == runs_before + 1
    assert not list((home / "results.sqlite.pending").glob("run-*.json.gz"))
    with Store(db) as store:
        newest = store.runs(limit=1)[0]
        assert store.samples(newest.id) == kept["samples_ms"]


def test_eight_processes_opening_a_fresh_store_at_once_all_succeed(tmp_path: Path) -> None:
    db = tmp_path / "fresh.sqlite"
    script = (
        "import sys; from engines.store.db import Store\n"
        "with Store(sys.argv[1]) as s:\n"
        "    s.runs(); print(s.schema_version)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(db)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    outcomes = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [o[0] for o in outcomes] == [0] * 8, [o[2][-300:] for o in outcomes]
    assert {o[1].strip() for o in outcomes} == {str(LATEST)}
    assert not list(tmp_path.glob(".fresh.sqlite.new-*"))  # no temporary file left


def test_read_only_open_refuses_a_write_with_a_typed_error(tmp_path: Path) -> None:
    db = _filled(tmp_path / "r.sqlite", runs=1)
    with Store(db) as store:
        store.writable = False  # as for a file this process may not write
        with pytest.raises(StoreReadOnly):
            store.delete_run(1)
