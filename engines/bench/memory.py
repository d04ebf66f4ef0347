"""Process memory readings: current RSS, the ru_maxrss high-water mark, a sampling thread."""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Callable

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        try:
            import psutil

            return int(psutil.Process().memory_info().rss)
        except ImportError:
            return maxrss_bytes()


def maxrss_bytes() -> int:
    """ru_maxrss is KiB on Linux and bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class MemorySampler(threading.Thread):
    """Reads RSS every `interval_s`; reports a reading every `report_every_s`."""

    def __init__(
        self, interval_s: float, report: Callable[[float, int], None], report_every_s: float = 0.1
    ) -> None:
        super().__init__(name="edgebench-memory", daemon=True)
        self.interval_s = max(interval_s, 0.001)
        self.report_every_s = report_every_s
        self._report = report
        self._stop_event = threading.Event()
        self.peak_bytes = current_rss_bytes()
        self._t0 = time.perf_counter()

    def run(self) -> None:
        last_report = 0.0
        while not self._stop_event.wait(self.interval_s):
            rss = current_rss_bytes()
            self.peak_bytes = max(self.peak_bytes, rss)
            now = time.perf_counter() - self._t0
            if now - last_report >= self.report_every_s:
                last_report = now
                self._report(now, rss)

    def stop(self) -> int:
        self._stop_event.set()
        self.join(timeout=1.0)
        return self.peak_bytes


def own_peak_bytes(sampled_peak: int, maxrss_at_start: int) -> int:
    """The process's own high-water mark.

    Linux keeps ru_maxrss across execve, so a child spawned by a large parent (the GUI,
    pytest) starts with the parent's peak. ru_maxrss counts only once it has risen above
    its value at start; until then the sampled peak is the honest figure.
    """
    now = maxrss_bytes()
    return max(sampled_peak, now) if now > maxrss_at_start else sampled_peak
