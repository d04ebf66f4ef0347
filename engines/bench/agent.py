"""The benchmark agent: reads one JSON spec, runs it, writes JSON-lines events to stdout.

This is the only code that times a model, locally (a child process) or on a device (the
same file, shipped as a zip of the engine package). It depends on the standard library,
numpy and the runtime it is asked to use. Protocol, one JSON object per line:

  {"type": "hello", "agent_version", "pid"}
  {"type": "phase", "phase": verify|load|first|warmup|measure|evaluate|finish}
  {"type": "progress", "phase", "done", "fraction", "elapsed_s"}
  {"type": "sample", "start": i, "ms": [...]}          # <= 8 timed inferences per line
  {"type": "memory", "t_s", "rss_bytes"}
  {"type": "log", "level", "message"}
  {"type": "result", ...statistics, memory, environment...}
  {"type": "error", "error_type", "phase", "message", "details"}

Standard input carries the spec on its first line; after that, the line "cancel" or EOF
(the parent went away) ends the agent at once, and so does silence longer than the spec's
`parent_heartbeat_s` when set (remote parents send "ping" lines).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO

PROTOCOL_VERSION = 1
SAMPLES_PER_LINE = 8
FLUSH_EVERY_S = 0.05
MEASURE_MEMORY_INTERVAL_S = 0.1


#: The stream protocol lines go to (set by `main`; stdout until then).
_PROTOCOL: list[TextIO] = [sys.stdout]


class Emitter:
    """Thread-safe JSON-lines writer (the memory thread and the main loop share stdout)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, separators=(",", ":"), allow_nan=False, default=str)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


class SampleStream:
    """Batches timed samples a few per line, flushing at least every 50 ms."""

    def __init__(self, emit: Emitter) -> None:
        self._emit = emit
        self._pending: list[float] = []
        self._start = 0
        self._last_flush = time.perf_counter()

    def add(self, ms: float) -> None:
        self._pending.append(ms)
        now = time.perf_counter()
        if len(self._pending) >= SAMPLES_PER_LINE or now - self._last_flush >= FLUSH_EVERY_S:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self._pending:
            self._emit({"type": "sample", "start": self._start, "ms": self._pending})
            self._start += len(self._pending)
            self._pending = []
        self._last_flush = now or time.perf_counter()


def _watch_stdin(heartbeat_s: float | None) -> None:
    """Exit as soon as the parent says cancel or disappears (EOF), or, with a heartbeat,
    when the parent has sent nothing (not even "ping") for `heartbeat_s`."""
    last_seen = [time.monotonic()]

    def watchdog() -> None:
        assert heartbeat_s is not None
        while True:
            time.sleep(min(1.0, heartbeat_s / 4))
            if time.monotonic() - last_seen[0] > heartbeat_s:
                os._exit(131)

    if heartbeat_s:
        threading.Thread(target=watchdog, name="edgebench-heartbeat", daemon=True).start()
    for line in sys.stdin:
        last_seen[0] = time.monotonic()
        if line.strip() == "cancel":
            break
    os._exit(130)


def _inject_fault(spec_fault: str | None, phase: str) -> None:
    if not spec_fault or os.environ.get("EDGEBENCH_ALLOW_FAULTS") != "1":
        return
    kind, _, at = spec_fault.partition("@")
    if (at or "load") != phase:
        return
    if kind == "segfault":
        import ctypes

        ctypes.string_at(0)
    elif kind == "abort":
        os.abort()
    elif kind == "hang":
        time.sleep(3600)
    elif kind == "garbage":
        _PROTOCOL[0].write("this is not json\n")
        _PROTOCOL[0].flush()
        time.sleep(3600)
    elif kind == "oom":
        hog = []
        while True:
            hog.append(bytearray(256 * 1024 * 1024))
    elif kind == "exit":
        os._exit(7)
    elif kind == "sigkill":  # as `kill -9` from outside would
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _loop(
    call: Callable[[], object],
    min_runs: int,
    min_s: float,
    max_s: float,
    max_runs: int,
    on_sample: Callable[[float], None] | None,
    on_progress: Callable[[int, float], None],
) -> list[float]:
    """Run until BOTH min_runs and min_s are met (capped by max_s / max_runs)."""
    clock = time.perf_counter_ns
    samples: list[float] = []
    start = clock()
    next_progress = start
    while True:
        t0 = clock()
        call()
        t1 = clock()
        ms = (t1 - t0) / 1e6
        samples.append(ms)
        if on_sample is not None:
            on_sample(ms)
        elapsed_s = (t1 - start) / 1e9
        n = len(samples)
        if t1 >= next_progress:
            on_progress(n, elapsed_s)
            next_progress = t1 + 100_000_000  # 10 progress events per second at most
        if (n >= min_runs and elapsed_s >= min_s) or elapsed_s >= max_s or n >= max_runs:
            on_progress(n, elapsed_s)
            return samples


