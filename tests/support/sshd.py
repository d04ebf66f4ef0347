"""A real OpenSSH server on 127.0.0.1 for device tests: temporary host and user keys, a
free port, and a device profile pointing at it whose Python is the project's venv."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgebench-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


@dataclass
class SshServer:
    """One sshd daemon serving one authorized key.

    sshd detaches (no `-D`), like a device's own server: its sessions are not children of
    the test process, whose guard checks that tests leave no children behind.
    """

    dir: Path
    port: int
    client_key: Path
    host_key: Path
    pid: int | None = None

    @classmethod
    def create(cls, folder: Path, client_key: Path | None = None) -> SshServer:
        folder.mkdir(parents=True, exist_ok=True)
        host_key = keygen(folder / "ssh_host_ed25519_key")
        client_key = client_key or keygen(folder / "client_key")
        shutil.copy(f"{client_key}.pub", folder / "authorized_keys")
        return cls(folder, free_port(), client_key, host_key)

    def start(self) -> SshServer:
        config = self.dir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
                    "StrictModes no",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "PermitRootLogin prohibit-password",
                    "MaxSessions 50",
                    "MaxStartups 50",
                    "LogLevel ERROR",
                ]
            )
            + "\n"
        )
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        log = self.dir / "sshd.log"
        started = subprocess.run(
            [SSHD, "-f", str(config), "-E", str(log)], capture_output=True, text=True, timeout=30
        )
        if started.returncode != 0:
            raise RuntimeError(f"sshd did not start: {started.stderr}{log.read_text()[-2000:]}")
        deadline = time.monotonic() + 10
        pid_file = self.dir / "sshd.pid"
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                self.pid = int(pid_file.read_text().strip())
                return self
            except (OSError, ValueError):
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not start listening within 10 s: {log.read_text()[-2000:]}")

    def processes(self) -> list:
        """The listener and every session process it serves."""
        import psutil

        if self.pid is None:
            return []
        try:
            listener = psutil.Process(self.pid)
            return [listener, *listener.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        """Kill the listener and every session it serves (a cut connection)."""
        import psutil

        processes = self.processes()
        for proc in processes:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(processes, timeout=10)
        self.pid = None

    def connection(self, cache_dir: Path, **overrides: object):
        from engines.devices.profile import SshConnection

        settings = {
            "host": "127.0.0.1",
            "port": self.port,
            "user": getpass.getuser(),
            "identity_file": str(self.client_key),
            "python": sys.executable,
            "cache_dir": str(cache_dir),
            "keepalive_interval_s": 1,
            "keepalive_count": 3,
            **overrides,
        }
        return SshConnection(**settings)  # type: ignore[arg-type]

    def profile(self, cache_dir: Path, name: str = "loopback", **overrides: object):
        from engines.devices.profile import DeviceProfile

        return DeviceProfile(
            name=name, kind="ssh", connection=self.connection(cache_dir, **overrides)
        )
