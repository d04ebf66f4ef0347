"""The suite's own guards can fail: run a throwaway suite with a copy of our conftest."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent

THROWAWAY = textwrap.dedent(
    """
    import os
    import subprocess
    import threading
    import time


    def test_clean():
        pass


    def test_environment_is_isolated():
        assert os.environ["EDGEBENCH_HOME"].endswith("edgebench-home")
        assert "EDGEBENCH_DB" not in os.environ
        assert "EDGEBENCH_ALLOW_FAULTS" not in os.environ


    def test_leaks_a_child_process():
        subprocess.Popen([os.sys.executable, "-c", "import time; time.sleep(60)"])


    def test_leaks_a_thread():
        threading.Thread(target=time.sleep, args=(2.5,), name="leaky").start()


    def test_child_that_finishes_in_time_is_fine():
        subprocess.Popen([os.sys.executable, "-c", "import time; time.sleep(0.3)"])
    """
)


def test_leak_guard_reports_children_and_threads(tmp_path):
    suite = tmp_path / "suite"
    (suite / "support").mkdir(parents=True)
    shutil.copy(TESTS / "conftest.py", suite / "conftest.py")
    (suite / "test_throwaway.py").write_text(THROWAWAY)
    env_home = tmp_path / "outer"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(suite)],
        cwd=suite,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(env_home),
            "EDGEBENCH_DB": "/nonexistent",
            "EDGEBENCH_TEST_SETTLE_S": "1.5",
            "EDGEBENCH_TEST_TRAINED_DEMO": "0",  # its throwaway tests never load the demo
        },
    )
    out = proc.stdout
    assert "5 passed" in out, out[-3000:]
    assert "2 errors" in out, out[-3000:]
    assert "ERROR at teardown of test_leaks_a_child_process" in out
    assert "ERROR at teardown of test_leaks_a_thread" in out
    assert "child processes ['pid" in out
    assert "non-daemon threads ['leaky']" in out
