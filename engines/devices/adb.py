"""ADB devices: Android phones and boards reached through the `adb` binary.

Two device kinds stand on the adb plumbing here (`AdbShell`), chosen by the profile's
`mode`:

- "python": `AdbDevice`, a Python on the device (e.g. Termux, with numpy and a runtime)
  runs the same agent bundle as every other device, through the run loop of
  `engines.devices.agent_device` (phase budgets, cancel, one outcome when unreachable);
- "benchmark_model": `engines.devices.benchmark_model_device.BenchmarkModelDevice`,
  LiteRT's `benchmark_model` binary supplied by the user on the device.

Every adb call is built by `adb_argv`; every remote shell line by
`engines.devices.remote.shell_command` (each word quoted) plus constant text of ours.
Remote commands end with an exit sentinel (`; echo __EDGEBENCH_EXIT__=$?`) because adb
without the shell protocol (devices before Android 7) always exits 0: a missing sentinel
means the connection dropped. Uploads are hashed locally, pushed to a temporary name,
checked with the device's `sha256sum` (toybox) and only then renamed to their hash name.
"""

from __future__ import annotations

import dataclasses
import queue
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from engines.devices import android
from engines.devices.agent_device import AgentDevice
from engines.devices.base import PhaseBudgets
from engines.devices.profile import AdbConnection, DeviceProfile
from engines.devices.remote import shell_command
from engines.floor.errors import BadInput, Cancelled, RunFailed
from engines.floor.events import error_event
from engines.floor.spec import BenchSpec
from engines.models.artifacts import sha256_file
from engines.process import EOF_MARK, Child, crash_message, kill_group, start_command

#: (argv, timeout_s) -> (returncode, stdout, stderr). Injected in tests: no phone here.
Runner = Callable[[list[str], float], tuple[int, str, str]]

EXIT_MARK = "__EDGEBENCH_EXIT__="
EXIT_SUFFIX = f"; echo {EXIT_MARK}$?"
_EXIT_LINE = re.compile(rf"^{EXIT_MARK}(\d{{1,3}})\s*$")
_SHA_LINE = re.compile(r"^([0-9a-f]{64})(?:\s|$)")
EXTENSIONS = {"onnx": ".onnx", "tflite": ".tflite", "pt2": ".pt2", "torchscript": ".pt"}
OUTPUT_TAIL_CHARS = 4000
SHELL_TIMEOUT_S = 60.0
LIST_TIMEOUT_S = 15.0
#: Pushing runs at USB 2 speed at worst (~20 MB/s): allow generously, plus a floor.
PUSH_MIN_TIMEOUT_S = 120.0
PUSH_BYTES_PER_S = 2 << 20


class AdbError(RunFailed):
    """adb could not do what was asked (device missing, unauthorized, push failed)."""


class AdbConnectionLost(AdbError):
    """A remote command ended without its exit sentinel: the connection dropped."""


class AdbCancelled(AdbError, Cancelled):
    """The user cancelled while an adb command was running."""


# --- command building ----------------------------------------------------------------


def adb_argv(connection: AdbConnection, *args: str) -> list[str]:
    """The one place an adb command line is made: `adb [-s SERIAL] ARGS...`."""
    argv = [connection.adb or "adb"]
    if connection.serial:
        argv += ["-s", connection.serial]
    return argv + list(args)


def with_exit_sentinel(line: str) -> str:
    """A shell line that prints its exit status last (works without the shell protocol)."""
    return line + EXIT_SUFFIX


def shell_argv(connection: AdbConnection, line: str) -> list[str]:
    """`adb -s S shell LINE`: adb hands LINE to the device's shell as it is."""
    return adb_argv(connection, "shell", with_exit_sentinel(line))


def parse_exit_sentinel(stdout: str) -> tuple[int, str]:
    """(exit status, output before the sentinel); AdbConnectionLost when it is missing."""
    text = stdout.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.rstrip("\n").split("\n")
    for index in range(len(lines) - 1, -1, -1):
        match = _EXIT_LINE.match(lines[index])
        if match:
            return int(match[1]), "\n".join(lines[:index])
        if lines[index].strip():
            break
    raise AdbConnectionLost(
        "the connection to the device was lost: the command ended without reporting "
        "its exit status",
        _tail(text),
    )


