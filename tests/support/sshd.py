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
    """One sshd process (`-D`: it stays our child) serving one authorized key."""

    dir: Path
    port: int
    client_key: Path
    host_key: Path
    proc: subprocess.Popen | None = None

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
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "sshd.log", "ab"),  # noqa: SIM115 (lives with the server)
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.dir / 'sshd.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening within 10 s")

    def stop(self) -> None:
        """Kill the listener and every session it serves (a cut connection)."""
        if self.proc is None:
            return
        import psutil

        try:
            sessions = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            sessions = []
        self.proc.kill()
        self.proc.wait(timeout=10)
        for session in sessions:
            try:
                session.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(sessions, timeout=10)
        self.proc = None

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
