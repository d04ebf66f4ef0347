"""`edgebench devices ...` and `--device` on profile, evaluate and sweep, against a real
OpenSSH server on 127.0.0.1 (tests/support/sshd.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from engines.floor.errors import EXIT_BAD_INPUT, EXIT_OK

pytestmark = pytest.mark.skipif(
    not os.environ.get("CI") and (not shutil.which("ssh") or not Path("/usr/sbin/sshd").exists()),
    reason="needs OpenSSH (client and server); .ci/run installs them and CI never skips",
)
FAST = ["--runs", "20", "--min-seconds", "0.1"]


@pytest.fixture
def pi(ssh_server, tmp_path, capsys):
    """A device named like a user's board, added through the CLI, pointing at the sshd."""
    import getpass

    code = main(
        [
            "devices",
            "add",
            "pi5",
            "--host",
            "127.0.0.1",
            "--port",
            str(ssh_server.port),
            "--user",
            getpass.getuser(),
            "--identity-file",
            str(ssh_server.client_key),
            "--python",
            sys.executable,
            "--cache-dir",
            str(tmp_path / "pi cache"),
            "--notes",
            "Raspberry Pi 5 on the bench",
        ]
    )
    assert code == EXIT_OK, capsys.readouterr().err
    capsys.readouterr()
    from engines.devices.ssh import SshDevice
    from profiles.devices import get_device

    device = SshDevice(get_device("pi5"))
    yield "pi5"
    device.close()  # the shared connection the commands left open


def _fingerprint(ssh_server) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-lf", f"{ssh_server.host_key}.pub"], capture_output=True, text=True
    )
    return out.stdout.split()[1]


def test_add_list_and_remove(pi, capsys, edgebench_home):
    assert main(["devices", "list", "--json"]) == EXIT_OK
    listed = json.loads(capsys.readouterr().out)
    assert {"local-cpu", "local-cuda", "pi5"} <= set(listed)
    assert listed["pi5"]["connection"]["host"] == "127.0.0.1"
    assert listed["local-cpu"]["builtin"] is True
    assert (edgebench_home / "config" / "devices" / "pi5.toml").is_file()
    assert main(["devices", "add", "pi5", "--host", "other"]) == EXIT_BAD_INPUT
    assert "exists already" in capsys.readouterr().err
    assert main(["devices", "remove", "local-cpu"]) == EXIT_BAD_INPUT
    assert main(["devices", "remove", "pi5"]) == EXIT_OK
    assert not (edgebench_home / "config" / "devices" / "pi5.toml").exists()


def test_bad_device_settings_are_named(capsys):
    assert main(["devices", "add", "x y", "--host", "h"]) == EXIT_BAD_INPUT
    assert "name 'x y'" in capsys.readouterr().err
    assert (
        main(["devices", "add", "evil", "--host", "-oProxyCommand=touch pwned"]) == EXIT_BAD_INPUT
    )
    assert "is not a host name" in capsys.readouterr().err
    assert main(["devices", "add", "p", "--host", "h", "--runtimes", "tensorrt"]) == EXIT_BAD_INPUT
    assert "unknown runtime 'tensorrt'" in capsys.readouterr().err
    assert main(["profile", "m.onnx", "--runtime", "onnxruntime", "--device", "nope"]) == 2
    assert "unknown device 'nope'" in capsys.readouterr().err


def test_unknown_host_is_refused_until_trusted_by_fingerprint(pi, ssh_server, capsys):
    assert main(["devices", "info", "pi5"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert _fingerprint(ssh_server) in err and "edgebench devices trust pi5" in err
    assert main(["devices", "trust", "pi5", "--fingerprint", "SHA256:wrong"]) == EXIT_BAD_INPUT
    assert main(["devices", "trust", "pi5"]) != EXIT_OK  # no terminal: nothing stored
    assert main(["devices", "info", "pi5"]) == EXIT_BAD_INPUT
    capsys.readouterr()
    assert main(["devices", "trust", "pi5", "--fingerprint", _fingerprint(ssh_server)]) == 0
    assert "the fingerprint matches" in capsys.readouterr().out
    assert main(["devices", "info", "pi5", "--json"]) == EXIT_OK
    info = json.loads(capsys.readouterr().out)
    assert info["device"] == "pi5" and info["modules"]["onnxruntime"]


@pytest.mark.slow
def test_test_info_profile_evaluate_and_sweep_on_the_device(
    pi, ssh_server, tiny_models, capsys, edgebench_home
):
    assert main(["devices", "trust", "pi5", "--fingerprint", _fingerprint(ssh_server)]) == 0
    capsys.readouterr()
    assert main(["devices", "test", "pi5"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "pi5 is ready" in out and "onnxruntime" in out

    model = str(tiny_models.onnx)
    assert (
        main(["profile", model, "--runtime", "onnxruntime", *FAST, "--device", "pi5", "--json"])
        == EXIT_OK
    )
    remote = json.loads(capsys.readouterr().out)
    assert remote["device"] == "pi5" and remote["statistics"]["count"] >= 20

    assert main(["evaluate", model, "--data", "synthetic:8", "--device", "pi5", "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["device"] == "pi5"
    assert evaluated["evaluation"]["fidelity"]["cosine_mean"] == pytest.approx(1.0, abs=1e-5)

    assert main(["sweep", model, "--presets", "fp32", *FAST, "--device", "local-cpu,pi5"]) == 0
    table = capsys.readouterr().out
    assert "vs local-cpu" in table
    lines = [ln for ln in table.splitlines() if ln.startswith("fp32")]
    assert [ln.split()[2] for ln in lines] == ["local-cpu", "pi5"]
    assert lines[0].split()[5] == "1.00x"

    assert main(["runs", "list", "--json"]) == EXIT_OK
    runs = json.loads(capsys.readouterr().out)
    assert {r["device"] for r in runs} == {"pi5", "local-cpu"}


def test_local_cuda_says_clearly_when_cuda_is_missing(tiny_models, capsys):
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None:
        pytest.fail("onnxruntime is a dependency")
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine has CUDA: the local-cuda run is covered by the device check")
    code = main(
        [
            "profile",
            str(tiny_models.onnx),
            "--runtime",
            "onnxruntime",
            *FAST,
            "--device",
            "local-cuda",
        ]
    )
    assert code == EXIT_BAD_INPUT
    assert "CUDA requested for onnxruntime, but it is unavailable" in capsys.readouterr().err


def test_devices_test_local_cuda_is_ready_only_with_a_gpu_runtime(capsys):
    """The setup check of local-cuda asks every runtime whether it can use CUDA here."""
    from engines.runtimes.registry import all_runtimes

    usable = [
        rt.name
        for rt in all_runtimes()
        if rt.available().ok and rt.accelerators().get("cuda", "").startswith("available")
    ]
    code = main(["devices", "test", "local-cuda", "--json"])
    report = json.loads(capsys.readouterr().out)
    cuda = next(c for c in report["checks"] if c["what"] == "cuda")
    assert cuda["ok"] is bool(usable)
    assert report["ready"] is bool(usable) and (code == EXIT_OK) is bool(usable)
    if not usable:
        assert "onnxruntime: unavailable" in cuda["detail"]
        assert "NVIDIA GPU" in cuda["fix"]
