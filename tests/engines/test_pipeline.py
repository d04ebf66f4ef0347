"""The pipeline: a profile's preparation streams and cancels, and the job matrix runs one
queue per device and reports every job."""

from __future__ import annotations

import threading

import pytest

from engines.devices.local import LocalDevice
from engines.floor.errors import Cancelled
from engines.floor.spec import RunPolicy
from engines.pipeline.matrix import CANCELLED, DONE, NOT_RUN, MatrixJob, run_matrix
from engines.pipeline.profile import ProfileRequest, profile
from engines.store.db import Store

FAST = RunPolicy(warmup_runs=1, warmup_min_s=0.05, min_runs=10, min_s=0.1)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "store.sqlite") as opened:
        yield opened


@pytest.mark.slow
def test_cancel_during_the_export_stops_it_and_stores_nothing(store):
    """A torch model profiled on LiteRT is exported first; cancelling while it exports
    ends the stream with Cancelled, leaves no export in the store and no worker behind
    (the leak guard checks the last)."""
    cancel = threading.Event()
    request = ProfileRequest("zoo:mobilenet_v2", "litert", evaluate_data=None, policy=FAST)
    said = []
    with pytest.raises(Cancelled):
        for event in profile(request, store, cancel=cancel):
            if event["type"] == "preparing":
                said.append(event["message"])
                if "exporting" in event["message"]:
                    cancel.set()
    assert any(m.startswith("exporting zoo:mobilenet_v2") and "to tflite" in m for m in said)
    assert [a.step for a in store.artifacts() if a.step] == []  # no export was kept


def _jobs(model: str, devices: list[str]) -> list[MatrixJob]:
    request = ProfileRequest(model, "onnxruntime", threads=1, policy=FAST, evaluate_data=None)
    return [MatrixJob(i, device, request) for i, device in enumerate(devices)]


def test_the_matrix_runs_each_devices_queue_and_reports_every_job(store, tiny_models):
    jobs = _jobs(str(tiny_models.onnx), ["a", "b", "a"])
    opened = []

    def open_device(name):
        opened.append(name)
        return LocalDevice(name=name, threads=1)

    events = list(run_matrix(jobs, store.path, open_device=open_device))
    assert sorted(opened) == ["a", "b"]  # each device opened once
    ended = {e["job"]: e for e in events if e["type"] == "job_ended"}
    assert sorted(ended) == [0, 1, 2]
    assert all(e["status"] == DONE for e in ended.values()), ended
    run_ids = [ended[i]["run_id"] for i in range(3)]
    assert len(set(run_ids)) == 3
    assert [store.run(r).device for r in run_ids] == ["a", "b", "a"]
    # On one device, one job at a time: job 2 starts after job 0 has ended.
    order = [(e["type"], e["job"]) for e in events if e["type"] in ("job_started", "job_ended")]
    assert order.index(("job_started", 2)) > order.index(("job_ended", 0))
    assert {e["device"] for e in events if e["type"] == "device_closed"} == {"a", "b"}
    assert events[-1]["type"] == "matrix_done"


def test_cancelling_the_matrix_runs_nothing_more(store, tiny_models):
    cancel = threading.Event()
    jobs = _jobs(str(tiny_models.onnx), ["a", "a", "a"])
    ended = {}
    for event in run_matrix(jobs, store.path, cancel, lambda n: LocalDevice(name=n, threads=1)):
        if event["type"] == "job" and event["event"]["type"] == "sample":
            cancel.set()
        if event["type"] == "job_ended":
            ended[event["job"]] = event["status"]
    assert ended == {0: CANCELLED, 1: NOT_RUN, 2: NOT_RUN}
    assert store.runs() == [] or all(r.status == "cancelled" for r in store.runs())


@pytest.mark.slow
def test_an_unreachable_device_of_any_kind_ends_the_same_way(store, tiny_models, tmp_path):
    """ssh to a closed port, and adb without its program (the agent's ADB device and the
    benchmark_model device): each run ends with one `unreachable` error event before the
    agent, stored as a failed run naming the device."""
    import socket

    from engines.devices.profile import AdbConnection, DeviceProfile, SshConnection, open_device

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    profiles = [
        DeviceProfile(
            "gone-board",
            "ssh",
            SshConnection(
                host="127.0.0.1", port=port, connect_timeout_s=3, cache_dir=str(tmp_path / "c")
            ),
        ),
        DeviceProfile(
            "gone-phone",
            "adb",
            AdbConnection(serial="x", mode="python", adb=str(tmp_path / "no-such-adb")),
        ),
        DeviceProfile(
            "gone-benchmark-model",
            "adb",
            AdbConnection(serial="x", mode="benchmark_model", adb=str(tmp_path / "no-adb")),
        ),
    ]
    onnx = ProfileRequest(
        str(tiny_models.onnx), "onnxruntime", threads=1, policy=FAST, evaluate_data=None
    )
    # benchmark_model only times .tflite files: its request is the same model on LiteRT.
    tflite = ProfileRequest(
        str(tiny_models.tflite), "litert", threads=1, policy=FAST, evaluate_data=None
    )
    outcomes = []
    for profile_ in profiles:
        device = open_device(profile_)
        request = tflite if device.kind == "benchmark_model" else onnx
        try:
            events = list(profile(request, store, device))
        finally:
            device.close()
        final = next(e for e in reversed(events) if e["type"] == "error")
        stored = next(e for e in events if e["type"] == "stored")
        run = store.run(stored["run_id"])
        outcomes.append((final["error_type"], final["phase"], run.status, run.device))
        assert profile_.name in final["message"] or "adb" in final["message"], final
    assert outcomes == [
        ("unreachable", "spawn", "failed", "gone-board"),
        ("unreachable", "spawn", "failed", "gone-phone"),
        ("unreachable", "spawn", "failed", "gone-benchmark-model"),
    ]
