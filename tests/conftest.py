"""Shared fixtures: an isolated data dir per test, tiny real models built once per session,
and a guard that fails any test leaving a child process or a non-daemon thread behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:  # make tests/support importable from every test folder
    sys.path.insert(0, str(TESTS))

BUILD_SCRIPT = TESTS / "support" / "build_tiny_models.py"
#: How long leftover children/threads get to finish after a test (the guard's own test
#: shortens it).
SETTLE_S = float(os.environ.get("EDGEBENCH_TEST_SETTLE_S", "3.0"))

# Deterministic (derandomized) and without per-example deadlines: several properties
# touch the file system, and strict xfails must not depend on a lucky seed.
settings.register_profile(
    "edgebench",
    deadline=None,
    derandomize=True,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("edgebench")

ENV_VARS_TO_CLEAR = ("EDGEBENCH_DB", "EDGEBENCH_ALLOW_FAULTS", "EDGEBENCH_TEST_FAULT")


@pytest.fixture(scope="session")
def trained_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model trained once per test session (per xdist worker), in a home of its
    own: its cache folder is copied into each test's home, so `demo:digits-cnn` costs a
    test an import, not a training run. Tests of the training itself opt out with the
    `fresh_demo` marker."""
    home = tmp_path_factory.mktemp("trained-demo-home")
    script = (
        "from engines.floor import paths\n"
        "from engines.models.refs import resolve\n"
        "from engines.store.db import Store\n"
        "with Store(paths.db_path()) as store:\n"
        "    resolve('demo:digits-cnn', store)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS_TO_CLEAR}
    env["EDGEBENCH_HOME"] = str(home)
    subprocess.run([sys.executable, "-c", script], env=env, check=True, cwd=ROOT, timeout=600)
    return home / "cache" / "demo"


@pytest.fixture(autouse=True)
def edgebench_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path:
    """EDGEBENCH_HOME in a fresh temp dir (with the session's trained demo in its cache);
    EDGEBENCH_DB (and the fault switches) unset.

    Each variable is set before being deleted so monkeypatch records it and restores the
    "unset" state at teardown even if the code under test writes it (the CLI's --db does).
    """
    # Beside the test's tmp_path, not in it: tests list their tmp_path's contents.
    home = tmp_path.with_name(tmp_path.name + "-edgebench-home")
    wanted = os.environ.get("EDGEBENCH_TEST_TRAINED_DEMO", "1") != "0"
    if wanted and request.node.get_closest_marker("fresh_demo") is None:
        demo = request.getfixturevalue("trained_demo")
        shutil.copytree(demo, home / "cache" / "demo")
    monkeypatch.setenv("EDGEBENCH_HOME", str(home))
    for name in ENV_VARS_TO_CLEAR:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return home


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _describe(proc: psutil.Process) -> str:
    try:
        return f"pid {proc.pid}: {' '.join(proc.cmdline())[:200]}"
    except psutil.Error:
        return f"pid {proc.pid}"


@pytest.fixture(autouse=True)
def no_leftover_children_or_threads():
    """Fail the test if it leaves a running child process or an extra non-daemon thread."""
    me = psutil.Process()
    children_before = {p.pid for p in me.children(recursive=True)}
    threads_before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + SETTLE_S
    while True:
        children = [
            p for p in me.children(recursive=True) if p.pid not in children_before and _running(p)
        ]
        threads = [
            t
            for t in threading.enumerate()
            if t.is_alive() and not t.daemon and t.ident not in threads_before
        ]
        if not children and not threads:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    described = [_describe(p) for p in children]
    for proc in children:  # ours, by pid: keep later tests clean
        try:
            proc.kill()
        except psutil.Error:
            pass
    pytest.fail(
        "test left work running after it ended: "
        f"child processes {described or 'none'}; "
        f"non-daemon threads {[t.name for t in threads] or 'none'}"
    )


@dataclass(frozen=True)
class TinyModels:
    """The same tiny CNN in every format (see tests/support/build_tiny_models.py)."""

    dir: Path
    onnx: Path
    tflite: Path
    pt2: Path
    torchscript: Path
    state_dict: Path
    #: Hand-computed: conv 4*8*8 * 3*3*3 = 6912, linear 10 * 256 = 2560.
    macs: int = 9472
    #: 4*3*3*3 + 4 + 10*256 + 10
    parameters: int = 2682


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    out = tmp_path_factory.mktemp("tiny-models")
    proc = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        pytest.fail(f"building the tiny models failed:\n{proc.stderr[-4000:]}")
    models = TinyModels(
        dir=out,
        onnx=out / "tiny.onnx",
        tflite=out / "tiny.tflite",
        pt2=out / "tiny.pt2",
        torchscript=out / "tiny_script.pt",
        state_dict=out / "tiny_state_dict.pt",
    )
    for path in (models.onnx, models.tflite, models.pt2, models.torchscript, models.state_dict):
        assert path.is_file() and path.stat().st_size > 0, path
    return models


@pytest.fixture
def store(tmp_path: Path):
    from engines.store.db import Store

    with Store(tmp_path / "store.sqlite") as s:
        yield s


@pytest.fixture(scope="session")
def ssh_server(tmp_path_factory: pytest.TempPathFactory):
    """A real sshd on 127.0.0.1 with temporary host and client keys (tests/support/sshd.py)."""
    from support.sshd import SshServer

    server = SshServer.create(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()
