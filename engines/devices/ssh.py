"""SSH devices: the same agent on a Linux board, through the system OpenSSH client.

ssh reads the user's ~/.ssh/config, agent, keys and ProxyJump; connections are shared
(ControlMaster) so a job does not pay a handshake; keep-alives drop a device that stops
answering. Files go to a per-user cache folder on the device under hash names, verified
there before they are renamed into place, and are reused when already there. The agent
runs under `timeout` in its own session and ends when the connection does (EOF on its
standard input).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from engines.devices.agent_device import AgentDevice
from engines.devices.base import PhaseBudgets
from engines.devices.bundle import build_bundle
from engines.devices.host_keys import ChangedHostKey, UnknownHostKey, known_hosts_files, scan
from engines.devices.profile import DeviceProfile, SshConnection
from engines.devices.remote import shell_command
from engines.floor.errors import BadInput, DeviceUnreachable, RunFailed
from engines.floor.spec import BenchSpec
from engines.models.artifacts import sha256_file
from engines.process import Child, crash_message, start_command

CONTROL_PERSIST_S = 120
PING_EVERY_S = 2.0
UPLOAD_CHUNK_BYTES = 1 << 20
EXTENSIONS = {"onnx": ".onnx", "tflite": ".tflite", "pt2": ".pt2", "torchscript": ".pt"}

#: Runs on the device: read stdin into a temp name, check its sha256, rename into place.
_RECEIVE = """import hashlib, os, sys
tmp, final, want = sys.argv[1:4]
os.makedirs(os.path.dirname(final), exist_ok=True)
digest = hashlib.sha256()
with open(tmp, "wb") as out:
    for chunk in iter(lambda: sys.stdin.buffer.read(1 << 20), b""):
        digest.update(chunk)
        out.write(chunk)
if digest.hexdigest() != want:
    os.remove(tmp)
    sys.exit("hash mismatch: got %s, expected %s" % (digest.hexdigest(), want))
