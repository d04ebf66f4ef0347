"""SSH devices against a real OpenSSH server on 127.0.0.1 (started by the fixtures).

The device profile's Python is this project's venv, so the agent that runs "on the
device" is the uploaded bundle, reached only through ssh.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from engines.devices.host_keys import (
    ChangedHostKey,
    UnknownHostKey,
    accept,
    known_hosts_file,
    scan,
)
from engines.devices.ssh import SshDevice
from engines.floor.errors import BadInput
from engines.floor.events import parse_event
from engines.floor.spec import RunPolicy
from engines.pipeline.profile import ProfileRequest, profile

pytestmark = pytest.mark.skipif(
    not os.environ.get("CI") and (not shutil.which("ssh") or not Path("/usr/sbin/sshd").exists()),
    reason="needs OpenSSH (client and server); .ci/run installs them and CI never skips",
)

FAST = RunPolicy(warmup_runs=2, warmup_min_s=0.05, min_runs=30, min_s=0.2, max_s=30)


def _trusted(server, tmp_path: Path, cache: str = "remote cache", **overrides) -> SshDevice:
    device = SshDevice(server.profile(tmp_path / cache, **overrides))
    accept(scan(device.connection))
    return device


@pytest.fixture
def device(ssh_server, tmp_path):
    device = _trusted(ssh_server, tmp_path)
    yield device
    device.close()


def _drive(events):
    out = []
    for event in events:
        if event["type"] not in ("spec", "stored", "progress") or event.get("phase") != "upload":
            out.append(event)
    return out


def _fingerprint(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True)
    return out.stdout.split()[1]


def test_info_reports_the_device_and_its_runtimes(device):
    info = device.info()
    assert info["device"] == "loopback" and info["kind"] == "ssh"
    assert info["python_executable"] == sys.executable
    assert info["logical_cores"] >= 1 and info["ram_bytes"] > 0 and info["machine"]
    assert info["modules"]["numpy"] and info["modules"]["onnxruntime"]
    assert info["tools"]["timeout"] is True


def test_setup_check_passes_with_the_venv_and_names_what_is_missing(device, ssh_server, tmp_path):
    from engines.devices.setup import ready

    checks = {c.what: c for c in device.setup_check()}
    assert ready(list(checks.values())) and checks["onnxruntime"].ok and checks["numpy"].ok

    missing = SshDevice(ssh_server.profile(tmp_path / "c2", python="/nonexistent/python3"))
    try:
        with pytest.raises(BadInput, match="has no Python at '/nonexistent/python3'") as err:
            missing.setup_check()
        assert "install Python" in err.value.details
    finally:
        missing.close()


def test_a_runtime_missing_on_the_device_is_named_with_what_to_install(device):
    from engines.devices.setup import setup_checks

    probe = {**device.probe(), "modules": {"numpy": "2.0", "onnxruntime": None}}
    checks = {c.what: c for c in setup_checks(probe, wanted=("onnxruntime",))}
    assert not checks["onnxruntime"].ok and checks["onnxruntime"].required
    assert checks["onnxruntime"].fix == "python3 -m pip install onnxruntime"


def test_profile_on_the_device_matches_a_local_run(device, tiny_models, store):
    request = ProfileRequest(str(tiny_models.onnx), "onnxruntime", threads=1, policy=FAST)
    remote = list(profile(request, store, device))
    local = list(profile(request, store))
    for events in (remote, local):
        for event in events:
            if event["type"] not in ("preparing", "spec", "stored"):  # the host's own events
                parse_event(__import__("json").dumps(event).encode())
    remote_result = next(e for e in remote if e["type"] == "result")
    local_result = next(e for e in local if e["type"] == "result")
    assert set(remote_result) == set(local_result)
    assert set(remote_result["statistics"]) == set(local_result["statistics"])
    assert set(remote_result["memory"]) == set(local_result["memory"])
    assert remote_result["statistics"]["count"] >= FAST.min_runs
    runs = {run.device: run for run in store.runs()}
    assert set(runs) == {"loopback", "local-cpu"}
    assert runs["loopback"].status == "ok"
    assert len(store.samples(runs["loopback"].id)) == remote_result["statistics"]["count"]
    # the agent ran from the bundle in the device's cache folder, not from this checkout
    assert any("uploading agent" in e.get("message", "") for e in remote)


def test_evaluate_on_the_device(device, tiny_models, store):
    request = ProfileRequest(
        str(tiny_models.onnx),
        "onnxruntime",
        threads=1,
        measure=False,
        evaluate_data="synthetic:16",
    )
    events = list(profile(request, store, device))
    result = next(e for e in events if e["type"] == "result")
    assert result["statistics"] is None
    fidelity = result["evaluation"]["fidelity"]
    assert fidelity["count"] == 16 if "count" in fidelity else True
    assert fidelity["cosine_mean"] == pytest.approx(1.0, abs=1e-5)
    assert any("uploading evaluation data" in e.get("message", "") for e in events)


def test_an_unknown_host_key_is_refused_with_its_fingerprint(ssh_server, tmp_path):
    device = SshDevice(ssh_server.profile(tmp_path / "c"))
    try:
        with pytest.raises(UnknownHostKey) as err:
            device.info()
        expected = _fingerprint(Path(f"{ssh_server.host_key}.pub"))
        assert [k.fingerprint for k in err.value.keys] == [expected]
        assert expected in err.value.message
        assert not known_hosts_file().exists()  # nothing stored without the user's yes
        with pytest.raises(BadInput, match="nothing was stored"):
            accept(err.value.keys, expected_fingerprint="SHA256:not-this-one")
        accept(err.value.keys, expected_fingerprint=expected)
        assert device.info()["kind"] == "ssh"
    finally:
        device.close()


def test_a_changed_host_key_is_refused(ssh_server, tmp_path):
    from support.sshd import keygen

    other = keygen(tmp_path / "other_host_key")
    entry = f"[127.0.0.1]:{ssh_server.port} {Path(f'{other}.pub').read_text().split(' ')[0]} "
    entry += Path(f"{other}.pub").read_text().split(" ")[1]
    known_hosts_file().parent.mkdir(parents=True, exist_ok=True)
    known_hosts_file().write_text(entry + "\n")
    device = SshDevice(ssh_server.profile(tmp_path / "c"))
    try:
        with pytest.raises(ChangedHostKey, match="CHANGED"):
            device.info()
        # Trusting the device again (after checking it) replaces the old key: the real
        # sshd is reached, and the key it no longer has is no longer accepted.
        accept(scan(device.connection))
        assert device.info()["device"] == device.name
        assert entry not in known_hosts_file().read_text()
    finally:
        device.close()


def test_odd_file_names_reach_the_device_quoted(ssh_server, tiny_models, store, tmp_path):
    odd = tmp_path / "my model 'v2' \"final\" $(touch pwned).onnx"
    shutil.copy(tiny_models.onnx, odd)
    device = _trusted(ssh_server, tmp_path, cache="cache dir 'quoted' $HOME")
    try:
        events = list(profile(ProfileRequest(str(odd), "onnxruntime", policy=FAST), store, device))
    finally:
        device.close()
    assert next(e for e in events if e["type"] in ("result", "error"))["type"] == "result"
    assert (tmp_path / "cache dir 'quoted' $HOME" / "agent").is_dir()
    assert not Path("pwned").exists() and not (tmp_path / "pwned").exists()


def test_a_second_run_reuses_the_uploads(device, tiny_models, store):
    request = ProfileRequest(str(tiny_models.onnx), "onnxruntime", policy=FAST)
    first = [e.get("message", "") for e in profile(request, store, device)]
    root = Path(device.root())
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    second = [e.get("message", "") for e in profile(request, store, device)]
    assert "uploading model" in " ".join(first)
    assert "uploading" not in " ".join(second)
    assert "model: already on device" in second
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == stamps
    assert not [p for p in root.rglob("*.part-*")]


def _remote_agents(cache: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(str(cache) in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _freeze_sessions(server) -> list[psutil.Process]:
    """SIGSTOP the sshd processes serving connections: a device that stops answering."""
    frozen = []
    for proc in server.processes()[1:]:
        try:
            if proc.name().startswith("sshd"):
                proc.suspend()
                frozen.append(proc)
        except psutil.Error:
            continue
    return frozen


@pytest.mark.parametrize("fault", ["cut", pytest.param("freeze", marks=pytest.mark.slow)])
def test_a_lost_device_ends_the_job_and_the_remote_agent(fault, tiny_models, tmp_path):
    """cut: sshd and its sessions are killed; freeze: they stop answering (SIGSTOP), the
    connection stays open, and only keep-alives and the agent's heartbeat notice."""
    from support.sshd import SshServer

    from engines.store.db import Store

    server = SshServer.create(tmp_path / "server").start()
    device = _trusted(server, tmp_path)
    cache = tmp_path / "remote cache"
    long_run = RunPolicy(warmup_runs=1, warmup_min_s=0.05, min_runs=10, min_s=60, max_s=120)
    events: list[dict] = []
    measuring = threading.Event()

    def consume() -> None:
        request = ProfileRequest(str(tiny_models.onnx), "onnxruntime", policy=long_run)
        with Store(tmp_path / "runs.sqlite") as store:  # SQLite: one thread, one connection
            for event in profile(request, store, device):
                events.append(event)
                if event["type"] == "sample":
                    measuring.set()

    worker = threading.Thread(target=consume, daemon=True)
    frozen: list[psutil.Process] = []
    try:
        worker.start()
        assert measuring.wait(60), f"the remote run never started measuring: {events[-3:]}"
        assert _remote_agents(cache), "the agent should be running on the device"
        if fault == "cut":
            server.stop()
        else:
            frozen = _freeze_sessions(server)
            assert frozen
        worker.join(45)
        assert not worker.is_alive(), "the job did not end after the device was lost"
        final = next(e for e in events if e["type"] in ("result", "error"))
        assert final["type"] == "error" and final["error_type"] == "connection_lost"
        assert "device 'loopback'" in final["message"]
        deadline = time.monotonic() + 30
        while _remote_agents(cache) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _remote_agents(cache) == [], "the remote agent kept running"
    finally:
        for proc in frozen:
            try:
                proc.resume()
            except psutil.Error:
                pass
        server.stop()
        device.close()
    with Store(tmp_path / "runs.sqlite") as store:
        assert store.runs()[0].status == "failed"


def test_a_report_puts_the_device_run_beside_the_local_one(device, tiny_models, store, tmp_path):
    from engines.report.build import ReportRequest, write_report

    request = ProfileRequest(str(tiny_models.onnx), "onnxruntime", threads=1, policy=FAST)
    ids = []
    for target in (None, device):
        stored = [e for e in profile(request, store, target) if e["type"] == "stored"]
        ids.append(stored[0]["run_id"])
    out = tmp_path / "devices.pdf"
    write_report(ReportRequest(run_ids=tuple(ids), out=out, baseline_id=ids[0]), store)
    text = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "loopback" in text and "local-cpu" in text
    assert "--device loopback" in text  # the command that re-creates the device run
    remote, local = store.run(ids[1]), store.run(ids[0])
    assert remote.environment["hostname"] and remote.device == "loopback"
    assert remote.environment["device"]["name"] == "loopback"
    assert remote.environment["device"]["ram_bytes"] > 0
    assert remote.environment["device"]["address"].startswith("ssh ")
    assert local.environment["device"] == {
        "name": "local-cpu",
        "kind": "local",
        "accelerator": "cpu",
    }
