"""The memory cap every agent and host worker runs under (standard library only).

By default a child may take `MEMORY_FRACTION` of the memory this machine gives us (its
physical memory, or its cgroup's limit when that is lower), as RLIMIT_AS: a model, an
input or a converter that would take the whole desktop with it gets a MemoryError (a
typed "ran out of memory during PHASE (limit N GiB)" error) instead of the kernel's OOM
killer. `EDGEBENCH_MEMORY_LIMIT_GIB` (or `edgebench profile --memory-limit GIB`) sets
it; 0 means no cap.
"""

from __future__ import annotations

import os

MEMORY_FRACTION = 0.8
LIMIT_ENV = "EDGEBENCH_MEMORY_LIMIT_GIB"
HOW_TO_SET = f"set it with --memory-limit GIB or {LIMIT_ENV} (0: no limit)"


def total_memory_bytes() -> int | None:
    """The memory this process may use: the machine's physical memory, or its cgroup's
    limit when lower (a container)."""
    from engines.floor.oom import cgroup_memory_limit_bytes

    try:
        physical: int | None = int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        physical = None
    limits = [n for n in (physical, cgroup_memory_limit_bytes()) if n]
    return min(limits) if limits else None


def default_memory_limit_bytes() -> int | None:
    """The cap a child gets when the run names none: the environment's, else the fraction
    of this machine's memory; None for no cap."""
    given = os.environ.get(LIMIT_ENV, "").strip()
    if given:
        try:
            gib = float(given)
        except ValueError:
            gib = -1.0
        if gib < 0:
            raise ValueError(f"{LIMIT_ENV}={given!r}: expected a number of GiB (0: no limit)")
        return int(gib * 2**30) or None
    total = total_memory_bytes()
    return int(total * MEMORY_FRACTION) if total else None


def apply_memory_limit(limit_bytes: int | None) -> int | None:
    """Cap this process's address space (never above the hard limit); the cap applied."""
    if not limit_bytes:
        return None
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = limit_bytes if hard == resource.RLIM_INFINITY else min(limit_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    return cap


def gib(count: float) -> str:
    return f"{count / 2**30:.2f} GiB"
