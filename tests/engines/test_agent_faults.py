"""Injected agent faults end a job with one typed error, in bounded time, nothing left running."""

from __future__ import annotations

import threading
import time

import psutil
import pytest

from engines.devices.base import PhaseBudgets
from engines.devices.local import LocalDevice
from engines.floor.spec import BenchSpec, ModelRef, RunPolicy

FAULTS_ON = {"EDGEBENCH_ALLOW_FAULTS": "1"}
FAST = RunPolicy(warmup_runs=2, warmup_min_s=0.05, min_runs=20, min_s=0.1, max_s=30)
BUDGETS = PhaseBudgets(
    start_s=30, verify_s=30, load_s=30, first_s=2, warmup_s=10, measure_margin_s=10, finish_s=10
)


def _spec(models, fault=None, policy=FAST, **extra) -> BenchSpec:
    return BenchSpec(
        ModelRef(str(models.onnx), "onnx"),
        "onnxruntime",
        threads=1,
        policy=policy,
        fault=fault,
        **extra,
    )


def _run(device: LocalDevice, spec: BenchSpec) -> tuple[list[dict], float]:
    t0 = time.monotonic()
    events = list(device.run(spec))
    return events, time.monotonic() - t0


def _final(events: list[dict]) -> dict:
    finals = [e for e in events if e["type"] in ("result", "error")]
    assert len(finals) == 1, f"expected exactly one result/error event, got {finals}"
    assert events[-1] is finals[0], "the result/error event must be the last one"
    return finals[0]


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _no_agent_left():
    """Checked right when run() is over: the device must have reaped its agent itself."""
    assert [p for p in psutil.Process().children(recursive=True) if _alive(p)] == []


def _faulty_device() -> LocalDevice:
    return LocalDevice(budgets=BUDGETS, extra_env=FAULTS_ON)


@pytest.mark.parametrize(
    ("fault", "phase", "signal"),
    [
        ("segfault", "load", "SIGSEGV"),
        ("abort", "load", "SIGABRT"),
        ("abort@warmup", "warmup", "SIGABRT"),
        ("segfault@measure", "measure", "SIGSEGV"),
        ("sigkill@measure", "measure", "SIGKILL"),
    ],
)
def test_crash_names_signal_and_phase(tiny_models, fault, phase, signal):
    events, elapsed = _run(_faulty_device(), _spec(tiny_models, fault))
    error = _final(events)
    assert error["type"] == "error"
    assert error["error_type"] == "crashed"
    assert error["signal"] == signal
    assert error["phase"] == phase
    assert signal in error["message"] and phase in error["message"]
    # -X faulthandler: the traceback of the crash is kept for the details pane
    if signal == "SIGSEGV":
        assert "Fatal Python error" in error["details"] or "Segmentation" in error["details"]
    if signal == "SIGKILL":  # a kill -9 is not blamed on the OOM killer
        assert "killed by the kernel's out-of-memory killer" not in error["message"]
        said = error["message"]
        assert "not by the out-of-memory killer" in said or "dmesg, says which" in said
    assert elapsed < 30
    _no_agent_left()


def test_hang_times_out_within_budget(tiny_models):
    events, elapsed = _run(_faulty_device(), _spec(tiny_models, "hang@first"))
    error = _final(events)
    assert error["error_type"] == "timeout"
    assert error["phase"] == "first"
    assert "2 s" in error["message"]
    assert 1.5 <= elapsed < 15, elapsed  # budget 2 s + SIGTERM grace, not the 3600 s sleep
    _no_agent_left()


def test_garbage_output_is_a_protocol_error(tiny_models):
    events, elapsed = _run(_faulty_device(), _spec(tiny_models, "garbage"))
    error = _final(events)
    assert error["error_type"] == "protocol"
    assert error["phase"] == "load"
    assert "not a JSON event" in error["message"]
    assert elapsed < 15  # it stops at once, not after the agent's hour-long sleep
    _no_agent_left()


def test_exit_reports_exit_code(tiny_models):
    events, _ = _run(_faulty_device(), _spec(tiny_models, "exit@first"))
    error = _final(events)
    assert error["error_type"] == "crashed"
    assert error["exit_code"] == 7
    assert "signal" not in error
    assert error["phase"] == "first"
    _no_agent_left()


def test_oom_under_memory_limit(tiny_models):
    spec = _spec(tiny_models, "oom", memory_limit_bytes=2 << 30)
    events, elapsed = _run(_faulty_device(), spec)
    error = _final(events)
    assert error["error_type"] == "out_of_memory"
    assert error["phase"] == "load"
    assert "(limit 2.00 GiB;" in error["message"]
    assert elapsed < 30
    _no_agent_left()


