"""Checking what an agent sends: size-capped, schema-checked JSON lines, never pickles."""

from __future__ import annotations

import json
import math
from typing import Any

MAX_LINE_BYTES = 1 << 20
MAX_SAMPLES_PER_LINE = 64

EVENT_TYPES = {"hello", "phase", "progress", "sample", "memory", "log", "result", "error"}
PHASES = {"spawn", "spec", "verify", "load", "first", "warmup", "measure", "evaluate", "finish"}
_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    "hello": {"protocol": int},
    "phase": {"phase": str},
    "progress": {"phase": str, "done": int, "fraction": (int, float)},
    "sample": {"start": int, "ms": list},
    "memory": {"t_s": (int, float), "rss_bytes": int},
    "log": {"message": str},
    "result": {"memory": dict, "environment": dict},
    "error": {"error_type": str, "message": str},
}


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
    return {
        "type": "error",
        "error_type": error_type,
        "phase": phase,
        "message": message,
        "details": details,
        **extra,
    }
