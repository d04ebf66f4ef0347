"""Device profiles: where a run happens and how to reach it, as plain typed data.

The TOML files that hold them are read by `profiles.devices`; the engine only sees these
dataclasses and turns one into a `Device` with `open_device`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engines.floor.errors import BadInput

KINDS = ("local", "ssh", "adb")
ADB_MODES = ("python", "benchmark_model")


@dataclass(frozen=True)
class LocalConnection:
    """This machine: the agent runs as a child process."""

    accelerator: str = "cpu"  # "cpu" | "cuda"


@dataclass(frozen=True)
class SshConnection:
    """A Linux board reached with the system OpenSSH client (honours ~/.ssh/config).

    `host` may be an alias from ~/.ssh/config; empty `user`/`port`/`identity_file` leave
    them to that config. `python` is the interpreter on the device that runs the agent.
    """

    host: str
    user: str = ""
    port: int | None = None
    identity_file: str = ""
    python: str = "python3"
    #: Per-user cache folder on the device for the agent and models (hash-named files).
    cache_dir: str = "~/.cache/edgebench"
    #: Extra `-o Key=Value` options for ssh (e.g. "ProxyJump=bastion").
    ssh_options: tuple[str, ...] = ()
    connect_timeout_s: int = 10
    #: Keep-alive probes: a device that stops answering is dropped after
    #: interval x count seconds.
    keepalive_interval_s: int = 5
    keepalive_count: int = 3


@dataclass(frozen=True)
class AdbConnection:
    """An Android device reached with the `adb` binary.

    mode "python": a Python on the device (e.g. Termux) runs the same agent;
    mode "benchmark_model": LiteRT's `benchmark_model` binary, supplied by the user.
    """

    serial: str = ""  # empty: the only device attached
    adb: str = "adb"
    mode: str = "python"
    python: str = "/data/data/com.termux/files/usr/bin/python"
    benchmark_model: str = "/data/local/tmp/benchmark_model"
    work_dir: str = "/data/local/tmp/edgebench"


Connection = LocalConnection | SshConnection | AdbConnection


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    kind: str
    connection: Connection
    #: Runtimes this device should use, in preference order (empty: whatever it has).
    runtimes: tuple[str, ...] = ()
    threads: int | None = None
    notes: str = ""
    builtin: bool = False
    #: The file it was read from, for messages.
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The TOML-able form (no `builtin`/`source`: those come from where it was read)."""
        import dataclasses

        data: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.notes:
            data["notes"] = self.notes
        if self.runtimes:
            data["runtimes"] = list(self.runtimes)
        if self.threads:
            data["threads"] = self.threads
        defaults = type(self.connection)(**_required(self.connection))
        connection = {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self.connection).items()
            if value != getattr(defaults, key) or key in _required(self.connection)
        }
        data["connection"] = {k: v for k, v in connection.items() if v is not None}
        return data

    def describe(self) -> str:
        """One line for lists: where the device is."""
        c = self.connection
        if isinstance(c, SshConnection):
            where = f"{c.user + '@' if c.user else ''}{c.host}{':' + str(c.port) if c.port else ''}"
            return f"ssh {where}"
        if isinstance(c, AdbConnection):
            return f"adb {c.serial or '(only device)'} via {c.mode}"
        return f"this machine ({c.accelerator})"


def _required(connection: Connection) -> dict[str, Any]:
    return {"host": connection.host} if isinstance(connection, SshConnection) else {}


def open_device(profile: DeviceProfile) -> Any:
    """The `Device` for a profile (imports only the kind that is used)."""
    if profile.kind == "ssh":
        from engines.devices.ssh import SshDevice

        return SshDevice(profile)
    if profile.kind == "adb":
        if getattr(profile.connection, "mode", "python") == "benchmark_model":
            from engines.devices.benchmark_model_device import BenchmarkModelDevice

            return BenchmarkModelDevice(profile)
        from engines.devices.adb import AdbDevice

        return AdbDevice(profile)
    if profile.kind == "local":
        from engines.devices.local import LocalDevice

        accelerator = getattr(profile.connection, "accelerator", "cpu")
        return LocalDevice(name=profile.name, accelerator=accelerator, threads=profile.threads)
    raise BadInput(f"device {profile.name!r}: unknown kind {profile.kind!r}")


__all__ = [
    "ADB_MODES",
    "KINDS",
    "AdbConnection",
    "Connection",
    "DeviceProfile",
    "LocalConnection",
    "SshConnection",
    "open_device",
]
