"""Whether the kernel's out-of-memory killer has struck in this process's cgroup: its
`oom_kill` counter (cgroup v2 `memory.events`, v1 `memory.oom_control`). Read before a
child starts and after it died of SIGKILL, it says whether the OOM killer was the one
(standard library only)."""

from __future__ import annotations

from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _counter(path: Path) -> int | None:
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    except (OSError, ValueError):
        return None
    return None


def _candidates() -> list[Path]:
    found = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "":  # cgroup v2
            found.append(CGROUP_ROOT / relative / "memory.events")
        elif "memory" in controllers.split(","):
            found.append(CGROUP_ROOT / "memory" / relative / "memory.oom_control")
            found.append(CGROUP_ROOT / "memory" / "memory.oom_control")  # a namespaced root
    return found


def oom_kills() -> int | None:
    """The cgroup's count of OOM kills so far; None where no cgroup says."""
    for path in _candidates():
        count = _counter(path)
        if count is not None:
            return count
    return None


def killed_by_oom(before: int | None) -> bool | None:
    """True if the count rose since `before`, False if it did not, None if unknown."""
    after = oom_kills()
    if before is None or after is None:
        return None
    return after > before


def cgroup_memory_limit_bytes() -> int | None:
    """The memory limit of this process's cgroup (v2 `memory.max`, v1
    `memory.limit_in_bytes`), None when there is none: a container's limit, not the host's
    RAM, is what the OOM killer enforces."""
    for events in _candidates():
        name = "memory.max" if events.name == "memory.events" else "memory.limit_in_bytes"
        try:
            text = (events.parent / name).read_text().strip()
        except OSError:
            continue
        if text and text != "max" and int(text) < 1 << 60:  # v1 says "no limit" as ~2**63
            return int(text)
    return None
