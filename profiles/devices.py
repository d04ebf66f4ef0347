"""Device profiles: the built-ins in profiles/devices/ and the user's in the config dir.

Each TOML file is one device (name, kind, [connection], runtimes, threads, notes),
validated on load (a pydantic model for the file; its [connection] table by the
connection's own pydantic dataclass in `engines.devices.profile`); an error names the
file and the field. Devices added from the CLI or
the Devices page are written to the user dir atomically.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engines.devices.profile import (
    KINDS,
    AdbConnection,
    Connection,
    DeviceProfile,
    LocalConnection,
    SshConnection,
)
from engines.floor.errors import BadInput
from profiles.toml_files import parse_toml, read_toml

BUILTIN_DIR = Path(__file__).parent / "devices"
CONNECTIONS: dict[str, type[Connection]] = {
    "local": LocalConnection,
    "ssh": SshConnection,
    "adb": AdbConnection,
}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def user_dir() -> Path:
    from engines.floor import paths

    return paths.config_dir() / "devices"


def _connection(kind: str, raw: Any, where: str) -> Connection:
    """The engine's connection for a [connection] table; pydantic checks it (the rules
    live on the connection classes) and its first problem is said in the file's words."""
    if not isinstance(raw, dict):
        raise BadInput(f"{where}: [connection] must be a table")
    cls = CONNECTIONS[kind]
    try:
        return cls(**raw)
    except ValidationError as exc:
        fields = ", ".join(f.name for f in dataclasses.fields(cls))
        raise BadInput(
            f"{where}: {_connection_problem(exc, cls, kind)}", f"settings: {fields}"
        ) from None
    except TypeError as exc:  # a required field missing
        raise BadInput(f"{where}: [connection] {exc}") from None


def _connection_problem(error: ValidationError, cls: type[Connection], kind: str) -> str:
    problem = error.errors()[0]
    key = ".".join(str(p) for p in problem["loc"])
    said, ctx = problem["type"], problem.get("ctx", {})
    if said in ("unexpected_keyword_argument", "extra_forbidden"):
        return f"connection.{key} is not a setting of {kind} devices"
    if said in ("missing_argument", "missing"):
        return f"connection.{key} is required for {kind} devices"
    if said == "value_error":
        where = f"connection.{key}" if key else "[connection]"
        return f"{where} {ctx.get('error', problem['msg'])}".replace("] ssh", "]: ssh")
    if said == "literal_error":
        return f"connection.{key} must be one of {ctx.get('expected', '')}".replace("'", "")
    if said.startswith(("int_", "greater_than", "less_than")):
        low, high = _bounds(cls, key)
        return f"connection.{key} must be a whole number ({low}-{high})"
    if said.startswith("string_"):
        return f"connection.{key} must be text"
    return f"connection.{key}: {problem['msg'].lower()}"


def _bounds(cls: type[Connection], key: str) -> tuple[Any, Any]:
    """A whole-number setting's range, read from its pydantic field."""
    import annotated_types

    low: Any = "…"
    high: Any = "…"
    for rule in cls.__pydantic_fields__[key].metadata:  # type: ignore[union-attr]
        if isinstance(rule, annotated_types.Ge):
            low = rule.ge
        elif isinstance(rule, annotated_types.Le):
            high = rule.le
    return low, high


class ProfileFile(BaseModel):
    """A device profile file as written (its [connection] table is checked per kind by
    `_connection`): unknown fields refused, every field typed, the words in the errors."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(description="how commands name it: --device NAME")
    kind: str = Field(description="local | ssh | adb")
    connection: dict[str, Any] = Field(default_factory=dict)
    runtimes: list[str] = Field(default_factory=list, description="the runtimes it runs")
    threads: int | None = Field(None, description="default threads (else its cores)")
    notes: str = ""

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if not isinstance(value, str) or not NAME_RE.match(value):
            raise ValueError(
                f"name {value!r} must be 1-64 letters, digits, '.', '_' or '-' (it names the "
                "device in commands: edgebench profile ... --device NAME)"
            )
        return value

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> Any:
        if value not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {value!r}")
        return value

    @field_validator("threads", mode="before")
    @classmethod
    def _threads(cls, value: Any) -> Any:
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise ValueError("threads must be a whole number >= 1")
        return value

    @field_validator("runtimes", mode="before")
    @classmethod
    def _runtimes(cls, value: Any) -> Any:
        if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
            raise ValueError("runtimes must be a list of runtime names")
        return value


def _problem(error: ValidationError) -> str:
    """The first problem in the file's own words."""
    problem = error.errors()[0]
    field = ".".join(str(p) for p in problem["loc"])
    if problem["type"] == "extra_forbidden":
        return f"unknown field {field!r}"
    if problem["type"] == "value_error":
        return str(problem["ctx"]["error"])
    if field == "connection":
        return "[connection] must be a table"
    return f"{field}: {problem['msg'].lower()}"