def remote_name(work_dir: str, kind: str, sha256: str, suffix: str) -> str:
    """Remote file names are ours: kind + hash (+ an extension from a fixed table)."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("remote names are made from a sha256 hex digest")
    if suffix and not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
        raise ValueError(f"unexpected suffix {suffix!r}")
    return f"{work_dir.rstrip('/') or '/'}/{kind}-{sha256[:32]}{suffix}"


def _tail(text: str, limit: int = OUTPUT_TAIL_CHARS) -> str:
    return text[-limit:]


# --- running adb ---------------------------------------------------------------------


def subprocess_runner(
    argv: list[str], timeout_s: float, cancel: threading.Event | None = None
) -> tuple[int, str, str]:
    """Run adb in its own process group; a timeout or cancel kills the group."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise AdbError(
            f"adb was not found ({argv[0]!r}): install Android platform-tools or set the "
            "profile's connection.adb to its path"
        ) from None
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            out, err = proc.communicate(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            cancelled = cancel is not None and cancel.is_set()
            if cancelled or time.monotonic() > deadline:
                kill_group(proc, grace_s=0)
                out, err = proc.communicate()
                if cancelled:
                    raise AdbCancelled("cancelled while adb was running") from None
                raise AdbError(
                    f"adb did not finish within {timeout_s:g} s and was stopped",
                    _tail(out.decode("utf-8", "replace") + err.decode("utf-8", "replace")),
                ) from None
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def _adb_failure(what: str, returncode: int, stdout: str, stderr: str) -> AdbError:
    said = (stderr.strip() or stdout.strip()).splitlines()
    reason = said[-1][:300] if said else f"exit code {returncode}"
    hint = ""
    if "unauthorized" in reason:
        hint = ": accept the USB debugging prompt on the device"
    elif "not found" in reason or "no devices" in reason:
        hint = ": check `adb devices` and the profile's serial"
    elif "more than one" in reason:
        hint = ": set the profile's serial (see `adb devices -l`)"
    return AdbError(f"{what} failed: {reason}{hint}", _tail(stdout + stderr))


def list_devices(adb: str = "adb", runner: Runner | None = None) -> list[android.AdbListedDevice]:
    """The devices `adb devices -l` shows, each with its transport (tcpip = unencrypted)."""
    run = runner or subprocess_runner
    code, out, err = run(adb_argv(AdbConnection(adb=adb), "devices", "-l"), LIST_TIMEOUT_S)
    if code != 0:
        raise _adb_failure("adb devices", code, out, err)
    return android.parse_devices(out)


# --- the device ----------------------------------------------------------------------


class AdbShell:
    """The adb plumbing both Android device kinds stand on: shell lines with an exit
    sentinel, verified uploads under hash names, what Android says about the device."""

    kind: str
    name: str
    threads: int | None
    _cancel: threading.Event

    def _attach(self, profile: DeviceProfile, runner: Runner | None) -> None:
        if not isinstance(profile.connection, AdbConnection):
            raise BadInput(f"device {profile.name!r} is not an adb device")
        self.profile = profile
        self.connection: AdbConnection = profile.connection
        self._runner = runner
        self._facts: dict[str, Any] = {}

    # adb plumbing

    def adb(self, *args: str, timeout_s: float = SHELL_TIMEOUT_S) -> tuple[int, str, str]:
        argv = adb_argv(self.connection, *args)
        if self._runner is not None:
            return self._runner(argv, timeout_s)
        return subprocess_runner(argv, timeout_s, self._cancel)

    def shell(self, line: str, timeout_s: float = SHELL_TIMEOUT_S) -> tuple[int, str]:
        """Run one shell line on the device: (its exit status, its output)."""
        code, out, err = self.adb("shell", with_exit_sentinel(line), timeout_s=timeout_s)
        try:
            return parse_exit_sentinel(out)
        except AdbConnectionLost as exc:
            if code != 0 and err.strip():
                raise _adb_failure("adb shell", code, out, err) from None
            raise AdbConnectionLost(exc.message, _tail(out + err)) from None

    def check(self, line: str, what: str, timeout_s: float = SHELL_TIMEOUT_S) -> str:
        status, output = self.shell(line, timeout_s)
        if status != 0:
            raise AdbError(f"{what} failed on the device (exit status {status})", _tail(output))
        return output

    def transport(self) -> str:
        """How adb reaches this device; with no serial, the only device listed."""
        if self.connection.serial:
            return android.classify_serial(self.connection.serial)
        try:
            devices = [d for d in list_devices(self.connection.adb, self._runner) if d.ready]
        except AdbError:
            return "unknown"
        return devices[0].transport if len(devices) == 1 else "unknown"

    def transport_warnings(self, transport: str | None = None) -> list[str]:
        transport = transport or self.transport()
        if transport in ("tcpip", "mdns"):
            return [android.tcpip_warning(self.connection.serial or "the only device")]
        return []

    # info

    def info(self) -> dict[str, Any]:
        facts = self.device_facts()
        warnings = self.transport_warnings(facts["transport"])
        facts.update(self.runner_facts(warnings))
        facts["warnings"] = warnings
        return facts

    def runner_facts(self, warnings: list[str]) -> dict[str, Any]:
        """What runs the model there (the device's Python, or benchmark_model)."""
        return {}

    def default_threads(self) -> int:
        """The profile's threads, else the device's own core count (not this machine's)."""
        if self.threads:
            return self.threads
        if not self._facts:
            try:
                self._facts = self.device_facts()
            except AdbError:
                return 1  # the run itself reports the connection problem
        cores = self._facts.get("logical_cores")
        return int(cores) if cores else 1

    def device_facts(self) -> dict[str, Any]:
        """What Android says about the device, from one `adb shell` call (no uploads)."""
        status, output = self.shell(shell_command(["sh", "-c", android.INFO_SCRIPT]))
        if status != 0 and android.SECTION_MARK not in output:
            raise AdbError(f"reading device facts failed (exit status {status})", _tail(output))
        facts = android.android_info(android.split_sections(output))
        facts.update(
            {
                "kind": self.kind,
                "serial": self.connection.serial or None,
                "transport": self.transport(),
                "mode": self.connection.mode,
            }
        )
        return facts

    # uploads

    def push(self, local: str | Path, kind: str, suffix: str = "") -> str:
        """Upload a file under its hash name (verified on the device); reuse it if there."""
        local = Path(local)
        sha = sha256_file(local)
        work = self.connection.work_dir
        final = remote_name(work, kind, sha, suffix)
        self.check(shell_command(["mkdir", "-p", work]), f"creating {work}")
        if self._remote_sha256(final) == sha:
            return final
        tmp = f"{work.rstrip('/')}/.tmp-{kind}-{sha[:16]}-{secrets.token_hex(4)}"
        timeout = max(PUSH_MIN_TIMEOUT_S, local.stat().st_size / PUSH_BYTES_PER_S)
        code, out, err = self.adb("push", str(local.resolve()), tmp, timeout_s=timeout)
        if code != 0:
            self._remove(tmp)
            raise _adb_failure(f"adb push of {local.name}", code, out, err)
        got = self._remote_sha256(tmp)
        if got != sha:
            self._remove(tmp)
            raise AdbError(
                f"the upload of {local.name} to the device failed verification: the "
                f"device's sha256 is {got or 'unreadable'}, expected {sha}; nothing was "
                "renamed into place",
                f"temporary file {tmp} removed",
            )
        self.check(shell_command(["mv", "-f", tmp, final]), f"renaming {tmp}")
        return final

    def _remote_sha256(self, path: str) -> str | None:
        status, output = self.shell(shell_command(["sha256sum", path]))
        if status != 0:
            return None
        for line in output.splitlines():
            match = _SHA_LINE.match(line.strip())
            if match:
                return match[1]
        return None

    def _remove(self, path: str) -> None:
        try:
            self.shell(shell_command(["rm", "-f", path]))
        except AdbError:
            pass

    def _push_bundle(self) -> str:
        from engines.devices.bundle import build_bundle
        from engines.floor import paths

        bundle = build_bundle(paths.cache_dir() / "agent")
        return self.push(bundle.path, "agent", ".zip")

    def _push_model(self, spec: BenchSpec) -> str:
        suffix = EXTENSIONS.get(spec.model.format, "")
        return self.push(spec.model.path, "model", suffix)


class AdbDevice(AdbShell, AgentDevice):
    """Python mode: a Python on the device (e.g. Termux) runs the same agent as every
    other device, through `adb shell`."""

    kind = "adb"

    def __init__(
        self,
        profile: DeviceProfile,
        budgets: PhaseBudgets | None = None,
        runner: Runner | None = None,
    ) -> None:
        AgentDevice.__init__(self, profile.name, budgets, threads=profile.threads)
        self._attach(profile, runner)
        if self.connection.mode != "python":
            raise BadInput(
                f"device {profile.name!r} runs LiteRT's benchmark_model, not the agent",
                "open it with engines.devices.profile.open_device (a BenchmarkModelDevice)",
            )
        self._remote_bundle = ""
        self._exit_status: int | None = None

    # python mode: the agent through the device's Python

    def runner_facts(self, warnings: list[str]) -> dict[str, Any]:
        """The agent's probe through the device's Python (modules, Python version)."""
        import json

        try:
            bundle = self._push_bundle()
            status, output = self.shell(
                shell_command([self.connection.python, bundle, "probe"]), SHELL_TIMEOUT_S
            )
        except AdbError as exc:
            warnings.append(f"the device's Python could not be probed: {exc.message}")
            return {"modules": {}}
        if status != 0:
            warnings.append(
                f"{self.connection.python} on the device did not run the agent (exit status "
                f"{status}); install Python (e.g. Termux: pkg install python python-numpy) "
                "or set connection.python"
            )
            return {"modules": {}}
        for line in reversed(output.splitlines()):
            if line.startswith("{"):
                try:
                    probe = json.loads(line)
                except json.JSONDecodeError:
                    break
                if isinstance(probe, dict):
                    keys = ("python", "python_executable", "modules", "agent_version")
                    return {k: probe.get(k) for k in keys}
        warnings.append("the agent's probe printed no device facts")
        return {"modules": {}}

    def prepare(self, spec: BenchSpec) -> Generator[dict[str, Any], None, BenchSpec]:
        self._facts = self.device_facts()
        for warning in self.transport_warnings(self._facts["transport"]):
            yield {"type": "log", "level": "warning", "message": warning}
        yield {"type": "log", "level": "info", "message": "uploading the agent to the device"}
        self._remote_bundle = self._push_bundle()
        yield {"type": "log", "level": "info", "message": "uploading the model to the device"}
        model = dataclasses.replace(spec.model, path=self._push_model(spec))
        evaluate = spec.evaluate
        if evaluate and evaluate.get("data_path"):
            yield {"type": "log", "level": "info", "message": "uploading the evaluation data"}
            evaluate = {**evaluate, "data_path": self.push(evaluate["data_path"], "data", ".npz")}
        inputs = spec.inputs
        if inputs.data_path:
            yield {"type": "log", "level": "info", "message": "uploading the input arrays"}
            inputs = dataclasses.replace(
                inputs, data_path=self.push(inputs.data_path, "data", ".npz")
            )
        return dataclasses.replace(spec, model=model, evaluate=evaluate, inputs=inputs)

    def start(self, spec: BenchSpec) -> Child:
        self._exit_status = None
        line = shell_command([self.connection.python, self._remote_bundle])
        child = start_command(shell_argv(self.connection, line))
        child.lines = _SentinelFilter(  # type: ignore[assignment]
            child.lines, self._record_exit, child.tail
        )
        return child

    def record_environment(self, environment: dict[str, Any]) -> dict[str, Any]:
        """The agent's environment (as Python sees it) plus what Android says."""
        environment = super().record_environment(environment)
        facts = self._facts
        android_keys = (
            "abi",
            "abi_list",
            "api_level",
            "android_release",
            "build_fingerprint",
            "model",
            "device",
            "manufacturer",
            "brand",
            "board",
            "serial",
            "transport",
        )
        merged = {**environment, "android": {k: facts.get(k) for k in android_keys}}
        if facts.get("os"):  # only when getprop answered
            merged["os"] = facts["os"]
            merged["linux"] = environment.get("os")
        for key in ("cpu_model", "cpu_temperature_c", "cpu_governor"):
            if not merged.get(key) and facts.get(key):
                merged[key] = facts[key]
        return merged

    def _record_exit(self, status: int) -> None:
        self._exit_status = status

    def classify_exit(self, returncode: int | None, phase: str, details: str) -> dict[str, Any]:
        status = self._exit_status
        if status is None:
            return error_event(
                "connection_lost",
                phase,
                f"the connection to the device was lost during {phase} (adb ended with "
                f"code {returncode} and no exit status from the device)",
                details,
            )
        # The device's shell reports a signal as 128 + N.
        code = -(status - 128) if 128 < status < 160 else status
        message, signal_used = crash_message(code, phase)
        extra = {"signal": signal_used} if signal_used else {"exit_code": status}
        return error_event("crashed", phase, f"the agent on the device {message}", details, **extra)


class _SentinelFilter:
    """Wraps the agent's line queue: takes the exit sentinel out and records its status.

    adb without the shell protocol merges the device's stderr into stdout, so lines that
    are not JSON objects (runtime logs, faulthandler tracebacks) go to the stderr tail that
    error details show, instead of counting as malformed events.
    """

    def __init__(self, inner: queue.Queue[Any], record: Callable[[int], None], tail: Any) -> None:
        self.inner = inner
        self.record = record
        self.tail = tail

    def get(self, block: bool = True, timeout: float | None = None) -> bytes:
        raw: bytes = self.inner.get(block, timeout)
        if raw == EOF_MARK or raw.lstrip().startswith(b"{"):
            return raw
        text = raw.decode("utf-8", "replace").strip()
        match = _EXIT_LINE.match(text)
        if match:
            self.record(int(match[1]))
        elif text:
            self.tail.append(text)
        raise queue.Empty


__all__ = [
    "EXIT_MARK",
    "AdbCancelled",
    "AdbConnectionLost",
    "AdbDevice",
    "AdbError",
    "Runner",
    "adb_argv",
    "list_devices",
    "parse_exit_sentinel",
    "remote_name",
    "shell_argv",
    "subprocess_runner",
    "with_exit_sentinel",
]
