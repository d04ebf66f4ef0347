"""What an agent sends, typed and checked: one TypedDict per event type is the wire
schema, and `parse_event` checks size-capped JSON lines against it (never pickles).

The TypedDicts are the one statement of each event's fields: the required ones (with
their types) are what `parse_event` insists on, and the documentation of the protocol.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal, TypedDict

MAX_LINE_BYTES = 1 << 20
MAX_SAMPLES_PER_LINE = 64

PHASES = {"spawn", "spec", "verify", "load", "first", "warmup", "measure", "evaluate", "finish"}


# Each event is a TypedDict: the required fields in a base class, the optional ones in a
# `total=False` subclass (this module runs in the agent, on a device's Python 3.9 too, so
# no NotRequired and no annotations evaluated at run time).


class _Hello(TypedDict):
    type: Literal["hello"]
    protocol: int


class HelloEvent(_Hello, total=False):
    """The agent is alive and speaks this protocol version."""

    agent_version: str


class PhaseEvent(TypedDict):
    """The agent enters a phase; each phase has its own time budget on the host."""

    type: Literal["phase"]
    phase: str


class _Progress(TypedDict):
    type: Literal["progress"]
    phase: str
    done: int
    fraction: float


class ProgressEvent(_Progress, total=False):
    """How far a phase is: `done` units, `fraction` of the phase (0..1)."""

    total: int | None


class SampleEvent(TypedDict):
    """Timed inferences `start`, `start + 1`, ... in milliseconds (at most 64 a line)."""

    type: Literal["sample"]
    start: int
    ms: list[float]


class _Memory(TypedDict):
    type: Literal["memory"]
    t_s: float
    rss_bytes: int


class MemoryEvent(_Memory, total=False):
    """One resident-memory reading at `t_s` seconds into the run."""

    phase: str


class _Log(TypedDict):
    type: Literal["log"]
    message: str


class LogEvent(_Log, total=False):
    level: str


class _Result(TypedDict):
    type: Literal["result"]
    memory: dict[str, Any]
    environment: dict[str, Any]


class ResultEvent(_Result, total=False):
    """The run's figures: `statistics` (None for an evaluation-only run), `memory`, the
    `environment` it ran in, and `evaluation` when it was evaluated."""

    statistics: dict[str, Any] | None
    evaluation: dict[str, Any] | None
    load_ms: float | None
    first_ms: float | None


class _Error(TypedDict):
    type: Literal["error"]
    error_type: str
    message: str


class ErrorEvent(_Error, total=False):
    """The run ended without a result: what kind of failure, in which phase, and why."""

    phase: str
    details: str


#: Every event type of the protocol, by its `type`.
EVENTS: dict[str, type] = {
    "hello": HelloEvent,
    "phase": PhaseEvent,
    "progress": ProgressEvent,
    "sample": SampleEvent,
    "memory": MemoryEvent,
    "log": LogEvent,
    "result": ResultEvent,
    "error": ErrorEvent,
}
EVENT_TYPES = set(EVENTS)
#: A field's annotation (as written) -> what isinstance checks; JSON's 1 is a float too.
_CHECKS: dict[str, type | tuple[type, ...]] = {
    "int": int,
    "str": str,
    "float": (int, float),
    "list": list,
    "dict": dict,
}


def _required(cls: type) -> dict[str, type | tuple[type, ...]]:
    """The required fields of an event TypedDict and their checks, read from the class
    without evaluating its annotations."""
    notes: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        for key, note in getattr(base, "__annotations__", {}).items():
            notes[key] = str(getattr(note, "__forward_arg__", note))  # ForwardRef or str
    keys = cls.__required_keys__  # type: ignore[attr-defined]
    return {key: _CHECKS[notes[key].split("[")[0]] for key in sorted(keys) if key != "type"}


#: Required fields and their types, read from the TypedDicts.
_REQUIRED = {kind: _required(cls) for kind, cls in EVENTS.items()}


class ProtocolError(ValueError):
    """The agent wrote something that is not a valid event."""


def parse_event(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_LINE_BYTES:
        raise ProtocolError(f"event line of {len(raw)} bytes exceeds {MAX_LINE_BYTES}")
    try:
        event = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        preview = raw[:80].decode("utf-8", "replace")
        raise ProtocolError(f"not a JSON event: {preview!r} ({exc})") from None
    if not isinstance(event, dict):
        raise ProtocolError("an event must be a JSON object")
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        raise ProtocolError(f"unknown event type {kind!r}")
    for key, expected in _REQUIRED[kind].items():
        if not isinstance(event.get(key), expected) or isinstance(event.get(key), bool):
            raise ProtocolError(f"{kind} event: field {key!r} missing or of the wrong type")
    if kind == "result" and not isinstance(event.get("statistics"), (dict, type(None))):
        raise ProtocolError("result event: statistics must be an object or null")
    if kind == "result" and not isinstance(event.get("evaluation"), (dict, type(None))):
        raise ProtocolError("result event: evaluation must be an object or null")
    if kind == "phase" and event["phase"] not in PHASES:
        raise ProtocolError(f"unknown phase {event['phase']!r}")
    if kind == "sample":
        values = event["ms"]
        if len(values) > MAX_SAMPLES_PER_LINE or not all(
            isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 for v in values
        ):
            raise ProtocolError("sample event: ms must be up to 64 finite non-negative numbers")
    return event


def error_event(
    error_type: str, phase: str, message: str, details: str = "", **extra: Any
) -> dict[str, Any]:
    """An `ErrorEvent` (plus any extra fields, e.g. the signal), as the dict streams carry."""
    event: ErrorEvent = {
        "type": "error",
        "error_type": error_type,
        "phase": phase,
        "message": message,
        "details": details,
    }
    return {**event, **extra}