def parse_profile(data: dict[str, Any], where: str, builtin: bool = False) -> DeviceProfile:
    try:
        parsed = ProfileFile.model_validate(data)
    except ValidationError as exc:
        raise BadInput(
            f"{where}: {_problem(exc)}", f"fields: {', '.join(ProfileFile.model_fields)}"
        ) from None
    from engines.runtimes.registry import get_runtime

    for runtime in parsed.runtimes:
        get_runtime(runtime)  # unknown names: BadInput listing the choices
    return DeviceProfile(
        name=parsed.name,
        kind=parsed.kind,
        connection=_connection(parsed.kind, parsed.connection, where),
        runtimes=tuple(parsed.runtimes),
        threads=parsed.threads,
        notes=parsed.notes.strip(),
        builtin=builtin,
        source=where,
    )


def load_file(path: Path, builtin: bool = False) -> DeviceProfile:
    data = read_toml(path)
    return parse_profile(data, str(path), builtin)


def _scan() -> tuple[dict[str, DeviceProfile], dict[Path, BadInput]]:
    found = {p.name: p for p in (load_file(f, True) for f in sorted(BUILTIN_DIR.glob("*.toml")))}
    broken: dict[Path, BadInput] = {}
    folder = user_dir()
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        try:
            profile = load_file(path)
            if profile.name in found and found[profile.name].builtin:
                raise BadInput(
                    f"{path}: {profile.name!r} is a built-in device; choose another name"
                )
        except BadInput as exc:
            broken[path] = exc
            continue
        found[profile.name] = profile
    return found, broken


def all_devices() -> dict[str, DeviceProfile]:
    """Built-ins first, then the user's devices (which may not reuse a built-in name). A
    file that cannot be read is left out, that device alone (`broken_devices` says why):
    one bad file never stops runs on the others."""
    return _scan()[0]


def broken_devices() -> dict[Path, BadInput]:
    """The user's device files that could not be read, with what is wrong in each."""
    return _scan()[1]


def get_device(name: str) -> DeviceProfile:
    devices, broken = _scan()
    for path, problem in broken.items():
        if path.stem == name and name not in devices:
            raise BadInput(
                f"device {name!r} is off until its file is fixed: {problem.message}",
                problem.details,
            )
    try:
        return devices[name]
    except KeyError:
        raise BadInput(
            f"unknown device {name!r}",
            f"devices: {', '.join(devices)} (add one with: edgebench devices add NAME --host HOST)",
        ) from None


def to_toml(data: dict[str, Any], existing: str = "") -> str:
    """A profile as TOML (tomlkit). Given the file's current text, only the values change:
    the user's comments, order and layout survive, and keys no longer set are dropped."""
    import tomlkit

    document = tomlkit.parse(existing) if existing else tomlkit.document()
    _update(document, data)
    return tomlkit.dumps(document)


def _update(table: Any, data: dict[str, Any]) -> None:
    for key in [k for k in table if k not in data]:
        del table[key]
    for key, value in data.items():
        if isinstance(value, dict):
            if key not in table or not isinstance(table[key], dict):
                table[key] = {}
            _update(table[key], value)
        else:
            new = list(value) if isinstance(value, tuple) else value
            if table.get(key) != new:  # an unchanged value keeps its own formatting
                table[key] = new


def save_device(profile: DeviceProfile, replace: bool = False) -> Path:
    """Validate and write a user device profile atomically; returns its file. Editing an
    existing file keeps its comments."""
    path = user_dir() / f"{profile.name}.toml"
    current = path.read_text(encoding="utf-8") if replace and path.is_file() else ""
    text = to_toml(profile.to_dict(), current)
    checked = parse_profile(parse_toml(text), f"device {profile.name!r}")
    existing = all_devices().get(checked.name)
    if existing and existing.builtin:
        raise BadInput(f"{checked.name!r} is a built-in device; choose another name")
    if existing and not replace:
        raise BadInput(
            f"a device named {checked.name!r} exists already ({existing.source})",
            "choose another name, or edit it (edgebench devices add ... --replace)",
        )
    from engines.floor.atomic import write_atomically

    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def remove_device(name: str) -> Path:
    profile = get_device(name)
    if profile.builtin:
        raise BadInput(f"{name!r} is a built-in device and cannot be removed")
    path = Path(profile.source)
    path.unlink()
    return path