def _evaluate(session: Any, evaluate: dict[str, Any], emit: Emitter) -> dict[str, Any]:
    """Accuracy and fidelity on the target, on this runtime: one sample per call."""
    from engines.evaluate.metrics import EvalAccumulator
    from engines.evaluate.npz import load_eval_npz, load_multi_input_npz, sample_feed
    from engines.runtimes.feeds import dequantize_output, quantize_feed

    infos = session.inputs()
    by_name = {info.name: info for info in infos}
    multi = load_multi_input_npz(evaluate["data_path"])
    if multi is not None:  # a multi-input model: every input by name, fidelity only
        arrays, refs = multi
        missing = [name for name in by_name if name not in arrays]
        if missing:
            raise ValueError(f"the evaluation data has no samples for input(s) {missing}")
        x, y = next(iter(arrays.values())), None
        ranks = {name: len(info.shape) for name, info in by_name.items()}

        def feed_of(i: int) -> dict[str, Any]:
            sample = sample_feed(arrays, i, ranks)
            return {k: quantize_feed(by_name[k], v) for k, v in sample.items() if k in by_name}
    else:
        x, y, refs = load_eval_npz(evaluate["data_path"])
        if len(infos) != 1:
            raise ValueError(f"evaluation feeds single-input models; this one has {len(infos)}")

        def feed_of(i: int) -> dict[str, Any]:
            return {infos[0].name: quantize_feed(infos[0], x[i : i + 1])}

    limit = evaluate.get("limit")
    count = min(len(x), int(limit)) if limit else len(x)
    outputs_info = None
    accumulator = EvalAccumulator()
    started = time.perf_counter()
    next_report = started
    for i in range(count):
        raw = session.run(feed_of(i))
        if outputs_info is None:
            outputs_info = session.outputs()
        outputs = [dequantize_output(info, o) for info, o in zip(outputs_info, raw, strict=True)]
        accumulator.add(
            outputs,
            y[i : i + 1] if y is not None else None,
            [r[i : i + 1] for r in refs] if refs is not None else None,
        )
        now = time.perf_counter()
        if now >= next_report or i + 1 == count:
            emit(
                {
                    "type": "progress",
                    "phase": "evaluate",
                    "done": i + 1,
                    "fraction": round((i + 1) / count, 4),
                    "elapsed_s": round(now - started, 3),
                }
            )
            next_report = now + 0.1
    return {
        **accumulator.result(),
        "data": evaluate.get("description", ""),
        "method": "one sample per run call on the variant's own runtime; fidelity against "
        "the FP32 source model's outputs on the same inputs",
    }