def test_cancel_from_another_thread_during_measure(tiny_models):
    long_run = RunPolicy(warmup_runs=1, warmup_min_s=0.0, min_runs=10, min_s=120, max_s=150)
    device = _faulty_device()
    measuring = threading.Event()

    def canceller() -> None:
        if measuring.wait(timeout=60):
            time.sleep(0.3)
            device.cancel()

    thread = threading.Thread(target=canceller, name="test-canceller")
    thread.start()
    events = []
    t0 = time.monotonic()
    try:
        for event in device.run(_spec(tiny_models, policy=long_run)):
            events.append(event)
            if event["type"] == "phase" and event["phase"] == "measure":
                measuring.set()
                t_measure = time.monotonic()
    finally:
        measuring.set()
        thread.join(timeout=60)
    error = _final(events)
    assert error["error_type"] == "cancelled"
    assert error["phase"] == "measure"
    assert time.monotonic() - t_measure < 10
    assert time.monotonic() - t0 < 60
    assert any(e["type"] == "sample" for e in events)  # it was really measuring
    _no_agent_left()


def test_closing_the_event_stream_stops_the_agent(tiny_models):
    long_run = RunPolicy(warmup_runs=1, warmup_min_s=0.0, min_runs=10, min_s=120, max_s=150)
    stream = LocalDevice(budgets=BUDGETS).run(_spec(tiny_models, policy=long_run))
    for event in stream:
        if event["type"] == "phase" and event["phase"] == "measure":
            break
    t0 = time.monotonic()
    stream.close()
    assert time.monotonic() - t0 < 10
    _no_agent_left()


@pytest.mark.parametrize("allow", [None, "0", "yes"])
def test_fault_flag_ignored_without_the_env_switch(tiny_models, allow):
    env = {} if allow is None else {"EDGEBENCH_ALLOW_FAULTS": allow}
    device = LocalDevice(budgets=BUDGETS, extra_env=env)
    events, _ = _run(device, _spec(tiny_models, "segfault"))
    final = _final(events)
    assert final["type"] == "result", final
    assert final["statistics"]["count"] >= 20
    _no_agent_left()


def test_bad_spec_is_bad_input(tiny_models):
    spec = _spec(tiny_models, policy=RunPolicy(min_runs=20, max_runs=5))
    events, _ = _run(LocalDevice(budgets=BUDGETS), spec)
    error = _final(events)
    assert error["error_type"] == "bad_input"
    assert "max_runs" in error["message"]
    _no_agent_left()


def test_changed_model_is_refused_before_loading(tiny_models):
    spec = BenchSpec(
        ModelRef(str(tiny_models.onnx), "onnx", sha256="0" * 64),
        "onnxruntime",
        threads=1,
        policy=FAST,
    )
    events, _ = _run(LocalDevice(budgets=BUDGETS), spec)
    error = _final(events)
    assert error["error_type"] == "model_changed"
    assert error["phase"] == "verify"
    assert not any(e["type"] == "phase" and e["phase"] == "load" for e in events)
    _no_agent_left()


def test_runtime_that_cannot_open_the_format(tiny_models):
    spec = BenchSpec(ModelRef(str(tiny_models.onnx), "onnx"), "litert", threads=1, policy=FAST)
    events, _ = _run(LocalDevice(budgets=BUDGETS), spec)
    error = _final(events)
    assert error["error_type"] == "bad_input"
    assert "litert cannot open onnx" in error["message"]
    _no_agent_left()


# ------------------------------------------------------------------------- parent goes away


def _read_until_phase(proc, phase: str, limit_s: float = 60) -> None:
    import json

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, "the child ended early"
        event = json.loads(line)
        if event.get("type") == "phase" and event.get("phase") == phase:
            return
    raise AssertionError(f"no {phase} phase within {limit_s} s")


def test_agent_exits_when_its_control_pipe_closes(tiny_models):
    """SECURITY.md: workers exit when their parent disappears (EOF on the control pipe)."""
    import subprocess

    from engines.process import close_pipes, kill_group, spawn

    long_run = RunPolicy(warmup_runs=1, warmup_min_s=0.0, min_runs=10, min_s=120, max_s=150)
    proc = spawn("engines.bench.agent")
    try:
        proc.stdin.write(_spec(tiny_models, policy=long_run).to_json().encode() + b"\n")
        proc.stdin.flush()
        _read_until_phase(proc, "measure")
        proc.stdin.close()
        # keep draining stdout so a full pipe cannot block the agent
        drain = threading.Thread(target=proc.stdout.read, daemon=True)
        drain.start()
        assert proc.wait(timeout=5) == 130
    except subprocess.TimeoutExpired:
        raise AssertionError("the agent kept running after its control pipe closed") from None
    finally:
        kill_group(proc, grace_s=1.0)
        close_pipes(proc)


def test_host_worker_exits_when_its_control_pipe_closes(tmp_path):
    import json
    import subprocess

    from engines.process import close_pipes, kill_group, spawn

    proc = spawn("engines.worker_main")
    try:
        # A task that takes far longer than the 3 s we wait: ResNet-50 to TFLite.
        from engines.runtimes.zoo import descriptor

        source = tmp_path / "resnet50.json"
        source.write_text(json.dumps(descriptor("resnet50")))
        request = {
            "task": "export",
            "payload": {
                "source_path": str(source),
                "source_format": "zoo",
                "to": "tflite",
                "out_path": str(tmp_path / "r50.tflite"),
            },
        }
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.flush()
        proc.stdin.close()
        drain = threading.Thread(target=proc.stdout.read, daemon=True)
        drain.start()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            raise AssertionError("the worker kept running after its control pipe closed") from None
    finally:
        kill_group(proc, grace_s=1.0)
        close_pipes(proc)
