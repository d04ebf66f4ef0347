"""Device profiles: where a run happens and how to reach it, as typed, validated data.

The connection tables are pydantic dataclasses: a value that does not fit (an unknown
key, a port of 70000, a host that would be read as an ssh option) is refused when one is
made, wherever it comes from (a TOML file, the Devices page, the CLI). The TOML files are
read by `profiles.devices`, which turns pydantic's errors into the file's words; the
engine turns a profile into a `Device` with `open_device`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.dataclasses import dataclass as validated

from engines.floor.errors import BadInput

KINDS = ("local", "ssh", "adb")
ADB_MODES = ("python", "benchmark_model")
#: Host names, aliases and addresses: no spaces, no leading '-' (never an ssh option).
HOST_RE = re.compile(r"^[A-Za-z0-9_.:\[\]%][A-Za-z0-9_.:\[\]%-]*$")
USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
#: ssh options whose value is a command run on this machine, not on the device.
LOCAL_COMMAND_OPTIONS = ("proxycommand", "localcommand", "permitlocalcommand", "knownhostscommand")


def runs_local_command(option: str) -> bool:
    """Whether an ssh `Key=Value` option would run a command here (also `Match exec`)."""
    key, _, value = option.partition("=")
    key = key.strip().lower()
    if key == "permitlocalcommand":
        return value.strip().lower() in ("yes", "true")
    return key in LOCAL_COMMAND_OPTIONS or (key == "match" and "exec" in value.lower())


#: Unknown keys refused, no type coercion ("22" is not a port), text stripped.
TABLE = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


@validated(frozen=True, config=TABLE)
class LocalConnection:
    """This machine: the agent runs as a child process."""

    accelerator: Literal["cpu", "cuda"] = "cpu"


@validated(frozen=True, config=TABLE)
class SshConnection:
    """A Linux board reached with the system OpenSSH client (honours ~/.ssh/config).

    `host` may be an alias from ~/.ssh/config; empty `user`/`port`/`identity_file` leave
    them to that config. `python` is the interpreter on the device that runs the agent.
    """

    host: str
    user: str = ""
    port: Annotated[int | None, Field(ge=1, le=65535)] = None
    identity_file: str = ""
    python: str = "python3"
    #: Per-user cache folder on the device for the agent and models (hash-named files).
    cache_dir: str = "~/.cache/edgebench"
    #: Extra `-o Key=Value` options for ssh (e.g. "ProxyJump=bastion").
    ssh_options: tuple[str, ...] = ()
    connect_timeout_s: Annotated[int, Field(ge=1, le=3600)] = 10
    #: Keep-alive probes: a device that stops answering is dropped after
    #: interval x count seconds.
    keepalive_interval_s: Annotated[int, Field(ge=1, le=3600)] = 5
    keepalive_count: Annotated[int, Field(ge=1, le=100)] = 3
    #: ssh options that run commands on this machine (ProxyCommand, LocalCommand, ...)
    #: are refused unless this is set on the device: a shared profile must not run code.
    allow_local_command: bool = False

    @field_validator("host")
    @classmethod
    def _host(cls, host: str) -> str:
        if not host or not HOST_RE.match(host):
            raise ValueError(f"{host!r} is not a host name, address or ssh alias")
        return host

    @field_validator("user")
    @classmethod
    def _user(cls, user: str) -> str:
        if user and not USER_RE.match(user):
            raise ValueError(f"{user!r} is not a user name")
        return user

    @field_validator("ssh_options", mode="before")
    @classmethod
    def _options(cls, options: Any) -> tuple[str, ...]:
        if not isinstance(options, (list, tuple)) or not all(
            isinstance(o, str) and "=" in o for o in options
        ):
            raise ValueError("must be a list of 'Key=Value'")
        return tuple(o.strip() for o in options)

    @model_validator(mode="after")
    def _no_local_commands(self) -> SshConnection:
        running = [o for o in self.ssh_options if runs_local_command(o)]
        if running and not self.allow_local_command:
            raise ValueError(
                f"ssh option {running[0]!r} runs a command on this machine; set "
                "allow_local_command = true on this device (edgebench devices add "
                "--allow-local-command) only if you trust where the profile came from"
            )
        return self


@validated(frozen=True, config=TABLE)
class AdbConnection:
    """An Android device reached with the `adb` binary.

    mode "python": a Python on the device (e.g. Termux) runs the same agent;
    mode "benchmark_model": LiteRT's `benchmark_model` binary, supplied by the user.
    """

    serial: str = ""  # empty: the only device attached
    adb: str = "adb"
    mode: Literal["python", "benchmark_model"] = "python"
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