def run_spec(spec_data: dict[str, Any], emit: Emitter) -> None:
    from engines.bench import environment
    from engines.bench.memory import MemorySampler, PeakRss
    from engines.floor.spec import BenchSpec
    from engines.floor.stats import summarize
    from engines.runtimes.base import RuntimeOptions
    from engines.runtimes.feeds import id_limits_of, load_input_arrays, make_feeds
    from engines.runtimes.registry import get_runtime

    phase = "verify"
    state: dict[str, Any] = {"phase": phase}
    peak = PeakRss()
    window = {"open": False}

    def enter(name: str) -> None:
        if window["open"]:
            peak.read()  # every phase boundary inside the memory window is a reading
        state["phase"] = name
        emit({"type": "phase", "phase": name})
        _inject_fault(spec.fault, name)

    try:
        spec = BenchSpec.from_dict(spec_data)
        enter("verify")
        runtime = get_runtime(spec.runtime)
        availability = runtime.available()
        if not availability.ok:
            raise _AgentError("runtime_unavailable", f"{runtime.name}: {availability.reason}")
        if spec.model.format not in runtime.formats:
            raise _AgentError(
                "bad_input",
                f"{runtime.name} cannot open {spec.model.format} models "
                f"(it opens: {', '.join(runtime.formats)})",
            )
        runtime.import_library()
        if spec.model.sha256 and _sha256(spec.model.path) != spec.model.sha256:
            raise _AgentError("model_changed", "the stored model no longer matches its hash")
        from engines.floor.limits import apply_memory_limit, default_memory_limit_bytes

        # The run's cap, else the default (a fraction of this machine's memory): a
        # MemoryError, said as such, instead of the kernel's OOM killer.
        wanted = spec.memory_limit_bytes
        limit = apply_memory_limit(default_memory_limit_bytes() if wanted is None else wanted)
        state["memory_limit_bytes"] = limit

        sampler = MemorySampler(
            spec.memory_interval_ms / 1000.0,
            lambda t, rss: emit({"type": "memory", "t_s": round(t, 4), "rss_bytes": rss}),
            peak,
        )
        rss_before = peak.open_window()
        window["open"] = True
        sampler.start()

        enter("load")
        t0 = time.perf_counter_ns()
        session = runtime.open(
            spec.model.path,
            spec.model.format,
            RuntimeOptions(spec.threads, spec.accelerator, list(spec.model.inputs)),
        )
        load_ms = (time.perf_counter_ns() - t0) / 1e6
        rss_after_load = peak.read()
        inputs = session.inputs()
        asked = spec.inputs
        made = make_feeds(
            inputs,
            spec.batch,
            spec.input_seed,
            shapes=asked.shapes,
            dims=asked.dims,
            values=asked.values,
            arrays=load_input_arrays(asked.data_path) if asked.data_path else None,
            id_limits=id_limits_of(spec.model.inputs),
            max_input_bytes=spec.memory_limit_bytes,
        )
        feeds = made.arrays

        enter("first")
        t0 = time.perf_counter_ns()
        outputs = session.run(feeds)
        first_ms = (time.perf_counter_ns() - t0) / 1e6
        call = session.timed_call(feeds)

        policy = spec.policy

        def progress(
            phase_name: str, goal_runs: int, goal_s: float
        ) -> Callable[[int, float], None]:
            def report(done: int, elapsed_s: float) -> None:
                frac_runs = done / goal_runs if goal_runs else 1.0
                frac_time = elapsed_s / goal_s if goal_s else 1.0
                fraction = min(1.0, min(frac_runs, frac_time))
                if elapsed_s >= policy.max_s:
                    fraction = 1.0
                emit(
                    {
                        "type": "progress",
                        "phase": phase_name,
                        "done": done,
                        "fraction": round(fraction, 4),
                        "elapsed_s": round(elapsed_s, 3),
                    }
                )

            return report

        # The peak is almost always set at load; while timing, sample rarely so the
        # sampler does not take CPU from the runtime's threads (the kernel's high-water
        # marks still catch any peak in between).
        sampler.interval_s = max(sampler.interval_s, MEASURE_MEMORY_INTERVAL_S)
        enter("warmup")
        warm: list[float] = []
        samples: list[float] = []
        if spec.measure and (policy.warmup_runs > 0 or policy.warmup_min_s > 0):
            warm = _loop(
                call,
                max(policy.warmup_runs, 1),
                policy.warmup_min_s,
                policy.max_s,
                policy.max_runs,
                None,
                progress("warmup", policy.warmup_runs, policy.warmup_min_s),
            )

        enter("measure")
        if spec.measure:
            stream = SampleStream(emit)
            samples = _loop(
                call,
                policy.min_runs,
                policy.min_s,
                policy.max_s,
                policy.max_runs,
                stream.add,
                progress("measure", policy.min_runs, policy.min_s),
            )
            stream.flush()
        # Memory is read before evaluation: evaluating a data set is not what is measured.
        sampler.stop()
        peak.read()
        window["open"] = False
        peak_bytes = peak.bytes
        evaluation = None
        if spec.evaluate:
            enter("evaluate")
            evaluation = _evaluate(session, spec.evaluate, emit)

        enter("finish")
        statistics = summarize(samples, spec.batch) if samples else None
        memory = {
            "rss_before_load_bytes": rss_before,
            "rss_after_load_bytes": rss_after_load,
            "peak_rss_bytes": peak_bytes,
            "peak_rss_delta_bytes": peak_bytes - rss_before,
            # The address-space cap the run had (RLIMIT_AS; None: none).
            "memory_limit_bytes": state.get("memory_limit_bytes"),
            "model_file_bytes": os.path.getsize(spec.model.path),
            "accelerator_peak_bytes": session.peak_accelerator_bytes(),
            "method": "peak = the highest of all readings from just before load to the end "
            "of the timed runs: RSS before and after load, at every phase boundary, sampled "
            f"every {spec.memory_interval_ms:g} ms through load and first inference and every "
            f"{MEASURE_MEMORY_INTERVAL_S * 1000:g} ms while timing, and the kernel's "
            "high-water marks (VmHWM"
            + (" reset at the window's start" if peak.hwm_reset else "")
            + ", ru_maxrss) once they rise inside the window; "
            "delta = peak - rss_before_load",
            "readings": peak.readings,
        }
        emit(
            {
                "type": "result",
                "load_ms": load_ms,
                "first_ms": first_ms,
                "warmup": {"runs": len(warm), "mean_ms": sum(warm) / len(warm) if warm else None},
                "statistics": statistics,
                "memory": memory,
                "runtime_options": session.options_used,
                "inputs": [i.to_dict() for i in inputs],
                "input_shapes": {k: list(v.shape) for k, v in feeds.items()},
                "input_notes": made.notes,
                "output_shapes": [output_shape(o) for o in outputs],
                "evaluation": evaluation,
                "environment": {
                    **environment.capture(runtime.name, runtime.modules),
                    "threads": spec.threads,
                    "accelerator": spec.accelerator,
                    "model_sha256": spec.model.sha256,
                },
            }
        )
        session.close()
    except _AgentError as exc:
        emit(
            {
                "type": "error",
                "error_type": exc.error_type,
                "phase": state["phase"],
                "message": exc.message,
                "details": "",
            }
        )
    except Exception as exc:
        from engines.floor.errors import BadInput

        kind = "bad_input" if isinstance(exc, (BadInput, ValueError)) else "runtime_error"
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        if isinstance(exc, MemoryError):
            kind = "out_of_memory"
            from engines.floor.limits import HOW_TO_SET, gib

            limit = state.get("memory_limit_bytes") or spec_data.get("memory_limit_bytes")
            message = f"ran out of memory during {state['phase']}" + (
                f" (limit {gib(limit)}; {HOW_TO_SET})" if limit else ""
            )
        emit(
            {
                "type": "error",
                "error_type": kind,
                "phase": state["phase"],
                "message": one_line(str(message)) if message else type(exc).__name__,
                "details": (getattr(exc, "details", "") or "") + "\n" + traceback.format_exc(),
            }
        )


