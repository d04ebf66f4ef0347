"""The agent's protocol: the event TypedDicts are the schema `parse_event` checks, and the
agent's own modules stay loadable on the oldest Python a device may have (3.9)."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from engines.floor import events
from engines.floor.events import EVENTS, ProtocolError, error_event, parse_event

ENGINES = Path(events.__file__).resolve().parents[1]
#: What the agent imports on a device (the import contract's allowance), and its probe.
AGENT_MODULES = [
    *sorted((ENGINES / "floor").glob("*.py")),
    *sorted((ENGINES / "bench").glob("*.py")),
    *sorted((ENGINES / "runtimes").glob("*.py")),
    ENGINES / "evaluate" / "npz.py",
    ENGINES / "evaluate" / "metrics.py",
    ENGINES / "devices" / "probe.py",
]


def _line(**event: object) -> bytes:
    return json.dumps(event).encode()


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_every_required_field_of_each_typed_event_is_checked(kind: str) -> None:
    """Drop any required field of any event type (read from its TypedDict): refused."""
    cls = EVENTS[kind]
    required = sorted(cls.__required_keys__ - {"type"})  # type: ignore[attr-defined]
    assert required, kind
    example = {
        "hello": {"protocol": 1},
        "phase": {"phase": "load"},
        "progress": {"phase": "evaluate", "done": 3, "fraction": 0.5},
        "sample": {"start": 0, "ms": [1.0, 2]},
        "memory": {"t_s": 1, "rss_bytes": 10},
        "log": {"message": "hi"},
        "result": {"memory": {}, "environment": {}},
        "error": {"error_type": "crashed", "message": "x"},
    }[kind]
    assert sorted(example) == required, "the example lists exactly the required fields"
    assert parse_event(_line(type=kind, **example))["type"] == kind
    for field in required:
        with pytest.raises(ProtocolError, match=repr(field)):
            parse_event(_line(type=kind, **{k: v for k, v in example.items() if k != field}))
        with pytest.raises(ProtocolError):
            parse_event(_line(type=kind, **{**example, field: True}))


def test_error_event_is_an_error_event_with_extras() -> None:
    event = error_event("crashed", "load", "the agent crashed", signal="SIGSEGV")
    assert set(events.ErrorEvent.__annotations__) <= set(event)
    assert parse_event(json.dumps(event).encode())["signal"] == "SIGSEGV"


@pytest.mark.parametrize("path", AGENT_MODULES, ids=lambda p: p.relative_to(ENGINES).as_posix())
def test_the_agents_modules_are_python_3_9_syntax(path: Path) -> None:
    ast.parse(path.read_text(), str(path), feature_version=(3, 9))


def test_the_agent_starts_on_python_3_9_where_one_is_installed(tmp_path: Path) -> None:
    """Runs the real bundle's probe under python3.9; machines without one skip (the syntax
    test above still runs everywhere)."""
    python39 = shutil.which("python3.9")
    if python39 is None or subprocess.run([python39, "-c", "pass"]).returncode != 0:
        pytest.skip("no python3.9 on this machine")
    from engines.devices.bundle import build_bundle

    bundle = build_bundle(tmp_path)
    probe = subprocess.run(
        [python39, str(bundle.path), "probe"], capture_output=True, text=True, timeout=60
    )
    assert probe.returncode == 0, probe.stderr
    spec_check = subprocess.run(
        [
            python39,
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "import engines.bench.agent, engines.floor.events as e; print(len(e.EVENTS))",
            str(bundle.path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert spec_check.stdout.strip() == "8", spec_check.stderr


def test_the_probe_runs_on_a_python_with_nothing_installed(tmp_path: Path) -> None:
    """`python -S` sees no site-packages (no numpy, no runtime): the probe still answers,
    so `devices test` can say what to install on a bare device."""
    import sys

    from engines.devices.bundle import build_bundle

    bundle = build_bundle(tmp_path)
    probe = subprocess.run(
        [sys.executable, "-S", "-I", str(bundle.path), "probe"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    facts = json.loads(probe.stdout.strip().splitlines()[-1])
    assert facts["modules"].get("numpy") is None, facts["modules"]