os.replace(tmp, final)
"""
_PRESENT = "import os, sys\nfor p in sys.argv[1:]:\n    print(p if os.path.isfile(p) else '')"
_HOME = "import os, sys\nprint(os.path.abspath(os.path.expanduser(sys.argv[1])))"


def control_dir() -> Path:
    """Short path for ControlMaster sockets (unix socket paths are capped near 104 bytes)."""
    path = Path(tempfile.gettempdir()) / f"edgebench-ssh-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    # In a shared /tmp another user may have made this name first: their sockets would
    # carry our sessions. Only a folder of our own, private to us, is used.
    info = path.lstat()
    if path.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise BadInput(
            f"{path} is not a private folder of this user (owner uid {info.st_uid}, mode "
            f"{info.st_mode & 0o777:o}): its ssh connection sockets cannot be trusted",
            "remove it (or set TMPDIR to a private folder) and try again",
        )
    return path


def ssh_argv(connection: SshConnection) -> list[str]:
    """The ssh command line for a device, up to (and including) the destination."""
    c = connection
    known = " ".join(f'"{p}"' for p in known_hosts_files())
    argv = [
        "ssh",
        "-T",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={known}",
        "-o",
        f"ConnectTimeout={c.connect_timeout_s}",
        "-o",
        f"ServerAliveInterval={c.keepalive_interval_s}",
        "-o",
        f"ServerAliveCountMax={c.keepalive_count}",
        "-o",
        "ControlMaster=auto",
        "-o",
        f"ControlPath={control_dir()}/%C",
        "-o",
        f"ControlPersist={CONTROL_PERSIST_S}",
        "-o",
        "LogLevel=ERROR",
    ]
    if c.port:
        argv += ["-p", str(c.port)]
    if c.user:
        argv += ["-l", c.user]
    if c.identity_file:
        argv += ["-i", str(Path(c.identity_file).expanduser()), "-o", "IdentitiesOnly=yes"]
    for option in c.ssh_options:
        argv += ["-o", option]
    return [*argv, "--", c.host]


class SshDevice(AgentDevice):
    kind = "ssh"

    def __init__(self, profile: DeviceProfile, budgets: PhaseBudgets | None = None) -> None:
        super().__init__(profile.name, budgets, threads=profile.threads)
        if not isinstance(profile.connection, SshConnection):
            raise BadInput(f"device {profile.name!r} is not an SSH device")
        self.profile = profile
        self.connection: SshConnection = profile.connection
        self._root: str | None = None
        self._bundle_path: str | None = None
        self._probe: dict[str, Any] | None = None
        self._next_ping = 0.0
        self._wall_budget_s = 0.0

    # connection -------------------------------------------------------------------------

    def ssh(
        self, command: str, *, input_bytes: bytes | None = None, timeout_s: float = 60.0
    ) -> subprocess.CompletedProcess[bytes]:
        """Run one remote command; ssh's own failures become typed errors."""
        try:
            proc = subprocess.run(
                [*ssh_argv(self.connection), command],
                input=input_bytes if input_bytes is not None else b"",
                capture_output=True,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            raise DeviceUnreachable(
                f"device {self.name!r} did not answer within {timeout_s:g} s"
            ) from None
        except FileNotFoundError:
            raise BadInput("the OpenSSH client (ssh) is not installed on this machine") from None
        if proc.returncode == 255:
            self._raise_ssh_failure(proc.stderr.decode("utf-8", "replace"))
        return proc

    def _raise_ssh_failure(self, stderr: str) -> None:
        text = stderr.strip()
        last = text.splitlines()[-1] if text else "no message"
        if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text or "has changed" in text:
            raise ChangedHostKey(self.name, text[-1500:])
        if "Host key verification failed" in text or "host key is known" in text:
            try:
                keys = scan(self.connection)
            except BadInput:
                keys = []
            raise UnknownHostKey(self.name, keys)
        if "Permission denied" in text:
            raise DeviceUnreachable(
                f"device {self.name!r} refused the login ({last})",
                "EdgeBench logs in with your ssh-agent and keys, never a password: "
                f"copy your key to the device (ssh-copy-id {self.connection.host}) or set "
                "identity_file in the device profile",
            )
        raise DeviceUnreachable(
            f"cannot reach device {self.name!r} ({self.profile.describe()}): {last}", text
        )

    def python(self, *args: str, input_bytes: bytes | None = None, timeout_s: float = 60.0) -> str:
        """Run the device's Python with `args`; its stdout, or a clear error."""
        proc = self.ssh(
            shell_command([self.connection.python, *args]),
            input_bytes=input_bytes,
            timeout_s=timeout_s,
        )
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip()
            if proc.returncode == 127 or "not found" in err:
                raise BadInput(
                    f"device {self.name!r} has no Python at {self.connection.python!r}",
                    "install Python 3.9+ on the device (sudo apt install python3 "
                    "python3-numpy) or set `python` in the device profile",
                )
            raise RunFailed(f"device {self.name!r}: a remote command failed: {err[-300:]}", err)
        return proc.stdout.decode("utf-8", "replace")

    def root(self) -> str:
        """The device's cache folder, as an absolute path (asked once)."""
        if self._root is None:
            self._root = self.python("-c", _HOME, self.connection.cache_dir).strip()
        return self._root

    def close(self) -> None:
        """End the shared connection (the next command opens a new one)."""
        subprocess.run(
            [*ssh_argv(self.connection)[:-2], "-O", "exit", "--", self.connection.host],
            capture_output=True,
            timeout=10,
        )

    # files ------------------------------------------------------------------------------

    def present(self, remote_paths: list[str]) -> set[str]:
        out = self.python("-c", _PRESENT, *remote_paths)
        return {line for line in out.splitlines() if line}

    def upload(
        self, local: Path, remote: str, sha256: str, label: str
    ) -> Generator[dict[str, Any], None, None]:
        """Stream a file to a temp name on the device, verify its hash there, rename."""
        size = local.stat().st_size
        yield {"type": "log", "level": "info", "message": f"uploading {label} ({size:,} bytes)"}
        tmp = f"{remote}.part-{secrets.token_hex(4)}"
        command = shell_command([self.connection.python, "-c", _RECEIVE, tmp, remote, sha256])
        proc = subprocess.Popen(
            [*ssh_argv(self.connection), command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert proc.stdin is not None
        sent = 0
        try:
            with local.open("rb") as f:
                for chunk in iter(lambda: f.read(UPLOAD_CHUNK_BYTES), b""):
                    if self._cancel.is_set():
                        proc.kill()
                        raise RunFailed(f"upload of {label} cancelled")
                    proc.stdin.write(chunk)
                    sent += len(chunk)
                    yield {
                        "type": "progress",
                        "phase": "upload",
                        "done": sent,
                        "fraction": round(sent / size, 4) if size else 1.0,
                    }
        except BrokenPipeError:
            pass  # the device hung up: its reason is on stderr
        try:
            _, stderr_bytes = proc.communicate(timeout=120)  # closes stdin: EOF ends the file
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise DeviceUnreachable(
                f"device {self.name!r} stopped answering during upload"
            ) from None
        stderr = stderr_bytes.decode("utf-8", "replace")
        if proc.returncode == 255:
            self._raise_ssh_failure(stderr)
        if proc.returncode != 0:
            raise RunFailed(
                f"upload of {label} to device {self.name!r} failed: "
                f"{(stderr.strip().splitlines() or ['no message'])[-1]}",
                stderr,
            )

    def ensure_files(
        self, files: list[tuple[Path, str, str, str]]
    ) -> Generator[dict[str, Any], None, None]:
        """Upload (local, remote, sha256, label) files the device does not have yet."""
        have = self.present([remote for _, remote, _, _ in files])
        for local, remote, sha256, label in files:
            if remote in have:
                yield {"type": "log", "level": "info", "message": f"{label}: already on device"}
                continue
            yield from self.upload(local, remote, sha256, label)

    def ensure_agent(self) -> Generator[dict[str, Any], None, str]:
        from engines.floor import paths

        if self._bundle_path is None:
            bundle = build_bundle(paths.cache_dir() / "agent")
            remote = f"{self.root()}/agent/agent-{bundle.sha256}.zip"
            yield from self.ensure_files([(bundle.path, remote, bundle.sha256, "agent")])
            self._bundle_path = remote
        return self._bundle_path

    # information ------------------------------------------------------------------------

    def probe(self) -> dict[str, Any]:
        """What the device has (cached for this device object)."""
        if self._probe is None:
            for _ in self.ensure_agent():
                pass
            assert self._bundle_path is not None
            out = self.python(self._bundle_path, "probe")
            try:
                self._probe = json.loads(out.strip().splitlines()[-1])
            except (json.JSONDecodeError, IndexError):
                raise RunFailed(
                    f"device {self.name!r} sent an unreadable probe: {out[:200]!r}"
                ) from None
        return self._probe

    def info(self) -> dict[str, Any]:
        return {
            "device": self.name,
            "kind": self.kind,
            "address": self.profile.describe(),
            **self.probe(),
        }

    def device_record(self) -> dict[str, Any]:
        probe = self._probe or {}
        keys = ("board", "ram_bytes", "os", "kernel", "python_executable")
        return {
            **super().device_record(),
            "address": self.profile.describe(),
            **{key: probe.get(key) for key in keys if probe.get(key) is not None},
        }

    def setup_check(self) -> list[Any]:
        """What works on the device and what to install (engines.devices.setup)."""
        from engines.devices.setup import setup_checks

        return setup_checks(self.probe(), self.profile.runtimes)

    def default_threads(self) -> int:
        """The profile's threads, else the device's own physical (or logical) cores."""
        if self.threads:
            return self.threads
        probe = self.probe()
        return int(probe.get("physical_cores") or probe.get("logical_cores") or 1)

    # running ----------------------------------------------------------------------------

    def prepare(self, spec: BenchSpec) -> Generator[dict[str, Any], None, BenchSpec]:
        """Upload the agent and the spec's files; the agent's time budget and heartbeat."""
        phases = ("start", "verify", "load", "first", "warmup", "measure", "finish")
        wall = sum(self.budgets.for_phase(p, spec, self._model_bytes) for p in phases)
        self._wall_budget_s = wall + (self.budgets.evaluate_s if spec.evaluate else 0.0)
        # The agent ends itself when our pings stop: a device that loses its network keeps
        # nothing running (sshd alone may not notice a vanished client for hours).
        c = self.connection
        heartbeat = max(10.0, 2.0 * c.keepalive_interval_s * c.keepalive_count)
        spec = dataclasses.replace(spec, parent_heartbeat_s=heartbeat)
        yield {"type": "log", "level": "info", "message": f"connecting to {self.name}"}
        yield from self.ensure_agent()
        root = self.root()
        model = spec.model
        model_path = Path(model.path)
        model_sha = model.sha256 or sha256_file(model_path)
        folder = f"{root}/models/{model_sha}"
        remote_model = f"{folder}/model{EXTENSIONS.get(model.format, '.bin')}"
        files = [(model_path, remote_model, model_sha, "model")]
        for relative in model.data_files:
            local = model_path.parent / relative
            files.append(
                (local, f"{folder}/{relative}", sha256_file(local), f"model data {relative}")
            )
        evaluate = spec.evaluate
        if evaluate:
            data = Path(evaluate["data_path"])
            data_sha = sha256_file(data)
            remote_data = f"{root}/data/{data_sha}.npz"
            files.append((data, remote_data, data_sha, "evaluation data"))
            evaluate = {**evaluate, "data_path": remote_data}
        inputs = spec.inputs
        if inputs.data_path:
            arrays = Path(inputs.data_path)
            arrays_sha = sha256_file(arrays)
            remote_arrays = f"{root}/data/{arrays_sha}.npz"
            files.append((arrays, remote_arrays, arrays_sha, "input arrays"))
            inputs = dataclasses.replace(inputs, data_path=remote_arrays)
        yield from self.ensure_files(files)
        return dataclasses.replace(
            spec,
            model=dataclasses.replace(model, path=remote_model),
            evaluate=evaluate,
            inputs=inputs,
        )

    def start(self, spec: BenchSpec) -> Child:
        assert self._bundle_path is not None
        tools = self.probe().get("tools", {})
        words = [self.connection.python, "-X", "faulthandler", "-u", self._bundle_path]
        if tools.get("setsid") and tools.get("timeout"):
            words = ["setsid", *words]
        if tools.get("timeout"):
            words = ["timeout", "-k", "5", f"{self._wall_budget_s:.0f}", *words]
        if os.environ.get("EDGEBENCH_ALLOW_FAULTS") == "1":
            words = ["env", "EDGEBENCH_ALLOW_FAULTS=1", *words]
        return start_command([*ssh_argv(self.connection), shell_command(words)])

    def keepalive(self, proc: subprocess.Popen[bytes]) -> None:
        now = time.monotonic()
        if now < self._next_ping or proc.stdin is None:
            return
        self._next_ping = now + PING_EVERY_S
        try:
            proc.stdin.write(b"ping\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # ssh has gone: its exit is reported by the event loop

    def classify_exit(self, returncode: int | None, phase: str, details: str) -> dict[str, Any]:
        from engines.floor.events import error_event

        if returncode == 255:
            last = (details.strip().splitlines() or ["no message"])[-1]
            return error_event(
                "connection_lost",
                phase,
                f"lost the connection to device {self.name!r} during {phase} ({last}); "
                "the agent on the device ends with the connection",
                details,
            )
        if returncode in (124, 137):
            return error_event(
                "timeout",
                phase,
                f"the agent on device {self.name!r} ran past its time budget during {phase} "
                "and was stopped",
                details,
            )
        message, signal_used = crash_message(returncode, phase)
        extra = {"signal": signal_used} if signal_used else {"exit_code": returncode}
        return error_event(
            "crashed", phase, f"the agent on {self.name!r} {message}", details, **extra
        )