def output_shape(value: Any) -> list[Any]:
    """A tensor's shape; for a non-tensor output (scikit-learn's ZipMap gives a list of
    {class: probability} maps) ["sequence", length]."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return list(shape)
    return ["sequence", len(value)] if isinstance(value, (list, tuple)) else ["value"]


def one_line(message: str, limit: int = 500) -> str:
    """A runtime's message in one line. Where its first line only introduces a trace
    (TorchScript: "The following operation failed in the TorchScript interpreter."), the
    last line, which holds the cause, is added."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return ""
    first = lines[0]
    if len(lines) > 1 and (first.endswith(":") or "following operation failed" in first):
        first = f"{first} {lines[-1]}"
    return first[:limit]


class _AgentError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def main() -> int:
    # Models and runtimes print freely (a TorchScript forward with print(), native logs):
    # the protocol gets a private copy of stdout, and fd 1 and sys.stdout go to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _PROTOCOL[0] = protocol
    emit = Emitter(protocol)
    emit({"type": "hello", "protocol": PROTOCOL_VERSION, "pid": os.getpid()})
    line = sys.stdin.readline()
    try:
        spec_data = json.loads(line)
    except json.JSONDecodeError as exc:
        emit(
            {
                "type": "error",
                "error_type": "bad_input",
                "phase": "spec",
                "message": f"the spec is not JSON: {exc}",
                "details": "",
            }
        )
        return 2
    heartbeat = spec_data.get("parent_heartbeat_s") if isinstance(spec_data, dict) else None
    threading.Thread(
        target=_watch_stdin, args=(heartbeat,), name="edgebench-stdin", daemon=True
    ).start()
    run_spec(spec_data, emit)
    protocol.flush()
    os._exit(0)  # do not wait on runtime thread pools


if __name__ == "__main__":
    if __package__ in (None, ""):
        # Run as a file: make the engine package importable from the zip or source tree.
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    sys.exit(main())
