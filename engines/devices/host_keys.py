"""SSH host keys: trust on first use, refuse a changed key, never turn checking off.

EdgeBench keeps its own known_hosts file in the user config dir and reads the user's
(`~/.ssh/known_hosts`) too, so a host accepted in a terminal is accepted here. An unknown
host's keys are fetched with `ssh-keyscan` and shown as fingerprints; they are stored only
when the user accepts them (optionally only if they match the fingerprint given).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from engines.devices.profile import SshConnection
from engines.floor.errors import BadInput


@dataclass(frozen=True)
class HostKey:
    """One key a host offered: its known_hosts line and SHA256 fingerprint."""

    line: str
    key_type: str
    fingerprint: str


class UnknownHostKey(BadInput):
    """The device's host key is in no known_hosts file: the user must accept it."""

    def __init__(self, device: str, keys: list[HostKey], details: str = "") -> None:
        shown = "; ".join(f"{k.key_type} {k.fingerprint}" for k in keys) or "(none received)"
        super().__init__(
            f"device {device!r}: its host key is not known yet ({shown})",
            details
            or "check the fingerprint on the device (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), "
            f"then accept it: edgebench devices trust {device}",
        )
        self.device = device
        self.keys = keys


class ChangedHostKey(BadInput):
    """The device offered a different key than the one stored: refuse, always."""

    def __init__(self, device: str, details: str = "") -> None:
        super().__init__(
            f"device {device!r}: its host key has CHANGED since it was accepted; refusing "
            "to connect (this can mean someone is intercepting the connection)",
            details
            or "if the device was reinstalled, remove its old key with "
            "ssh-keygen -R HOST -f FILE (the file is named below), then accept the new one",
        )
        self.device = device


def known_hosts_file() -> Path:
    from engines.floor import paths

    return paths.config_dir() / "known_hosts"


def known_hosts_files() -> list[str]:
    """Every file ssh should check: the user's own, then ours."""
    return ["~/.ssh/known_hosts", "~/.ssh/known_hosts2", str(known_hosts_file())]


def resolved_target(connection: SshConnection) -> tuple[str, int, bool]:
    """(hostname, port, through_proxy) as ssh itself resolves them from the user's config."""
    argv = ["ssh", "-G"]
    if connection.port:
        argv += ["-p", str(connection.port)]
    if connection.user:
        argv += ["-l", connection.user]
    for option in connection.ssh_options:
        argv += ["-o", option]
    argv += ["--", connection.host]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BadInput(
            f"cannot read the ssh configuration for {connection.host!r}: {exc}"
        ) from None
    config = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    proxied = config.get("proxyjump", "none") != "none" or config.get("proxycommand", "none") != (
        "none"
    )
    return config.get("hostname", connection.host), int(config.get("port", "22")), proxied


def scan(connection: SshConnection, timeout_s: int = 10) -> list[HostKey]:
    """The keys the device offers now (ssh-keyscan), with their fingerprints."""
    hostname, port, proxied = resolved_target(connection)
    if proxied:
        raise BadInput(
            f"{connection.host} is reached through a proxy (ProxyJump/ProxyCommand), which "
            "ssh-keyscan cannot follow",
            f"accept its host key once in a terminal (ssh {connection.host}); EdgeBench "
            "reads ~/.ssh/known_hosts",
        )
    argv = ["ssh-keyscan", "-T", str(timeout_s), "-p", str(port), "--", hostname]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s + 10)
    except (OSError, subprocess.SubprocessError) as exc:
        raise BadInput(f"cannot fetch the host key of {hostname}:{port}: {exc}") from None
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no answer"]
        raise BadInput(f"{hostname}:{port} sent no host key ({tail[0]})")
    return [_with_fingerprint(line) for line in lines]


def _with_fingerprint(line: str) -> HostKey:
    proc = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", "-"],
        input=line + "\n",
        capture_output=True,
        text=True,
        timeout=10,
    )
    # "256 SHA256:abc... [127.0.0.1]:2222 (ED25519)"
    words = proc.stdout.split()
    fingerprint = words[1] if len(words) > 1 else "?"
    key_type = words[-1].strip("()") if words else line.split()[1]
    return HostKey(line=line, key_type=key_type, fingerprint=fingerprint)


def accept(keys: list[HostKey], expected_fingerprint: str | None = None) -> Path:
    """Store the keys (all of them, or only if one matches `expected_fingerprint`)."""
    if expected_fingerprint and expected_fingerprint not in {k.fingerprint for k in keys}:
        offered = ", ".join(k.fingerprint for k in keys)
        raise BadInput(
            f"the device offers {offered}, not {expected_fingerprint}: nothing was stored",
            "check the fingerprint on the device itself",
        )
    from engines.floor import paths
    from engines.floor.atomic import write_atomically

    paths.config_dir(create=True)  # 0700: only this user reads what we trust
    path = known_hosts_file()
    existing = path.read_text().splitlines() if path.exists() else []
    # Trusting a host again replaces what was stored for it: a replaced key must not stay
    # accepted beside the new one.
    hosts = {k.line.split()[0] for k in keys}
    kept = [line for line in existing if line.strip() and line.split()[0] not in hosts]
    lines = kept + [k.line for k in keys]
    if lines != existing:
        text = "\n".join(lines) + "\n"

        def write(tmp: Path) -> None:
            tmp.write_text(text, encoding="utf-8")
            tmp.chmod(0o600)

        write_atomically(path, write)
    return path
