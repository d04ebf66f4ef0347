"""LiteRT's `benchmark_model` on an Android device: its own device kind.

The user supplies the binary on the device; we push the model (verified, under its hash
name) through the same adb plumbing as the agent's ADB device, run the binary once with
flags built from the spec, and turn its printed aggregates into one `result` event in our
schema (no raw samples: the result says so). It only times `.tflite` models on the CPU,
with inputs it makes itself; anything else is refused before the device is touched.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

from engines.devices import benchmark_model
from engines.devices.adb import (
    AdbCancelled,
    AdbConnectionLost,
    AdbError,
    AdbShell,
    Runner,
    _tail,
)
from engines.devices.base import Device, PhaseBudgets
from engines.devices.profile import DeviceProfile
from engines.devices.remote import shell_command
from engines.floor.errors import BadInput
from engines.floor.events import error_event
from engines.floor.spec import BenchSpec


class BenchmarkModelDevice(AdbShell, Device):
    """An Android device whose runs are LiteRT's `benchmark_model` binary."""

    kind = "benchmark_model"
    accelerator = "cpu"

    def __init__(
        self,
        profile: DeviceProfile,
        budgets: PhaseBudgets | None = None,
        runner: Runner | None = None,
    ) -> None:
        self.name = profile.name
        self.threads = profile.threads
        self.budgets = budgets or PhaseBudgets()
        self._cancel = threading.Event()
        self._attach(profile, runner)
        if self.connection.mode != "benchmark_model":
            raise BadInput(f"device {profile.name!r} runs the agent, not benchmark_model")

    def cancel(self) -> None:
        self._cancel.set()

    def runner_facts(self, warnings: list[str]) -> dict[str, Any]:
        return {"benchmark_model": self.connection.benchmark_model}

    def run(self, spec: BenchSpec) -> Iterator[dict[str, Any]]:
        self._cancel.clear()
        if spec.model.format != "tflite":
            yield error_event(
                "bad_input",
                "spawn",
                f"benchmark_model runs .tflite models; this one is {spec.model.format}",
            )
            return
        if not spec.measure:
            yield error_event(
                "bad_input", "spawn", "benchmark_model only times models; it cannot evaluate"
            )
            return
        if not spec.inputs.is_default():
            yield error_event(
                "bad_input",
                "spawn",
                "benchmark_model makes its own inputs; --input, --dim, --input-shape and "
                "--inputs need the device's Python agent (an adb profile with "
                "mode = python)",
            )
            return
        if spec.accelerator != "cpu":
            yield error_event(
                "bad_input",
                "spawn",
                f"benchmark_model runs on the CPU, not {spec.accelerator}",
            )
            return
        # Reaching the device and uploading is "spawn", as for the agent's devices: a
        # device that cannot be reached ends every kind of run the same way.
        phase = "spawn"
        try:
            for warning in self.transport_warnings():
                yield {"type": "log", "level": "warning", "message": warning}
            if spec.evaluate:
                yield {
                    "type": "log",
                    "level": "warning",
                    "message": "benchmark_model measures latency only: no accuracy",
                }
            yield {"type": "log", "level": "info", "message": "uploading the model to the device"}
            graph = self._push_model(spec)
            environment = self._environment(spec)
            phase = "verify"
            yield {"type": "phase", "phase": "verify"}
            threads = spec.threads or self.profile.threads
            tool_flags = benchmark_model.flags(spec, graph, threads)
            phase = "measure"
            yield {"type": "phase", "phase": "measure"}
            line = shell_command([self.connection.benchmark_model, *tool_flags]) + " 2>&1"
            timeout = (
                self.budgets.start_s
                + self.budgets.for_phase("load", spec, os.path.getsize(spec.model.path))
                + self.budgets.for_phase("warmup", spec)
                + self.budgets.for_phase("measure", spec)
            )
            status, output = self.shell(line, timeout)
        except AdbCancelled:
            yield error_event("cancelled", phase, f"cancelled during {phase}")
            return
        except AdbConnectionLost as exc:
            yield error_event("connection_lost", phase, exc.message, exc.details)
            return
        except AdbError as exc:
            yield error_event("unreachable", phase, exc.message, exc.details)
            return
        parsed = benchmark_model.parse_output(output)
        if status != 0 or (parsed.errors and parsed.measured is None):
            yield error_event(
                "runtime_error",
                "measure",
                benchmark_model.failure_message(parsed, status)
                + ("" if status != 127 else f": is {self.connection.benchmark_model} there?"),
                _tail(output),
                exit_code=status,
            )
            return
        yield {"type": "phase", "phase": "finish"}
        options = {
            "tool": "benchmark_model",
            "binary": self.connection.benchmark_model,
            "threads": threads,
            "flags": tool_flags,
        }
        try:
            result = benchmark_model.result_event(
                parsed,
                spec,
                environment=environment,
                runtime_options=options,
                model_file_bytes=os.path.getsize(spec.model.path),
            )
        except benchmark_model.OutputError as exc:
            yield error_event(
                "protocol",
                "finish",
                f"benchmark_model's output could not be read: {exc}",
                _tail(output),
            )
            return
        yield result

    def _environment(self, spec: BenchSpec) -> dict[str, Any]:
        from engines import __version__

        facts = self.device_facts()  # read per run: temperature and governor change
        return {
            **facts,
            "tool": "edgebench",
            "tool_version": __version__,
            "runtime": "benchmark_model",
            "runtime_versions": {},
            "threads": spec.threads or self.profile.threads,
            "accelerator": spec.accelerator,
            "model_sha256": spec.model.sha256,
        }
